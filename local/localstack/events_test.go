package localstack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"dirsync/internal/domain"
	"dirsync/local/fakeentra"
)

// lifecycleEvent is a lifecycle event as EventBridge delivers it.
type lifecycleEvent struct {
	Source     string `json:"source"`
	DetailType string `json:"detail-type"`
	Detail     struct {
		EventID    string          `json:"eventId"`
		TenantID   string          `json:"tenantId"`
		SyncID     string          `json:"syncId"`
		Kind       string          `json:"kind"`
		Status     string          `json:"status"`
		Counts     json.RawMessage `json:"counts"`
		Safeguards []string        `json:"safeguards"`
		Error      *struct {
			Code string `json:"code"`
		} `json:"error"`
	} `json:"detail"`
	raw []byte
}

// syncEvents are the lifecycle events put on st's bus for a sync.
func syncEvents(t *testing.T, st *Stack, syncID string) []lifecycleEvent {
	t.Helper()
	var out []lifecycleEvent
	for _, raw := range st.Events() {
		var ev lifecycleEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Source == domain.EventSource && ev.Detail.SyncID == syncID {
			ev.raw = raw
			out = append(out, ev)
		}
	}
	return out
}

// syncEventsOnce waits until sync syncID has at least n events: a sync's
// state is readable before the function that changed it published.
func syncEventsOnce(t *testing.T, st *Stack, syncID string, n int) []lifecycleEvent {
	t.Helper()
	var evs []lifecycleEvent
	waitUntil(t, fmt.Sprintf("sync %s has %d lifecycle events", syncID, n), func() bool {
		evs = syncEvents(t, st, syncID)
		return len(evs) >= n
	})
	return evs
}

func eventTypes(evs []lifecycleEvent) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.DetailType)
	}
	return out
}

// recordedEvents are the events GET /v1/syncs/{id} lists.
func (c *client) recordedEvents(syncID string) []string {
	c.t.Helper()
	var sy struct {
		Events []struct {
			Type string    `json:"type"`
			Time time.Time `json:"time"`
		} `json:"events"`
	}
	if code := c.do("GET", "/v1/syncs/"+syncID, nil, &sy); code != http.StatusOK {
		c.t.Fatalf("GET sync = %d", code)
	}
	var out []string
	for _, e := range sy.Events {
		if e.Time.IsZero() {
			c.t.Errorf("event %s has no time", e.Type)
		}
		out = append(out, e.Type)
	}
	return out
}

// personalData is what identifies the people of a directory: every user's
// email, names and object id, the directory's id.
func personalData(dir *fakeentra.Tenant, extra ...string) []string {
	out := append([]string{dir.ID}, extra...)
	for _, u := range dir.Users {
		out = append(out, u.ID, u.UserPrincipalName, u.DisplayName)
		if u.Mail != nil {
			out = append(out, *u.Mail)
		}
	}
	for _, g := range dir.Groups {
		out = append(out, g.ID)
	}
	return out
}

func assertNoPersonalData(t *testing.T, evs []lifecycleEvent, personal []string) {
	t.Helper()
	for _, ev := range evs {
		for _, p := range personal {
			if p != "" && bytes.Contains(ev.raw, []byte(p)) {
				t.Errorf("%s carries %q: %s", ev.DetailType, p, ev.raw)
			}
		}
	}
}

// A preview that trips the deactivation threshold announces Preview Ready
// and Safeguard Tripped with the preview's counts; its confirm, Sync
// Completed with the apply's counters; none carries personal data, and the
// sync lists what was published.
func TestLifecycleEventsOfAPreviewAndItsApply(t *testing.T) {
	c := adminOf(t, "soylent")
	dir := fakeentra.Generate(fakeentra.Spec{TenantID: "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d", Domain: "soylent.onmicrosoft.com", Seed: 37, Users: 40})
	var gone []domain.User
	var goneData []string
	for i := range 30 {
		u := domain.User{PlatformUser: domain.PlatformUser{
			Email: fmt.Sprintf("left%02d@soylent.example", i), Source: domain.SourceEntra,
			ExternalID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), ExternalTenantID: dir.ID,
		}}
		gone = append(gone, u)
		goneData = append(goneData, u.Email, u.ExternalID)
	}
	if err := stack.Store.SeedUsers(t.Context(), "soylent", gone); err != nil {
		t.Fatal(err)
	}
	connectTenant(t, c, dir, `{"deactivateMissing":true,"deactivationThreshold":{"percent":20,"count":25}}`)
	sy := c.preview()
	if sy.Status != string(domain.SyncPreviewReady) || sy.Counts.Users.Deactivate != 30 {
		t.Fatalf("preview %s %+v", sy.Status, sy.Counts)
	}
	evs := syncEventsOnce(t, stack, sy.ID, 2)
	if got, want := eventTypes(evs), []string{"Preview Ready", "Safeguard Tripped"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for _, ev := range evs {
		var counts domain.Counts
		if err := json.Unmarshal(ev.Detail.Counts, &counts); err != nil || counts != sy.Counts {
			t.Errorf("%s counts %s, want %+v (%v)", ev.DetailType, ev.Detail.Counts, sy.Counts, err)
		}
		if ev.Detail.TenantID != "soylent" || ev.Detail.Kind != "sync" || ev.Detail.Status != string(domain.SyncPreviewReady) ||
			ev.Detail.EventID != sy.ID+":"+ev.DetailType {
			t.Errorf("%s detail %s", ev.DetailType, ev.raw)
		}
	}
	if got, want := evs[1].Detail.Safeguards, []string{domain.SafeguardDeactivationPercent, domain.SafeguardDeactivationCount}; !reflect.DeepEqual(got, want) {
		t.Errorf("tripped safeguards %v, want %v", got, want)
	}

	if code := c.do("POST", "/v1/syncs/"+sy.ID+"/confirm", `{"allowDeactivations":true}`, nil); code != http.StatusAccepted {
		t.Fatalf("confirm = %d", code)
	}
	p := c.waitApplied(sy.ID)
	if p.Status != string(domain.SyncCompleted) {
		t.Fatalf("apply %+v", p)
	}
	evs = syncEventsOnce(t, stack, sy.ID, 3)
	if got, want := eventTypes(evs), []string{"Preview Ready", "Safeguard Tripped", "Sync Completed"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	var counters domain.ProgressCounts
	done := evs[2]
	if err := json.Unmarshal(done.Detail.Counts, &counters); err != nil || counters.Total != p.Total || counters.Succeeded != p.Succeeded ||
		counters.Processed != p.Processed || done.Detail.Status != string(domain.SyncCompleted) {
		t.Errorf("Sync Completed %s, want the counters of %+v", done.raw, p)
	}
	assertNoPersonalData(t, evs, personalData(dir, goneData...))
	// The sync records an event once EventBridge accepted it, a moment
	// after the bus has it.
	waitUntil(t, "the sync lists the events published", func() bool {
		return reflect.DeepEqual(c.recordedEvents(sy.ID), eventTypes(evs))
	})
}

// A preview that fails announces Preview Failed with the error's code and
// not its message (which names the page that failed).
func TestFailedPreviewAnnouncesItsCode(t *testing.T) {
	c := adminOf(t, "oscorp")
	dir := onePartition(fakeentra.Generate(fakeentra.Spec{TenantID: "7b8c9d0e-1f2a-4b3c-9d4e-5f6a7b8c9d0e", Domain: "oscorp.onmicrosoft.com", Seed: 41, Users: 1500}))
	connectTenant(t, c, dir, `{}`)
	remove := stack.Fake.InjectFault(fakeentra.Fault{PathPrefix: "/v1.0/users", Page: 2, Kind: fakeentra.FaultStatus, Status: 500})
	defer remove()
	sy := c.preview()
	if sy.Status != string(domain.SyncPreviewFailed) || sy.Error == nil || sy.Error.Code != domain.SyncErrSourceRead {
		t.Fatalf("preview %s %+v", sy.Status, sy.Error)
	}
	evs := syncEventsOnce(t, stack, sy.ID, 1)
	if got := eventTypes(evs); !reflect.DeepEqual(got, []string{"Preview Failed"}) {
		t.Fatalf("events %v, want [Preview Failed]", got)
	}
	if e := evs[0].Detail.Error; e == nil || e.Code != domain.SyncErrSourceRead || bytes.Contains(evs[0].raw, []byte("page 2")) {
		t.Errorf("Preview Failed %s, want the code only", evs[0].raw)
	}
	assertNoPersonalData(t, evs, personalData(dir))
	if got := c.recordedEvents(sy.ID); !reflect.DeepEqual(got, []string{"Preview Failed"}) {
		t.Errorf("GET /v1/syncs/{id} lists %v", got)
	}
}

// syncedBuffer is a bytes.Buffer the functions' output goroutines share.
type syncedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Without their events:PutEvents grants, the worker and finalize are
// refused by EventBridge (AccessDenied), log it, and the sync goes on and
// ends as it would have: a publish failure never fails a transition.
func TestRefusedPublishIsLoggedAndTheSyncGoesOn(t *testing.T) {
	const grant = "            - Effect: Allow\n              Action: events:PutEvents\n" +
		"              Resource: !Sub \"arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default\"\n"
	const workerBefore = "secret:${SecretPrefix}/*\"\n"
	const finalizeBefore = "              Action: [dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem, dynamodb:DeleteItem]\n              Resource: !GetAtt SyncTable.Arn\n"
	out := &syncedBuffer{}
	st := alteredStackWith(t, out, [2]string{workerBefore + grant, workerBefore}, [2]string{finalizeBefore + grant, finalizeBefore})
	c := adminOn(t, st, "aperture")
	dir := fakeentra.Generate(fakeentra.Spec{TenantID: "8c9d0e1f-2a3b-4c4d-8e5f-6a7b8c9d0e1f", Domain: "aperture.onmicrosoft.com", Seed: 43, Users: 60})
	connectTenant(t, c, dir, `{}`)
	sy := c.preview()
	if sy.Status != string(domain.SyncPreviewReady) || sy.Counts.Users.Add == 0 {
		t.Fatalf("preview %s %+v %+v", sy.Status, sy.Counts, sy.Error)
	}
	if code := c.do("POST", "/v1/syncs/"+sy.ID+"/confirm", `{}`, nil); code != http.StatusAccepted {
		t.Fatalf("confirm = %d", code)
	}
	if p := c.waitApplied(sy.ID); p.Status != string(domain.SyncCompleted) || p.Succeeded != p.Total {
		t.Fatalf("apply %+v, want COMPLETED", p)
	}
	if evs := syncEvents(t, st, sy.ID); len(evs) != 0 {
		t.Errorf("events put without the grant: %v", eventTypes(evs))
	}
	if got := c.recordedEvents(sy.ID); len(got) != 0 {
		t.Errorf("the sync lists events none of which was published: %v", got)
	}
	waitUntil(t, "both functions logged the refusal", func() bool {
		logs := out.String()
		return refusedIn(logs, "previewworker", sy.ID) && refusedIn(logs, "finalize", sy.ID)
	})
}

// refusedIn reports whether function logged, for the sync, that its events
// were not published because access was denied.
func refusedIn(logs, function, syncID string) bool {
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(strings.ToLower(line), function) && strings.Contains(line, "lifecycle events not published") &&
			strings.Contains(line, "AccessDeniedException") && strings.Contains(line, syncID) {
			return true
		}
	}
	return false
}

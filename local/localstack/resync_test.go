package localstack

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"dirsync/internal/domain"
	"dirsync/local/fakeentra"
)

// graphRequests counts the Graph requests the fake answered since its log
// was reset (token requests left out).
func graphRequests() int {
	n := 0
	for _, r := range stack.Fake.Requests() {
		if strings.HasPrefix(r.Path, "/v1.0/") {
			n++
		}
	}
	return n
}

func readOf(sy syncBody) (kind, reason string) {
	if sy.ReadKind != nil {
		kind = *sy.ReadKind
	}
	if sy.ReadReason != nil {
		reason = *sy.ReadReason
	}
	return kind, reason
}

// A re-sync through the real worker reads only what changed from Graph
// delta and plans what a full read plans; an admin's request and an
// expired token read in full, and the sync says which read it was.
func TestResyncReadsOnlyTheChanges(t *testing.T) {
	c := adminOf(t, "resyncco")
	dir := fakeentra.Generate(fakeentra.Spec{TenantID: "9e8d7c6b-5a49-4382-9170-a1b2c3d4e5f6", Domain: "resyncco.onmicrosoft.com", Seed: 33, Users: 3000})
	connectTenant(t, c, dir, `{"deactivateMissing":true}`)

	stack.Fake.ResetRequests()
	first := c.preview()
	fullRequests := graphRequests()
	if kind, reason := readOf(first); first.Status != string(domain.SyncPreviewReady) || kind != "full" || reason != domain.ReadReasonNoMirror {
		t.Fatalf("first preview %s read %q %q (%+v), want a full read for want of a mirror", first.Status, kind, reason, first.Error)
	}
	if code := c.do("POST", "/v1/syncs/"+first.ID+"/confirm", `{}`, nil); code != http.StatusAccepted {
		t.Fatalf("confirm = %d", code)
	}
	if p := c.waitApplied(first.ID); p.Status != string(domain.SyncCompleted) {
		t.Fatalf("first apply %+v", p)
	}

	res := fakeentra.ChurnResult{}
	if err := stack.Fake.Update(dir.ID, func(t *fakeentra.Tenant) { res = fakeentra.Churn(t, 0.01, 5) }); err != nil {
		t.Fatal(err)
	}
	stack.Fake.ResetRequests()
	delta := c.preview()
	deltaRequests := graphRequests()
	if kind, reason := readOf(delta); delta.Status != string(domain.SyncPreviewReady) || kind != "delta" || reason != "" {
		t.Fatalf("re-sync %s read %q %q (%+v), want a delta", delta.Status, kind, reason, delta.Error)
	}
	if u := delta.Counts.Users; u.Update == 0 || u.Deactivate == 0 || u.Add == 0 {
		t.Fatalf("re-sync after %+v counted %+v: want updates, deactivations and adds", res, u)
	}
	if deltaRequests > 8 || fullRequests < 44 {
		t.Fatalf("the re-sync sent %d Graph requests, the full read %d: want a handful against at least one per partition", deltaRequests, fullRequests)
	}

	full := c.previewWith(map[string]bool{"fullRead": true})
	if kind, reason := readOf(full); kind != "full" || reason != domain.ReadReasonRequested {
		t.Fatalf("asked for a full read, got %q %q", kind, reason)
	}
	if full.Counts != delta.Counts {
		t.Fatalf("a full read counted %+v, the delta %+v", full.Counts, delta.Counts)
	}

	stack.Fake.ExpireDeltaTokens()
	expired := c.preview()
	if kind, reason := readOf(expired); expired.Status != string(domain.SyncPreviewReady) || kind != "full" || reason != domain.ReadReasonDeltaExpired {
		t.Fatalf("after the tokens expired: %s read %q %q (%+v), want a full read", expired.Status, kind, reason, expired.Error)
	}
	if expired.Counts != delta.Counts {
		t.Fatalf("the fallback full read counted %+v, the delta %+v", expired.Counts, delta.Counts)
	}
	again := c.preview()
	if kind, _ := readOf(again); kind != "delta" || again.Counts != delta.Counts {
		t.Fatalf("after the fallback: read %q counting %+v, want a delta counting %+v", kind, again.Counts, delta.Counts)
	}
	// The import's 3,000 changes are too many to plan from, and a full read
	// compares everyone; a delta after a preview nothing was applied since
	// compares only what that preview listed and what changed since.
	for _, sy := range []syncBody{delta, full, expired} {
		if sy.Planned != nil {
			t.Fatalf("sync %s compared %d users, want every user", sy.ID, *sy.Planned)
		}
	}
	if again.Planned == nil || *again.Planned > 300 {
		t.Fatalf("the delta after the fallback compared %v users, want a few hundred at most", again.Planned)
	}

	// Once a re-sync applied cleanly, the next compares only the users
	// changed since and those it listed, and plans what comparing every
	// user plans.
	if code := c.do("POST", "/v1/syncs/"+again.ID+"/confirm", `{"allowDeactivations":true}`, nil); code != http.StatusAccepted {
		t.Fatalf("confirm the re-sync = %d", code)
	}
	if p := c.waitApplied(again.ID); p.Status != string(domain.SyncCompleted) {
		t.Fatalf("re-sync apply %+v", p)
	}
	if err := stack.Fake.Update(dir.ID, func(t *fakeentra.Tenant) { res = fakeentra.Churn(t, 0.01, 6) }); err != nil {
		t.Fatal(err)
	}
	part := c.preview()
	if kind, _ := readOf(part); part.Status != string(domain.SyncPreviewReady) || kind != "delta" || part.Planned == nil {
		t.Fatalf("the re-sync after a clean apply: %s read %q, compared %v users (%+v), want a delta planned from the changes", part.Status, kind, part.Planned, part.Error)
	}
	if n := *part.Planned; n > 300 || n < again.Counts.Users.Add {
		t.Fatalf("compared %d users after %+v changed (the last sync listed %+v), want about those", n, res, again.Counts.Users)
	}
	whole := c.previewWith(map[string]bool{"fullRead": true})
	if whole.Planned != nil {
		t.Fatalf("a requested full read compared %d users, want every user", *whole.Planned)
	}
	if whole.Counts != part.Counts || !reflect.DeepEqual(whole.Safeguards, part.Safeguards) || !reflect.DeepEqual(whole.Warnings, part.Warnings) {
		t.Fatalf("comparing every user counted %+v %+v, the part %+v %+v", whole.Counts, whole.Safeguards, part.Counts, part.Safeguards)
	}
	if a, b := c.changes(whole.ID, ""), c.changes(part.ID, ""); !reflect.DeepEqual(a, b) {
		t.Fatalf("comparing every user planned %d changes, the part %d (or others)", len(a), len(b))
	}
}

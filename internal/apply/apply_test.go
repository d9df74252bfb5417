package apply

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dirsync/internal/domain"
	"dirsync/internal/plan"
	"dirsync/internal/store"
	"dirsync/local/dynamolocal/dynamotest"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m)) }

const (
	tenant = "acme"
	dir    = "dir-1"
)

var admin = domain.Actor{TenantID: tenant, Subject: "s-1", Email: "admin@example.com"}

// fakeExecutions records executions; Start is idempotent by name and input
// like Step Functions.
type fakeExecutions struct {
	mu      sync.Mutex
	inputs  map[string]string
	starts  int
	stopped []string
}

func (f *fakeExecutions) Start(_ context.Context, name string, input []byte) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts++
	if f.inputs == nil {
		f.inputs = map[string]string{}
	}
	if prev, ok := f.inputs[name]; ok && prev != string(input) {
		return "", errors.New("execution already exists with another input")
	}
	f.inputs[name] = string(input)
	return "exec:" + name, nil
}

func (f *fakeExecutions) Stop(_ context.Context, id, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, id)
	return nil
}

// scenario is a stored, ready preview over a seeded directory.
type scenario struct {
	st   *store.Store
	svc  *Service
	ex   *fakeExecutions
	sync *domain.Sync
	plan *domain.Plan
	ids  map[string]string // seeded email -> platform id
}

// newScenario seeds a directory and previews a source against it:
// adds (users 0..addN-1), one manual user linked by email with changes, one
// linked user updated, two linked users gone (deactivations, with
// deactivateMissing on), and one group holding everyone.
func newScenario(t *testing.T, addN, batchSize int, opts domain.Options) *scenario {
	t.Helper()
	ctx := context.Background()
	names := dynamotest.Tables(t)
	st := store.New(dynamotest.Client, names["DirectoryTable"], names["SyncTable"])
	seed := []domain.User{
		{PlatformUser: domain.PlatformUser{Email: "manual@example.com", Source: domain.SourceManual, Attributes: domain.Attrs{{Name: "displayName", Value: "Old Name"}}}},
		{PlatformUser: domain.PlatformUser{Email: "linked@example.com", Source: domain.SourceEntra, ExternalID: "x-linked", ExternalTenantID: dir,
			Attributes: domain.Attrs{{Name: "displayName", Value: "Linked"}, {Name: "jobTitle", Value: "Intern"}, {Name: "costCenter", Value: "CC-7"}}}},
		{PlatformUser: domain.PlatformUser{Email: "gone1@example.com", Source: domain.SourceEntra, ExternalID: "x-gone1", ExternalTenantID: dir}},
		{PlatformUser: domain.PlatformUser{Email: "gone2@example.com", Source: domain.SourceEntra, ExternalID: "x-gone2", ExternalTenantID: dir}},
		{PlatformUser: domain.PlatformUser{Email: "admin@example.com", Source: domain.SourceEntra, ExternalID: "x-admin", ExternalTenantID: dir}},
	}
	if err := st.SeedUsers(ctx, tenant, seed); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, u := range seed {
		ids[u.Email] = u.ID
	}
	snap := scenarioSource(addN)
	opts.DeactivateMissing = true
	if opts.DeactivationThreshold.Percent == 0 {
		opts.DeactivationThreshold.Percent = 100 // 3 of 4 linked users go; not what these tests are about
	}
	dirState, err := st.LoadDirectory(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Compute(domain.PlanInput{Snapshot: snap, Directory: dirState, Options: opts, ActorEmail: "someone-else@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	ex := &fakeExecutions{}
	svc := &Service{Store: st, Executions: ex, MaxConcurrency: 4, CancelDrain: time.Minute, Concurrency: 4}
	sc := &scenario{st: st, svc: svc, ex: ex, ids: ids}
	sc.preview(t, p, &domain.Sync{Options: opts}, batchSize)
	return sc
}

// preview stores p as the ready preview of a new sync like sy (its
// options, kind and the sync it undoes), in user batches of batchSize,
// and makes it the scenario's sync.
func (sc *scenario) preview(t *testing.T, p *domain.Plan, sy *domain.Sync, batchSize int) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	sy.ID, sy.TenantID, sy.DirectoryTenantID, sy.Status = domain.NewID(now), tenant, dir, domain.SyncPreviewing
	sy.CreatedAt, sy.CreatedBy, sy.UpdatedAt = now, "admin@example.com", now
	if err := sc.st.CreateSync(ctx, sy, time.Hour); err != nil {
		t.Fatal(err)
	}
	version, err := sc.st.DirectoryVersion(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	next := &domain.PlanBasis{DirectoryVersion: version, OptionsHash: domain.OptionsHash(sy.Options), Bases: p.BasesAfter}
	if err := sc.st.SavePlan(ctx, domain.Lease{Tenant: tenant, SyncID: sy.ID}, p, domain.PlanWrite{Batches: domain.CutBatches(p.Changes, domain.BatchSizes{Users: batchSize}),
		ExpiresAt: now.Add(time.Hour), RetainUntil: now.Add(48 * time.Hour), NextBasis: next}); err != nil {
		t.Fatal(err)
	}
	ready, err := sc.st.GetSync(ctx, tenant, sy.ID)
	if err != nil {
		t.Fatal(err)
	}
	sc.sync, sc.plan = ready, p
}

// scenarioSource is the Entra directory a scenario previews: users
// 0..addN-1 to add, the manual user to link by email and the linked user
// to update, all of them in the group Everyone.
func scenarioSource(addN int) *domain.Snapshot {
	snap := &domain.Snapshot{DirectoryTenantID: dir, UserProperties: []string{"displayName", "jobTitle"}}
	var members []string
	for i := 0; i < addN; i++ {
		id := fmt.Sprintf("x-new%03d", i)
		snap.Users = append(snap.Users, sourceUser(id, fmt.Sprintf("new%03d@example.com", i), fmt.Sprintf("New %d", i), "Engineer"))
		members = append(members, id)
	}
	snap.Users = append(snap.Users,
		sourceUser("x-manual", "MANUAL@example.com", "Manual Person", "Analyst"),
		sourceUser("x-linked", "linked@example.com", "Linked", "Engineer"),
	)
	members = append(members, "x-manual", "x-linked")
	sort.Strings(members)
	snap.Groups = []domain.SourceGroup{{ID: "g-all", DisplayName: "Everyone", Description: "all staff", MemberIDs: members}}
	return snap
}

func sourceUser(id, mail, name, title string) domain.SourceUser {
	return domain.SourceUser{ID: id, Mail: mail, UserPrincipalName: mail, AccountEnabled: true, Values: []string{name, title}}
}

// runAll plays the state machine: every batch in order, then finalize.
func (sc *scenario) runAll(t *testing.T, svc Store) {
	t.Helper()
	for i := 0; i < sc.sync.Batches; i++ {
		s := *sc.svc
		s.Store = svc
		if _, err := s.ApplyBatch(context.Background(), BatchEvent{TenantID: tenant, SyncID: sc.sync.ID, Batch: i}); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
}

func (sc *scenario) finalize(t *testing.T) domain.SyncStatus {
	t.Helper()
	res, err := sc.svc.Finalize(context.Background(), FinalizeEvent{TenantID: tenant, SyncID: sc.sync.ID})
	if err != nil {
		t.Fatal(err)
	}
	return res.Status
}

func (sc *scenario) progress(t *testing.T) *domain.Progress {
	t.Helper()
	p, err := sc.st.GetProgress(context.Background(), tenant, sc.sync.ID)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (sc *scenario) userByEmail(t *testing.T, email string) *domain.User {
	t.Helper()
	users, _, err := sc.st.ListUsers(context.Background(), tenant, domain.UserFilter{Q: email}, domain.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var found []domain.User
	for _, u := range users {
		if u.Email == email {
			found = append(found, u)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d users with email %s", len(found), email)
	}
	return &found[0]
}

func TestApplyMakesTheDirectoryAsPlanned(t *testing.T) {
	ctx := context.Background()
	sc := newScenario(t, 25, 10, domain.Options{})
	if c := sc.sync.Counts.Users; c.Add != 25 || c.Update != 2 || c.Deactivate != 3 {
		t.Fatalf("plan counts %+v", c)
	}
	sy, err := sc.svc.Confirm(ctx, admin, sc.sync.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if sy.Status != domain.SyncApplying || sy.ConfirmedBy != admin.Email || sy.ExecutionID == "" {
		t.Fatalf("confirmed sync %+v", sy)
	}
	sc.runAll(t, sc.st)
	if st := sc.finalize(t); st != domain.SyncCompletedWithErrors {
		// admin@example.com confirmed: its own deactivation is refused.
		t.Fatalf("final status %s, want COMPLETED_WITH_ERRORS (the confirming admin is kept)", st)
	}
	p := sc.progress(t)
	if p.Total != 25+2+3+1 || p.Processed != p.Total || p.Succeeded != p.Total-1 || p.Conflicts != 1 || p.Percent != 100 || p.FinishedAt == nil {
		t.Fatalf("progress %+v", p)
	}

	n := sc.userByEmail(t, "new007@example.com")
	if n.Source != domain.SourceEntra || n.ExternalID != "x-new007" || n.Status != domain.StatusActive || len(n.Groups) != 1 || n.Groups[0].DisplayName != "Everyone" {
		t.Fatalf("added user %+v", n)
	}
	if v, _ := n.Attributes.Get("jobTitle"); v != "Engineer" {
		t.Fatalf("added user's jobTitle = %q", v)
	}
	m := sc.userByEmail(t, "manual@example.com")
	if m.ID != sc.ids["manual@example.com"] || m.Source != domain.SourceEntra || m.ExternalID != "x-manual" || m.Revision != 2 {
		t.Fatalf("linked manual user %+v", m)
	}
	if v, _ := m.Attributes.Get("displayName"); v != "Manual Person" {
		t.Fatalf("linked user's displayName = %q", v)
	}
	l := sc.userByEmail(t, "linked@example.com")
	if v, _ := l.Attributes.Get("jobTitle"); v != "Engineer" {
		t.Fatalf("updated jobTitle = %q", v)
	}
	if v, _ := l.Attributes.Get("costCenter"); v != "CC-7" {
		t.Fatalf("an attribute outside the mapping was lost: %+v", l.Attributes)
	}
	for _, e := range []string{"gone1@example.com", "gone2@example.com"} {
		if u := sc.userByEmail(t, e); u.Status != domain.StatusInactive || !u.DeactivatedBySync {
			t.Fatalf("%s = %+v, want deactivated by the sync", e, u)
		}
	}
	if u := sc.userByEmail(t, "admin@example.com"); u.Status != domain.StatusActive {
		t.Fatalf("the confirming admin was deactivated")
	}
	groups, _, err := sc.st.ListGroups(ctx, tenant, domain.Page{Limit: 10})
	if err != nil || len(groups) != 1 || groups[0].MemberCount != 27 || groups[0].Description != "all staff" {
		t.Fatalf("groups %+v, %v", groups, err)
	}
	conflicts, _, err := sc.st.ListChanges(ctx, tenant, sc.sync.ID, domain.ChangeFilter{Outcome: domain.OutcomeConflict}, domain.Page{Limit: 10})
	if err != nil || len(conflicts) != 1 || conflicts[0].Subject.Email != "admin@example.com" || conflicts[0].OutcomeReason == "" {
		t.Fatalf("conflicts %+v, %v", conflicts, err)
	}
	applied, _, _ := sc.st.ListChanges(ctx, tenant, sc.sync.ID, domain.ChangeFilter{Outcome: domain.OutcomeApplied}, domain.Page{Limit: 100})
	if len(applied) != p.Succeeded {
		t.Fatalf("%d changes show applied, counter says %d", len(applied), p.Succeeded)
	}
}

// flakyStore fails chosen calls once, after the wrapped call did its work
// (a Lambda dying after writing).
type flakyStore struct {
	*store.Store
	failComplete, failRecord atomic.Int32
}

func (f *flakyStore) CompleteBatch(ctx context.Context, tenant, syncID string, index int, t domain.Tally) (bool, error) {
	done, err := f.Store.CompleteBatch(ctx, tenant, syncID, index, t)
	if f.failComplete.Add(-1) >= 0 {
		return false, errors.New("connection reset after the write")
	}
	return done, err
}

func (f *flakyStore) RecordOutcomes(ctx context.Context, tenant, syncID string, o []domain.Outcome) error {
	if f.failRecord.Add(-1) >= 0 {
		return errors.New("crashed before recording outcomes")
	}
	return f.Store.RecordOutcomes(ctx, tenant, syncID, o)
}

func TestRetriedBatchesCountOnce(t *testing.T) {
	ctx := context.Background()
	sc := newScenario(t, 30, 10, domain.Options{})
	if _, err := sc.svc.Confirm(ctx, admin, sc.sync.ID, false); err != nil {
		t.Fatal(err)
	}
	flaky := &flakyStore{Store: sc.st}
	svc := *sc.svc
	svc.Store = flaky
	for i := 0; i < sc.sync.Batches; i++ {
		ev := BatchEvent{TenantID: tenant, SyncID: sc.sync.ID, Batch: i}
		switch i {
		case 0: // dies after marking the batch done and counting it
			flaky.failComplete.Store(1)
		case 1: // dies after writing the users, before recording outcomes
			flaky.failRecord.Store(1)
		}
		_, err := svc.ApplyBatch(ctx, ev)
		if i <= 1 {
			var re *RetryableError
			if !errors.As(err, &re) {
				t.Fatalf("batch %d first attempt: %v, want a RetryableError", i, err)
			}
			_, err = svc.ApplyBatch(ctx, ev) // the Map's retry
		}
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		// A duplicate delivery after success changes nothing either.
		if res, err := svc.ApplyBatch(ctx, ev); err != nil || res.Skipped == "" {
			t.Fatalf("batch %d redelivered: %+v, %v", i, res, err)
		}
	}
	sc.finalize(t)
	p := sc.progress(t)
	if p.Processed != p.Total || p.Succeeded+p.Conflicts != p.Total || p.Failed != 0 {
		t.Fatalf("progress after retries %+v", p)
	}
	users, _, err := sc.st.ListUsers(ctx, tenant, domain.UserFilter{Q: "new0"}, domain.Page{Limit: 100})
	if err != nil || len(users) != 30 {
		t.Fatalf("%d added users after retries (want 30, none doubled): %v", len(users), err)
	}
}

func TestConcurrentConfirmsStartOneExecution(t *testing.T) {
	ctx := context.Background()
	sc := newScenario(t, 5, 10, domain.Options{})
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = sc.svc.Confirm(ctx, admin, sc.sync.ID, false)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("confirm %d: %v", i, err)
		}
	}
	if len(sc.ex.inputs) != 1 {
		t.Fatalf("%d executions, want 1", len(sc.ex.inputs))
	}
	sy, _ := sc.st.GetSync(ctx, tenant, sc.sync.ID)
	if sy.Status != domain.SyncApplying {
		t.Fatalf("status %s", sy.Status)
	}
}

func TestEditBetweenPreviewAndConfirmIsAConflict(t *testing.T) {
	ctx := context.Background()
	sc := newScenario(t, 3, 10, domain.Options{})
	title := map[string]string{"jobTitle": "Promoted by hand"}
	if _, err := sc.st.UpdateUser(ctx, tenant, sc.ids["linked@example.com"], domain.UserPatch{Attributes: title}); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.svc.Confirm(ctx, admin, sc.sync.ID, false); err != nil {
		t.Fatal(err)
	}
	sc.runAll(t, sc.st)
	if st := sc.finalize(t); st != domain.SyncCompletedWithErrors {
		t.Fatalf("status %s", st)
	}
	l := sc.userByEmail(t, "linked@example.com")
	if v, _ := l.Attributes.Get("jobTitle"); v != "Promoted by hand" || l.Revision != 2 {
		t.Fatalf("the edited user was touched: %+v", l)
	}
	conflicts, _, _ := sc.st.ListChanges(ctx, tenant, sc.sync.ID, domain.ChangeFilter{Outcome: domain.OutcomeConflict}, domain.Page{Limit: 10})
	found := false
	for _, c := range conflicts {
		found = found || c.Subject.Email == "linked@example.com"
	}
	if !found {
		t.Fatalf("no conflict reported for the edited user: %+v", conflicts)
	}
}

func TestBatchFailingForGoodIsRecordedAndOthersApply(t *testing.T) {
	ctx := context.Background()
	sc := newScenario(t, 30, 10, domain.Options{})
	if _, err := sc.svc.Confirm(ctx, admin, sc.sync.ID, false); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < sc.sync.Batches; i++ {
		ev := BatchEvent{TenantID: tenant, SyncID: sc.sync.ID, Batch: i}
		if i == 1 { // the Catch path after the retries ran out
			ev.Failed = true
			ev.Error = &StepError{Error: "RetryableError", Cause: `{"errorMessage":"throttled","errorType":"RetryableError"}`}
		}
		if _, err := sc.svc.ApplyBatch(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if st := sc.finalize(t); st != domain.SyncCompletedWithErrors {
		t.Fatalf("status %s", st)
	}
	p := sc.progress(t)
	if p.Failed != 10 || p.Processed != p.Total {
		t.Fatalf("progress %+v, want 10 failed and every change processed", p)
	}
	failed, _, _ := sc.st.ListChanges(ctx, tenant, sc.sync.ID, domain.ChangeFilter{Outcome: domain.OutcomeFailed}, domain.Page{Limit: 100})
	if len(failed) != 10 || failed[0].OutcomeReason == "" {
		t.Fatalf("failed changes %d: %+v", len(failed), failed)
	}
	users, _, _ := sc.st.ListUsers(ctx, tenant, domain.UserFilter{Q: "new0"}, domain.Page{Limit: 100})
	if len(users) != 20 {
		t.Fatalf("%d added users, want the 20 of the other batches", len(users))
	}
}

func TestCancelMidRun(t *testing.T) {
	ctx := context.Background()
	sc := newScenario(t, 30, 10, domain.Options{})
	if _, err := sc.svc.Confirm(ctx, admin, sc.sync.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.svc.ApplyBatch(ctx, BatchEvent{TenantID: tenant, SyncID: sc.sync.ID, Batch: 0}); err != nil {
		t.Fatal(err)
	}
	sy, err := sc.svc.Cancel(ctx, admin, sc.sync.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sy.Status != domain.SyncCancelled || len(sc.ex.stopped) != 1 {
		t.Fatalf("after cancel: %s, stopped %v", sy.Status, sc.ex.stopped)
	}
	res, err := sc.svc.ApplyBatch(ctx, BatchEvent{TenantID: tenant, SyncID: sc.sync.ID, Batch: 1})
	if err != nil || res.Skipped == "" {
		t.Fatalf("a batch after cancel ran: %+v %v", res, err)
	}
	// Batches already running may still write: the lock outlives the
	// cancel until the execution ends (finalize) or the drain is over.
	next := func() error {
		return sc.st.CreateSync(ctx, &domain.Sync{ID: domain.NewID(time.Now()), TenantID: tenant, Status: domain.SyncPreviewing, CreatedAt: time.Now()}, time.Hour)
	}
	if err := next(); domain.ErrorCode(err) != domain.EConflict {
		t.Fatalf("a new sync during the cancelled apply's drain: %v, want conflict", err)
	}
	if st := sc.finalize(t); st != domain.SyncCancelled {
		t.Fatalf("finalize after cancel changed the status to %s", st)
	}
	p := sc.progress(t)
	if p.Status != domain.SyncCancelled || p.Processed != 10 || p.FinishedAt == nil {
		t.Fatalf("progress %+v, want CANCELLED with the 10 applied changes", p)
	}
	// The execution ended: the tenant is free for a new sync.
	if err := next(); err != nil {
		t.Fatalf("lock not released when the cancelled execution ended: %v", err)
	}
}

// A cancelled apply whose execution was stopped (so finalize never runs)
// frees the tenant when the drain is over, and not before.
func TestCancelledApplyDrains(t *testing.T) {
	ctx := context.Background()
	sc := newScenario(t, 30, 10, domain.Options{})
	if _, err := sc.svc.Confirm(ctx, admin, sc.sync.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.svc.Cancel(ctx, admin, sc.sync.ID); err != nil {
		t.Fatal(err)
	}
	next := func() error {
		return sc.st.CreateSync(ctx, &domain.Sync{ID: domain.NewID(time.Now()), TenantID: tenant, Status: domain.SyncPreviewing, CreatedAt: time.Now()}, time.Hour)
	}
	if err := next(); domain.ErrorCode(err) != domain.EConflict {
		t.Fatalf("a new sync right after the cancel: %v, want conflict", err)
	}
	sc.st.SetClock(func() time.Time { return time.Now().Add(sc.svc.CancelDrain + time.Second) })
	defer sc.st.SetClock(time.Now)
	if err := next(); err != nil {
		t.Fatalf("the tenant is still locked after the drain: %v", err)
	}
}

func TestConfirmRefusals(t *testing.T) {
	ctx := context.Background()
	t.Run("safeguard tripped needs allowDeactivations", func(t *testing.T) {
		sc := newScenario(t, 1, 10, domain.Options{DeactivationThreshold: domain.Threshold{Count: 1}})
		if !sc.sync.Tripped() {
			t.Fatalf("safeguards %+v did not trip", sc.sync.Safeguards)
		}
		_, err := sc.svc.Confirm(ctx, admin, sc.sync.ID, false)
		if domain.ErrorCode(err) != domain.EUnprocessable {
			t.Fatalf("confirm without consent: %v, want unprocessable", err)
		}
		if _, err := sc.svc.Confirm(ctx, admin, sc.sync.ID, true); err != nil {
			t.Fatalf("confirm with consent: %v", err)
		}
	})
	t.Run("no email claim while the plan deactivates is refused", func(t *testing.T) {
		sc := newScenario(t, 1, 10, domain.Options{})
		if sc.sync.Counts.Users.Deactivate == 0 {
			t.Fatal("the scenario deactivates no one")
		}
		for _, email := range []string{"", "not-an-address", "sub@"} {
			_, err := sc.svc.Confirm(ctx, domain.Actor{TenantID: tenant, Subject: "s-1", Email: email}, sc.sync.ID, true)
			if domain.ErrorCode(err) != domain.EUnprocessable || !strings.Contains(domain.ErrorMessage(err), "email claim") {
				t.Fatalf("confirm with email %q: %v, want unprocessable naming the email claim", email, err)
			}
		}
		if sy, _ := sc.st.GetSync(ctx, tenant, sc.sync.ID); sy.Status != domain.SyncPreviewReady || sc.ex.starts != 0 {
			t.Fatalf("a refused confirm changed the sync: %s, started %d", sy.Status, sc.ex.starts)
		}
		if _, err := sc.svc.Confirm(ctx, admin, sc.sync.ID, true); err != nil {
			t.Fatalf("confirm with an email claim: %v", err)
		}
	})
	t.Run("expired preview is gone", func(t *testing.T) {
		sc := newScenario(t, 1, 10, domain.Options{})
		sc.st.SetClock(func() time.Time { return time.Now().Add(2 * time.Hour) })
		_, err := sc.svc.Confirm(ctx, admin, sc.sync.ID, false)
		if domain.ErrorCode(err) != domain.EGone {
			t.Fatalf("confirm after expiry: %v, want gone", err)
		}
		sy, _ := sc.st.GetSync(ctx, tenant, sc.sync.ID)
		if sy.Status != domain.SyncExpired {
			t.Fatalf("status %s, want EXPIRED", sy.Status)
		}
	})
	t.Run("cancelled preview cannot be confirmed", func(t *testing.T) {
		sc := newScenario(t, 1, 10, domain.Options{})
		if _, err := sc.svc.Cancel(ctx, admin, sc.sync.ID); err != nil {
			t.Fatal(err)
		}
		_, err := sc.svc.Confirm(ctx, admin, sc.sync.ID, false)
		if domain.ErrorCode(err) != domain.EConflict {
			t.Fatalf("confirm after cancel: %v, want conflict", err)
		}
		if len(sc.ex.stopped) != 0 {
			t.Fatal("cancelling a ready preview stopped an execution")
		}
	})
	t.Run("another tenant's sync is not found", func(t *testing.T) {
		sc := newScenario(t, 1, 10, domain.Options{})
		_, err := sc.svc.Confirm(ctx, domain.Actor{TenantID: "other", Email: "x@y.z"}, sc.sync.ID, false)
		if domain.ErrorCode(err) != domain.ENotFound {
			t.Fatalf("cross-tenant confirm: %v", err)
		}
	})
}

func TestLargeGroupIsAppliedOverSeveralAttempts(t *testing.T) {
	ctx := context.Background()
	sc := newScenario(t, 2500, 1000, domain.Options{})
	if _, err := sc.svc.Confirm(ctx, admin, sc.sync.ID, false); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < sc.sync.UserBatches; i++ {
		if _, err := sc.svc.ApplyBatch(ctx, BatchEvent{TenantID: tenant, SyncID: sc.sync.ID, Batch: i}); err != nil {
			t.Fatal(err)
		}
	}
	// Every invocation has a deadline; with a margin longer than any of
	// them, each attempt writes one slice of memberships and stops.
	sc.st.ApplyMargin = time.Hour
	deadlineCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	group := BatchEvent{TenantID: tenant, SyncID: sc.sync.ID, Batch: sc.sync.UserBatches}
	attempts := 0
	for {
		attempts++
		_, err := sc.svc.ApplyBatch(deadlineCtx, group)
		if err == nil {
			break
		}
		var re *RetryableError
		if !errors.As(err, &re) || !errors.Is(err, domain.ErrOutOfTime) || attempts > 10 {
			t.Fatalf("attempt %d: %v, want a RetryableError out of time", attempts, err)
		}
	}
	if attempts != 3 { // 2,502 member references, 1,000 per slice
		t.Fatalf("%d attempts, want 3", attempts)
	}
	sc.finalize(t)
	groups, _, err := sc.st.ListGroups(ctx, tenant, domain.Page{Limit: 10})
	if err != nil || len(groups) != 1 || groups[0].MemberCount != 2502 {
		t.Fatalf("groups %+v, %v: want one group with 2502 members", groups, err)
	}
	p := sc.progress(t)
	if p.Processed != p.Total || p.Failed != 0 {
		t.Fatalf("progress %+v", p)
	}
	u := sc.userByEmail(t, "new2499@example.com")
	if len(u.Groups) != 1 || u.Groups[0].DisplayName != "Everyone" {
		t.Fatalf("last member's groups %+v", u.Groups)
	}
}

package apply

import (
	"context"
	"errors"
	"testing"

	"dirsync/internal/domain"
)

// outcomesBySubject maps each applied-or-not change's subject email to its
// recorded outcome.
func (sc *scenario) outcomesBySubject(t *testing.T) map[string]domain.Change {
	t.Helper()
	changes, _, err := sc.st.ListChanges(context.Background(), tenant, sc.sync.ID, domain.ChangeFilter{}, domain.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]domain.Change{}
	for _, c := range changes {
		if c.ObjectType == domain.ObjectUser && c.Kind != domain.KindSkip {
			out[c.Subject.Email] = c
		}
	}
	return out
}

// An admin's edit between two attempts of a batch must not turn what the
// first attempt applied into a conflict, nor be overwritten by the retry.
func TestEditBetweenBatchAttemptsKeepsWhatWasApplied(t *testing.T) {
	ctx := context.Background()
	sc := newScenario(t, 3, 100, domain.Options{})
	if _, err := sc.svc.Confirm(ctx, admin, sc.sync.ID, false); err != nil {
		t.Fatal(err)
	}
	flaky := &flakyStore{Store: sc.st}
	svc := *sc.svc
	svc.Store = flaky
	flaky.failRecord.Store(1) // the first attempt writes, then dies before recording
	ev := BatchEvent{TenantID: tenant, SyncID: sc.sync.ID, Batch: 0}
	var re *RetryableError
	if _, err := svc.ApplyBatch(ctx, ev); !errors.As(err, &re) {
		t.Fatalf("first attempt: %v, want a RetryableError", err)
	}
	// Between the attempts an admin edits an added and an updated user.
	edit := map[string]string{"jobTitle": "Edited by hand"}
	for _, email := range []string{"new000@example.com", "linked@example.com"} {
		if _, err := sc.st.UpdateUser(ctx, tenant, sc.userByEmail(t, email).ID, domain.UserPatch{Attributes: edit}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.ApplyBatch(ctx, ev); err != nil {
		t.Fatalf("retry: %v", err)
	}
	got := sc.outcomesBySubject(t)
	for _, email := range []string{"new000@example.com", "new001@example.com", "linked@example.com", "MANUAL@example.com", "gone1@example.com"} {
		if c := got[email]; c.Outcome != domain.OutcomeApplied {
			t.Errorf("%s (%s): outcome %q %q, want applied", email, c.Kind, c.Outcome, c.OutcomeReason)
		}
	}
	for _, email := range []string{"new000@example.com", "linked@example.com"} {
		if v, _ := sc.userByEmail(t, email).Attributes.Get("jobTitle"); v != "Edited by hand" {
			t.Errorf("%s: the retry overwrote the admin's edit (jobTitle %q)", email, v)
		}
	}
}

// On the Catch path (the batch failed for good), changes an earlier attempt
// wrote are reported applied, not failed; only what was never written fails.
func TestCatchPathReportsWrittenChangesAsApplied(t *testing.T) {
	ctx := context.Background()
	sc := newScenario(t, 3, 100, domain.Options{})
	if _, err := sc.svc.Confirm(ctx, admin, sc.sync.ID, false); err != nil {
		t.Fatal(err)
	}
	flaky := &flakyStore{Store: sc.st}
	svc := *sc.svc
	svc.Store = flaky
	flaky.failRecord.Store(1)
	ev := BatchEvent{TenantID: tenant, SyncID: sc.sync.ID, Batch: 0}
	if _, err := svc.ApplyBatch(ctx, ev); err == nil {
		t.Fatal("the first attempt did not fail")
	}
	ev.Failed, ev.Error = true, &StepError{Error: "States.Timeout", Cause: "the batch timed out"}
	if _, err := svc.ApplyBatch(ctx, ev); err != nil {
		t.Fatalf("Catch path: %v", err)
	}
	got := sc.outcomesBySubject(t)
	for email, c := range got {
		want := domain.OutcomeApplied
		if email == admin.Email { // decided, never written: nothing to show for it
			want = domain.OutcomeFailed
		}
		if c.Outcome != want {
			t.Errorf("%s (%s): outcome %q %q, want %s", email, c.Kind, c.Outcome, c.OutcomeReason, want)
		}
	}
	if len(got) < 8 {
		t.Fatalf("only %d user changes in the batch", len(got))
	}
	p := sc.progress(t)
	if p.Failed != 1 || p.Succeeded != p.Processed-1 {
		t.Fatalf("progress %+v, want exactly one failed change", p)
	}
}

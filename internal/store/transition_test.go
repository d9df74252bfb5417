package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"dirsync/internal/domain"
)

// storedStatus is the status item of a sync as stored, not as read.
func storedStatus(t *testing.T, s *Store, tenant, id string) domain.SyncStatus {
	t.Helper()
	out, err := s.db.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), syncSK(id)), ConsistentRead: aws.Bool(true),
	})
	if err != nil || out.Item == nil {
		t.Fatalf("raw read of %s: %v", id, err)
	}
	return domain.SyncStatus(getS(out.Item, "st"))
}

// readyWithClock is a store whose clock the test sets through the returned
// pointer, holding one PREVIEW_READY sync of tenant that expires in an hour.
func readyWithClock(t *testing.T, tenant string) (*Store, *domain.Sync, *time.Time) {
	t.Helper()
	ctx := context.Background()
	s := newTestStore(t)
	clock := time.Now()
	s.SetClock(func() time.Time { return clock })
	sy := newSync(tenant, clock)
	if err := s.CreateSync(ctx, sy, time.Minute); err != nil {
		t.Fatal(err)
	}
	plan := samplePlan(2, 0)
	if err := s.SavePlan(ctx, domain.Lease{Tenant: tenant, SyncID: sy.ID}, plan, withBatches(plan, domain.PlanWrite{ExpiresAt: clock.Add(time.Hour), RetainUntil: clock.Add(48 * time.Hour)})); err != nil {
		t.Fatal(err)
	}
	ready, err := s.GetSync(ctx, tenant, sy.ID)
	if err != nil {
		t.Fatal(err)
	}
	return s, ready, &clock
}

// The transitions decide nothing: each writes on its condition, or writes
// nothing and says the condition failed, for the caller to decide again.
func TestTransitionsReportALostCondition(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// prepare moves the ready sync (as the test reads it) to where the
		// transition finds it, and returns the transition.
		prepare    func(t *testing.T, s *Store, sy *domain.Sync, clock *time.Time) func() error
		wantStored domain.SyncStatus
	}{
		{"begin apply of a preview past its expiry", func(t *testing.T, s *Store, sy *domain.Sync, clock *time.Time) func() error {
			*clock = clock.Add(2 * time.Hour)
			return func() error { return s.BeginApply(ctx, sy.TenantID, sy.ID, "admin@example.com", 0) }
		}, domain.SyncPreviewReady},
		{"begin apply of an applying sync", func(t *testing.T, s *Store, sy *domain.Sync, _ *time.Time) func() error {
			if err := s.BeginApply(ctx, sy.TenantID, sy.ID, "admin@example.com", 0); err != nil {
				t.Fatal(err)
			}
			return func() error { return s.BeginApply(ctx, sy.TenantID, sy.ID, "other@example.com", 0) }
		}, domain.SyncApplying},
		{"expire a cancelled preview", func(t *testing.T, s *Store, sy *domain.Sync, _ *time.Time) func() error {
			if err := s.CancelSync(ctx, sy, time.Minute); err != nil {
				t.Fatal(err)
			}
			return func() error { return s.ExpirePreview(ctx, sy.TenantID, sy.ID) }
		}, domain.SyncCancelled},
		{"cancel a preview that expired since it was read", func(t *testing.T, s *Store, sy *domain.Sync, _ *time.Time) func() error {
			if err := s.ExpirePreview(ctx, sy.TenantID, sy.ID); err != nil {
				t.Fatal(err)
			}
			return func() error { return s.CancelSync(ctx, sy, time.Minute) }
		}, domain.SyncExpired},
		{"cancel an apply that finished since it was read", func(t *testing.T, s *Store, sy *domain.Sync, _ *time.Time) func() error {
			if err := s.BeginApply(ctx, sy.TenantID, sy.ID, "admin@example.com", 0); err != nil {
				t.Fatal(err)
			}
			applying, err := s.GetSync(ctx, sy.TenantID, sy.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.FinishApply(ctx, sy.TenantID, sy.ID, domain.SyncCompleted, nil); err != nil {
				t.Fatal(err)
			}
			return func() error { return s.CancelSync(ctx, applying, time.Minute) }
		}, domain.SyncCompleted},
		{"finish a ready preview", func(t *testing.T, s *Store, sy *domain.Sync, _ *time.Time) func() error {
			return func() error { return s.FinishApply(ctx, sy.TenantID, sy.ID, domain.SyncCompleted, nil) }
		}, domain.SyncPreviewReady},
		{"finish a cancelled apply", func(t *testing.T, s *Store, sy *domain.Sync, _ *time.Time) func() error {
			if err := s.BeginApply(ctx, sy.TenantID, sy.ID, "admin@example.com", 0); err != nil {
				t.Fatal(err)
			}
			applying, err := s.GetSync(ctx, sy.TenantID, sy.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CancelSync(ctx, applying, time.Minute); err != nil {
				t.Fatal(err)
			}
			return func() error {
				return s.FinishApply(ctx, sy.TenantID, sy.ID, domain.SyncFailed, &domain.SyncError{Code: domain.SyncErrApplyFailed})
			}
		}, domain.SyncCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, sy, clock := readyWithClock(t, "acme")
			transition := tc.prepare(t, s, sy, clock)
			if err := transition(); !errors.Is(err, domain.ErrConditionFailed) {
				t.Fatalf("transition: %v, want domain.ErrConditionFailed", err)
			}
			if got := storedStatus(t, s, "acme", sy.ID); got != tc.wantStored {
				t.Fatalf("stored status %s, want %s (untouched)", got, tc.wantStored)
			}
		})
	}
}

func TestTransitionsOfAnApply(t *testing.T) {
	ctx := context.Background()
	s, sy, clock := readyWithClock(t, "acme")
	if err := s.BeginApply(ctx, "acme", sy.ID, "admin@example.com", 0); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSync(ctx, "acme", sy.ID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.GetProgress(ctx, "acme", sy.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != domain.SyncApplying || got.ConfirmedBy != "admin@example.com" || got.ConfirmedAt == nil || p.Status != domain.SyncApplying || p.StartedAt == nil {
		t.Fatalf("after BeginApply: sync %s by %q, progress %s", got.Status, got.ConfirmedBy, p.Status)
	}
	*clock = clock.Add(2 * time.Hour) // an apply outlives the preview's expiry
	failure := &domain.SyncError{Code: domain.SyncErrApplyTimedOut, Message: "the time ran out"}
	if err := s.FinishApply(ctx, "acme", sy.ID, domain.SyncFailed, failure); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetSync(ctx, "acme", sy.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p, err = s.GetProgress(ctx, "acme", sy.ID); err != nil {
		t.Fatal(err)
	}
	if got.Status != domain.SyncFailed || got.Error == nil || *got.Error != *failure || p.Status != domain.SyncFailed || p.FinishedAt == nil {
		t.Fatalf("after FinishApply: sync %s %+v, progress %s", got.Status, got.Error, p.Status)
	}
	if err := s.CreateSync(ctx, newSync("acme", *clock), time.Minute); err != nil {
		t.Fatalf("FinishApply did not release the lock: %v", err)
	}
}

func TestExpirePreviewStoresExpired(t *testing.T) {
	ctx := context.Background()
	s, sy, _ := readyWithClock(t, "acme")
	if err := s.ExpirePreview(ctx, "acme", sy.ID); err != nil {
		t.Fatal(err)
	}
	if got := storedStatus(t, s, "acme", sy.ID); got != domain.SyncExpired {
		t.Fatalf("stored status %s, want EXPIRED", got)
	}
	if err := s.ExpirePreview(ctx, "acme", sy.ID); !errors.Is(err, domain.ErrConditionFailed) {
		t.Fatalf("expiring again: %v, want domain.ErrConditionFailed", err)
	}
}

// A cancelled apply keeps the lock for its drain; ReleaseLock ends it, and
// only the lock of the sync named.
func TestReleaseLock(t *testing.T) {
	ctx := context.Background()
	s, sy, clock := readyWithClock(t, "acme")
	if err := s.BeginApply(ctx, "acme", sy.ID, "admin@example.com", 0); err != nil {
		t.Fatal(err)
	}
	applying, err := s.GetSync(ctx, "acme", sy.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CancelSync(ctx, applying, time.Hour); err != nil {
		t.Fatal(err)
	}
	next := func() error { return s.CreateSync(ctx, newSync("acme", *clock), time.Minute) }
	if err := next(); domain.ErrorCode(err) != domain.EConflict {
		t.Fatalf("a new sync during the drain: %v, want conflict", err)
	}
	if err := s.ReleaseLock(ctx, "acme", "someone-else"); err != nil {
		t.Fatal(err)
	}
	if err := next(); domain.ErrorCode(err) != domain.EConflict {
		t.Fatalf("another sync's release freed the lock: %v", err)
	}
	if err := s.ReleaseLock(ctx, "acme", sy.ID); err != nil {
		t.Fatal(err)
	}
	if err := next(); err != nil {
		t.Fatalf("the lock outlived its release: %v", err)
	}
}

// The store cuts no batches: a plan with changes to apply needs them, a
// plan of skips has none to give.
func TestSavePlanNeedsTheBatches(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	skipsOnly := &domain.Plan{Changes: []domain.Change{
		{Seq: 1, ObjectType: domain.ObjectUser, Kind: domain.KindSkip, Reason: domain.ReasonDuplicateEmail, Subject: domain.Subject{Email: "dup@example.com"}},
	}}
	tests := []struct {
		name    string
		plan    *domain.Plan
		batches []domain.Batch
		wantErr bool
	}{
		{"changes to apply without batches", samplePlan(2, 0), nil, true},
		{"changes to apply with empty batches", samplePlan(2, 0), []domain.Batch{}, true},
		{"changes to apply with their batches", samplePlan(2, 0), domain.CutBatches(samplePlan(2, 0).Changes, domain.BatchSizes{}), false},
		{"only skips, no batches", skipsOnly, nil, false},
		{"no changes, no batches", &domain.Plan{}, nil, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tenant := "batches" + string(rune('a'+i))
			sy := newSync(tenant, time.Now())
			if err := s.CreateSync(ctx, sy, time.Hour); err != nil {
				t.Fatal(err)
			}
			err := s.SavePlan(ctx, domain.Lease{Tenant: tenant, SyncID: sy.ID}, tc.plan, domain.PlanWrite{Batches: tc.batches, ExpiresAt: time.Now().Add(time.Hour)})
			got, gerr := s.GetSync(ctx, tenant, sy.ID)
			if gerr != nil {
				t.Fatal(gerr)
			}
			switch {
			case tc.wantErr && err == nil:
				t.Fatal("SavePlan stored a plan without its batches")
			case tc.wantErr && got.Status != domain.SyncPreviewing:
				t.Fatalf("status %s after the refusal, want PREVIEWING", got.Status)
			case !tc.wantErr && err != nil:
				t.Fatalf("SavePlan: %v", err)
			case !tc.wantErr && (got.Status != domain.SyncPreviewReady || got.Batches != len(tc.batches)):
				t.Fatalf("stored %s with %d batches, want PREVIEW_READY with %d", got.Status, got.Batches, len(tc.batches))
			}
		})
	}
}

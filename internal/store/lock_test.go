package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dirsync/internal/domain"
)

// A lapsed preview lock must never let two previews of one tenant both
// become ready: the old worker is fenced out once the lock moved on.
func TestLapsedPreviewLockFencesTheOldWorker(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	now := time.Now()
	a := newSync("acme", now)
	if err := s.CreateSync(ctx, a, time.Minute); err != nil {
		t.Fatal(err)
	}
	later := now.Add(10 * time.Minute)
	s.SetClock(func() time.Time { return later })
	b := newSync("acme", later)
	if err := s.CreateSync(ctx, b, time.Minute); err != nil {
		t.Fatalf("a lapsed lock blocks: %v", err)
	}
	lost, err := s.GetSync(ctx, "acme", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if lost.Status != domain.SyncPreviewFailed || lost.Error == nil || lost.Error.Code != domain.SyncErrWorkerLost {
		t.Fatalf("the sync whose lock lapsed = %s %+v, want PREVIEW_FAILED worker_lost", lost.Status, lost.Error)
	}
	plan := samplePlan(3, 0)
	err = s.SavePlan(ctx, domain.Lease{Tenant: "acme", SyncID: a.ID}, plan, withBatches(plan, domain.PlanWrite{ExpiresAt: later.Add(time.Hour), RetainUntil: later.Add(time.Hour)}))
	if domain.ErrorCode(err) != domain.EConflict {
		t.Fatalf("the old worker's SavePlan: %v, want conflict", err)
	}
	if got, _ := s.GetSync(ctx, "acme", a.ID); got.Status == domain.SyncPreviewReady {
		t.Fatal("the old worker's preview became PREVIEW_READY")
	}
}

// previewingWithClock is a store whose clock the test sets through the
// returned pointer, holding one PREVIEWING sync of acme with a 1 min lease.
func previewingWithClock(t *testing.T) (*Store, *domain.Sync, *time.Time) {
	t.Helper()
	s := newTestStore(t)
	clock := time.Now()
	s.SetClock(func() time.Time { return clock })
	sy := newSync("acme", clock)
	if err := s.CreateSync(context.Background(), sy, time.Minute); err != nil {
		t.Fatal(err)
	}
	return s, sy, &clock
}

func TestPreviewLease(t *testing.T) {
	ctx := context.Background()
	s, sy, clock := previewingWithClock(t)
	now := *clock
	plan := samplePlan(2, 0)
	w := withBatches(plan, domain.PlanWrite{ExpiresAt: now.Add(time.Hour), RetainUntil: now.Add(time.Hour)})

	a, err := s.ClaimPreview(ctx, "acme", sy.ID, "worker-a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimPreview(ctx, "acme", sy.ID, "worker-b", time.Minute); !errors.Is(err, domain.ErrLeaseHeld) {
		t.Fatalf("a second worker's claim while the first one's lease runs: %v, want domain.ErrLeaseHeld", err)
	}
	if err := s.RenewPreview(ctx, domain.Lease{Tenant: "acme", SyncID: sy.ID, Owner: "worker-b"}, time.Minute); !errors.Is(err, domain.ErrLeaseLost) {
		t.Fatalf("renewing a lease it does not hold: %v, want domain.ErrLeaseLost", err)
	}
	if err := s.SavePlan(ctx, domain.Lease{Tenant: "acme", SyncID: sy.ID, Owner: "worker-b"}, plan, w); !errors.Is(err, domain.ErrLeaseLost) {
		t.Fatalf("SavePlan by a worker without the lease: %v, want domain.ErrLeaseLost", err)
	}
	if err := s.FailPreview(ctx, domain.Lease{Tenant: "acme", SyncID: sy.ID}, domain.SyncError{Code: "x"}); !errors.Is(err, domain.ErrLeaseLost) {
		t.Fatalf("FailPreview by the starter after a worker claimed: %v, want domain.ErrLeaseLost", err)
	}

	// Renewals keep the lease alive well past its first term.
	for range 5 {
		*clock = clock.Add(40 * time.Second)
		if err := s.RenewPreview(ctx, a, time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetSync(ctx, "acme", sy.ID); got.Status != domain.SyncPreviewing {
			t.Fatalf("a renewed preview is %s", got.Status)
		}
	}
	if err := s.CreateSync(ctx, newSync("acme", *clock), time.Minute); domain.ErrorCode(err) != domain.EConflict {
		t.Fatalf("a second sync while the lease is renewed: %v, want conflict", err)
	}

	// A lapsed lease is never revived: not by a retry of the job, not by
	// its own worker, whose plan can no longer become ready.
	*clock = clock.Add(2 * time.Minute)
	if _, err := s.ClaimPreview(ctx, "acme", sy.ID, "worker-b", time.Minute); !errors.Is(err, domain.ErrLeaseLost) {
		t.Fatalf("a retry claiming the lapsed lease: %v, want domain.ErrLeaseLost", err)
	}
	if err := s.RenewPreview(ctx, a, time.Minute); !errors.Is(err, domain.ErrLeaseLost) {
		t.Fatalf("the worker renewing its lapsed lease: %v, want domain.ErrLeaseLost", err)
	}
	if err := s.SavePlan(ctx, a, plan, w); !errors.Is(err, domain.ErrLeaseLost) {
		t.Fatalf("SavePlan under a lapsed lease: %v, want domain.ErrLeaseLost", err)
	}
	if err := s.FailPreview(ctx, a, domain.SyncError{Code: "x"}); !errors.Is(err, domain.ErrLeaseLost) {
		t.Fatalf("FailPreview under a lapsed lease: %v, want domain.ErrLeaseLost", err)
	}
	if got, _ := s.GetSync(ctx, "acme", sy.ID); got.Status != domain.SyncPreviewFailed || got.Error.Code != domain.SyncErrWorkerLost {
		t.Fatalf("after the lapse: %s %+v", got.Status, got.Error)
	}
}

// A worker whose invocation failed hands its lease back: Lambda's retry
// claims it at once, within the same term; a lease it no longer holds
// cannot be handed back.
func TestHandBackPreview(t *testing.T) {
	ctx := context.Background()
	s, sy, clock := previewingWithClock(t)
	a, err := s.ClaimPreview(ctx, "acme", sy.ID, "attempt-1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.HandBackPreview(ctx, domain.Lease{Tenant: "acme", SyncID: sy.ID, Owner: "someone-else"}); !errors.Is(err, domain.ErrLeaseLost) {
		t.Fatalf("handing back a lease it does not hold: %v, want domain.ErrLeaseLost", err)
	}
	if err := s.HandBackPreview(ctx, a); err != nil {
		t.Fatal(err)
	}
	*clock = clock.Add(10 * time.Second)
	b, err := s.ClaimPreview(ctx, "acme", sy.ID, "attempt-2", time.Minute)
	if err != nil {
		t.Fatalf("the retry's claim right after the hand-back: %v", err)
	}
	if err := s.RenewPreview(ctx, a, time.Minute); !errors.Is(err, domain.ErrLeaseLost) {
		t.Fatalf("the first attempt renewing after handing back: %v, want domain.ErrLeaseLost", err)
	}
	if err := s.FailPreview(ctx, b, domain.SyncError{Code: "x", Message: "y"}); err != nil {
		t.Fatalf("the retry ending the preview: %v", err)
	}
	if err := s.HandBackPreview(ctx, b); !errors.Is(err, domain.ErrLeaseLost) {
		t.Fatalf("handing back after the preview ended: %v, want domain.ErrLeaseLost", err)
	}
}

// A worker that stopped renewing (killed, timed out, never started) leaves
// a sync that reads as PREVIEW_FAILED worker_lost once its lease lapsed,
// and frees the tenant.
func TestKilledWorkerIsReportedLost(t *testing.T) {
	ctx := context.Background()
	s, sy, clock := previewingWithClock(t)
	if _, err := s.ClaimPreview(ctx, "acme", sy.ID, "worker", time.Minute); err != nil {
		t.Fatal(err)
	}
	*clock = clock.Add(30 * time.Second)
	if got, _ := s.GetSync(ctx, "acme", sy.ID); got.Status != domain.SyncPreviewing {
		t.Fatalf("within the lease: %s", got.Status)
	}
	*clock = clock.Add(time.Minute)
	syncs, _, err := s.ListSyncs(ctx, "acme", domain.Page{Limit: 10})
	if err != nil || len(syncs) != 1 {
		t.Fatalf("ListSyncs = %v, %v", syncs, err)
	}
	got, err := s.GetSync(ctx, "acme", sy.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []*domain.Sync{syncs[0], got} {
		if g.Status != domain.SyncPreviewFailed || g.Error == nil || g.Error.Code != domain.SyncErrWorkerLost {
			t.Fatalf("after the lease lapsed: %s %+v, want PREVIEW_FAILED worker_lost", g.Status, g.Error)
		}
	}
	if err := s.CreateSync(ctx, newSync("acme", *clock), time.Minute); err != nil {
		t.Fatalf("the tenant is still locked: %v", err)
	}
}

func TestCancelPreviewing(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	sy := newSync("acme", time.Now())
	if err := s.CreateSync(ctx, sy, time.Minute); err != nil {
		t.Fatal(err)
	}
	lease, err := s.ClaimPreview(ctx, "acme", sy.ID, "worker", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	previewing, err := s.GetSync(ctx, "acme", sy.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CancelSync(ctx, previewing, time.Minute); err != nil {
		t.Fatalf("cancel a previewing sync: %v", err)
	}
	if err := s.RenewPreview(ctx, lease, time.Minute); !errors.Is(err, domain.ErrLeaseLost) {
		t.Fatalf("the worker's renewal after the cancel: %v, want domain.ErrLeaseLost", err)
	}
	plan := samplePlan(1, 0)
	if err := s.SavePlan(ctx, lease, plan, withBatches(plan, domain.PlanWrite{ExpiresAt: time.Now().Add(time.Hour)})); !errors.Is(err, domain.ErrLeaseLost) {
		t.Fatalf("the worker's SavePlan after the cancel: %v, want domain.ErrLeaseLost", err)
	}
	if got, _ := s.GetSync(ctx, "acme", sy.ID); got.Status != domain.SyncCancelled {
		t.Fatalf("after cancel: %s", got.Status)
	}
	if err := s.CreateSync(ctx, newSync("acme", time.Now()), time.Minute); err != nil {
		t.Fatalf("the cancel did not free the tenant: %v", err)
	}
}

// An APPLYING lock lives until finalize: no lapse lets a second sync in.
func TestApplyLockDoesNotLapse(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	now := time.Now()
	sy := newSync("acme", now)
	if err := s.CreateSync(ctx, sy, time.Minute); err != nil {
		t.Fatal(err)
	}
	plan := samplePlan(3, 0)
	if err := s.SavePlan(ctx, domain.Lease{Tenant: "acme", SyncID: sy.ID}, plan, withBatches(plan, domain.PlanWrite{ExpiresAt: now.Add(time.Hour), RetainUntil: now.Add(time.Hour)})); err != nil {
		t.Fatal(err)
	}
	if err := s.BeginApply(ctx, "acme", sy.ID, "admin@example.com", 0); err != nil {
		t.Fatal(err)
	}
	s.SetClock(func() time.Time { return now.Add(30 * 24 * time.Hour) })
	if err := s.CreateSync(ctx, newSync("acme", now.Add(30*24*time.Hour)), time.Minute); domain.ErrorCode(err) != domain.EConflict {
		t.Fatalf("a new sync a month into an apply: %v, want conflict", err)
	}
	if err := s.PutConnection(ctx, &domain.Connection{TenantID: "acme", DirectoryTenantID: "dir-2"}, false); domain.ErrorCode(err) != domain.EConflict {
		t.Fatalf("PutConnection while applying: %v, want conflict", err)
	}
	if err := s.FinishApply(ctx, "acme", sy.ID, domain.SyncCompleted, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.PutConnection(ctx, &domain.Connection{TenantID: "acme", DirectoryTenantID: "dir-2"}, false); err != nil {
		t.Fatalf("PutConnection after the apply: %v", err)
	}
}

func TestConnectionIsPinnedAndFrozenWhileSyncing(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	conn := &domain.Connection{TenantID: "acme", DirectoryTenantID: "dir-1", ClientID: "app-1", Cloud: domain.CloudUSGov,
		SecretVersion: "v1", Options: domain.Options{DeactivateMissing: true}}
	if err := s.PutConnection(ctx, conn, false); err != nil {
		t.Fatal(err)
	}
	stored, err := s.GetConnection(ctx, "acme")
	if err != nil || stored.SecretVersion != "v1" {
		t.Fatalf("stored connection %+v, %v", stored, err)
	}
	sy := newSync("acme", time.Now())
	sy.PinConnection(stored)
	if err := s.CreateSync(ctx, sy, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureIdle(ctx, "acme"); domain.ErrorCode(err) != domain.EConflict {
		t.Fatalf("EnsureIdle while previewing: %v, want conflict", err)
	}
	if err := s.PutConnection(ctx, &domain.Connection{TenantID: "acme", DirectoryTenantID: "dir-2"}, false); domain.ErrorCode(err) != domain.EConflict {
		t.Fatalf("PutConnection while previewing: %v, want conflict", err)
	}
	got, err := s.GetSync(ctx, "acme", sy.ID)
	if err != nil {
		t.Fatal(err)
	}
	pinned := got.PinnedConnection()
	if pinned.DirectoryTenantID != "dir-1" || pinned.ClientID != "app-1" || pinned.Cloud != domain.CloudUSGov ||
		pinned.SecretVersion != "v1" || !pinned.Options.DeactivateMissing {
		t.Fatalf("pinned connection = %+v", pinned)
	}
}

// A read derives what time decided (expired, worker lost) without writing:
// the progress function may only GetItem.
func TestReadsNeverWrite(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	now := time.Now()
	clock := now
	s.SetClock(func() time.Time { return clock })
	ready := newSync("acme", now)
	if err := s.CreateSync(ctx, ready, time.Minute); err != nil {
		t.Fatal(err)
	}
	plan := samplePlan(2, 0)
	if err := s.SavePlan(ctx, domain.Lease{Tenant: "acme", SyncID: ready.ID}, plan, withBatches(plan, domain.PlanWrite{ExpiresAt: now.Add(time.Hour), RetainUntil: now.Add(48 * time.Hour)})); err != nil {
		t.Fatal(err)
	}
	other := newSync("other", now)
	if err := s.CreateSync(ctx, other, time.Minute); err != nil {
		t.Fatal(err)
	}
	raw := func(tenant, id string) string {
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), syncSK(id)), ConsistentRead: aws.Bool(true)})
		if err != nil || out.Item == nil {
			t.Fatalf("raw read: %v", err)
		}
		return getS(out.Item, "st")
	}
	clock = now.Add(2 * time.Hour)
	for _, tc := range []struct {
		tenant, id string
		want       domain.SyncStatus
		stored     domain.SyncStatus
	}{
		{"acme", ready.ID, domain.SyncExpired, domain.SyncPreviewReady},
		{"other", other.ID, domain.SyncPreviewFailed, domain.SyncPreviewing},
	} {
		got, err := s.GetSync(ctx, tc.tenant, tc.id)
		if err != nil {
			t.Fatal(err)
		}
		listed, _, err := s.ListSyncs(ctx, tc.tenant, domain.Page{Limit: 10})
		if err != nil || len(listed) != 1 {
			t.Fatalf("ListSyncs = %v, %v", listed, err)
		}
		if got.Status != tc.want || listed[0].Status != tc.want {
			t.Errorf("%s reads %s (listed %s), want %s", tc.id, got.Status, listed[0].Status, tc.want)
		}
		if st := raw(tc.tenant, tc.id); st != string(tc.stored) {
			t.Errorf("reading %s stored %s", tc.id, st)
		}
	}
}

// beforeLockRead runs hook once, just before the first read of a lock
// item: what another process does between a reader's two reads.
type beforeLockRead struct {
	DynamoAPI
	hook func()
}

func (b *beforeLockRead) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if sk, ok := in.Key["sk"].(*types.AttributeValueMemberS); ok && sk.Value == lockSK && b.hook != nil {
		hook := b.hook
		b.hook = nil
		hook()
	}
	return b.DynamoAPI.GetItem(ctx, in, opts...)
}

// A preview that becomes ready between a reader's read of the sync and its
// read of the lock reads as ready, never as a lost worker.
func TestAReadRacingTheEndOfAPreview(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	sy := newSync("acme", time.Now())
	if err := s.CreateSync(ctx, sy, time.Minute); err != nil {
		t.Fatal(err)
	}
	racing := *s
	racing.db = &beforeLockRead{DynamoAPI: s.db, hook: func() {
		plan := samplePlan(2, 0)
		if err := s.SavePlan(ctx, domain.Lease{Tenant: "acme", SyncID: sy.ID}, plan, withBatches(plan, domain.PlanWrite{ExpiresAt: time.Now().Add(time.Hour), RetainUntil: time.Now().Add(time.Hour)})); err != nil {
			t.Fatal(err)
		}
	}}
	got, err := racing.GetSync(ctx, "acme", sy.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != domain.SyncPreviewReady {
		t.Fatalf("read %s %+v while the preview became ready", got.Status, got.Error)
	}
}

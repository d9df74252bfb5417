package preview

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dirsync/internal/domain"
	"dirsync/internal/plan"
	"dirsync/internal/store"
	"dirsync/local/dynamolocal/dynamotest"
)

// gatedReader blocks in Read until released (or its context ends), so a
// test decides what happens while a worker is mid-read.
type gatedReader struct {
	fullReadsOnly
	snap    *domain.SourceMirror
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func newGatedReader(snap *domain.SourceMirror) *gatedReader {
	return &gatedReader{snap: snap, entered: make(chan struct{}), release: make(chan struct{})}
}

func (r *gatedReader) ReadMirror(ctx context.Context, _ domain.Options) (*domain.SourceMirror, error) {
	r.once.Do(func() { close(r.entered) })
	select {
	case <-r.release:
		return r.snap, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func waitFor(t *testing.T, what string, c <-chan struct{}) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// skewClock makes st's clock run ahead of the real one by what the
// returned value holds, safe to change while workers use the store.
func skewClock(st *store.Store) *atomic.Int64 {
	var skew atomic.Int64
	st.SetClock(func() time.Time { return time.Now().Add(time.Duration(skew.Load())) })
	return &skew
}

// startReading starts a preview and runs its worker with ctx in the
// background until the worker is inside slow's Read; done gets Run's result.
func startReading(t *testing.T, ctx context.Context, svc *Service, d *recordingDispatcher, slow *gatedReader) (sy *domain.Sync, done <-chan error) {
	t.Helper()
	sy, err := svc.Start(context.Background(), admin, false)
	if err != nil {
		t.Fatal(err)
	}
	result := make(chan error, 1)
	job := d.jobs[len(d.jobs)-1]
	go func() { result <- svc.Run(ctx, job) }()
	waitFor(t, "the worker to read", slow.entered)
	return sy, result
}

func syncStatus(t *testing.T, st *store.Store, id string) *domain.Sync {
	t.Helper()
	sy, err := st.GetSync(context.Background(), "acme", id)
	if err != nil {
		t.Fatal(err)
	}
	return sy
}

// Two previews of one tenant can never both become PREVIEW_READY: a worker
// whose lease lapsed (stalled, partitioned) while another sync started is
// fenced out, even if it never noticed.
func TestLapsedWorkerCannotMakeItsPreviewReady(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	skew := skewClock(st)
	slow := newGatedReader(snapshot(5))
	svc, d := newService(t, st, slow)
	svc.LockFor = time.Minute
	svc.RenewEvery = time.Hour // the stalled worker never renews
	a, done := startReading(t, ctx, svc, d, slow)

	// Time passes beyond A's lease; B starts and takes the tenant over.
	skew.Store(int64(10 * time.Minute))
	svcB, _ := newService(t, st, staticReader{snap: snapshot(7)})
	svcB.Dispatcher = d
	b, err := svcB.Start(ctx, admin, false)
	if err != nil {
		t.Fatalf("B could not start after A's lease lapsed: %v", err)
	}
	if got := syncStatus(t, st, a.ID); got.Status != domain.SyncPreviewFailed || got.Error.Code != domain.SyncErrWorkerLost {
		t.Fatalf("A = %s %+v, want PREVIEW_FAILED worker_lost", got.Status, got.Error)
	}

	close(slow.release) // A wakes up and tries to store its plan
	if err := <-done; err != nil {
		t.Fatalf("A's run: %v (a lost lease is not an error to retry)", err)
	}
	if got := syncStatus(t, st, a.ID); got.Status != domain.SyncPreviewFailed {
		t.Fatalf("A became %s after waking up", got.Status)
	}
	if changes, _, _ := st.ListChanges(ctx, "acme", a.ID, domain.ChangeFilter{}, domain.Page{Limit: 10}); len(changes) != 0 {
		t.Fatalf("A's plan is readable: %d changes", len(changes))
	}
	if err := svcB.Run(ctx, d.jobs[1]); err != nil {
		t.Fatal(err)
	}
	if got := syncStatus(t, st, b.ID); got.Status != domain.SyncPreviewReady || got.Counts.Users.Add != 7 {
		t.Fatalf("B = %s %+v", got.Status, got.Counts)
	}
}

// stalledRenewals holds every lease renewal until released, as a worker
// whose renewals hang (a network partition) would.
type stalledRenewals struct {
	*store.Store
	release chan struct{}
}

func (s *stalledRenewals) RenewPreview(ctx context.Context, l domain.Lease, d time.Duration) error {
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Store.RenewPreview(ctx, l, d)
}

// A worker whose renewals stalled until its lease lapsed and was taken
// over notices at its next renewal and stops reading.
func TestWorkerStopsWhenItsLeaseIsTakenOver(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	skew := skewClock(st)
	slow := newGatedReader(snapshot(5))
	svc, d := newService(t, st, slow)
	stalled := &stalledRenewals{Store: st, release: make(chan struct{})}
	svc.Store = stalled
	svc.LockFor, svc.RenewEvery = time.Minute, 50*time.Millisecond
	a, done := startReading(t, ctx, svc, d, slow)
	// The lease lapses and another preview takes the tenant over.
	skew.Store(int64(10 * time.Minute))
	svcB, _ := newService(t, st, staticReader{snap: snapshot(2)})
	if _, err := svcB.Start(ctx, admin, false); err != nil {
		t.Fatalf("the takeover: %v", err)
	}
	close(stalled.release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("A's run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("A kept reading after its lease was taken over")
	}
	if got := syncStatus(t, st, a.ID); got.Status != domain.SyncPreviewFailed || got.Error.Code != domain.SyncErrWorkerLost {
		t.Fatalf("A = %s %+v", got.Status, got.Error)
	}
}

func TestCancelStopsThePreviewWorker(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	slow := newGatedReader(snapshot(5))
	svc, d := newService(t, st, slow)
	svc.LockFor, svc.RenewEvery = time.Minute, 50*time.Millisecond
	sy, done := startReading(t, ctx, svc, d, slow)
	if err := st.CancelSync(ctx, syncStatus(t, st, sy.ID), time.Minute); err != nil {
		t.Fatalf("cancel while previewing: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the cancelled run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the worker kept reading after the cancel")
	}
	if got := syncStatus(t, st, sy.ID); got.Status != domain.SyncCancelled {
		t.Fatalf("after cancel: %s", got.Status)
	}
	if _, err := svc.Start(ctx, admin, false); err != nil {
		t.Fatalf("a new preview after the cancel: %v", err)
	}
}

// A worker killed mid-read (nothing recorded) leaves a sync that ends
// PREVIEW_FAILED worker_lost once its lease lapsed.
func TestKilledWorkerEndsWorkerLost(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	skew := skewClock(st)
	slow := newGatedReader(snapshot(5))
	svc, d := newService(t, st, slow)
	svc.LockFor, svc.RenewEvery = time.Minute, 50*time.Millisecond
	killCtx, kill := context.WithCancel(ctx)
	sy, done := startReading(t, killCtx, svc, d, slow)
	kill()
	<-done
	if got := syncStatus(t, st, sy.ID); got.Status != domain.SyncPreviewing {
		t.Fatalf("right after the kill: %s", got.Status)
	}
	skew.Store(int64(2 * time.Minute))
	if got := syncStatus(t, st, sy.ID); got.Status != domain.SyncPreviewFailed || got.Error.Code != domain.SyncErrWorkerLost {
		t.Fatalf("after the lease lapsed: %s %+v, want PREVIEW_FAILED worker_lost", got.Status, got.Error)
	}
}

// A job delivered twice (Lambda's asynchronous invoke is at-least-once)
// computes and stores the plan once.
func TestDuplicateDeliveryStoresOnePlan(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	slow := newGatedReader(snapshot(5))
	var reads atomic.Int32
	svc, d := newService(t, st, slow)
	svc.LockFor, svc.RenewEvery = time.Minute, 50*time.Millisecond
	svc.NewReader = func(context.Context, *domain.Connection) (Reader, error) { reads.Add(1); return slow, nil }
	sy, err := svc.Start(ctx, admin, false)
	if err != nil {
		t.Fatal(err)
	}
	first, second := make(chan error, 1), make(chan error, 1)
	go func() { first <- svc.Run(ctx, d.jobs[0]) }()
	waitFor(t, "the first worker to read", slow.entered)
	go func() { second <- svc.Run(ctx, d.jobs[0]) }()
	time.Sleep(300 * time.Millisecond) // the duplicate is waiting for the lease
	close(slow.release)
	for _, c := range []chan error{first, second} {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
	if n := reads.Load(); n != 1 {
		t.Fatalf("%d reads of the source, want 1", n)
	}
	if got := syncStatus(t, st, sy.ID); got.Status != domain.SyncPreviewReady {
		t.Fatalf("sync = %s", got.Status)
	}
}

// The worker reads exactly the connection the sync was started with, even
// if the stored connection changed meanwhile.
func TestWorkerUsesThePinnedConnection(t *testing.T) {
	ctx := context.Background()
	names := dynamotest.Tables(t)
	st := store.New(dynamotest.Client, names["DirectoryTable"], names["SyncTable"])
	var got *domain.Connection
	svc, d := newService(t, st, staticReader{snap: snapshot(3)})
	svc.NewReader = func(_ context.Context, conn *domain.Connection) (Reader, error) {
		got = conn
		return staticReader{snap: snapshot(3)}, nil
	}
	before, err := st.GetConnection(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Start(ctx, admin, false); err != nil {
		t.Fatal(err)
	}
	// Replace the connection item behind the lock's back, as a PUT that
	// raced the lock could have.
	if _, err := dynamotest.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(names["SyncTable"]), Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "T#acme"}, "sk": &types.AttributeValueMemberS{Value: "CONN"}},
		UpdateExpression:          aws.String("SET dtid = :d, cid = :c, sver = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": &types.AttributeValueMemberS{Value: "other-directory"}, ":c": &types.AttributeValueMemberS{Value: "other-app"}, ":v": &types.AttributeValueMemberS{Value: "v9"}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Run(ctx, d.jobs[0]); err != nil {
		t.Fatal(err)
	}
	if got == nil || got.DirectoryTenantID != before.DirectoryTenantID || got.ClientID != before.ClientID || got.SecretVersion != before.SecretVersion {
		t.Fatalf("the worker read %+v, want the pinned %+v", got, before)
	}
}

func TestSecretStoreFailures(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus domain.SyncStatus
		wantRetry  bool
	}{
		{"secret store unreachable is retried", errors.New("secretsmanager: GetSecretValue: dial tcp: i/o timeout"), domain.SyncPreviewing, true},
		{"no such secret fails the preview", domain.Errorf(domain.ENotFound, "no client secret is stored"), domain.SyncPreviewFailed, false},
		{"a connection the reader refuses fails it", domain.Errorf(domain.EInvalid, "entra: the client secret is required"), domain.SyncPreviewFailed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := newStore(t)
			svc, d := newService(t, st, nil)
			svc.NewReader = func(context.Context, *domain.Connection) (Reader, error) { return nil, tt.err }
			sy, err := svc.Start(ctx, admin, false)
			if err != nil {
				t.Fatal(err)
			}
			err = svc.Run(ctx, d.jobs[0])
			if (err != nil) != tt.wantRetry {
				t.Fatalf("Run = %v, want an error to retry: %v", err, tt.wantRetry)
			}
			got := syncStatus(t, st, sy.ID)
			if got.Status != tt.wantStatus {
				t.Fatalf("sync = %s %+v, want %s", got.Status, got.Error, tt.wantStatus)
			}
			if got.Error != nil && got.Error.Code != domain.SyncErrCredentials {
				t.Fatalf("error %+v, want bad_credentials", got.Error)
			}
		})
	}
}

func TestPreviewWithoutEmailClaimWarns(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	svc, d := newService(t, st, staticReader{snap: snapshot(2)})
	sy, err := svc.Start(ctx, Actor{TenantID: "acme", Subject: "sub-without-email"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Run(ctx, d.jobs[0]); err != nil {
		t.Fatal(err)
	}
	got := syncStatus(t, st, sy.ID)
	if got.Status != domain.SyncPreviewReady || got.CreatedBy != "sub-without-email" {
		t.Fatalf("sync = %+v", got)
	}
	for _, w := range got.Warnings {
		if w == NoEmailWarning {
			return
		}
	}
	t.Fatalf("warnings %q lack the missing email claim", got.Warnings)
}

// Whatever the timing of lapses, takeovers and wake-ups, every preview
// ends (none stays PREVIEWING), and one that did not end ready (taken over,
// failed) leaves nothing readable: no progress counter, no changes. The
// deterministic form of the takeover is TestLapsedWorkerCannotMakeItsPreviewReady.
func TestRacingPreviewsEndCleanly(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	skew := skewClock(st)
	takeovers := 0
	for round := range 12 {
		tenant := fmt.Sprintf("race-%d", round)
		if err := st.PutConnection(ctx, &domain.Connection{TenantID: tenant, DirectoryTenantID: dirTenant, ClientID: "c", Cloud: domain.CloudGlobal}, false); err != nil {
			t.Fatal(err)
		}
		actor := Actor{TenantID: tenant, Subject: "s", Email: "admin@contoso.com"}
		var wg sync.WaitGroup
		ids := make([]string, 2)
		tookOver := make([]bool, 2)
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := &recordingDispatcher{}
				svc := &Service{Store: st, Dispatcher: d, TTL: time.Hour, Retention: time.Hour, LockFor: time.Minute,
					RenewEvery: time.Duration(20+rand.IntN(200)) * time.Millisecond, UserBatchSize: 10, Plan: plan.Compute,
					NewReader: func(context.Context, *domain.Connection) (Reader, error) {
						return sleepyReader{snap: snapshot(3), sleep: time.Duration(rand.IntN(300)) * time.Millisecond}, nil
					}}
				time.Sleep(time.Duration(rand.IntN(150)) * time.Millisecond)
				sy, err := svc.Start(ctx, actor, false)
				if domain.ErrorCode(err) == domain.EConflict {
					// Lapse the holder's lease (as a stall would), then try again.
					skew.Add(int64(2 * time.Minute))
					sy, err = svc.Start(ctx, actor, false)
					tookOver[w] = err == nil
				}
				if err != nil {
					return
				}
				ids[w] = sy.ID
				_ = svc.Run(ctx, d.jobs[0])
			}()
		}
		wg.Wait()
		for _, took := range tookOver {
			if took {
				takeovers++
			}
		}
		for _, id := range ids {
			if id == "" {
				continue
			}
			sy, err := st.GetSync(ctx, tenant, id)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case sy.Status == domain.SyncPreviewing:
				t.Fatalf("round %d: %s is still PREVIEWING after its worker ended", round, id)
			case sy.Status != domain.SyncPreviewReady:
				// A preview that did not end ready leaves nothing to read.
				if _, err := st.GetProgress(ctx, tenant, id); domain.ErrorCode(err) != domain.ENotFound {
					t.Fatalf("round %d: %s (%s) has a progress counter: %v", round, id, sy.Status, err)
				}
				if changes, _, _ := st.ListChanges(ctx, tenant, id, domain.ChangeFilter{}, domain.Page{Limit: 10}); len(changes) != 0 {
					t.Fatalf("round %d: %s (%s) lists %d changes", round, id, sy.Status, len(changes))
				}
			}
		}
	}
	if takeovers == 0 {
		t.Fatal("no round took a lapsed lease over: the test did not exercise the race")
	}
}

// sleepyReader answers after a delay, or fails when its context ends first.
type sleepyReader struct {
	fullReadsOnly
	snap  *domain.SourceMirror
	sleep time.Duration
}

func (r sleepyReader) ReadMirror(ctx context.Context, _ domain.Options) (*domain.SourceMirror, error) {
	select {
	case <-time.After(r.sleep):
		return r.snap, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// A worker nearing its invocation's deadline stops and records why, rather
// than being killed without a trace.
func TestWorkerFailsItselfBeforeItsDeadline(t *testing.T) {
	st := newStore(t)
	slow := newGatedReader(snapshot(5))
	svc, d := newService(t, st, slow)
	svc.DeadlineMargin = time.Second
	sy, err := svc.Start(context.Background(), admin, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond) // Lambda's deadline
	defer cancel()
	if err := svc.Run(ctx, d.jobs[0]); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the worker ran into its deadline instead of stopping before it")
	}
	got := syncStatus(t, st, sy.ID)
	if got.Status != domain.SyncPreviewFailed || got.Error == nil || got.Error.Code != domain.SyncErrTimeout {
		t.Fatalf("sync = %s %+v, want PREVIEW_FAILED preview_timeout", got.Status, got.Error)
	}
}

// When Lambda gives up on the worker (retries exhausted, event too old),
// the OnFailure destination ends the sync with Lambda's reason.
func TestWorkerFailedEndsThePreview(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	svc, d := newService(t, st, staticReader{snap: snapshot(1)})
	sy, err := svc.Start(ctx, admin, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ClaimPreview(ctx, "acme", sy.ID, "crashed-invocation", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := svc.WorkerFailed(ctx, "acme", d.jobs[0].SyncID, "Runtime.ExitError: signal: killed"); err != nil {
		t.Fatal(err)
	}
	got := syncStatus(t, st, sy.ID)
	if got.Status != domain.SyncPreviewFailed || got.Error.Code != domain.SyncErrWorkerLost || !strings.Contains(got.Error.Message, "signal: killed") {
		t.Fatalf("sync = %s %+v", got.Status, got.Error)
	}
	if _, err := svc.Start(ctx, admin, false); err != nil {
		t.Fatalf("the tenant is still locked: %v", err)
	}
	// Repeated (a redelivered record): nothing changes.
	if err := svc.WorkerFailed(ctx, "acme", d.jobs[0].SyncID, "again"); err != nil {
		t.Fatal(err)
	}
	if again := syncStatus(t, st, sy.ID); again.Error.Message != got.Error.Message {
		t.Fatalf("a repeated failure rewrote the sync: %+v", again.Error)
	}
}

// A worker invocation that fails with an error (Lambda will retry it) hands
// its lease back, so the retry computes the preview at once instead of
// waiting out the lease and finding nothing left to do.
func TestFailedInvocationHandsTheLeaseToTheRetry(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	svc, d := newService(t, st, staticReader{snap: snapshot(3)})
	attempts := 0
	svc.NewReader = func(context.Context, *domain.Connection) (Reader, error) {
		if attempts++; attempts == 1 {
			return nil, errors.New("secrets: get secret version: AccessDeniedException (a transient refusal)")
		}
		return staticReader{snap: snapshot(3)}, nil
	}
	sy, err := svc.Start(ctx, admin, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Run(ctx, d.jobs[0]); err == nil {
		t.Fatal("the first attempt succeeded, want its error (Lambda retries on it)")
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, d.jobs[0]) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the retry: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the retry is still waiting for the failed attempt's lease")
	}
	if got := syncStatus(t, st, sy.ID); got.Status != domain.SyncPreviewReady {
		t.Fatalf("after the retry: %s %+v, want PREVIEW_READY", got.Status, got.Error)
	}
}

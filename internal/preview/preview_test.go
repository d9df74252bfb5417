package preview

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"dirsync/internal/domain"
	"dirsync/internal/plan"
	"dirsync/internal/store"
	"dirsync/local/dynamolocal/dynamotest"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m)) }

func newStore(t *testing.T) *store.Store {
	t.Helper()
	names := dynamotest.Tables(t)
	return store.New(dynamotest.Client, names["DirectoryTable"], names["SyncTable"])
}

// recordingDispatcher remembers jobs instead of running them, so a test
// decides when the worker runs.
type recordingDispatcher struct {
	mu   sync.Mutex
	jobs []Job
	err  error
}

func (d *recordingDispatcher) Dispatch(_ context.Context, j Job) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return d.err
	}
	d.jobs = append(d.jobs, j)
	return nil
}

type staticReader struct {
	fullReadsOnly
	snap *domain.SourceMirror
	err  error
}

// fullReadsOnly is a Reader's ReadChanges that refuses every mirror, so
// each preview reads in full.
type fullReadsOnly struct{}

func (fullReadsOnly) ReadChanges(context.Context, domain.Options, *domain.SourceMirror) (*domain.SourceMirror, error) {
	return nil, fmt.Errorf("test reader: %w: it reads in full only", domain.ErrNoMirror)
}

func (r staticReader) ReadMirror(context.Context, domain.Options) (*domain.SourceMirror, error) {
	return r.snap, r.err
}

const dirTenant = "11111111-2222-3333-4444-555555555555"

// snapshot is a full read of n users, without deltaLinks.
func snapshot(n int) *domain.SourceMirror {
	s := &domain.SourceMirror{DirectoryTenantID: dirTenant, UserProperties: []string{"displayName"}}
	for i := 0; i < n; i++ {
		s.Users = append(s.Users, domain.SourceUser{
			ID: fmt.Sprintf("e%03d", i), UserPrincipalName: fmt.Sprintf("user%03d@contoso.com", i),
			Mail: fmt.Sprintf("user%03d@contoso.com", i), AccountEnabled: true, Values: []string{fmt.Sprintf("User %d", i)},
		})
	}
	return s
}

func newService(t *testing.T, st *store.Store, r Reader) (*Service, *recordingDispatcher) {
	t.Helper()
	ctx := context.Background()
	if err := st.PutConnection(ctx, &domain.Connection{TenantID: "acme", DirectoryTenantID: dirTenant, ClientID: "c", Cloud: domain.CloudGlobal,
		Options: domain.Options{DeactivateMissing: true}}, false); err != nil {
		t.Fatal(err)
	}
	d := &recordingDispatcher{}
	svc := &Service{
		Store: st, Dispatcher: d, TTL: time.Hour, Retention: time.Hour, LockFor: 10 * time.Minute, UserBatchSize: 10,
		NewReader: func(context.Context, *domain.Connection) (Reader, error) { return r, nil }, Plan: plan.Compute,
	}
	return svc, d
}

var admin = Actor{TenantID: "acme", Subject: "sub-1", Email: "admin@contoso.com"}

func TestStartNeedsConnection(t *testing.T) {
	st := newStore(t)
	svc := &Service{Store: st, Dispatcher: &recordingDispatcher{}, LockFor: time.Minute}
	_, err := svc.Start(context.Background(), admin, false)
	if domain.ErrorCode(err) != domain.EUnprocessable {
		t.Fatalf("Start without connection: %v, want unprocessable", err)
	}
}

func TestPreviewReady(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	svc, d := newService(t, st, staticReader{snap: snapshot(25)})
	sy, err := svc.Start(ctx, admin, false)
	if err != nil {
		t.Fatal(err)
	}
	if sy.Status != domain.SyncPreviewing || len(d.jobs) != 1 || d.jobs[0].SyncID != sy.ID || d.jobs[0].ActorEmail != admin.Email {
		t.Fatalf("sync %+v, jobs %+v", sy, d.jobs)
	}
	if _, err := svc.Start(ctx, admin, false); domain.ErrorCode(err) != domain.EConflict {
		t.Fatalf("second Start while previewing: %v, want conflict", err)
	}
	if err := svc.Run(ctx, d.jobs[0]); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetSync(ctx, "acme", sy.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != domain.SyncPreviewReady || got.Counts.Users.Add != 25 || got.UserBatches != 3 || got.ExpiresAt == nil {
		t.Fatalf("after Run: %+v", got)
	}
	// Running the same job again (a retried async invoke) changes nothing.
	if err := svc.Run(ctx, d.jobs[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Start(ctx, admin, false); err != nil {
		t.Fatalf("Start after the preview is ready: %v", err)
	}
}

func TestPreviewFailures(t *testing.T) {
	linked := []domain.User{{PlatformUser: domain.PlatformUser{Email: "gone@contoso.com", Source: domain.SourceEntra,
		ExternalID: "e-gone", ExternalTenantID: dirTenant}}}
	tests := []struct {
		name     string
		reader   Reader
		seed     []domain.User
		wantCode string
	}{
		{"graph failure mid-read", staticReader{err: errors.New("entra: read users page 2: status 500")}, nil, domain.SyncErrSourceRead},
		{"empty source while linked users exist", staticReader{snap: snapshot(0)}, linked, domain.SyncErrSourceEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := newStore(t)
			if err := st.SeedUsers(ctx, "acme", tt.seed); err != nil {
				t.Fatal(err)
			}
			svc, d := newService(t, st, tt.reader)
			sy, err := svc.Start(ctx, admin, false)
			if err != nil {
				t.Fatal(err)
			}
			if err := svc.Run(ctx, d.jobs[0]); err != nil {
				t.Fatal(err)
			}
			got, _ := st.GetSync(ctx, "acme", sy.ID)
			if got.Status != domain.SyncPreviewFailed || got.Error == nil || got.Error.Code != tt.wantCode {
				t.Fatalf("sync = %+v, want PREVIEW_FAILED %s", got, tt.wantCode)
			}
			changes, _, err := st.ListChanges(ctx, "acme", sy.ID, domain.ChangeFilter{}, domain.Page{Limit: 10})
			if err != nil || len(changes) != 0 {
				t.Fatalf("a failed preview stored changes: %d, %v", len(changes), err)
			}
			if _, err := st.GetProgress(ctx, "acme", sy.ID); domain.ErrorCode(err) != domain.ENotFound {
				t.Fatalf("a failed preview stored progress: %v", err)
			}
			if _, err := svc.Start(ctx, admin, false); err != nil {
				t.Fatalf("lock not released after failure: %v", err)
			}
		})
	}
}

func TestDispatchFailureReleasesTheTenant(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	svc, d := newService(t, st, staticReader{snap: snapshot(1)})
	d.err = errors.New("lambda throttled")
	if _, err := svc.Start(ctx, admin, false); err == nil {
		t.Fatal("Start succeeded though the worker could not be dispatched")
	}
	d.err = nil
	if _, err := svc.Start(ctx, admin, false); err != nil {
		t.Fatalf("tenant still locked after a failed dispatch: %v", err)
	}
	syncs, _, _ := st.ListSyncs(ctx, "acme", domain.Page{Limit: 10})
	if len(syncs) != 2 || syncs[1].Status != domain.SyncPreviewFailed {
		t.Fatalf("syncs = %+v", syncs)
	}
}

// skewedIgnoreList reads the connection's ignored users one write later
// than the sync pinned, as if they had been edited after the tenant's lock
// lapsed.
type skewedIgnoreList struct{ *store.Store }

func (s skewedIgnoreList) GetConnection(ctx context.Context, tenant string) (*domain.Connection, error) {
	c, err := s.Store.GetConnection(ctx, tenant)
	if err == nil {
		c.IgnoreVersion++
	}
	return c, err
}

// The worker plans with the ignored users the sync pinned (by version, not
// carried on the sync), and refuses to plan with a list edited since.
func TestPreviewUsesThePinnedIgnoredUsers(t *testing.T) {
	ctx := context.Background()
	snap := snapshot(5)
	ignored := []string{"0d0d0d0d-0000-4000-8000-000000000001", "0d0d0d0d-0000-4000-8000-000000000002"}
	snap.Users[1].ID, snap.Users[3].ID = ignored[0], ignored[1]
	for _, skew := range []bool{false, true} {
		t.Run(fmt.Sprintf("edited since %v", skew), func(t *testing.T) {
			st := newStore(t)
			svc, d := newService(t, st, staticReader{snap: snap})
			if err := st.WriteIgnoredUsers(ctx, "acme", ignored, 0); err != nil {
				t.Fatal(err)
			}
			sy, err := svc.Start(ctx, admin, false)
			if err != nil {
				t.Fatal(err)
			}
			if skew {
				svc.Store = skewedIgnoreList{st}
			}
			if err := svc.Run(ctx, d.jobs[0]); err != nil {
				t.Fatal(err)
			}
			got, err := st.GetSync(ctx, "acme", sy.ID)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case skew && (got.Status != domain.SyncPreviewFailed || got.Error == nil || got.Error.Code != domain.SyncErrOptions):
				t.Fatalf("with the list edited since: %s %+v, want PREVIEW_FAILED %s", got.Status, got.Error, domain.SyncErrOptions)
			case !skew && (got.Status != domain.SyncPreviewReady || got.Counts.Users.Ignored != 2 || got.Counts.Users.Add != 3 || got.IgnoredUserCount != 2):
				t.Fatalf("preview = %s %+v (pinned %d ignored), want 2 ignored and 3 adds", got.Status, got.Counts.Users, got.IgnoredUserCount)
			}
		})
	}
}

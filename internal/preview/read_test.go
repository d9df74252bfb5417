package preview

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"dirsync/internal/domain"
)

// scriptedReader reads a tenant of users users, in full or as a delta
// that adds one user, and records which it was asked for. A delta fails
// with deltaErr when set.
type scriptedReader struct {
	mu       sync.Mutex
	users    int
	deltaErr error
	calls    []string
	prevs    []*domain.SourceMirror
}

func (r *scriptedReader) mirror(opts domain.Options, users int, read time.Time) *domain.SourceMirror {
	m := snapshot(users)
	m.UserProperties = domain.UserProperties(opts.EffectiveMapping())
	for i := range m.Users {
		m.Users[i].Values = make([]string, len(m.UserProperties))
	}
	m.Basis = domain.MirrorBasis(dirTenant, m.UserProperties)
	m.FullReadAt = read
	m.DeltaLinks = domain.DeltaLinks{Users: fmt.Sprintf("users-%d", users), Groups: fmt.Sprintf("groups-%d", users)}
	return m
}

func (r *scriptedReader) ReadMirror(_ context.Context, opts domain.Options) (*domain.SourceMirror, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "full")
	return r.mirror(opts, r.users, time.Now().UTC().Truncate(time.Second)), nil
}

func (r *scriptedReader) ReadChanges(_ context.Context, opts domain.Options, prev *domain.SourceMirror) (*domain.SourceMirror, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "delta")
	r.prevs = append(r.prevs, prev)
	if r.deltaErr != nil {
		return nil, r.deltaErr
	}
	return r.mirror(opts, len(prev.Users)+1, prev.FullReadAt), nil
}

func (r *scriptedReader) takeCalls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

// The worker reads only the changes when the tenant's mirror allows it,
// in full otherwise, says which on the sync, and keeps the mirror.
func TestPreviewReadKind(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	reader := &scriptedReader{users: 5}
	svc, d := newService(t, st, reader)
	now := time.Now().UTC()
	svc.Now = func() time.Time { return now }

	steps := []struct {
		name     string
		before   func()
		fullRead bool
		calls    []string
		kind     domain.ReadKind
		reason   string
		adds     int
		status   domain.SyncStatus
	}{
		{name: "first preview", calls: []string{"full"}, kind: domain.ReadFull, reason: domain.ReadReasonNoMirror, adds: 5},
		{name: "re-sync", calls: []string{"delta"}, kind: domain.ReadDelta, adds: 6},
		{name: "re-sync again", calls: []string{"delta"}, kind: domain.ReadDelta, adds: 7},
		{name: "asked for a full read", fullRead: true, calls: []string{"full"}, kind: domain.ReadFull, reason: domain.ReadReasonRequested, adds: 5},
		{name: "token expired", before: func() { reader.deltaErr = fmt.Errorf("entra: read users delta page 1: %w", domain.ErrDeltaExpired) },
			calls: []string{"delta", "full"}, kind: domain.ReadFull, reason: domain.ReadReasonDeltaExpired, adds: 5},
		{name: "drift", before: func() { reader.deltaErr = fmt.Errorf("entra: %w", domain.ErrMirrorDrift) },
			calls: []string{"delta", "full"}, kind: domain.ReadFull, reason: domain.ReadReasonDrift, adds: 5},
		{name: "a delta that fails otherwise fails the preview", before: func() { reader.deltaErr = errors.New("entra: read users delta page 1: HTTP 500") },
			calls: []string{"delta"}, status: domain.SyncPreviewFailed},
		{name: "mapping changed", before: func() {
			reader.deltaErr = nil
			conn, err := st.GetConnection(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			conn.Options.Mapping = []domain.Mapping{{Attribute: "title", Source: "jobTitle"}}
			if err := st.PutConnection(ctx, conn, false); err != nil {
				t.Fatal(err)
			}
		}, calls: []string{"full"}, kind: domain.ReadFull, reason: domain.ReadReasonBasisChanged, adds: 5},
		{name: "re-sync on the new basis", calls: []string{"delta"}, kind: domain.ReadDelta, adds: 6},
		{name: "reconcile due", before: func() { now = now.Add(domain.DefaultReconcileEvery + time.Hour) },
			calls: []string{"full"}, kind: domain.ReadFull, reason: domain.ReadReasonReconcile, adds: 5},
	}
	for _, step := range steps {
		if step.before != nil {
			step.before()
		}
		sy, err := svc.Start(ctx, admin, step.fullRead)
		if err != nil {
			t.Fatalf("%s: Start: %v", step.name, err)
		}
		if err := svc.Run(ctx, d.jobs[len(d.jobs)-1]); err != nil {
			t.Fatalf("%s: Run: %v", step.name, err)
		}
		got, err := st.GetSync(ctx, "acme", sy.ID)
		if err != nil {
			t.Fatal(err)
		}
		if calls := reader.takeCalls(); !reflect.DeepEqual(calls, step.calls) {
			t.Errorf("%s: reads %v, want %v", step.name, calls, step.calls)
		}
		want := step.status
		if want == "" {
			want = domain.SyncPreviewReady
		}
		if got.Status != want {
			t.Fatalf("%s: status %s (%+v), want %s", step.name, got.Status, got.Error, want)
		}
		if want != domain.SyncPreviewReady {
			continue
		}
		if got.ReadKind != step.kind || got.ReadReason != step.reason || got.Counts.Users.Add != step.adds {
			t.Errorf("%s: read %s %q, %d adds; want %s %q, %d adds", step.name, got.ReadKind, got.ReadReason, got.Counts.Users.Add, step.kind, step.reason, step.adds)
		}
		// The mirror kept is the one this preview planned from.
		m, err := st.LoadMirror(ctx, "acme")
		if err != nil {
			t.Fatalf("%s: LoadMirror: %v", step.name, err)
		}
		if len(m.Users) != step.adds {
			t.Errorf("%s: the mirror kept holds %d users, want %d", step.name, len(m.Users), step.adds)
		}
	}
	// Each delta was given the mirror the preview before it kept.
	for i, prev := range reader.prevs {
		if prev == nil || prev.DeltaLinks.Users == "" {
			t.Errorf("delta %d was given no mirror", i+1)
		}
	}
}

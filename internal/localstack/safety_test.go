package localstack

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"dirsync/internal/domain"
	"dirsync/internal/fakeentra"
)

// A preview whose worker was killed mid-read (as Lambda kills an invocation
// at its timeout) ends PREVIEW_FAILED worker_lost once its lease lapsed,
// and the tenant can preview again.
func TestKilledWorkerEndsWorkerLost(t *testing.T) {
	c := adminOf(t, "killed")
	dir := fakeentra.Generate(fakeentra.Spec{TenantID: "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b", Domain: "killed.onmicrosoft.com", Seed: 13, Users: 1500})
	connectTenant(t, c, dir, `{}`)
	slow := stack.Fake.InjectFault(fakeentra.Fault{PathPrefix: "/v1.0/users", Page: 2, Kind: fakeentra.FaultSlow, Delay: time.Minute})
	stack.Fake.ResetRequests()
	var started syncBody
	if code := c.do("POST", "/v1/syncs", nil, &started); code != http.StatusAccepted {
		t.Fatalf("POST /v1/syncs = %d", code)
	}
	waitUntil(t, "the worker read page 1", func() bool {
		for _, r := range stack.Fake.Requests() {
			if r.Path == "/v1.0/users" && r.Page == 1 && r.Status == http.StatusOK {
				return true
			}
		}
		return false
	})
	time.Sleep(200 * time.Millisecond) // now waiting for the slow page 2
	stack.KillWorkers()
	slow()

	var sy syncBody
	c.do("GET", "/v1/syncs/"+started.ID, nil, &sy)
	if sy.Status != string(domain.SyncPreviewing) {
		t.Fatalf("right after the kill: %s %+v (the lease has not lapsed yet)", sy.Status, sy.Error)
	}
	var skew atomic.Int64
	skew.Store(int64(stack.Config.PreviewLock + time.Second))
	stack.Store.SetClock(func() time.Time { return time.Now().Add(time.Duration(skew.Load())) })
	defer stack.Store.SetClock(time.Now)
	c.do("GET", "/v1/syncs/"+started.ID, nil, &sy)
	if sy.Status != string(domain.SyncPreviewFailed) || sy.Error == nil || sy.Error.Code != domain.SyncErrWorkerLost {
		t.Fatalf("after the lease lapsed: %s %+v, want PREVIEW_FAILED worker_lost", sy.Status, sy.Error)
	}
	stack.Store.SetClock(time.Now)
	if again := c.preview(); again.Status != string(domain.SyncPreviewReady) {
		t.Fatalf("the next preview: %s %+v", again.Status, again.Error)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package localstack

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"testing"
	"time"

	"dirsync/internal/domain"
	"dirsync/local/benchsizes"
	"dirsync/local/fakeentra"
	"dirsync/local/graphfloor"
)

// localRuntimeSizes are the tenants BenchmarkLocalRuntime previews;
// LOCAL_RUNTIME_USERS (comma-separated) replaces them, e.g.
// LOCAL_RUNTIME_USERS=1000000 for the enterprise tenant.
func localRuntimeSizes() []int { return benchsizes.FromEnv("LOCAL_RUNTIME_USERS", 100_000) }

// BenchmarkLocalRuntime previews a generated tenant (nested groups,
// benchsizes.Groups of them) through the whole local stack under the
// fake's realistic Graph model: the API, the preview and worker Lambdas as
// their real bootstrap binaries under the Runtime Interface Emulator with
// template.yaml's timeout, memory and role, DynamoDB Local and moto. Each
// run times, from POST /v1/syncs to PREVIEW_READY:
//   - first: a first import's preview, a full read (an empty directory);
//   - resync: after the first import was applied and previewed again
//     (untimed, up to maxAppliedUsers) and 1 % of the users changed
//     (fakeentra.Churn), a re-sync reading only the changes from the
//     mirror and planning only the users they touch (planned-users, 0
//     when it compared every user).
//
// Beside each, in the same run, its floor: the same Graph requests with
// plain net/http and encoding/json (local/graphfloor: Read, and
// ReadChanges on the deltaLinks the re-sync followed). Reported per
// preview: wall-s, floor-s, requests, 429s, worker-peak-MB (the worker
// invocation's Max Memory Used, against its MemorySize) and worker-s (its
// longest invocation, against its Timeout); a preview that needed more
// than one worker invocation fails the benchmark.
func BenchmarkLocalRuntime(b *testing.B) {
	for _, n := range localRuntimeSizes() {
		b.Run(fmt.Sprintf("model=graph/users=%dk", n/1000), func(b *testing.B) { benchLocalRuntime(b, n) })
	}
}

func benchLocalRuntime(b *testing.B, users int) {
	ctx := context.Background()
	var first, resync localPreview
	for run := range b.N {
		b.StopTimer()
		tenant := fmt.Sprintf("bench%d-%d", users, run)
		dir := fakeentra.Generate(fakeentra.Spec{
			TenantID: fmt.Sprintf("be0c%04x-0000-4000-8000-%012x", run, users), Domain: tenant + ".onmicrosoft.com",
			Seed: uint64(users + run), Users: users, Groups: benchsizes.Groups(users),
		})
		c := adminOf(b, tenant)
		connectTenant(b, c, dir, `{}`)
		src := graphfloor.Source{BaseURL: stack.Fake.URL(), DirectoryTenantID: dir.ID, ClientID: dir.Apps[0].ClientID, ClientSecret: dir.Apps[0].Secret}
		transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: stack.Fake.CertPool()}, MaxIdleConnsPerHost: 16}
		floorClient := &http.Client{Transport: transport}
		stack.Fake.SetGraphModel(fakeentra.RealisticGraphModel())

		one := measureLocalPreview(b, c, map[string]bool{"fullRead": true}, domain.ReadFull)
		floorStart := time.Now()
		if _, err := graphfloor.Read(ctx, floorClient, src, graphfloor.UserQuery(domain.DefaultMapping())); err != nil {
			b.Fatal(err)
		}
		one.floor = time.Since(floorStart)
		first.add(one)
		if users <= maxAppliedUsers {
			// The re-sync then finds the first import applied, as it would,
			// and after a preview of it (untimed): the import listed every
			// user, so the re-sync right after it compares everyone; the
			// one after that preview compares only what changed.
			applyPreview(b, c, one.syncID)
			if settled := c.previewWithin(nil, 20*time.Minute); settled.Status != string(domain.SyncPreviewReady) {
				b.Fatalf("the preview after the import: %s %+v", settled.Status, settled.Error)
			}
		}

		if err := stack.Fake.Update(dir.ID, func(t *fakeentra.Tenant) { fakeentra.Churn(t, 0.01, uint64(run+1)) }); err != nil {
			b.Fatal(err)
		}
		m, err := stack.Store.LoadMirror(ctx, tenant)
		if err != nil {
			b.Fatal(err)
		}
		links := m.DeltaLinks
		m = nil
		again := measureLocalPreview(b, c, nil, domain.ReadDelta)
		floorStart = time.Now()
		if _, err := graphfloor.ReadChanges(ctx, floorClient, src, links); err != nil {
			b.Fatal(err)
		}
		again.floor = time.Since(floorStart)
		resync.add(again)

		stack.Fake.SetGraphModel(fakeentra.GraphModel{})
		transport.CloseIdleConnections()
	}
	first.report(b, "first")
	resync.report(b, "resync")
}

// maxAppliedUsers is the largest tenant whose first import the benchmark
// applies before the re-sync (through the local state machine, at about
// 900 users/s on DynamoDB Local); a larger one is re-synced against the
// empty directory, so its re-sync plans the import again.
const maxAppliedUsers = 200_000

// applyPreview confirms a ready preview and waits for its apply, untimed.
func applyPreview(b *testing.B, c *client, syncID string) {
	b.Helper()
	if code := c.do("POST", "/v1/syncs/"+syncID+"/confirm", `{}`, nil); code != http.StatusAccepted {
		b.Fatalf("confirm = %d", code)
	}
	for deadline := time.Now().Add(30 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		var p progressBody
		c.do("GET", "/v1/syncs/"+syncID+"/progress", nil, &p)
		switch p.Status {
		case string(domain.SyncApplying):
			continue
		case string(domain.SyncCompleted):
			return
		default:
			b.Fatalf("apply ended %+v", p)
		}
	}
	b.Fatal("apply did not finish within 30 minutes")
}

// localPreview is one measured preview on the local stack.
type localPreview struct {
	syncID              string
	wall, floor, worker time.Duration
	requests, throttled int64
	peakMB              int
	plannedUsers        int
}

// measureLocalPreview starts a preview and waits for it, timed, and takes
// what the fake and the Lambda service saw of it.
func measureLocalPreview(b *testing.B, c *client, body any, kind domain.ReadKind) localPreview {
	b.Helper()
	var p localPreview
	stack.Lambda.TakePeaks("PreviewWorkerFunction")
	invocations := stack.Lambda.Invocations("PreviewWorkerFunction")
	before := stack.Fake.GraphStats()
	b.StartTimer()
	start := time.Now()
	sy := c.previewWithin(body, 20*time.Minute)
	p.wall = time.Since(start)
	b.StopTimer()
	graph := stack.Fake.GraphStats().Sub(before)
	p.requests, p.throttled = graph.Requests, graph.Throttled
	// The sync is ready a moment before the worker's invocation returns,
	// which is when its peak is known.
	stack.WaitIdle()
	p.peakMB, p.worker = stack.Lambda.TakePeaks("PreviewWorkerFunction")
	p.syncID = sy.ID
	if sy.Planned != nil {
		p.plannedUsers = *sy.Planned
	}
	if got, _ := readOf(sy); sy.Status != string(domain.SyncPreviewReady) || got != string(kind) {
		b.Fatalf("preview %s read %q (%+v), want PREVIEW_READY from a %s read", sy.Status, got, sy.Error, kind)
	}
	if n := stack.Lambda.Invocations("PreviewWorkerFunction") - invocations; n != 1 {
		b.Fatalf("the preview took %d worker invocations, want 1", n)
	}
	return p
}

// add sums the times and counts of runs and keeps the peaks.
func (p *localPreview) add(q localPreview) {
	p.wall, p.floor = p.wall+q.wall, p.floor+q.floor
	p.requests, p.throttled = p.requests+q.requests, p.throttled+q.throttled
	p.worker, p.peakMB = max(p.worker, q.worker), max(p.peakMB, q.peakMB)
	p.plannedUsers = q.plannedUsers
}

// report reports the per-run averages and the peaks.
func (p localPreview) report(b *testing.B, name string) {
	runs := float64(b.N)
	b.ReportMetric(p.wall.Seconds()/runs, name+"-wall-s")
	b.ReportMetric(p.floor.Seconds()/runs, name+"-floor-s")
	b.ReportMetric(float64(p.requests)/runs, name+"-requests")
	b.ReportMetric(float64(p.throttled)/runs, name+"-429s")
	b.ReportMetric(float64(p.peakMB), name+"-worker-peak-MB")
	b.ReportMetric(p.worker.Seconds(), name+"-worker-s")
	b.ReportMetric(float64(p.plannedUsers), name+"-planned-users")
}

package previewbench

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"runtime"
	"testing"
	"time"

	"dirsync/internal/domain"
	"dirsync/local/benchsizes"
	"dirsync/local/fakeentra"
	"dirsync/local/graphfloor"
)

// churnFraction of the users change between two re-syncs.
const churnFraction = 0.01

// resyncSizes are re-synced, without and with the Graph model; RESYNC_USERS
// (comma-separated) replaces them, e.g. RESYNC_USERS=1000000.
func resyncSizes() []int { return benchsizes.FromEnv("RESYNC_USERS", 10_000, 100_000) }

// forResyncSizes runs bench per size, without the Graph model, then under
// it (model=graph).
func forResyncSizes(b *testing.B, bench func(b *testing.B, users int, modeled bool)) {
	for _, n := range resyncSizes() {
		b.Run(sizeName(n), func(b *testing.B) { bench(b, n, false) })
	}
	b.Run("model=graph", func(b *testing.B) {
		for _, n := range resyncSizes() {
			b.Run(sizeName(n), func(b *testing.B) { bench(b, n, true) })
		}
	})
}

// BenchmarkResync times a re-sync preview end to end after 1 % of the
// users changed (fakeentra.Churn: property changes, disabled, soft-deleted,
// joiners in groups, members leaving groups), on a platform directory that
// holds every importable user, as after an applied first import. Each run
// churns the fake's tenant (untimed), then times Start and the worker's
// Run, which reads only the changes from the mirror the run before left
// and plans from them (the preview before left its plan basis); it fails
// unless the preview read a delta, compared only part of the users, and
// its counts and safeguards equal those of a full-read preview of the same
// tenant, run afterwards untimed. Reported as BenchmarkPreview, plus
// planned-users (the users the plan compared), changes (the plan's user
// and group changes,
// skips excluded) and, under model=graph, requests, 429s and wall-s.
func BenchmarkResync(b *testing.B) { forResyncSizes(b, benchResync) }

func benchResync(b *testing.B, n int, modeled bool) {
	f := resyncFixture(b, n, modeled)
	ctx := context.Background()
	var before fakeentra.GraphStats
	var total, read, load, plan, write time.Duration
	var requests, throttled int64
	var changes, planned int
	var peak struct{ objects, live uint64 }
	var written Written
	for range b.N {
		if _, err := f.churn(ctx); err != nil {
			b.Fatal(err)
		}
		if modeled {
			before = f.graphStats(b)
		}
		run, err := f.run(ctx, b, false)
		if err != nil {
			b.Fatal(err)
		}
		if modeled {
			st := f.graphStats(b).Sub(before)
			requests, throttled = requests+st.Requests, throttled+st.Throttled
		}
		if err := f.checkResync(ctx, run.sync); err != nil {
			b.Fatal(err)
		}
		total += run.elapsed
		read, load, plan, write = read+run.read, load+run.load, plan+run.plan, write+run.write
		peak.objects, peak.live = max(peak.objects, run.peak.Objects), max(peak.live, run.peak.Live)
		written = run.written
		changes, planned = planChanges(run.sync), run.sync.PlannedUsers
		f.lastWrite = run.written
	}
	runs := float64(b.N)
	const mb = 1 << 20
	b.ReportMetric(total.Seconds()/runs, "wall-s")
	b.ReportMetric(float64(peak.objects)/mb, "worker-peak-MB")
	b.ReportMetric(float64(peak.live)/mb, "live-peak-MB")
	b.ReportMetric(read.Seconds()/runs, "read-s")
	b.ReportMetric(load.Seconds()/runs, "load-s")
	b.ReportMetric(plan.Seconds()/runs, "plan-s")
	b.ReportMetric(write.Seconds()/runs, "write-s")
	b.ReportMetric(float64(written.Items), "items-written")
	b.ReportMetric(float64(changes), "changes")
	b.ReportMetric(float64(planned), "planned-users")
	if modeled {
		b.ReportMetric(float64(requests)/runs, "requests")
		b.ReportMetric(float64(throttled)/runs, "429s")
	}
}

// BenchmarkResyncFloor is the raw floor of BenchmarkResync, on the same
// fake process and DynamoDB Local: after the same churn, (a) the requests
// of the re-sync's read (a token, both deltaLinks the mirror holds
// followed to their end, the users and groups $count) with plain net/http
// and encoding/json, and (b) as many items as the latest re-sync wrote, of
// the same average size, with plain BatchWriteItem at the store's write
// concurrency. Before each run an untimed re-sync brings the mirror's
// deltaLinks up to date, so the floor lists one churn, as the re-sync
// does. Reported: paging-s, write-s, and wall-s of both; under model=graph
// also requests and 429s.
func BenchmarkResyncFloor(b *testing.B) { forResyncSizes(b, benchResyncFloor) }

func benchResyncFloor(b *testing.B, n int, modeled bool) {
	f := resyncFixture(b, n, modeled)
	ctx := context.Background()
	var before fakeentra.GraphStats
	var paging, write time.Duration
	var requests, throttled int64
	for range b.N {
		// A re-sync, untimed, brings the mirror's deltaLinks up to now (the
		// floor keeps nothing) and tells how much one writes.
		refresh, err := f.run(ctx, noTimer{}, false)
		if err != nil {
			b.Fatal(err)
		}
		f.lastWrite = refresh.written
		if _, err := f.churn(ctx); err != nil {
			b.Fatal(err)
		}
		m, err := f.store.LoadMirror(ctx, f.actor.TenantID)
		if err != nil {
			b.Fatal(err)
		}
		links := m.DeltaLinks
		m = nil
		raw := RawWrite{
			Table: f.syncTable, Partition: fmt.Sprintf("FLOOR#%d", f.floorRuns.Add(1)),
			Items: int(f.lastWrite.Items), ItemBytes: int(f.lastWrite.Bytes / max(f.lastWrite.Items, 1)), Concurrency: f.store.WriteConcurrency,
		}
		runtime.GC()
		if modeled {
			before = f.graphStats(b)
		}
		b.StartTimer()
		start := time.Now()
		pages, err := graphfloor.ReadChanges(ctx, f.floorClient, f.source, links)
		paging += time.Since(start)
		if err == nil {
			start = time.Now()
			err = WriteItems(ctx, f.db, raw)
			write += time.Since(start)
		}
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if pages.Users == 0 {
			b.Fatal("the users deltaLink listed no change after the churn")
		}
		if modeled {
			st := f.graphStats(b).Sub(before)
			requests, throttled = requests+st.Requests, throttled+st.Throttled
		}
	}
	runs := float64(b.N)
	b.ReportMetric((paging+write).Seconds()/runs, "wall-s")
	b.ReportMetric(paging.Seconds()/runs, "paging-s")
	b.ReportMetric(write.Seconds()/runs, "write-s")
	b.ReportMetric(float64(f.lastWrite.Items), "items-written")
	if modeled {
		b.ReportMetric(float64(requests)/runs, "requests")
		b.ReportMetric(float64(throttled)/runs, "429s")
	}
}

// resyncFixture is the imported fixture of n users with its mirror, under
// the Graph model when modeled; the timer is stopped.
func resyncFixture(b *testing.B, n int, modeled bool) *fixture {
	b.StopTimer()
	f := fixtureFor(b, n, imported)
	if err := f.mirrored(context.Background()); err != nil {
		b.Fatal(err)
	}
	if modeled {
		f.underGraphModel(b)
	}
	return f
}

// mirrored makes sure the fixture's tenant has a mirror: a full-read
// preview, untimed, the first time.
func (f *fixture) mirrored(ctx context.Context) error {
	if _, err := f.store.LoadMirror(ctx, f.actor.TenantID); err == nil {
		return nil
	}
	run, err := f.run(ctx, noTimer{}, true)
	if err != nil {
		return fmt.Errorf("first preview: %w", err)
	}
	if run.sync.ReadKind != domain.ReadFull {
		return fmt.Errorf("first preview read %q, want a full read", run.sync.ReadKind)
	}
	return nil
}

// churn changes churnFraction of the fake tenant's users, differently on
// each call.
func (f *fixture) churn(ctx context.Context) (fakeentra.ChurnResult, error) {
	f.churns++
	res, err := fakeentra.RemoteChurn(ctx, &http.Client{Transport: f.floorTransport}, f.fake.url,
		fakeentra.ChurnRequest{TenantID: benchDirectory, Fraction: churnFraction, Seed: uint64(f.churns)})
	if err != nil {
		return res, err
	}
	if res.Touched() == 0 {
		return res, fmt.Errorf("the churn touched no user")
	}
	return res, nil
}

// checkResync fails unless sy read a delta, and planned what a full read
// of the same tenant plans (a full-read preview run now, untimed).
func (f *fixture) checkResync(ctx context.Context, sy *domain.Sync) error {
	if sy.ReadKind != domain.ReadDelta {
		return fmt.Errorf("the re-sync read %q (%s), want a delta", sy.ReadKind, sy.ReadReason)
	}
	if planChanges(sy) == 0 {
		return fmt.Errorf("the re-sync after the churn planned no change: %+v", sy.Counts)
	}
	if sy.PlannedUsers == 0 {
		return fmt.Errorf("the re-sync compared every user, want only those that changed and those the preview before it listed")
	}
	full, err := f.run(ctx, noTimer{}, true)
	if err != nil {
		return fmt.Errorf("full read to check the re-sync: %w", err)
	}
	if full.sync.Counts != sy.Counts || !reflect.DeepEqual(full.sync.Safeguards, sy.Safeguards) {
		return fmt.Errorf("the re-sync counted %+v %+v, a full read of the same tenant %+v %+v", sy.Counts, sy.Safeguards, full.sync.Counts, full.sync.Safeguards)
	}
	return nil
}

// planChanges counts a sync's user and group changes, skips excluded.
func planChanges(sy *domain.Sync) int {
	u, g := sy.Counts.Users, sy.Counts.Groups
	return u.Add + u.Update + u.Deactivate + u.Reactivate + g.Add + g.Update + g.Remove
}

// TestResyncSetup runs the re-sync benchmark's setup at a small size: the
// re-sync after a churn reads a delta and counts what a full read counts.
func TestResyncSetup(t *testing.T) {
	ctx := context.Background()
	f := fixtureFor(t, 2000, imported)
	if err := f.mirrored(ctx); err != nil {
		t.Fatal(err)
	}
	// The directory is the import applied: nothing to add or change.
	steady, err := f.run(ctx, noTimer{}, true)
	if err != nil {
		t.Fatal(err)
	}
	if c := steady.sync.Counts; planChanges(steady.sync) != 0 || c.Memberships.Add != 0 {
		t.Fatalf("a preview of the imported directory counted %+v, want no change", c)
	}
	for range 2 {
		res, err := f.churn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Touched() != 20 || res.Added != 2 || res.SoftDeleted != 2 {
			t.Fatalf("churn %+v, want 20 users touched, 2 added, 2 soft-deleted", res)
		}
		run, err := f.run(ctx, noTimer{}, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.checkResync(ctx, run.sync); err != nil {
			t.Fatal(err)
		}
	}
}

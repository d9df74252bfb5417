package previewbench

import (
	"context"
	"dirsync/local/benchheap"
	"fmt"
	"testing"
	"time"

	"dirsync/local/fakeentra"
)

var benchSizes = []int{10_000, 100_000}

// graphBenchSizes are previewed again under the fake's realistic Graph
// model (fakeentra.RealisticGraphModel: 150 ms a request plus 1 ms an item,
// and Graph's throttling), the sub-benchmarks model=graph. 100k is left
// out: its thousand member pages take about 5 minutes a run.
var graphBenchSizes = []int{10_000}

func sizeName(users int) string { return fmt.Sprintf("users=%dk", users/1000) }

// BenchmarkPreview times the preview end to end per tenant size: Start
// records the sync and dispatches the worker, Run reads Entra ID through
// msgraph-sdk-go (users, groups, transitive members), loads the platform
// directory, plans and stores the plan, until PREVIEW_READY. Reported:
//   - users/s: source users per second of the whole;
//   - worker-peak-MB: the highest heap during the run above the heap before
//     it (garbage not yet collected included, so GC pacing counts), sampled
//     every 2 ms; the fake Entra ID runs in another process and DynamoDB
//     Local in the JVM, so this is the worker's memory;
//   - live-peak-MB: the highest live heap a GC measured during the run;
//   - read-s, load-s, plan-s, write-s: the phases, per run;
//   - items-written, item-B: what the plan write put into DynamoDB (changes,
//     member chunks, batches, progress) and its average size.
//
// Under model=graph it also reports requests (Graph requests the fake
// answered), 429s (those its budget throttled, ridden out) and wall-s, per
// run.
func BenchmarkPreview(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) { benchPreview(b, n, false) })
	}
	b.Run("model=graph", func(b *testing.B) {
		for _, n := range graphBenchSizes {
			b.Run(sizeName(n), func(b *testing.B) { benchPreview(b, n, true) })
		}
	})
}

func benchPreview(b *testing.B, n int, modeled bool) {
	b.StopTimer()
	f := fixtureFor(b, n, firstImport)
	ctx := context.Background()
	var before fakeentra.GraphStats
	if modeled {
		f.underGraphModel(b)
		before = f.graphStats(b)
	}
	var total, read, load, plan, write time.Duration
	var peak benchheap.Heap
	var written Written
	for range b.N {
		run, err := f.preview(ctx, b)
		if err != nil {
			b.Fatal(err)
		}
		total += run.elapsed
		read, load, plan, write = read+run.read, load+run.load, plan+run.plan, write+run.write
		peak.Objects, peak.Live = max(peak.Objects, run.peak.Objects), max(peak.Live, run.peak.Live)
		written = run.written
	}
	runs := float64(b.N)
	const mb = 1 << 20
	b.ReportMetric(float64(n)*runs/total.Seconds(), "users/s")
	b.ReportMetric(float64(peak.Objects)/mb, "worker-peak-MB")
	b.ReportMetric(float64(peak.Live)/mb, "live-peak-MB")
	b.ReportMetric(read.Seconds()/runs, "read-s")
	b.ReportMetric(load.Seconds()/runs, "load-s")
	b.ReportMetric(plan.Seconds()/runs, "plan-s")
	b.ReportMetric(write.Seconds()/runs, "write-s")
	b.ReportMetric(float64(written.Items), "items-written")
	b.ReportMetric(float64(written.Bytes)/float64(max(written.Items, 1)), "item-B")
	if modeled {
		reportGraphModel(b, f.graphStats(b).Sub(before), total)
	}
}

// reportGraphModel reports, per run, what the fake's Graph model saw.
func reportGraphModel(b *testing.B, st fakeentra.GraphStats, total time.Duration) {
	runs := float64(b.N)
	b.ReportMetric(float64(st.Requests)/runs, "requests")
	b.ReportMetric(float64(st.Throttled)/runs, "429s")
	b.ReportMetric(total.Seconds()/runs, "wall-s")
}

// BenchmarkPreviewFloor is the raw floor of BenchmarkPreview, on the same
// fake process and the same DynamoDB Local: (a) the same Graph pages
// (token, users with the same $select, $top and $expand, groups, every
// group's transitive members at the reader's concurrency) with plain
// net/http and encoding/json into minimal structs; (b) as many items as the
// preview's plan write, of the same average size, with plain BatchWriteItem,
// 25 per call, at the store's write concurrency. Reported: users/s of (a)
// and (b) together, paging-s (of which users-paging-s for the token and the
// user pages), write-s, and the items written; under model=graph also
// requests, 429s and wall-s, as BenchmarkPreview.
func BenchmarkPreviewFloor(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) { benchFloor(b, n, false) })
	}
	b.Run("model=graph", func(b *testing.B) {
		for _, n := range graphBenchSizes {
			b.Run(sizeName(n), func(b *testing.B) { benchFloor(b, n, true) })
		}
	})
}

func benchFloor(b *testing.B, n int, modeled bool) {
	b.StopTimer()
	f := fixtureFor(b, n, firstImport)
	ctx := context.Background()
	var before fakeentra.GraphStats
	if modeled {
		// Sized by a preview without the model, so the model's counts
		// hold the floor alone.
		if err := f.sizeFloor(ctx); err != nil {
			b.Fatal(err)
		}
		f.underGraphModel(b)
		before = f.graphStats(b)
	}
	var paging, usersPaging, write time.Duration
	var items, itemBytes int
	for range b.N {
		run, err := f.floor(ctx, b)
		if err != nil {
			b.Fatal(err)
		}
		paging, usersPaging, write = paging+run.paging, usersPaging+run.pages.UsersTime, write+run.write
		items, itemBytes = int(f.lastWrite.Items), run.itemBytes
	}
	runs := float64(b.N)
	b.ReportMetric(float64(n)*runs/(paging+write).Seconds(), "users/s")
	b.ReportMetric(paging.Seconds()/runs, "paging-s")
	b.ReportMetric(usersPaging.Seconds()/runs, "users-paging-s")
	b.ReportMetric(write.Seconds()/runs, "write-s")
	b.ReportMetric(float64(items), "items-written")
	b.ReportMetric(float64(itemBytes), "item-B")
	if modeled {
		reportGraphModel(b, f.graphStats(b).Sub(before), paging+write)
	}
}

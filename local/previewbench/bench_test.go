package previewbench

import (
	"context"
	"dirsync/local/benchheap"
	"fmt"
	"testing"
	"time"
)

var benchSizes = []int{10_000, 100_000}

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
func BenchmarkPreview(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			b.StopTimer()
			f := fixtureFor(b, n)
			ctx := context.Background()
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
		})
	}
}

// BenchmarkPreviewFloor is the raw floor of BenchmarkPreview, on the same
// fake process and the same DynamoDB Local: (a) the same Graph pages
// (token, users with the same $select, $top and $expand, groups, every
// group's transitive members at the reader's concurrency) with plain
// net/http and encoding/json into minimal structs; (b) as many items as the
// preview's plan write, of the same average size, with plain BatchWriteItem,
// 25 per call, at the store's write concurrency. Reported: users/s of (a)
// and (b) together, paging-s (of which users-paging-s for the token and the
// user pages), write-s, and the items written.
func BenchmarkPreviewFloor(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			b.StopTimer()
			f := fixtureFor(b, n)
			ctx := context.Background()
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
		})
	}
}

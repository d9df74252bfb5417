package entra

import (
	"context"
	"crypto/tls"
	"net/http"
	"runtime"
	"testing"
	"time"

	"dirsync/internal/domain"
	"dirsync/local/benchheap"
	"dirsync/local/fakeentra"
	"dirsync/local/graphfloor"
)

// BenchmarkReadChanges times a re-sync's read under the realistic Graph
// model after 1 % of the users changed (fakeentra.Churn), beside its raw
// floor on the same fake in the same run:
//   - reader: ReadChanges from the mirror the previous round left (the
//     first from a full read, untimed), each run after a new churn;
//   - floor: after another churn, the same requests with plain net/http
//     and encoding/json (graphfloor.ReadChanges on the reader's last
//     deltaLinks), keeping nothing.
//
// Reported per run: wall-s, requests, 429s, users-listed (entries of the
// users round) and, for the reader, heap-peak-MB above the mirror it
// starts from.
func BenchmarkReadChanges(b *testing.B) {
	sizes := []struct {
		name          string
		users, groups int
	}{
		{usersName(100_000) + "+groups", 100_000, -1},
		{enterpriseName(), enterpriseUsers, enterpriseGroups},
	}
	for _, size := range sizes {
		b.Run("model=graph/"+size.name, func(b *testing.B) {
			f := startBenchFake(b, size.users, size.groups)
			r := f.reader(b)
			ctx := context.Background()
			opts := domain.Options{}
			m, err := r.ReadMirror(ctx, opts)
			if err != nil {
				b.Fatal(err)
			}
			f.setGraphModel(b, fakeentra.RealisticGraphModel())
			seed := uint64(0)
			churn := func(b *testing.B) {
				seed++
				if _, err := fakeentra.RemoteChurn(ctx, f.control, f.url, fakeentra.ChurnRequest{TenantID: testTenantID, Fraction: 0.01, Seed: seed}); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("reader", func(b *testing.B) {
				var elapsed time.Duration
				var peak uint64
				var st fakeentra.GraphStats
				listed := 0
				for range b.N {
					b.StopTimer()
					churn(b)
					runtime.GC()
					base := benchheap.ReadHeap()
					before := f.graphStats(b)
					sampler := benchheap.StartHeapSampler(2 * time.Millisecond)
					b.StartTimer()
					start := time.Now()
					next, err := r.ReadChanges(ctx, opts, m)
					elapsed += time.Since(start)
					b.StopTimer()
					peak = max(peak, sampler.Stop().Above(base).Objects)
					if err != nil {
						b.Fatal(err)
					}
					got := f.graphStats(b).Sub(before)
					st.Requests, st.Throttled = st.Requests+got.Requests, st.Throttled+got.Throttled
					listed += int(got.ByKind[fakeentra.KindUsersDelta].Items)
					m = next
				}
				reportChanges(b, elapsed, st, listed)
				b.ReportMetric(float64(peak)/(1<<20), "heap-peak-MB")
			})
			b.Run("floor", func(b *testing.B) {
				transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.pool}}
				b.Cleanup(transport.CloseIdleConnections)
				client := &http.Client{Transport: transport}
				src := graphfloor.Source{BaseURL: f.url, DirectoryTenantID: testTenantID, ClientID: testClientID, ClientSecret: testSecret}
				var elapsed time.Duration
				var st fakeentra.GraphStats
				listed := 0
				for range b.N {
					b.StopTimer()
					churn(b)
					before := f.graphStats(b)
					b.StartTimer()
					start := time.Now()
					pages, err := graphfloor.ReadChanges(ctx, client, src, m.DeltaLinks)
					elapsed += time.Since(start)
					b.StopTimer()
					if err != nil {
						b.Fatal(err)
					}
					got := f.graphStats(b).Sub(before)
					st.Requests, st.Throttled = st.Requests+got.Requests, st.Throttled+got.Throttled
					listed += pages.Users
				}
				reportChanges(b, elapsed, st, listed)
			})
		})
	}
}

func reportChanges(b *testing.B, elapsed time.Duration, st fakeentra.GraphStats, listed int) {
	runs := float64(b.N)
	b.ReportMetric(elapsed.Seconds()/runs, "wall-s")
	b.ReportMetric(float64(st.Requests)/runs, "requests")
	b.ReportMetric(float64(st.Throttled)/runs, "429s")
	b.ReportMetric(float64(listed)/runs, "users-listed")
}

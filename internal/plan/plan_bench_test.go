package plan

import (
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"dirsync/internal/domain"
)

// benchInput caches the last generated input: generating a million-user
// tenant takes longer than planning it, and the benchmark framework calls
// each sub-benchmark more than once.
var benchInput struct {
	cfg genConfig
	in  domain.PlanInput
}

func cachedInput(cfg genConfig) domain.PlanInput {
	if benchInput.cfg != cfg || benchInput.in.Snapshot == nil {
		benchInput.in = domain.PlanInput{} // let the previous tenant go before building the next
		runtime.GC()
		benchInput.cfg, benchInput.in = cfg, generate(cfg)
	}
	return benchInput.in
}

func resyncConfig(users int) genConfig {
	return genConfig{
		users: users, groups: 300, membersPerGroup: users / 300,
		resync: true, changedPct: 1, deletedPct: 0.5, addedPct: 0.2, seed: 42,
	}
}

func initialConfig(users int) genConfig {
	return genConfig{users: users, groups: 300, membersPerGroup: users / 300, seed: 7}
}

func BenchmarkCompute(b *testing.B) {
	cases := []struct {
		name string
		cfg  genConfig
	}{
		{"initial-100k", initialConfig(100_000)},
		{"initial-1M", initialConfig(1_000_000)},
		{"resync-100k", resyncConfig(100_000)},
		{"resync-1M", resyncConfig(1_000_000)},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			in := cachedInput(bc.cfg)
			var plan *domain.Plan
			measure(b, len(in.Snapshot.Users), func() {
				var err error
				if plan, err = Compute(in); err != nil {
					b.Fatal(err)
				}
			})
			b.ReportMetric(float64(len(plan.Changes)), "changes")
		})
	}
}

// BenchmarkFloor is the irreducible core of a plan beside BenchmarkCompute:
// normalise a million emails into a map and look each up once (from the
// directory's own copies of the strings, as the plan does).
func BenchmarkFloor(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  genConfig
	}{
		{"floor-100k", resyncConfig(100_000)},
		{"floor-1M", resyncConfig(1_000_000)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := cachedInput(bc.cfg)
			users, pus := in.Snapshot.Users, in.Directory.Users
			hits := 0
			measure(b, len(users), func() {
				index := make(map[string]int32, len(users))
				for i := range users {
					index[strings.ToLower(sourceEmail(&users[i]))] = int32(i)
				}
				hits = 0
				for i := range pus {
					if _, ok := index[strings.ToLower(pus[i].Email)]; ok {
						hits++
					}
				}
			})
			if hits == 0 {
				b.Fatal("no email found: the floor measured nothing")
			}
		})
	}
}

// measure runs op b.N times and reports users/s and the peak heap seen
// while it ran, inputs included (input-MB is the live heap before).
func measure(b *testing.B, users int, op func()) {
	runtime.GC()
	base := heapObjectBytes()
	peak := newPeakSampler()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		op()
	}
	b.StopTimer()
	high := peak.stop()
	b.ReportMetric(float64(users)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
	b.ReportMetric(float64(base)/(1<<20), "input-MB")
	b.ReportMetric(float64(high)/(1<<20), "peak-heap-MB")
}

const heapObjectsMetric = "/memory/classes/heap/objects:bytes"

// heapObjectBytes is the heap occupied by objects, live or not yet swept.
func heapObjectBytes() uint64 {
	s := []metrics.Sample{{Name: heapObjectsMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// peakSampler polls the heap size while a benchmark runs. runtime/metrics
// does not stop the world, unlike ReadMemStats.
type peakSampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	max  uint64
}

func newPeakSampler() *peakSampler {
	p := &peakSampler{done: make(chan struct{}), max: heapObjectBytes()}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-tick.C:
				p.max = max(p.max, heapObjectBytes())
			}
		}
	}()
	return p
}

func (p *peakSampler) stop() uint64 {
	close(p.done)
	p.wg.Wait()
	return max(p.max, heapObjectBytes())
}

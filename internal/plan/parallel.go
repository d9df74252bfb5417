package plan

import (
	"runtime"
	"sync"
)

// minParallelWork is the least number of items worth a goroutine of its
// own: below it, starting and joining costs more than it saves.
const minParallelWork = 32 << 10

// workerCount is how many goroutines a phase over n items uses: one per
// available core, as long as each gets at least minParallelWork items.
func workerCount(n int) int {
	return max(1, min(runtime.GOMAXPROCS(0), n/minParallelWork))
}

// forEachRange splits [0, n) into workers contiguous ranges, in order, and
// runs fn on each concurrently (inline when there is one). Worker w gets
// the w-th range, so per-worker results concatenated in worker order keep
// the input order.
func forEachRange(n, workers int, fn func(w, lo, hi int)) {
	if workers <= 1 {
		fn(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := n*w/workers, n*(w+1)/workers
		wg.Go(func() { fn(w, lo, hi) })
	}
	wg.Wait()
}

// Package benchheap samples the Go heap for benchmarks that report peak
// memory beside their floors.
package benchheap

import (
	"runtime/metrics"
	"sync"
	"time"
)

// Heap is a reading of the Go heap.
type Heap struct {
	// Objects is the memory held by heap objects, garbage not yet
	// collected included: what the process needs at that moment.
	Objects uint64
	// Live is the heap the last GC found reachable.
	Live uint64
}

var heapMetrics = [...]string{"/memory/classes/heap/objects:bytes", "/gc/heap/live:bytes"}

// ReadHeap reads the heap without stopping the world.
func ReadHeap() Heap {
	var s [len(heapMetrics)]metrics.Sample
	for i, name := range heapMetrics {
		s[i].Name = name
	}
	metrics.Read(s[:])
	return Heap{Objects: s[0].Value.Uint64(), Live: s[1].Value.Uint64()}
}

// Above returns how far h is above base, field by field (0 when below).
func (h Heap) Above(base Heap) Heap {
	return Heap{Objects: h.Objects - min(h.Objects, base.Objects), Live: h.Live - min(h.Live, base.Live)}
}

// HeapSampler records the highest heap seen while it runs.
type HeapSampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	peak Heap
}

// StartHeapSampler reads the heap every interval until Stop.
func StartHeapSampler(every time.Duration) *HeapSampler {
	s := &HeapSampler{done: make(chan struct{}), peak: ReadHeap()}
	s.wg.Go(func() {
		ticker := time.NewTicker(every)
		defer ticker.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-ticker.C:
				s.observe(ReadHeap())
			}
		}
	})
	return s
}

func (s *HeapSampler) observe(h Heap) {
	s.peak.Objects = max(s.peak.Objects, h.Objects)
	s.peak.Live = max(s.peak.Live, h.Live)
}

// Stop ends the sampling and returns the highest values seen. Call it once.
func (s *HeapSampler) Stop() Heap {
	close(s.done)
	s.wg.Wait()
	s.observe(ReadHeap())
	return s.peak
}

package localstack

import (
	"net/http"
	"sync"
	"time"
)

// awsFaults delays chosen AWS calls of chosen functions, so a test can make
// a real function outlive its timeout the way a slow dependency does in
// AWS.
type awsFaults struct {
	mu     sync.Mutex
	next   int
	delays map[int]*delay
}

type delay struct {
	match func(*http.Request) bool
	wait  time.Duration
	left  int
}

// wrap delays the requests a fault matches, then passes them on.
func (f *awsFaults) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := f.take(r); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done(): // the caller (or its invocation) is gone
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (f *awsFaults) take(r *http.Request) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, d := range f.delays {
		if d.left > 0 && d.match(r) {
			if d.left--; d.left == 0 {
				delete(f.delays, id)
			}
			return d.wait
		}
	}
	return 0
}

func (f *awsFaults) add(d *delay) (remove func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.delays == nil {
		f.delays = map[int]*delay{}
	}
	f.next++
	id := f.next
	f.delays[id] = d
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.delays, id)
	}
}

// DelayDynamoDB holds the next times DynamoDB requests of a function (its
// logical id) for wait before DynamoDB sees them. The returned func removes
// what is left of the fault.
func (s *Stack) DelayDynamoDB(function string, wait time.Duration, times int) (remove func()) {
	return s.faults.add(&delay{wait: wait, left: times, match: func(r *http.Request) bool {
		return s.caller(r) == function
	}})
}

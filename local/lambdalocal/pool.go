package lambdalocal

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// errClosed is returned once Close has begun.
var errClosed = errors.New("lambdalocal: the local Lambda service is closed")

// pool holds a function's instances. Each serves one invocation at a time,
// as a Lambda execution environment does; more start as concurrent
// invocations need them, up to the function's MaxConcurrency. Invocations
// beyond that wait for a free instance, first come first served.
type pool struct {
	s  *Service
	fn *function

	mu      sync.Mutex
	idle    []*instance // most recently used last
	live    map[*instance]struct{}
	slots   int           // instances running or starting
	waiters []chan *grant // FIFO
	seq     int
	closed  bool
	started int // instances ever started
}

// grant hands a waiter either a free instance or the right to start one.
type grant struct{ in *instance }

func newPool(s *Service, fn *function) *pool {
	return &pool{s: s, fn: fn, live: map[*instance]struct{}{}}
}

// acquire returns an instance reserved for the caller, starting one when
// none is free and the function may run another. ctx bounds only the wait.
func (p *pool) acquire(ctx context.Context) (*instance, error) {
	p.mu.Lock()
	for {
		if p.closed {
			p.mu.Unlock()
			return nil, errClosed
		}
		if n := len(p.idle); n > 0 {
			in := p.idle[n-1]
			p.idle = p.idle[:n-1]
			if in.exited() { // died while idle: forget it
				p.forgetLocked(in)
				continue
			}
			p.mu.Unlock()
			return in, nil
		}
		break
	}
	if p.slots < p.fn.MaxConcurrency {
		p.slots++
		p.mu.Unlock()
		return p.start()
	}
	ch := make(chan *grant, 1)
	p.waiters = append(p.waiters, ch)
	p.mu.Unlock()

	select {
	case g := <-ch:
		return p.take(g)
	case <-ctx.Done():
		p.mu.Lock()
		i := slices.Index(p.waiters, ch)
		if i >= 0 {
			p.waiters = slices.Delete(p.waiters, i, i+1)
		}
		p.mu.Unlock()
		if i < 0 { // granted meanwhile: pass it on
			g := <-ch
			if g == nil {
				return nil, errClosed
			}
			if g.in != nil {
				p.release(g.in, true)
			} else {
				p.mu.Lock()
				p.slots--
				p.grantLocked()
				p.mu.Unlock()
			}
		}
		return nil, ctx.Err()
	}
}

func (p *pool) take(g *grant) (*instance, error) {
	if g == nil {
		return nil, errClosed
	}
	if g.in != nil {
		return g.in, nil
	}
	return p.start()
}

// start starts an instance in a slot the caller holds.
func (p *pool) start() (*instance, error) {
	if !p.s.beginStart() {
		p.mu.Lock()
		p.slots--
		p.mu.Unlock()
		return nil, errClosed
	}
	defer p.s.starts.Done()
	p.mu.Lock()
	p.seq++
	seq := p.seq
	p.mu.Unlock()
	in, err := p.s.startInstance(p.fn, seq)
	p.mu.Lock()
	if err != nil {
		p.slots--
		p.grantLocked()
		p.mu.Unlock()
		return nil, err
	}
	if p.closed {
		p.slots--
		p.mu.Unlock()
		in.kill()
		return nil, errClosed
	}
	p.started++
	p.live[in] = struct{}{}
	p.mu.Unlock()
	p.s.logger.Debug("lambdalocal: instance started", "function", p.fn.Name, "instance", seq, "pid", in.pid(), "ready", in.ready)
	return in, nil
}

// release returns an instance after an invocation. An unhealthy one (its
// invocation timed out, its runtime crashed, the emulator misbehaved) is
// killed and its slot freed: the next invocation starts a fresh one.
func (p *pool) release(in *instance, healthy bool) {
	p.mu.Lock()
	if healthy && !p.closed && !in.exited() {
		if len(p.waiters) > 0 {
			ch := p.waiters[0]
			p.waiters = p.waiters[1:]
			p.mu.Unlock()
			ch <- &grant{in: in}
			return
		}
		p.idle = append(p.idle, in)
		p.mu.Unlock()
		return
	}
	p.forgetLocked(in)
	p.mu.Unlock()
	in.kill()
}

// forgetLocked drops an instance and frees its slot.
func (p *pool) forgetLocked(in *instance) {
	if _, ok := p.live[in]; !ok {
		return
	}
	delete(p.live, in)
	p.slots--
	p.grantLocked()
}

// grantLocked lets the first waiter start an instance if a slot is free.
func (p *pool) grantLocked() {
	if len(p.waiters) == 0 || p.slots >= p.fn.MaxConcurrency || p.closed {
		return
	}
	p.slots++
	ch := p.waiters[0]
	p.waiters = p.waiters[1:]
	ch <- &grant{}
}

// close kills every instance, idle or busy, and fails the waiters.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	for _, ch := range p.waiters {
		ch <- nil
	}
	p.waiters = nil
	all := make([]*instance, 0, len(p.live))
	for in := range p.live {
		all = append(all, in)
	}
	p.idle = nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, in := range all {
		wg.Go(in.kill)
	}
	wg.Wait()
	p.mu.Lock()
	for _, in := range all {
		delete(p.live, in)
	}
	p.mu.Unlock()
}

// snapshot lists the live instances.
func (p *pool) snapshot() ([]*instance, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*instance, 0, len(p.live))
	for in := range p.live {
		out = append(out, in)
	}
	return out, p.started
}

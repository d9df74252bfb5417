package entra

import (
	"bytes"
	"context"
	"errors"
	"sync"
)

// bodyBuffers recycles the buffers that hold the response bodies of one
// read. The request adapter copies each body out and closes it before the
// next request of the same goroutine, so a read needs about as many
// buffers as it has requests in flight, however many pages it reads. The
// buffers belong to the read and go with it: nothing outlives it.
type bodyBuffers struct {
	mu   sync.Mutex
	free []*bytes.Buffer
}

// maxPooledBody bounds the buffers kept for reuse, so an unusually large
// response is not held for the rest of the read.
const maxPooledBody = 16 << 20

type bodyBuffersKey struct{}

// withBodyBuffers makes the Graph requests sent with ctx share one set of
// body buffers.
func withBodyBuffers(ctx context.Context) context.Context {
	return context.WithValue(ctx, bodyBuffersKey{}, &bodyBuffers{})
}

func bodyBuffersFrom(ctx context.Context) *bodyBuffers {
	p, _ := ctx.Value(bodyBuffersKey{}).(*bodyBuffers)
	return p
}

// get returns an empty buffer; p may be nil (no recycling).
func (p *bodyBuffers) get() *bytes.Buffer {
	if p == nil {
		return new(bytes.Buffer)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b
	}
	return new(bytes.Buffer)
}

func (p *bodyBuffers) put(b *bytes.Buffer) {
	if p == nil || b.Cap() > maxPooledBody {
		return
	}
	b.Reset()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.free = append(p.free, b)
}

var errBodyClosed = errors.New("read on a closed response body")

// bufferedBody is a response body read in full, whose buffer returns to its
// bodyBuffers when closed. It is safe to close more than once, and a read
// after close fails rather than see a recycled buffer.
type bufferedBody struct {
	mu    sync.Mutex
	buf   *bytes.Buffer // nil once closed
	owner *bodyBuffers
}

func (b *bufferedBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		return 0, errBodyClosed
	}
	return b.buf.Read(p)
}

func (b *bufferedBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf != nil {
		b.owner.put(b.buf)
		b.buf = nil
	}
	return nil
}

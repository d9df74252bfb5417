package entra

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
)

func TestBufferedBody(t *testing.T) {
	buffers := &bodyBuffers{}
	buf := buffers.get()
	buf.WriteString(`{"value":[]}`)
	body := &bufferedBody{buf: buf, owner: buffers}

	got, err := io.ReadAll(body)
	if err != nil || string(got) != `{"value":[]}` {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	if err := body.Close(); err != nil {
		t.Fatal(err)
	}
	if err := body.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if len(buffers.free) != 1 {
		t.Fatalf("%d free buffers after closing twice, want 1", len(buffers.free))
	}
	if _, err := body.Read(make([]byte, 8)); !errors.Is(err, errBodyClosed) {
		t.Errorf("Read after Close = %v, want %v", err, errBodyClosed)
	}
	if again := buffers.get(); again != buf || again.Len() != 0 {
		t.Errorf("get after Close = %p (len %d), want the recycled, empty %p", again, again.Len(), buf)
	}
}

func TestBodyBuffers(t *testing.T) {
	tests := []struct {
		name     string
		buffers  *bodyBuffers
		size     int
		wantKept bool
	}{
		{name: "page-sized buffer is kept", buffers: &bodyBuffers{}, size: 600 << 10, wantKept: true},
		{name: "oversized buffer is let go", buffers: &bodyBuffers{}, size: maxPooledBody + 1},
		{name: "no recycling without a read", buffers: nil, size: 1 << 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.buffers.get()
			b.Write(bytes.Repeat([]byte{'x'}, tc.size))
			tc.buffers.put(b)
			if tc.buffers == nil {
				return
			}
			if kept := len(tc.buffers.free) == 1; kept != tc.wantKept {
				t.Errorf("kept = %v, want %v", kept, tc.wantKept)
			}
		})
	}
	if bodyBuffersFrom(context.Background()) != nil {
		t.Error("a plain context carries body buffers")
	}
	if bodyBuffersFrom(withBodyBuffers(context.Background())) == nil {
		t.Error("withBodyBuffers carries no body buffers")
	}
}

package entra

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// scriptedServer answers request n (1-based) with script[n-1], and the last
// step for every request after.
type step struct {
	status     int
	retryAfter string
	truncate   bool // promise a longer body, then drop the connection
}

func scriptedServer(t *testing.T, script []step) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		s := script[min(i, len(script)-1)]
		if s.truncate {
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"value\":[")
			_ = buf.Flush()
			_ = conn.Close()
			return
		}
		if s.retryAfter != "" {
			w.Header().Set("Retry-After", s.retryAfter)
		}
		w.WriteHeader(s.status)
		_, _ = io.WriteString(w, `{"attempt":`+strconv.Itoa(i+1)+`}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestRetryTransport(t *testing.T) {
	policy := RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Second, MaxWait: 3 * time.Second}
	tests := []struct {
		name         string
		script       []step
		policy       RetryPolicy
		wantStatus   int
		wantErr      bool
		wantRequests int32
		wantMinWait  time.Duration
	}{
		{name: "success at once", script: []step{{status: 200}}, wantStatus: 200, wantRequests: 1},
		{name: "body cut off, then success", script: []step{{truncate: true}, {status: 200}}, wantStatus: 200, wantRequests: 2},
		{name: "500 is not retried", script: []step{{status: 500}, {status: 200}}, wantStatus: 500, wantRequests: 1},
		{name: "404 is not retried", script: []step{{status: 404}, {status: 200}}, wantStatus: 404, wantRequests: 1},
		{name: "503 until attempts run out", script: []step{{status: 503}}, wantStatus: 503, wantRequests: 4},
		{name: "504 then success", script: []step{{status: 504}, {status: 200}}, wantStatus: 200, wantRequests: 2},
		{name: "body cut off every time", script: []step{{truncate: true}}, wantErr: true, wantRequests: 4},
		{
			name:   "Retry-After is honoured",
			script: []step{{status: 429, retryAfter: "1"}, {status: 200}}, wantStatus: 200, wantRequests: 2,
			wantMinWait: time.Second,
		},
		{
			name:       "a wait beyond the budget is not started",
			script:     []step{{status: 429, retryAfter: "1"}},
			policy:     RetryPolicy{MaxAttempts: 10, BaseDelay: time.Millisecond, MaxWait: 1500 * time.Millisecond},
			wantStatus: 429, wantRequests: 2, wantMinWait: time.Second,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := scriptedServer(t, tc.script)
			p := policy
			if tc.policy != (RetryPolicy{}) {
				p = tc.policy
			}
			base := &http.Transport{}
			t.Cleanup(base.CloseIdleConnections)
			rt := newRetryTransport(base, p, nil)
			trace := &requestTrace{}
			req, err := http.NewRequestWithContext(withTrace(context.Background(), trace), http.MethodGet, srv.URL+"/v1.0/users", nil)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			resp, err := rt.RoundTrip(req)
			elapsed := time.Since(start)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("RoundTrip succeeded with %d, want an error", resp.StatusCode)
				}
			} else {
				if err != nil {
					t.Fatalf("RoundTrip: %v", err)
				}
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != tc.wantStatus || string(body) != `{"attempt":`+strconv.Itoa(int(n.Load()))+`}` {
					t.Errorf("got %d %q, want %d and the last attempt's body", resp.StatusCode, body, tc.wantStatus)
				}
			}
			if got := n.Load(); got != tc.wantRequests || int32(trace.attempts) != tc.wantRequests {
				t.Errorf("%d requests (trace %d), want %d", got, trace.attempts, tc.wantRequests)
			}
			if elapsed < tc.wantMinWait {
				t.Errorf("took %v, want at least %v", elapsed, tc.wantMinWait)
			}
		})
	}
}

func TestRetryTransportStopsWaitingWhenCancelled(t *testing.T) {
	srv, n := scriptedServer(t, []step{{status: 503, retryAfter: "30"}})
	rt := newRetryTransport(&http.Transport{}, RetryPolicy{MaxWait: time.Minute, MaxDelay: time.Minute}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	start := time.Now()
	_, err := rt.RoundTrip(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RoundTrip error = %v, want the context's deadline", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second || n.Load() != 1 {
		t.Errorf("returned after %v and %d requests", elapsed, n.Load())
	}
}

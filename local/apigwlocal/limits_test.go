package apigwlocal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"dirsync/local/apigwlocal"
)

// TestIntegrationTimeout: a function slower than the integration timeout
// (30 s, shortened here) is answered 503 {"message":"Service Unavailable"}
// at the timeout, while the invocation itself runs on uncancelled, as a
// Lambda does after API Gateway gave up on it.
func TestIntegrationTimeout(t *testing.T) {
	release := make(chan struct{})
	finished := make(chan error, 1)
	rec := &recorder{t: t, respond: func(ctx context.Context, _ call) ([]byte, error) {
		<-release
		finished <- ctx.Err()
		return []byte(`{"statusCode":200,"body":"late"}`), nil
	}}
	srv := newGateway(t, rec, func(o *apigwlocal.Options) { o.IntegrationTimeout = 100 * time.Millisecond })
	start := time.Now()
	got := do(t, srv, "GET", "/v1/users", nil, bearer(adminToken(t))...)
	wantGatewayAnswer(t, got, http.StatusServiceUnavailable, "Service Unavailable")
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("answered after %s, before the timeout", d)
	}
	close(release)
	if err := <-finished; err != nil {
		t.Errorf("the invocation's context ended (%v): API Gateway's timeout does not stop a Lambda", err)
	}
}

// TestAPIGatewayLimits: the defaults are the HTTP API quotas.
func TestAPIGatewayLimits(t *testing.T) {
	if apigwlocal.DefaultIntegrationTimeout != 30*time.Second {
		t.Errorf("DefaultIntegrationTimeout %s, want the HTTP API's 30s", apigwlocal.DefaultIntegrationTimeout)
	}
	if apigwlocal.DefaultMaxRequestBody != 10*1024*1024 {
		t.Errorf("DefaultMaxRequestBody %d, want 10 MB", apigwlocal.DefaultMaxRequestBody)
	}
}

// TestPayloadLimit: a request body over 10 MB is 413 without invoking the
// function, whether its size is announced (Content-Length) or not
// (chunked); exactly 10 MB goes through.
func TestPayloadLimit(t *testing.T) {
	limit := apigwlocal.DefaultMaxRequestBody
	for _, tc := range []struct {
		name    string
		size    int
		chunked bool
		status  int
	}{
		{"at the limit", limit, false, http.StatusOK},
		{"one byte over", limit + 1, false, http.StatusRequestEntityTooLarge},
		{"one byte over, chunked", limit + 1, true, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{t: t}
			srv := newGateway(t, rec, nil)
			body := bytes.Repeat([]byte("a"), tc.size)
			req, err := http.NewRequest("POST", srv.URL+"/v1/users", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.chunked {
				req.ContentLength = -1
				req.Body = struct {
					*bytes.Reader
					noClose
				}{bytes.NewReader(body), noClose{}}
			}
			req.Header.Set("Authorization", "Bearer "+adminToken(t))
			req.Header.Set("Content-Type", "text/plain")
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			calls := rec.all()
			if tc.status == http.StatusOK {
				if len(calls) != 1 || len(calls[0].event.Body) != tc.size {
					t.Errorf("%d invocations", len(calls))
				}
			} else if len(calls) != 0 {
				t.Errorf("%d invocations, want none", len(calls))
			}
		})
	}
}

type noClose struct{}

func (noClose) Close() error { return nil }

// TestFailedInvocations: what API Gateway answers when the integration
// fails: 500 {"message":"Internal Server Error"} for a function error, a
// crash, a missing function or a result it cannot use; 413 when Lambda
// refuses the payload as too large.
func TestFailedInvocations(t *testing.T) {
	for _, tc := range []struct {
		name    string
		respond func() ([]byte, error)
		status  int
	}{
		{"function error", func() ([]byte, error) {
			return nil, &apigwlocal.FunctionError{Type: "Runtime.ExitError", Message: "exit status 2"}
		}, 500},
		{"any error", func() ([]byte, error) { return nil, errors.New("connection refused") }, 500},
		{"panic", func() ([]byte, error) { panic("boom") }, 500},
		{"not JSON", func() ([]byte, error) { return []byte("Hello"), nil }, 500},
		{"empty", func() ([]byte, error) { return nil, nil }, 500},
		{"statusCode 0", func() ([]byte, error) { return []byte(`{"statusCode":0}`), nil }, 500},
		{"statusCode 700", func() ([]byte, error) { return []byte(`{"statusCode":700}`), nil }, 500},
		{"statusCode a string", func() ([]byte, error) { return []byte(`{"statusCode":"200"}`), nil }, 500},
		{"bad base64 body", func() ([]byte, error) {
			return []byte(`{"statusCode":200,"isBase64Encoded":true,"body":"not base64!"}`), nil
		}, 500},
		{"payload too large for Lambda", func() ([]byte, error) {
			return nil, fmt.Errorf("invoke: %w", apigwlocal.ErrRequestTooLarge)
		}, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{t: t, respond: func(context.Context, call) ([]byte, error) { return tc.respond() }}
			srv := newGateway(t, rec, nil)
			got := do(t, srv, "GET", "/v1/users", nil, bearer(adminToken(t))...)
			msg := "Internal Server Error"
			if tc.status == 413 {
				msg = "Request Entity Too Large"
			}
			wantGatewayAnswer(t, got, tc.status, msg)
			if strings.Contains(got.body, "boom") || strings.Contains(got.body, "exit") {
				t.Errorf("the answer leaks the failure: %s", got.body)
			}
		})
	}
}

// TestMissingFunction: a route whose function the invoker does not know is
// a failed invocation (500).
func TestMissingFunction(t *testing.T) {
	srv := newGateway(t, apigwlocal.Functions{}, nil)
	wantGatewayAnswer(t, do(t, srv, "GET", "/v1/users", nil, bearer(adminToken(t))...), 500, "Internal Server Error")
}

// TestAccessLog: one record per request with the fields of the template's
// AccessLogSettings format; a failed integration says why.
func TestAccessLog(t *testing.T) {
	var buf syncBuffer
	rec := &recorder{t: t, respond: func(_ context.Context, c call) ([]byte, error) {
		if c.function == "DirectoryFunction" {
			return nil, &apigwlocal.FunctionError{Type: "Runtime.ExitError", Message: "exit status 2"}
		}
		return []byte(`{"statusCode":202,"body":""}`), nil
	}}
	srv := newGateway(t, rec, func(o *apigwlocal.Options) {
		o.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	})
	token := adminToken(t)
	ok := do(t, srv, "POST", "/v1/syncs", nil, bearer(token)...)
	failed := do(t, srv, "GET", "/v1/users", nil, bearer(token)...)
	missing := do(t, srv, "GET", "/v1/nothing", nil)
	refused := do(t, srv, "GET", "/v1/users", nil, "Authorization", "Bearer x.y.z")
	srv.Close() // waits for the handlers, which log after answering

	var records []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		records = append(records, m)
	}
	want := []struct {
		id, routeKey string
		status       float64
		integration  string
		authorizer   string
	}{
		{ok.header.Get("Apigw-Requestid"), "POST /v1/syncs", 202, "", ""},
		{failed.header.Get("Apigw-Requestid"), "GET /v1/users", 500, "function error Runtime.ExitError: exit status 2", ""},
		{missing.header.Get("Apigw-Requestid"), "-", 404, "", ""},
		{refused.header.Get("Apigw-Requestid"), "GET /v1/users", 401, "", "the token is malformed"},
	}
	if len(records) != len(want) {
		t.Fatalf("%d records: %v", len(records), records)
	}
	for i, w := range want {
		r := records[i]
		if r["requestId"] != w.id || r["routeKey"] != w.routeKey || r["status"] != w.status || r["integrationError"] != w.integration || r["authorizerError"] != w.authorizer {
			t.Errorf("record %d: %v, want %+v", i, r, w)
		}
		if _, ok := r["latency"].(float64); !ok {
			t.Errorf("record %d has no latency", i)
		}
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

package sfnlocal

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dirsync/local/dynamolocal"
)

// RetryableError and PermanentError stand in for the apply function's
// errors: the template retries the first by name and not the second.
type RetryableError struct{ Msg string }

func (e *RetryableError) Error() string { return e.Msg }

type PermanentError struct{ Msg string }

func (e *PermanentError) Error() string { return e.Msg }

// call is one invocation seen by a fake function.
type call struct {
	Function string
	Payload  map[string]any
	Start    int64 // order of the call's start among all starts and ends
	End      int64
}

func (c call) batch() int {
	f, _ := c.Payload["batch"].(float64)
	return int(f)
}

func (c call) failed() bool { f, _ := c.Payload["failed"].(bool); return f }

func (c call) errorField(name string) string {
	e, _ := c.Payload["error"].(map[string]any)
	s, _ := e[name].(string)
	return s
}

// recorder registers fake ApplyFunction and FinalizeFunction that log every
// call and delegate the outcome to the test.
type recorder struct {
	mu       sync.Mutex
	calls    []call
	clock    atomic.Int64
	inFlight atomic.Int64
	maxApply atomic.Int64

	apply    func(ctx context.Context, c call, attempt int) (any, error)
	finalize func(ctx context.Context, c call, attempt int) (any, error)
	attempts map[string]int
}

func (rec *recorder) function(name string, behaviour *func(context.Context, call, int) (any, error)) Function {
	return JSONFunction(func(ctx context.Context, payload map[string]any) (any, error) {
		c := call{Function: name, Payload: payload, Start: rec.clock.Add(1)}
		if name == "ApplyFunction" {
			n := rec.inFlight.Add(1)
			for {
				m := rec.maxApply.Load()
				if n <= m || rec.maxApply.CompareAndSwap(m, n) {
					break
				}
			}
			defer rec.inFlight.Add(-1)
		}
		key := fmt.Sprintf("%s/%v/%v", name, payload["batch"], payload["failed"])
		rec.mu.Lock()
		if rec.attempts == nil {
			rec.attempts = map[string]int{}
		}
		rec.attempts[key]++
		attempt := rec.attempts[key]
		rec.mu.Unlock()

		var out any = map[string]any{"ok": true}
		var err error
		if *behaviour != nil {
			out, err = (*behaviour)(ctx, c, attempt)
		}
		c.End = rec.clock.Add(1)
		rec.mu.Lock()
		rec.calls = append(rec.calls, c)
		rec.mu.Unlock()
		return out, err
	})
}

func (rec *recorder) snapshot() []call {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := append([]call(nil), rec.calls...)
	sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

func (rec *recorder) of(function string, failed bool) []call {
	var out []call
	for _, c := range rec.snapshot() {
		if c.Function == function && c.failed() == failed {
			out = append(out, c)
		}
	}
	return out
}

// stack is an invoke endpoint with fake functions and a runner: of the real
// template's ApplyStateMachine with the recorder's fakes (newStack), or of
// any definition (startStack, rec nil).
type stack struct {
	rec    *recorder
	runner *Runner
	server *InvokeServer
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := dynamolocal.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func templateDefinition(t *testing.T) []byte {
	t.Helper()
	def, err := DefinitionFromTemplate(filepath.Join(repoRoot(t), "template.yaml"), "ApplyStateMachine")
	if err != nil {
		t.Fatal(err)
	}
	return def
}

func newStack(t *testing.T, retryPause time.Duration, rec *recorder) *stack {
	t.Helper()
	s := startStack(t, templateDefinition(t), retryPause, map[string]Function{
		"ApplyFunction":    rec.function("ApplyFunction", &rec.apply),
		"FinalizeFunction": rec.function("FinalizeFunction", &rec.finalize),
	})
	s.rec = rec
	return s
}

// startStack serves functions (by name, as LocalARN(name)) on an invoke
// endpoint and starts a runner of definition.
func startStack(t *testing.T, definition []byte, retryPause time.Duration, functions map[string]Function) *stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	server := NewInvokeServer(nil)
	for name, fn := range functions {
		server.Register(LocalARN(name), fn)
	}
	url, err := server.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close() })
	runner, err := NewRunner(ctx, RunnerConfig{
		Root:       repoRoot(t),
		Definition: definition,
		InvokeURL:  url,
		RetryPause: retryPause,
		Logger:     testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = runner.Close() })
	return &stack{runner: runner, server: server}
}

// run starts an execution and waits for its end.
func (s *stack) run(t *testing.T, name string, input any) Result {
	t.Helper()
	id := s.start(t, name, input)
	return s.wait(t, id)
}

func (s *stack) start(t *testing.T, name string, input any) string {
	t.Helper()
	raw, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := s.runner.Start(ctx, name, raw)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (s *stack) wait(t *testing.T, id string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	res, err := s.runner.Wait(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// applyInput is the state machine's input, written with batch lists: each
// batch becomes a range of its own (as the apply package chunks plans of up
// to 1,000 batches), unless Chunks gives the ranges.
type applyInput struct {
	TenantID       string
	SyncID         string
	UserBatches    []int
	GroupBatches   []int
	UserChunks     [][2]int // overrides UserBatches when set
	MaxConcurrency int
}

func (in applyInput) MarshalJSON() ([]byte, error) {
	one := func(batches []int) [][2]int {
		out := [][2]int{}
		for _, b := range batches {
			out = append(out, [2]int{b, b})
		}
		return out
	}
	users := in.UserChunks
	if users == nil {
		users = one(in.UserBatches)
	}
	return json.Marshal(map[string]any{
		"tenantId": in.TenantID, "syncId": in.SyncID, "maxConcurrency": in.MaxConcurrency,
		"userChunks": users, "groupChunks": one(in.GroupBatches),
	})
}

func batches(from, to int) []int {
	out := []int{}
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// testLogger writes to the test's log until the test has ended.
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() { w.closed.Store(true) })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct {
	t      *testing.T
	closed atomic.Bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	if !w.closed.Load() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

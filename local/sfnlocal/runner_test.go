package sfnlocal

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"dirsync/internal/sfnexec"
)

func TestTemplateRunsEndToEnd(t *testing.T) {
	s := newStack(t, 0, &recorder{})
	res := s.run(t, "sync-1", applyInput{TenantID: "acme", SyncID: "s1", UserBatches: []int{0, 1, 2}, GroupBatches: []int{3, 4}, MaxConcurrency: 10})
	if res.Status != StatusSucceeded {
		t.Fatalf("status = %+v, want SUCCEEDED", res)
	}

	applied := s.rec.of("ApplyFunction", false)
	var userEnd, groupStart int64 = 0, 1 << 62
	var got []int
	for _, c := range applied {
		want := map[string]any{"tenantId": "acme", "syncId": "s1", "batch": float64(c.batch())}
		if !reflect.DeepEqual(c.Payload, want) {
			t.Errorf("apply payload = %v, want exactly %v", c.Payload, want)
		}
		got = append(got, c.batch())
		if c.batch() <= 2 {
			userEnd = max(userEnd, c.End)
		} else {
			groupStart = min(groupStart, c.Start)
		}
	}
	sort.Ints(got)
	if !reflect.DeepEqual(got, []int{0, 1, 2, 3, 4}) {
		t.Errorf("applied batches %v, want each of 0..4 once", got)
	}
	if userEnd > groupStart {
		t.Errorf("a group batch started (tick %d) before the last user batch ended (tick %d)", groupStart, userEnd)
	}

	finals := s.rec.of("FinalizeFunction", false)
	if len(finals) != 1 {
		t.Fatalf("finalize called %d times, want once", len(finals))
	}
	if want := map[string]any{"tenantId": "acme", "syncId": "s1"}; !reflect.DeepEqual(finals[0].Payload, want) {
		t.Errorf("finalize payload = %v, want %v", finals[0].Payload, want)
	}
	for _, c := range applied {
		if c.End > finals[0].Start {
			t.Errorf("batch %d ended after finalize started", c.batch())
		}
	}
	if len(s.rec.of("ApplyFunction", true)) != 0 || len(s.rec.of("FinalizeFunction", true)) != 0 {
		t.Error("a failure path ran in a run without failures")
	}
}

func TestRetryableErrorIsRetried(t *testing.T) {
	// Real retry pauses of the template (FULL jitter, 1 s then 2 s at most).
	rec := &recorder{}
	rec.apply = func(_ context.Context, c call, attempt int) (any, error) {
		if c.batch() == 1 && attempt <= 2 {
			return nil, &RetryableError{Msg: "throttled"}
		}
		return map[string]any{"ok": true}, nil
	}
	s := newStack(t, 0, rec)
	res := s.run(t, "retry", applyInput{TenantID: "acme", SyncID: "s2", UserBatches: []int{0, 1, 2}, GroupBatches: []int{}, MaxConcurrency: 10})
	if res.Status != StatusSucceeded {
		t.Fatalf("status = %+v, want SUCCEEDED", res)
	}
	perBatch := map[int]int{}
	for _, c := range rec.of("ApplyFunction", false) {
		perBatch[c.batch()]++
	}
	if want := map[int]int{0: 1, 1: 3, 2: 1}; !reflect.DeepEqual(perBatch, want) {
		t.Errorf("apply calls per batch = %v, want %v", perBatch, want)
	}
	if n := len(rec.of("ApplyFunction", true)); n != 0 {
		t.Errorf("failure recorded %d times for a batch that succeeded on retry", n)
	}
	if n := len(rec.of("FinalizeFunction", false)); n != 1 {
		t.Errorf("finalize called %d times, want 1", n)
	}
}

func TestFailedBatchIsRecordedAndOthersGoOn(t *testing.T) {
	rec := &recorder{}
	rec.apply = func(_ context.Context, c call, _ int) (any, error) {
		if c.batch() == 1 && !c.failed() {
			return nil, &PermanentError{Msg: "batch 1 is corrupt"}
		}
		return map[string]any{"ok": true}, nil
	}
	s := newStack(t, time.Millisecond, rec)
	res := s.run(t, "partial", applyInput{TenantID: "acme", SyncID: "s3", UserBatches: []int{0, 1, 2}, GroupBatches: []int{3}, MaxConcurrency: 10})
	if res.Status != StatusSucceeded {
		t.Fatalf("status = %+v, want SUCCEEDED (a failed batch does not fail the run)", res)
	}
	perBatch := map[int]int{}
	for _, c := range rec.of("ApplyFunction", false) {
		perBatch[c.batch()]++
	}
	if want := map[int]int{0: 1, 1: 1, 2: 1, 3: 1}; !reflect.DeepEqual(perBatch, want) {
		t.Errorf("apply calls per batch = %v, want %v (no retry of a permanent error)", perBatch, want)
	}
	failures := rec.of("ApplyFunction", true)
	if len(failures) != 1 {
		t.Fatalf("failure recorded %d times, want once", len(failures))
	}
	f := failures[0]
	if f.batch() != 1 || f.Payload["tenantId"] != "acme" || f.Payload["syncId"] != "s3" {
		t.Errorf("failure payload = %v, want batch 1 of acme/s3", f.Payload)
	}
	if f.errorField("Error") != "PermanentError" || !strings.Contains(f.errorField("Cause"), "batch 1 is corrupt") {
		t.Errorf("failure error = %v, want Error PermanentError and the message in Cause", f.Payload["error"])
	}
	finals := rec.of("FinalizeFunction", false)
	if len(finals) != 1 || len(rec.of("FinalizeFunction", true)) != 0 {
		t.Fatalf("finalize calls: %d normal, %d failed; want 1 and 0", len(finals), len(rec.of("FinalizeFunction", true)))
	}
	if want := map[string]any{"tenantId": "acme", "syncId": "s3"}; !reflect.DeepEqual(finals[0].Payload, want) {
		t.Errorf("finalize payload = %v, want %v", finals[0].Payload, want)
	}
}

func TestFinalizeFailingMarksFailed(t *testing.T) {
	rec := &recorder{}
	rec.finalize = func(_ context.Context, c call, _ int) (any, error) {
		if !c.failed() {
			return nil, &PermanentError{Msg: "cannot read counters"}
		}
		return map[string]any{"status": "FAILED"}, nil
	}
	s := newStack(t, time.Millisecond, rec)
	res := s.run(t, "finalize-fails", applyInput{TenantID: "acme", SyncID: "s4", UserBatches: []int{0}, GroupBatches: []int{1}, MaxConcurrency: 10})
	if res.Status != StatusFailed || res.Error != "ApplyFailed" {
		t.Fatalf("result = %+v, want FAILED with Error ApplyFailed", res)
	}
	// Finalize retries States.ALL 6 times before the Catch.
	if n := len(rec.of("FinalizeFunction", false)); n != 7 {
		t.Errorf("finalize called %d times, want 7 (1 + 6 retries)", n)
	}
	marks := rec.of("FinalizeFunction", true)
	if len(marks) != 1 {
		t.Fatalf("MarkFailed called %d times, want once", len(marks))
	}
	m := marks[0]
	if m.Payload["tenantId"] != "acme" || m.Payload["syncId"] != "s4" {
		t.Errorf("MarkFailed payload = %v, want acme/s4", m.Payload)
	}
	if m.errorField("Error") != "PermanentError" || !strings.Contains(m.errorField("Cause"), "cannot read counters") {
		t.Errorf("MarkFailed error = %v, want the finalize error", m.Payload["error"])
	}
}

func TestStopAbortsAndStartsNothingMore(t *testing.T) {
	tests := []struct {
		name string
		// fail makes the gated batch's first attempt fail with a retryable
		// error, so the stop lands in the retry pause.
		fail bool
	}{
		{name: "while a batch runs"},
		{name: "during a retry pause", fail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			entered := make(chan struct{})
			release := make(chan struct{})
			var once sync.Once
			rec.apply = func(ctx context.Context, c call, attempt int) (any, error) {
				if c.batch() != 2 {
					return map[string]any{"ok": true}, nil
				}
				once.Do(func() { close(entered) })
				if tt.fail && attempt == 1 {
					return nil, &RetryableError{Msg: "try again"}
				}
				select {
				case <-release:
				case <-ctx.Done():
				}
				return map[string]any{"ok": true}, nil
			}
			// A long pause: without the stop the retry would come 10 s later.
			s := newStack(t, 10*time.Second, rec)
			id := s.start(t, "stop-me", applyInput{TenantID: "acme", SyncID: "s5", UserBatches: batches(0, 8), GroupBatches: []int{8, 9}, MaxConcurrency: 1})
			select {
			case <-entered:
			case <-time.After(30 * time.Second):
				t.Fatal("batch 2 never started")
			}
			if tt.fail {
				waitFor(t, func() bool { return len(rec.of("ApplyFunction", false)) == 3 })
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.runner.Stop(ctx, id, "cancelled by admin"); err != nil {
				t.Fatal(err)
			}
			stopTick := rec.clock.Load()
			res := s.wait(t, id)
			if res.Status != StatusAborted || res.Cause != "cancelled by admin" {
				t.Fatalf("result = %+v, want ABORTED with the stop's cause", res)
			}
			close(release)
			// Anything the local runner would wrongly start after the stop
			// (queued Map items, the retry) comes within milliseconds.
			time.Sleep(700 * time.Millisecond)
			for _, c := range rec.snapshot() {
				if c.Start > stopTick {
					t.Errorf("%s batch %d (failed=%v) started after the stop", c.Function, c.batch(), c.failed())
				}
			}
			if err := s.runner.Stop(ctx, id, "again"); err != nil {
				t.Errorf("stopping an ended execution: %v, want nil", err)
			}
		})
	}
}

func TestStartIsIdempotentByNameAndInput(t *testing.T) {
	rec := &recorder{}
	gate := make(chan struct{})
	rec.apply = func(ctx context.Context, _ call, _ int) (any, error) {
		select {
		case <-gate:
		case <-ctx.Done():
		}
		return map[string]any{"ok": true}, nil
	}
	s := newStack(t, time.Millisecond, rec)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	input := `{"tenantId":"acme","syncId":"s6","userChunks":[[0,0],[1,1]],"groupChunks":[[2,2]],"maxConcurrency":10}`
	sameValue := "{\n  \"maxConcurrency\": 10, \"groupChunks\": [[2, 2]], \"userChunks\": [[0,0], [1, 1]],\n  \"syncId\": \"s6\", \"tenantId\": \"acme\"\n}"
	other := `{"tenantId":"acme","syncId":"s6","userChunks":[[0,0]],"groupChunks":[[2,2]],"maxConcurrency":10}`

	id, err := s.runner.Start(ctx, "confirm-s6", []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	if want := "arn:aws:states:us-east-1:000000000000:execution:ApplyStateMachine:confirm-s6"; id != want {
		t.Errorf("id = %s, want %s", id, want)
	}
	again, err := s.runner.Start(ctx, "confirm-s6", []byte(sameValue))
	if err != nil || again != id {
		t.Fatalf("second start while running = %q, %v; want %q, nil", again, err, id)
	}
	if _, err := s.runner.Start(ctx, "confirm-s6", []byte(other)); !errors.Is(err, ErrExecutionAlreadyExists) {
		t.Fatalf("start with another input: %v, want ErrExecutionAlreadyExists", err)
	}
	close(gate)
	if res := s.wait(t, id); res.Status != StatusSucceeded {
		t.Fatalf("result = %+v", res)
	}
	afterEnd, err := s.runner.Start(ctx, "confirm-s6", []byte(input))
	if err != nil || afterEnd != id {
		t.Fatalf("start after the end = %q, %v; want %q, nil", afterEnd, err, id)
	}
	time.Sleep(300 * time.Millisecond) // a wrongly started second run would call within this
	if n := len(rec.of("ApplyFunction", false)); n != 3 {
		t.Errorf("apply called %d times, want 3 (one run)", n)
	}
	if n := len(rec.of("FinalizeFunction", false)); n != 1 {
		t.Errorf("finalize called %d times, want 1", n)
	}
	if _, err := s.runner.Start(ctx, "confirm-s6", []byte(other)); !errors.Is(err, ErrExecutionAlreadyExists) {
		t.Errorf("start with another input after the end: %v, want ErrExecutionAlreadyExists", err)
	}
}

func TestMaxConcurrencyFromInput(t *testing.T) {
	rec := &recorder{}
	rec.apply = func(context.Context, call, int) (any, error) {
		time.Sleep(150 * time.Millisecond)
		return map[string]any{"ok": true}, nil
	}
	s := newStack(t, time.Millisecond, rec)
	for _, limit := range []int{1, 2, 4} {
		rec.maxApply.Store(0)
		name := "limit-" + string(rune('0'+limit))
		res := s.run(t, name, applyInput{TenantID: "acme", SyncID: name, UserBatches: batches(0, 8), GroupBatches: batches(8, 12), MaxConcurrency: limit})
		if res.Status != StatusSucceeded {
			t.Fatalf("maxConcurrency %d: %+v", limit, res)
		}
		// Reaching the limit shows the batches do run side by side; never
		// passing it is the point.
		if got := rec.maxApply.Load(); got != int64(limit) {
			t.Errorf("maxConcurrency %d: at most %d apply calls at once, want exactly %d", limit, got, limit)
		}
	}
}

func TestRunnerDeathFailsRunningExecutions(t *testing.T) {
	rec := &recorder{}
	entered := make(chan struct{}, 16)
	rec.apply = func(ctx context.Context, _ call, _ int) (any, error) {
		entered <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	s := newStack(t, time.Millisecond, rec)
	id := s.start(t, "orphan", applyInput{TenantID: "acme", SyncID: "s7", UserBatches: []int{0}, GroupBatches: []int{}, MaxConcurrency: 1})
	<-entered
	pid := s.runner.cmd.Process.Pid
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	res := s.wait(t, id)
	if res.Status != StatusFailed || res.Error != ErrorRunnerExited || !strings.Contains(res.Cause, "node exited unexpectedly") {
		t.Fatalf("result = %+v, want FAILED %s explaining that node exited", res, ErrorRunnerExited)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.runner.Start(ctx, "after-death", []byte(`{}`)); !errors.Is(err, ErrRunnerClosed) {
		t.Errorf("start after node died: %v, want ErrRunnerClosed", err)
	}
}

func TestCloseEndsNode(t *testing.T) {
	rec := &recorder{}
	rec.apply = func(ctx context.Context, _ call, _ int) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	s := newStack(t, time.Millisecond, rec)
	id := s.start(t, "running-at-close", applyInput{TenantID: "acme", SyncID: "s8", UserBatches: []int{0}, GroupBatches: []int{}, MaxConcurrency: 1})
	pid := s.runner.cmd.Process.Pid
	if err := s.runner.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("node (pid %d) still exists after Close: kill -0 = %v", pid, err)
	}
	res := s.wait(t, id)
	if res.Status != StatusFailed || res.Error != ErrorRunnerExited {
		t.Errorf("execution running at Close = %+v, want FAILED %s", res, ErrorRunnerExited)
	}
	select {
	case <-s.runner.Done():
	default:
		t.Error("Done not closed after Close")
	}
}

func TestStartRejectsInvalidRequests(t *testing.T) {
	s := newStack(t, time.Millisecond, &recorder{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tests := []struct {
		name, execName, input string
		want                  error
	}{
		{"empty name", "", `{}`, ErrInvalidName},
		{"name too long", strings.Repeat("a", 81), `{}`, ErrInvalidName},
		{"space in name", "a b", `{}`, ErrInvalidName},
		{"colon in name", "a:b", `{}`, ErrInvalidName},
		{"slash in name", "a/b", `{}`, ErrInvalidName},
		{"control character", "a\x01b", `{}`, ErrInvalidName},
		{"input not JSON", "bad-json", `{"a":`, ErrInvalidInput},
		{"trailing data", "trailing", `{} {}`, ErrInvalidInput},
		{"input over 256 KiB", "too-big", `{"a":"` + strings.Repeat("x", 256*1024) + `"}`, ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.runner.Start(ctx, tt.execName, []byte(tt.input)); !errors.Is(err, tt.want) {
				t.Errorf("Start = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := s.runner.Wait(ctx, s.runner.ExecutionID("never-started")); !errors.Is(err, ErrExecutionDoesNotExist) {
		t.Errorf("Wait on an unknown id: %v, want ErrExecutionDoesNotExist", err)
	}
	if err := s.runner.Stop(ctx, s.runner.ExecutionID("never-started"), "x"); err != nil {
		t.Errorf("Stop on an unknown id: %v, want nil", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNewRunnerRefusesAnInvalidDefinition(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	broken := `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"` + LocalARN("F") + `","Next":"Missing"}}}`
	r, err := NewRunner(ctx, RunnerConfig{Root: repoRoot(t), Definition: []byte(broken), InvokeURL: "http://127.0.0.1:1", Logger: testLogger(t)})
	if err == nil {
		_ = r.Close()
		t.Fatal("NewRunner accepted a definition whose Next names no state")
	}
	if !strings.Contains(err.Error(), "Missing") {
		t.Errorf("error %q does not name the missing state", err)
	}
}

// Both ways of running the state machine offer the same Start and Stop.
type executions interface {
	Start(ctx context.Context, name string, input []byte) (string, error)
	Stop(ctx context.Context, executionID string, cause string) error
}

var (
	_ executions = (*Runner)(nil)
	_ executions = (*sfnexec.Executions)(nil)
)

// TestTaskErrorNames checks that Task failures carry the names Step
// Functions gives them in AWS, which Retry and Catch match on.
func TestTaskErrorNames(t *testing.T) {
	server := NewInvokeServer(testLogger(t))
	server.Register(LocalARN("Failing"), func(context.Context, []byte) ([]byte, error) {
		return nil, &PermanentError{Msg: "no such user"}
	})
	url, err := server.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close() })
	closed := NewInvokeServer(nil)
	closedURL, err := closed.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_ = closed.Close() // nothing listens there any more

	tests := []struct {
		name, url, function  string
		wantError, wantCause string
	}{
		{name: "function error", url: url, function: "Failing", wantError: "PermanentError",
			wantCause: `{"errorMessage":"no such user","errorType":"PermanentError"}`},
		{name: "unknown function", url: url, function: "Missing", wantError: "Lambda.ResourceNotFoundException", wantCause: "Function not found"},
		{name: "endpoint unreachable", url: closedURL, function: "Failing", wantError: "Lambda.SdkClientException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			def := `{"StartAt":"Call","States":{"Call":{"Type":"Task","Resource":"` + LocalARN(tt.function) + `","End":true}}}`
			r, err := NewRunner(ctx, RunnerConfig{Root: repoRoot(t), Definition: []byte(def), InvokeURL: tt.url, StateMachineName: "Probe", Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			id, err := r.Start(ctx, "probe", []byte(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(id, ":execution:Probe:probe") {
				t.Errorf("id %s does not name the Probe state machine", id)
			}
			res, err := r.Wait(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != StatusFailed || res.Error != tt.wantError || !strings.Contains(res.Cause, tt.wantCause) {
				t.Errorf("result = %+v, want FAILED %s with cause containing %q", res, tt.wantError, tt.wantCause)
			}
		})
	}
}

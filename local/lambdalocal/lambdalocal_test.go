package lambdalocal_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"dirsync/local/dynamolocal"
	"dirsync/local/lambdalocal"
	"dirsync/local/sfnlocal"
)

// The emulator and the echo bootstrap (testdata/echo) are built once for
// every test.
var (
	setupOnce   sync.Once
	setupErr    error
	repoRoot    string
	emulator    string
	echoBinary  string
	setupTmpDir string
)

func TestMain(m *testing.M) {
	if os.Getenv(orphanChildEnv) != "" {
		orphanChild()
		return
	}
	code := m.Run()
	if setupTmpDir != "" {
		_ = os.RemoveAll(setupTmpDir)
	}
	os.Exit(code)
}

func setup(t testing.TB) {
	t.Helper()
	setupOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if repoRoot, setupErr = dynamolocal.RepoRoot(); setupErr != nil {
			return
		}
		start := time.Now()
		if emulator, setupErr = lambdalocal.EnsureEmulator(ctx, repoRoot); setupErr != nil {
			return
		}
		fmt.Printf("lambdalocal: emulator %s ready in %s\n", emulator, time.Since(start).Round(time.Millisecond))
		if setupTmpDir, setupErr = os.MkdirTemp("", "lambdalocal-test-"); setupErr != nil {
			return
		}
		start = time.Now()
		built, err := lambdalocal.Build(ctx, repoRoot, setupTmpDir, "./local/lambdalocal/testdata/echo")
		if err != nil {
			setupErr = err
			return
		}
		echoBinary = built["./local/lambdalocal/testdata/echo"]
		fmt.Printf("lambdalocal: echo bootstrap built in %s\n", time.Since(start).Round(time.Millisecond))
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
}

// echo is a Function running the echo bootstrap.
func echo(t testing.TB, name string) lambdalocal.Function {
	setup(t)
	return lambdalocal.Function{Name: name, Bootstrap: echoBinary, Timeout: 10 * time.Second}
}

// lockedBuffer collects the instances' output, shown when a test fails.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newService starts a service for the test and closes it after.
func newService(t *testing.T, cfg lambdalocal.Config) *lambdalocal.Service {
	t.Helper()
	setup(t)
	cfg.Emulator = emulator
	cfg.Root = repoRoot
	out := &lockedBuffer{}
	cfg.Output = out
	svc, err := lambdalocal.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := svc.Close(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("instance output:\n%s", out.String())
		}
	})
	return svc
}

// client is the real AWS SDK Lambda client pointed at the service.
func client(t *testing.T, svc *lambdalocal.Service) *lambda.Client {
	t.Helper()
	url, err := svc.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return lambda.New(lambda.Options{
		Region:       sfnlocal.LocalRegion,
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		// One attempt: a 5xx must reach the test, not be retried away.
		RetryMaxAttempts: 1,
	})
}

// echoResult is testdata/echo's answer.
type echoResult struct {
	Event        json.RawMessage   `json:"event"`
	Env          map[string]string `json:"env"`
	Environ      []string          `json:"environ"`
	PID          int               `json:"pid"`
	RequestID    string            `json:"requestId"`
	FunctionName string            `json:"functionName"`
	MemoryMB     int               `json:"memoryMB"`
	DeadlineMs   int64             `json:"deadlineMs"`
	StartNs      int64             `json:"startNs"`
	EndNs        int64             `json:"endNs"`
}

func decodeEcho(t *testing.T, res *lambdalocal.Result) echoResult {
	t.Helper()
	if res.FunctionError != "" {
		t.Fatalf("function error %s: %s", res.FunctionError, res.Payload)
	}
	var out echoResult
	if err := json.Unmarshal(res.Payload, &out); err != nil {
		t.Fatalf("decode %s: %v", res.Payload, err)
	}
	return out
}

func invoke(t *testing.T, svc *lambdalocal.Service, fn, payload string) *lambdalocal.Result {
	t.Helper()
	res, err := svc.Invoke(context.Background(), fn, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func jsonEqual(t *testing.T, got, want []byte) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("decode %s: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("decode %s: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

func TestEmulatorVersionIsGoMods(t *testing.T) {
	setup(t)
	raw, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mod := string(raw)
	if !strings.Contains(mod, lambdalocal.EmulatorModule+" "+lambdalocal.EmulatorVersion) {
		t.Errorf("go.mod does not require %s %s", lambdalocal.EmulatorModule, lambdalocal.EmulatorVersion)
	}
	if !strings.Contains(mod, "tool "+lambdalocal.EmulatorPackage) {
		t.Errorf("go.mod has no tool directive for %s", lambdalocal.EmulatorPackage)
	}
	if os.Getenv(lambdalocal.EmulatorEnv) == "" && emulator != lambdalocal.EmulatorPath(repoRoot) {
		t.Errorf("emulator at %s, want %s", emulator, lambdalocal.EmulatorPath(repoRoot))
	}
}

// A RequestResponse invocation through the real AWS SDK client, by name and
// by ARN, reaches the real bootstrap and returns its result.
func TestRequestResponse(t *testing.T) {
	svc := newService(t, lambdalocal.Config{Functions: []lambdalocal.Function{echo(t, "Echo")}})
	c := client(t, svc)
	ctx := context.Background()
	for _, name := range []string{"Echo", sfnlocal.LocalARN("Echo"), sfnlocal.LocalARN("Echo") + ":$LATEST"} {
		payload := `{"data":{"hello":"world","n":[1,2,3]}}`
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(payload)})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if out.StatusCode != 200 || out.FunctionError != nil {
			t.Fatalf("%s: status %d, function error %v: %s", name, out.StatusCode, aws.ToString(out.FunctionError), out.Payload)
		}
		var res echoResult
		if err := json.Unmarshal(out.Payload, &res); err != nil {
			t.Fatal(err)
		}
		if !jsonEqual(t, res.Event, []byte(payload)) {
			t.Errorf("%s: the function saw %s, want %s", name, res.Event, payload)
		}
		if res.FunctionName != "Echo" || res.RequestID == "" {
			t.Errorf("%s: function name %q, request id %q", name, res.FunctionName, res.RequestID)
		}
		if aws.ToString(out.ExecutedVersion) != "$LATEST" {
			t.Errorf("executed version %q", aws.ToString(out.ExecutedVersion))
		}
	}
	// Three invocations, one after the other: one warm instance served them.
	if n := svc.Started("Echo"); n != 1 {
		t.Errorf("%d instances started, want 1", n)
	}

	// The request id the caller gets is the one the function saw.
	req, _ := http.NewRequest(http.MethodPost, svc.URL()+"/2015-03-31/functions/Echo/invocations", strings.NewReader(`{}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var res echoResult
	err = json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if id := resp.Header.Get("X-Amzn-Requestid"); id == "" || id != res.RequestID {
		t.Errorf("X-Amzn-Requestid %q, the function saw %q", id, res.RequestID)
	}

	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("Nope"), Payload: []byte(`{}`)})
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("unknown function: %v, want ResourceNotFoundException", err)
	}
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("Echo"), Payload: []byte(`{not json`)})
	var badContent *types.InvalidRequestContentException
	if !errors.As(err, &badContent) {
		t.Errorf("invalid JSON: %v, want InvalidRequestContentException", err)
	}
	dry, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("Echo"), InvocationType: types.InvocationTypeDryRun})
	if err != nil || dry.StatusCode != http.StatusNoContent {
		t.Errorf("DryRun: %v, status %d", err, dry.StatusCode)
	}
}

// A returned error is a function error: X-Amz-Function-Error: Unhandled and
// the runtime's {errorType, errorMessage}, the instance kept warm.
func TestFunctionError(t *testing.T) {
	svc := newService(t, lambdalocal.Config{Functions: []lambdalocal.Function{echo(t, "Echo")}})
	c := client(t, svc)
	out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("Echo"), Payload: []byte(`{"error":"boom"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if out.StatusCode != 200 || aws.ToString(out.FunctionError) != "Unhandled" {
		t.Fatalf("status %d, function error %q", out.StatusCode, aws.ToString(out.FunctionError))
	}
	if !jsonEqual(t, out.Payload, []byte(`{"errorType":"EchoError","errorMessage":"boom"}`)) {
		t.Errorf("error document %s", out.Payload)
	}

	req, _ := http.NewRequest(http.MethodPost, svc.URL()+"/2015-03-31/functions/Echo/invocations", strings.NewReader(`{"error":"again"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Amz-Function-Error") != "Unhandled" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("status %d, headers %v", resp.StatusCode, resp.Header)
	}

	res := invoke(t, svc, "Echo", `{}`)
	decodeEcho(t, res)
	if n := svc.Started("Echo"); n != 1 {
		t.Errorf("%d instances started, want 1: a function error keeps the instance", n)
	}
}

// A runtime that exits or panics fails its invocation as Lambda reports it
// (Runtime.ExitError; a panic's own error document), and its instance is
// replaced: the next invocation runs in a fresh process.
func TestCrashReplacesInstance(t *testing.T) {
	svc := newService(t, lambdalocal.Config{Functions: []lambdalocal.Function{echo(t, "Echo")}})
	first := decodeEcho(t, invoke(t, svc, "Echo", `{}`))
	oldPIDs := pidsOf(svc)

	res := invoke(t, svc, "Echo", `{"exit":3}`)
	if res.FunctionError != "Unhandled" || res.ErrorType != "Runtime.ExitError" || !strings.Contains(string(res.Payload), "exit status 3") {
		t.Errorf("exit: %s %s: %s", res.FunctionError, res.ErrorType, res.Payload)
	}
	waitGone(t, oldPIDs)
	second := decodeEcho(t, invoke(t, svc, "Echo", `{}`))
	if second.PID == first.PID {
		t.Errorf("the bootstrap %d served again after it exited", first.PID)
	}

	oldPIDs = pidsOf(svc)
	res = invoke(t, svc, "Echo", `{"panic":"ouch"}`)
	var doc struct {
		Message    string `json:"errorMessage"`
		StackTrace []any  `json:"stackTrace"`
	}
	_ = json.Unmarshal(res.Payload, &doc)
	if res.FunctionError != "Unhandled" || res.ErrorType != "string" || doc.Message != "ouch" || len(doc.StackTrace) == 0 {
		t.Errorf("panic: %s %s: %s", res.FunctionError, res.ErrorType, res.Payload)
	}
	waitGone(t, oldPIDs)
	third := decodeEcho(t, invoke(t, svc, "Echo", `{}`))
	if third.PID == second.PID {
		t.Errorf("the bootstrap %d served again after it panicked", second.PID)
	}
	if n := svc.Started("Echo"); n != 3 {
		t.Errorf("%d instances started, want 3", n)
	}
}

// The emulator ends an invocation at the function's timeout; the answer is
// Lambda's Sandbox.Timedout, and the next invocation runs on a fresh
// instance while the timed-out one is gone.
func TestTimeout(t *testing.T) {
	fn := echo(t, "Slow")
	fn.Timeout = 2 * time.Second
	svc := newService(t, lambdalocal.Config{Functions: []lambdalocal.Function{fn}})
	c := client(t, svc)
	warm := decodeEcho(t, invoke(t, svc, "Slow", `{}`))
	if warm.DeadlineMs < 1500 || warm.DeadlineMs > 2000 {
		t.Errorf("the function's deadline is %d ms away, want about 2000", warm.DeadlineMs)
	}
	oldPIDs := pidsOf(svc)

	start := time.Now()
	out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("Slow"), Payload: []byte(`{"sleepMs":6000}`)})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("timed out after %s: %s", elapsed.Round(time.Millisecond), out.Payload)
	if elapsed < 2*time.Second || elapsed > 3500*time.Millisecond {
		t.Errorf("answered after %s, want about 2 s", elapsed)
	}
	var doc struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if err := json.Unmarshal(out.Payload, &doc); err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.FunctionError) != "Unhandled" || doc.ErrorType != "Sandbox.Timedout" ||
		!strings.HasSuffix(doc.ErrorMessage, "Task timed out after 2.00 seconds") || !strings.HasPrefix(doc.ErrorMessage, "RequestId: ") {
		t.Errorf("function error %q: %s", aws.ToString(out.FunctionError), out.Payload)
	}
	waitGone(t, oldPIDs)

	next := decodeEcho(t, invoke(t, svc, "Slow", `{}`))
	if next.PID == warm.PID {
		t.Errorf("the timed-out bootstrap %d served again", warm.PID)
	}
	if n := svc.Started("Slow"); n != 2 {
		t.Errorf("%d instances started, want 2", n)
	}
}

// An invocation whose runtime goes past the function's memory size is
// killed, as Lambda kills it (Runtime.OutOfMemory), and its environment is
// replaced; within the size, the peak is reported.
func TestMemoryLimit(t *testing.T) {
	fn := echo(t, "Small")
	fn.MemoryMB = 128
	svc := newService(t, lambdalocal.Config{Functions: []lambdalocal.Function{fn}})
	within, err := svc.Invoke(context.Background(), "Small", []byte(`{"allocMB":40,"sleepMs":100}`))
	if err != nil {
		t.Fatal(err)
	}
	if within.FunctionError != "" || within.MaxMemoryUsedMB < 40 || within.MaxMemoryUsedMB > 128 {
		t.Fatalf("40 MB in 128: error %q, peak %d MB (want 40..128): %s", within.FunctionError, within.MaxMemoryUsedMB, within.Payload)
	}
	if peak, longest := svc.TakePeaks("Small"); peak != within.MaxMemoryUsedMB || longest != within.Duration {
		t.Fatalf("TakePeaks = %d MB, %v; want the one invocation's %d MB, %v", peak, longest, within.MaxMemoryUsedMB, within.Duration)
	}
	if peak, longest := svc.TakePeaks("Small"); peak != 0 || longest != 0 {
		t.Fatalf("TakePeaks again = %d MB, %v; want zero: nothing ran since", peak, longest)
	}
	oldPIDs := pidsOf(svc)
	over, err := svc.Invoke(context.Background(), "Small", []byte(`{"allocMB":300,"sleepMs":1000}`))
	if err != nil {
		t.Fatal(err)
	}
	if over.FunctionError != lambdalocal.FunctionUnhandled || over.ErrorType != "Runtime.OutOfMemory" ||
		!strings.Contains(string(over.Payload), "Runtime exited with error: signal: killed") {
		t.Fatalf("300 MB in 128: error %q %q: %s", over.FunctionError, over.ErrorType, over.Payload)
	}
	waitGone(t, oldPIDs)
	if next := decodeEcho(t, invoke(t, svc, "Small", `{}`)); next.PID == 0 {
		t.Fatal("no answer after the replacement")
	}
	if n := svc.Started("Small"); n != 2 {
		t.Errorf("%d instances started, want 2 (the killed environment replaced)", n)
	}
}

type interval struct {
	pid        int
	start, end int64
}

// maxOverlap is the largest number of intervals running at one instant.
func maxOverlap(iv []interval) int {
	type edge struct {
		t     int64
		delta int
	}
	var edges []edge
	for _, i := range iv {
		edges = append(edges, edge{i.start, 1}, edge{i.end, -1})
	}
	sort.Slice(edges, func(a, b int) bool {
		if edges[a].t != edges[b].t {
			return edges[a].t < edges[b].t
		}
		return edges[a].delta < edges[b].delta // an end before a start at the same instant
	})
	cur, best := 0, 0
	for _, e := range edges {
		cur += e.delta
		best = max(best, cur)
	}
	return best
}

func concurrently(t *testing.T, svc *lambdalocal.Service, fn string, n int, payload string) []interval {
	t.Helper()
	out := make([]interval, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, err := svc.Invoke(context.Background(), fn, []byte(payload))
			if err != nil {
				errs[i] = err
				return
			}
			if res.FunctionError != "" {
				errs[i] = fmt.Errorf("function error: %s", res.Payload)
				return
			}
			var r echoResult
			if err := json.Unmarshal(res.Payload, &r); err != nil {
				errs[i] = err
				return
			}
			out[i] = interval{r.PID, r.StartNs, r.EndNs}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return out
}

// N concurrent invocations run on N instances at once, up to the
// function's MaxConcurrency; beyond it they wait, and an instance never
// runs two invocations at a time.
func TestConcurrency(t *testing.T) {
	fn := echo(t, "Par")
	fn.MaxConcurrency = 3
	svc := newService(t, lambdalocal.Config{Functions: []lambdalocal.Function{fn}})

	start := time.Now()
	iv := concurrently(t, svc, "Par", 3, `{"sleepMs":800}`)
	elapsed := time.Since(start)
	pids := map[int]bool{}
	for _, i := range iv {
		pids[i.pid] = true
	}
	if len(pids) != 3 || maxOverlap(iv) != 3 {
		t.Errorf("3 concurrent invocations ran on %d processes, %d at once: %v", len(pids), maxOverlap(iv), iv)
	}
	t.Logf("3 cold concurrent invocations of 800 ms: %s", elapsed.Round(time.Millisecond))

	// Seven on three warm instances: three at once, each instance serial.
	start = time.Now()
	iv = concurrently(t, svc, "Par", 7, `{"sleepMs":400}`)
	elapsed = time.Since(start)
	if got := maxOverlap(iv); got != 3 {
		t.Errorf("%d invocations ran at once, want 3", got)
	}
	byPID := map[int][]interval{}
	for _, i := range iv {
		byPID[i.pid] = append(byPID[i.pid], i)
	}
	for pid, list := range byPID {
		if !pids[pid] {
			t.Errorf("bootstrap %d is not one of the warm instances", pid)
		}
		if maxOverlap(list) != 1 {
			t.Errorf("bootstrap %d ran invocations at the same time: %v", pid, list)
		}
	}
	if n := svc.Started("Par"); n != 3 {
		t.Errorf("%d instances started, want 3", n)
	}
	if elapsed < 1200*time.Millisecond {
		t.Errorf("7 invocations of 400 ms on 3 instances took %s, want at least 3 rounds", elapsed)
	}
	t.Logf("7 invocations of 400 ms on 3 warm instances: %s", elapsed.Round(time.Millisecond))
}

// The bootstrap sees exactly its environment: the function's, the common
// one under it, and what Lambda sets; nothing of this process.
func TestEnvironmentAndMemory(t *testing.T) {
	t.Setenv("LAMBDALOCAL_TEST_LEAK", "must not reach the function")
	fn := echo(t, "Env")
	fn.Environment = map[string]string{"FOO": "bar", "WITH_EQUALS": "a=b", "SHARED": "function's"}
	fn.MemoryMB = 256
	fn.Timeout = 7 * time.Second
	svc := newService(t, lambdalocal.Config{
		Functions:   []lambdalocal.Function{fn},
		Environment: map[string]string{"SHARED": "common", "COMMON_ONLY": "1"},
	})
	res := decodeEcho(t, invoke(t, svc, "Env", `{"environ":true}`))
	env := map[string]string{}
	for _, kv := range res.Environ {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	want := map[string]string{
		"FOO": "bar", "WITH_EQUALS": "a=b", "SHARED": "function's", "COMMON_ONLY": "1",
		"AWS_LAMBDA_FUNCTION_NAME": "Env", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_LAMBDA_FUNCTION_TIMEOUT": "7", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
		"AWS_REGION": sfnlocal.LocalRegion, "AWS_DEFAULT_REGION": sfnlocal.LocalRegion,
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
	if !strings.HasPrefix(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:") {
		t.Errorf("AWS_LAMBDA_RUNTIME_API=%q", env["AWS_LAMBDA_RUNTIME_API"])
	}
	// Beyond those, only what the emulator adds for every runtime.
	emulatorAdds := []string{"AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "_HANDLER", "_X_AMZN_TRACE_ID",
		"AWS_LAMBDA_METADATA_API", "AWS_LAMBDA_METADATA_TOKEN"}
	for k := range env {
		if _, ok := want[k]; !ok && !slices.Contains(emulatorAdds, k) {
			t.Errorf("unexpected variable %s=%q in the function's environment", k, env[k])
		}
	}
	if res.MemoryMB != 256 || res.FunctionName != "Env" {
		t.Errorf("lambdacontext: memory %d MB, name %q", res.MemoryMB, res.FunctionName)
	}
	if res.DeadlineMs < 6000 || res.DeadlineMs > 7000 {
		t.Errorf("deadline %d ms away, want about 7000", res.DeadlineMs)
	}

	for _, bad := range []lambdalocal.Function{
		{Name: "R", Bootstrap: echoBinary, Environment: map[string]string{"AWS_REGION": "eu-west-1"}},
		{Name: "M", Bootstrap: echoBinary, Environment: map[string]string{"AWS_LAMBDA_MAX_CONCURRENCY": "4"}},
		{Name: "bad name", Bootstrap: echoBinary},
		{Name: "B", Bootstrap: echoBinary, Package: "./x"},
		{Name: "T", Bootstrap: echoBinary, Timeout: 901 * time.Second},
		{Name: "D", Bootstrap: echoBinary, Async: lambdalocal.AsyncConfig{OnFailure: "Missing"}},
		{Name: "X", Bootstrap: echoBinary, Async: lambdalocal.AsyncConfig{MaximumRetryAttempts: lambdalocal.Retries(3)}},
	} {
		if s, err := lambdalocal.New(context.Background(), lambdalocal.Config{Emulator: emulator, Root: repoRoot, Functions: []lambdalocal.Function{bad}}); err == nil {
			_ = s.Close()
			t.Errorf("New accepted %+v", bad)
		}
	}
}

// logLine is a line testdata/echo appends to $ECHO_LOG per invocation.
type logLine struct {
	UnixNano  int64           `json:"unixNano"`
	PID       int             `json:"pid"`
	RequestID string          `json:"requestId"`
	Event     json.RawMessage `json:"event"`
}

func readLog(t *testing.T, path string) []logLine {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []logLine
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l logLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, l)
	}
	return out
}

func waitAsync(t *testing.T, svc *lambdalocal.Service) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := svc.WaitAsync(ctx); err != nil {
		t.Fatal(err)
	}
}

// decodeRecord checks that a destination's event is exactly Lambda's
// invocation record (no other field) and decodes it.
func decodeRecord(t *testing.T, raw []byte, withResponse bool) lambdalocal.InvocationRecord {
	t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range fields {
			if !yield(k) {
				return
			}
		}
	})
	want := []string{"requestContext", "requestPayload", "timestamp", "version"}
	if withResponse {
		want = []string{"requestContext", "requestPayload", "responseContext", "responsePayload", "timestamp", "version"}
	}
	if !slices.Equal(keys, want) {
		t.Errorf("record fields %v, want %v: %s", keys, want, raw)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var rec lambdalocal.InvocationRecord
	if err := dec.Decode(&rec); err != nil {
		t.Fatalf("decode record %s: %v", raw, err)
	}
	if rec.Version != "1.0" {
		t.Errorf("version %q", rec.Version)
	}
	ts, err := time.Parse("2006-01-02T15:04:05.000Z", rec.Timestamp)
	if err != nil || time.Since(ts) > time.Minute || time.Since(ts) < 0 {
		t.Errorf("timestamp %q: %v", rec.Timestamp, err)
	}
	return rec
}

// An Event invocation that keeps failing is retried MaximumRetryAttempts
// times, the configured delays apart, with the same request id; then the
// OnFailure function receives Lambda's record of it.
func TestEventRetriesThenOnFailure(t *testing.T) {
	dir := t.TempDir()
	failing := echo(t, "Failing")
	failing.Environment = map[string]string{"ECHO_LOG": filepath.Join(dir, "failing.log")}
	failing.Async = lambdalocal.AsyncConfig{MaximumRetryAttempts: lambdalocal.Retries(2), OnFailure: sfnlocal.LocalARN("Sink")}
	crashing := echo(t, "Crashing")
	crashing.Environment = map[string]string{"ECHO_LOG": filepath.Join(dir, "crashing.log")}
	crashing.Async = lambdalocal.AsyncConfig{MaximumRetryAttempts: lambdalocal.Retries(1), OnFailure: "Sink"}
	once := echo(t, "Once")
	once.Environment = map[string]string{"ECHO_LOG": filepath.Join(dir, "once.log")}
	once.Async = lambdalocal.AsyncConfig{MaximumRetryAttempts: lambdalocal.Retries(0), OnFailure: "Sink"}
	sink := echo(t, "Sink")
	sink.Environment = map[string]string{"ECHO_LOG": filepath.Join(dir, "sink.log")}
	delays := []time.Duration{300 * time.Millisecond, 600 * time.Millisecond}
	svc := newService(t, lambdalocal.Config{
		Functions:   []lambdalocal.Function{failing, crashing, once, sink},
		RetryDelays: delays,
	})
	c := client(t, svc)

	payload := `{"error":"boom","job":{"tenantId":"t1","syncId":"s1"}}`
	out, err := c.Invoke(context.Background(), &lambda.InvokeInput{
		FunctionName: aws.String("Failing"), InvocationType: types.InvocationTypeEvent, Payload: []byte(payload),
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.StatusCode != http.StatusAccepted {
		t.Fatalf("Event invocation: status %d", out.StatusCode)
	}
	waitAsync(t, svc)

	attempts := readLog(t, filepath.Join(dir, "failing.log"))
	if len(attempts) != 3 {
		t.Fatalf("%d attempts, want 3 (1 + MaximumRetryAttempts 2)", len(attempts))
	}
	for i, a := range attempts {
		if a.RequestID != attempts[0].RequestID || !jsonEqual(t, a.Event, []byte(payload)) {
			t.Errorf("attempt %d: request id %s event %s", i+1, a.RequestID, a.Event)
		}
		if i > 0 {
			gap := time.Duration(a.UnixNano - attempts[i-1].UnixNano)
			if gap < delays[i-1] || gap > delays[i-1]+2*time.Second {
				t.Errorf("retry %d came %s after the previous attempt, want about %s", i, gap, delays[i-1])
			}
		}
	}

	sunk := readLog(t, filepath.Join(dir, "sink.log"))
	if len(sunk) != 1 {
		t.Fatalf("OnFailure invoked %d times, want 1", len(sunk))
	}
	rec := decodeRecord(t, sunk[0].Event, true)
	wantCtx := lambdalocal.RecordRequestContext{
		RequestID: attempts[0].RequestID, FunctionARN: sfnlocal.LocalARN("Failing") + ":$LATEST",
		Condition: "RetriesExhausted", ApproximateInvokeCount: 3,
	}
	if rec.RequestContext != wantCtx {
		t.Errorf("requestContext %+v, want %+v", rec.RequestContext, wantCtx)
	}
	if !jsonEqual(t, rec.RequestPayload, []byte(payload)) {
		t.Errorf("requestPayload %s", rec.RequestPayload)
	}
	if rec.ResponseContext == nil || *rec.ResponseContext != (lambdalocal.RecordResponseContext{StatusCode: 200, ExecutedVersion: "$LATEST", FunctionError: "Unhandled"}) {
		t.Errorf("responseContext %+v", rec.ResponseContext)
	}
	if !jsonEqual(t, rec.ResponsePayload, []byte(`{"errorType":"EchoError","errorMessage":"boom"}`)) {
		t.Errorf("responsePayload %s", rec.ResponsePayload)
	}

	// A crash is a failed attempt too; each retry runs in a fresh process.
	id, err := svc.InvokeAsync("Crashing", []byte(`{"exit":2}`))
	if err != nil {
		t.Fatal(err)
	}
	// No retry at all with MaximumRetryAttempts 0.
	if _, err := svc.InvokeAsync("Once", []byte(`{"error":"once"}`)); err != nil {
		t.Fatal(err)
	}
	waitAsync(t, svc)
	crashes := readLog(t, filepath.Join(dir, "crashing.log"))
	if len(crashes) != 2 || crashes[0].PID == crashes[1].PID || crashes[0].RequestID != id {
		t.Errorf("crash attempts %+v, want 2 in different processes with request id %s", crashes, id)
	}
	if n := len(readLog(t, filepath.Join(dir, "once.log"))); n != 1 {
		t.Errorf("MaximumRetryAttempts 0: %d attempts", n)
	}
	sunk = readLog(t, filepath.Join(dir, "sink.log"))
	if len(sunk) != 3 {
		t.Fatalf("OnFailure invoked %d times, want 3", len(sunk))
	}
	byFunction := map[string]lambdalocal.InvocationRecord{}
	for _, s := range sunk[1:] {
		r := decodeRecord(t, s.Event, true)
		byFunction[r.RequestContext.FunctionARN] = r
	}
	cr := byFunction[sfnlocal.LocalARN("Crashing")+":$LATEST"]
	var doc struct {
		ErrorType string `json:"errorType"`
	}
	_ = json.Unmarshal(cr.ResponsePayload, &doc)
	if cr.RequestContext.ApproximateInvokeCount != 2 || cr.RequestContext.Condition != "RetriesExhausted" || doc.ErrorType != "Runtime.ExitError" {
		t.Errorf("crash record %+v %s", cr.RequestContext, cr.ResponsePayload)
	}
	if r := byFunction[sfnlocal.LocalARN("Once")+":$LATEST"]; r.RequestContext.ApproximateInvokeCount != 1 {
		t.Errorf("MaximumRetryAttempts 0 record %+v", r.RequestContext)
	}
}

// An event that waits longer than MaximumEventAge (here: the function's one
// instance is busy) is not run; OnFailure gets it as EventAgeExceeded.
func TestEventAgeExceeded(t *testing.T) {
	dir := t.TempDir()
	busy := echo(t, "Busy")
	busy.MaxConcurrency = 1
	busy.Environment = map[string]string{"ECHO_LOG": filepath.Join(dir, "busy.log")}
	busy.Async = lambdalocal.AsyncConfig{MaximumEventAge: time.Second, OnFailure: "Sink"}
	sink := echo(t, "Sink")
	sink.Environment = map[string]string{"ECHO_LOG": filepath.Join(dir, "sink.log")}
	svc := newService(t, lambdalocal.Config{Functions: []lambdalocal.Function{busy, sink}})

	done := make(chan *lambdalocal.Result, 1)
	go func() {
		res, err := svc.Invoke(context.Background(), "Busy", []byte(`{"sleepMs":2500}`))
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	deadline := time.Now().Add(10 * time.Second)
	for len(readLog(t, filepath.Join(dir, "busy.log"))) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first invocation did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	event := `{"marker":"too late"}`
	queued := time.Now()
	id, err := svc.InvokeAsync("Busy", []byte(event))
	if err != nil {
		t.Fatal(err)
	}
	for len(readLog(t, filepath.Join(dir, "sink.log"))) == 0 {
		if time.Since(queued) > 10*time.Second {
			t.Fatal("OnFailure was not invoked")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if waited := time.Since(queued); waited < time.Second || waited > 3*time.Second {
		t.Errorf("the event was given up after %s, want about 1 s", waited)
	}
	if res := <-done; res == nil || res.FunctionError != "" {
		t.Errorf("the busy invocation: %+v", res)
	}
	waitAsync(t, svc)
	if ran := readLog(t, filepath.Join(dir, "busy.log")); len(ran) != 1 {
		t.Errorf("Busy ran %d times, want 1: the expired event must not run", len(ran))
	}
	sunk := readLog(t, filepath.Join(dir, "sink.log"))
	if len(sunk) != 1 {
		t.Fatalf("OnFailure invoked %d times", len(sunk))
	}
	rec := decodeRecord(t, sunk[0].Event, false)
	want := lambdalocal.RecordRequestContext{RequestID: id, FunctionARN: sfnlocal.LocalARN("Busy") + ":$LATEST", Condition: "EventAgeExceeded"}
	if rec.RequestContext != want {
		t.Errorf("requestContext %+v, want %+v", rec.RequestContext, want)
	}
	if !jsonEqual(t, rec.RequestPayload, []byte(event)) {
		t.Errorf("requestPayload %s", rec.RequestPayload)
	}
}

// Functions the service does not run are served by Fallback (an in-process
// sfnlocal.InvokeServer), destinations included.
func TestFallback(t *testing.T) {
	inProcess := sfnlocal.NewInvokeServer(nil)
	records := make(chan json.RawMessage, 1)
	inProcess.Register(sfnlocal.LocalARN("FinalizeFunction"), sfnlocal.JSONFunction(func(_ context.Context, in json.RawMessage) (string, error) {
		records <- in
		return "ok", nil
	}))
	t.Cleanup(func() { _ = inProcess.Close() })
	worker := echo(t, "Worker")
	worker.Async = lambdalocal.AsyncConfig{MaximumRetryAttempts: lambdalocal.Retries(0), OnFailure: sfnlocal.LocalARN("FinalizeFunction")}
	svc := newService(t, lambdalocal.Config{Functions: []lambdalocal.Function{worker}, Fallback: inProcess})
	c := client(t, svc)

	out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(sfnlocal.LocalARN("FinalizeFunction")), Payload: []byte(`{"direct":true}`)})
	if err != nil || out.FunctionError != nil || string(out.Payload) != `"ok"` {
		t.Fatalf("in-process function through the fallback: %v %s", err, out.Payload)
	}
	<-records

	if _, err := svc.InvokeAsync("Worker", []byte(`{"error":"lost"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case raw := <-records:
		rec := decodeRecord(t, raw, true)
		if rec.RequestContext.Condition != "RetriesExhausted" || rec.RequestContext.ApproximateInvokeCount != 1 {
			t.Errorf("record %s", raw)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the in-process destination got no record")
	}
}

func pidsOf(svc *lambdalocal.Service) []int {
	var pids []int
	for _, in := range svc.Instances() {
		pids = append(pids, in.PID)
		pids = append(pids, in.Runtime...)
	}
	return pids
}

func waitGone(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for lambdalocal.Running(pid) {
			if time.Now().After(deadline) {
				t.Errorf("process %d still runs", pid)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// Close kills every emulator and bootstrap, idle or busy, and an
// invocation in flight ends with an error.
func TestCloseLeavesNoProcess(t *testing.T) {
	setup(t)
	a, b := echo(t, "A"), echo(t, "B")
	a.MaxConcurrency = 3
	svc, err := lambdalocal.New(context.Background(), lambdalocal.Config{
		Emulator: emulator, Root: repoRoot, Functions: []lambdalocal.Function{a, b},
	})
	if err != nil {
		t.Fatal(err)
	}
	concurrently(t, svc, "A", 3, `{"sleepMs":300}`)
	decodeEcho(t, invoke(t, svc, "B", `{}`))
	inFlight := make(chan error, 1)
	go func() {
		_, err := svc.Invoke(context.Background(), "B", []byte(`{"sleepMs":8000}`))
		inFlight <- err
	}()
	// Wait until the long invocation runs, on B's warm instance.
	deadline := time.Now().Add(10 * time.Second)
	for {
		busy := 0
		for _, in := range svc.Instances() {
			if in.Busy && len(in.Runtime) > 0 {
				busy++
			}
		}
		if busy == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the long invocation did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	instances := svc.Instances()
	if len(instances) != 4 {
		t.Fatalf("%d instances, want 4: %+v", len(instances), instances)
	}
	var emulators, runtimes []int
	for _, in := range instances {
		emulators = append(emulators, in.PID)
		if len(in.Runtime) != 1 {
			t.Errorf("instance %s[%d] has runtime processes %v, want 1", in.Function, in.Seq, in.Runtime)
		}
		runtimes = append(runtimes, in.Runtime...)
	}
	for _, pid := range append(slices.Clone(emulators), runtimes...) {
		if !lambdalocal.Running(pid) {
			t.Fatalf("process %d is not running before Close", pid)
		}
	}

	start := time.Now()
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Close of 4 instances: %s", time.Since(start).Round(time.Millisecond))
	for _, pid := range emulators {
		if lambdalocal.Running(pid) {
			t.Errorf("emulator %d still runs after Close", pid)
		}
	}
	for _, pid := range runtimes {
		if lambdalocal.Running(pid) {
			t.Errorf("bootstrap %d still runs after Close", pid)
		}
	}
	select {
	case err := <-inFlight:
		if err == nil {
			t.Error("the invocation in flight succeeded across Close")
		}
	case <-time.After(3 * time.Second):
		t.Error("the invocation in flight did not end with Close")
	}
	if len(svc.Instances()) != 0 {
		t.Errorf("instances after Close: %+v", svc.Instances())
	}
	if _, err := svc.Invoke(context.Background(), "A", []byte(`{}`)); err == nil {
		t.Error("Invoke after Close succeeded")
	}
	if _, err := svc.InvokeAsync("A", []byte(`{}`)); err == nil {
		t.Error("InvokeAsync after Close succeeded")
	}
	if err := svc.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

const orphanChildEnv = "LAMBDALOCAL_ORPHAN_CHILD"

// orphanChild runs in a child process of TestParentDeathLeavesNoProcess: it
// starts two instances, prints their processes and waits to be killed.
func orphanChild() {
	var paths struct{ Emulator, Echo, Root string }
	if err := json.Unmarshal([]byte(os.Getenv(orphanChildEnv)), &paths); err != nil {
		panic(err)
	}
	fn := lambdalocal.Function{Name: "Echo", Bootstrap: paths.Echo, MaxConcurrency: 2}
	svc, err := lambdalocal.New(context.Background(), lambdalocal.Config{Emulator: paths.Emulator, Root: paths.Root, Functions: []lambdalocal.Function{fn}})
	if err != nil {
		panic(err)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, err := svc.Invoke(context.Background(), "Echo", []byte(`{"sleepMs":300}`)); err != nil {
				panic(err)
			}
		})
	}
	wg.Wait()
	var pids []int
	for _, in := range svc.Instances() {
		pids = append(pids, in.PID)
		pids = append(pids, in.Runtime...)
	}
	out, _ := json.Marshal(pids)
	fmt.Println(string(out))
	select {} // until killed
}

// A process that dies without Close (a test binary killed at its timeout,
// a crashed dev server) leaves no emulator and no bootstrap behind: each
// emulator gets SIGTERM when its parent dies and kills its bootstrap.
func TestParentDeathLeavesNoProcess(t *testing.T) {
	setup(t)
	paths, _ := json.Marshal(struct{ Emulator, Echo, Root string }{emulator, echoBinary, repoRoot})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), orphanChildEnv+"="+string(paths))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child: %v", err)
	}
	var pids []int
	if err := json.Unmarshal([]byte(line), &pids); err != nil {
		t.Fatalf("child printed %q: %v", line, err)
	}
	if len(pids) != 4 {
		t.Errorf("child processes %v, want 2 emulators and 2 bootstraps", pids)
	}
	for _, pid := range pids {
		if !lambdalocal.Running(pid) {
			t.Fatalf("process %d is not running", pid)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitGone(t, pids)
}

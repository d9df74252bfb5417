package sfnlocal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"

	"dirsync/internal/canonjson"
	"dirsync/local/dynamolocal"
)

// Execution statuses, as Step Functions names them.
const (
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusAborted   = "ABORTED"
)

// ErrorRunnerExited is the Error of an execution that was running when the
// Node process ended.
const ErrorRunnerExited = "Local.RunnerExited"

// ErrorDataLimitExceeded is the Error of an execution that a payload over
// MaxPayloadBytes failed, as Step Functions names it.
const ErrorDataLimitExceeded = "States.DataLimitExceeded"

// Errors of the Runner, checked with errors.Is.
var (
	// ErrExecutionAlreadyExists: the name was started before with another
	// input (the Step Functions API answers ExecutionAlreadyExists).
	ErrExecutionAlreadyExists = errors.New("execution already exists")
	// ErrExecutionDoesNotExist: no execution has this id.
	ErrExecutionDoesNotExist = errors.New("execution does not exist")
	// ErrInvalidName: the execution name breaks Step Functions' naming rules.
	ErrInvalidName = errors.New("invalid execution name")
	// ErrInvalidInput: the input is not JSON or is over 256 KiB.
	ErrInvalidInput = errors.New("invalid execution input")
	// ErrRunnerClosed: the Node process has ended (Close, or it died).
	ErrRunnerClosed = errors.New("state machine runner is not running")
)

// MaxPayloadBytes is Step Functions' quota on an execution's input and on
// every state's input and output, in bytes of UTF-8 JSON; a payload of
// exactly this size is allowed.
const MaxPayloadBytes = 256 * 1024

// Result is how an execution ended.
type Result struct {
	Status string          // SUCCEEDED, FAILED or ABORTED
	Output json.RawMessage // SUCCEEDED only
	Error  string          // FAILED: the error name (e.g. ApplyFailed)
	Cause  string          // FAILED: the cause; ABORTED: the cause given to Stop
}

// RunnerConfig configures NewRunner.
type RunnerConfig struct {
	// Root is the repository root holding local/ (found from the working
	// directory when empty).
	Root string
	// Definition is the ASL definition, e.g. from DefinitionFromTemplate.
	Definition []byte
	// InvokeURL is the Lambda endpoint the Task states call (InvokeServer.URL).
	InvokeURL string
	// Credentials sign the Task states' Invoke calls: the state machine's
	// role, where the endpoint checks IAM; zero = dummy "local" keys.
	Credentials aws.Credentials
	// StateMachineName names the state machine in execution ids
	// (default ApplyStateMachine).
	StateMachineName string
	// RetryPause, when positive, replaces the pause before every retry of
	// every Retry field (IntervalSeconds, BackoffRate, MaxDelaySeconds and
	// JitterStrategy then play no part), so long backoffs can be cut short.
	RetryPause time.Duration
	// Logger receives Node's stderr (nil discards).
	Logger *slog.Logger
}

// Runner executes one state machine definition with aws-local-stepfunctions
// in a single long-running Node process and follows its executions. Its
// Start and Stop behave like Step Functions' StartExecution and
// StopExecution on a STANDARD state machine, and it enforces Step Functions'
// payload quota as AWS does: Start refuses an input over MaxPayloadBytes, and
// a state's input or output, a Task's result, or what a Map or Parallel state
// collects over it fails the state with ErrorDataLimitExceeded, which
// States.ALL does not catch or retry (a rule naming the error does).
type Runner struct {
	logger    *slog.Logger
	idPrefix  string
	cmd       *exec.Cmd
	stdin     io.WriteCloser
	writeMu   sync.Mutex
	stderr    *stderrLog
	dead      chan struct{} // closed once the process has ended and executions are settled
	ready     chan error    // init answer
	closeOnce sync.Once

	mu         sync.Mutex
	executions map[string]*execution // by name
	exitErr    error                 // why the process ended, once it has
}

type execution struct {
	name, id  string
	input     []byte        // canonical JSON
	started   chan struct{} // closed when Node accepted or refused the start
	startErr  error
	done      chan struct{} // closed with result set
	result    Result
	stopCause string
}

// NewRunner installs the npm tooling if needed, starts Node with the
// definition and returns once it is ready to start executions.
func NewRunner(ctx context.Context, cfg RunnerConfig) (*Runner, error) {
	if cfg.InvokeURL == "" {
		return nil, errors.New("sfnlocal: RunnerConfig.InvokeURL is required")
	}
	root := cfg.Root
	if root == "" {
		var err error
		if root, err = dynamolocal.RepoRoot(); err != nil {
			return nil, fmt.Errorf("sfnlocal: %w", err)
		}
	}
	if err := dynamolocal.EnsureTooling(ctx, root); err != nil {
		return nil, fmt.Errorf("sfnlocal: %w", err)
	}
	definition, err := localDefinition(cfg.Definition)
	if err != nil {
		return nil, err
	}
	name := cfg.StateMachineName
	if name == "" {
		name = "ApplyStateMachine"
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	localDir := filepath.Join(root, "local")
	polyfill := url.URL{Scheme: "file", Path: filepath.Join(localDir, "polyfill.mjs")}
	// Not CommandContext: the process outlives the start-up context.
	cmd := exec.Command("node", "--import", polyfill.String(), filepath.Join(localDir, "sfn-runner.mjs"))
	cmd.Dir = localDir
	cmd.Env = nodeEnv(cfg.InvokeURL, cfg.Credentials)
	// Own process group, killed with us: Ctrl-C or a test's end never leaves Node behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("sfnlocal: node stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("sfnlocal: node stdout: %w", err)
	}
	r := &Runner{
		logger:     logger,
		idPrefix:   "arn:aws:states:" + LocalRegion + ":" + LocalAccountID + ":execution:" + name + ":",
		cmd:        cmd,
		stdin:      stdin,
		stderr:     &stderrLog{logger: logger},
		dead:       make(chan struct{}),
		ready:      make(chan error, 1),
		executions: map[string]*execution{},
	}
	cmd.Stderr = r.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("sfnlocal: start node (Node.js 20 or later must be installed): %w", err)
	}
	go r.read(stdout)

	initMsg := map[string]any{
		"op":              "init",
		"definition":      json.RawMessage(definition),
		"retryPauseMs":    cfg.RetryPause.Milliseconds(),
		"maxPayloadBytes": MaxPayloadBytes,
		"stateMachine": map[string]string{
			"Id":   "arn:aws:states:" + LocalRegion + ":" + LocalAccountID + ":stateMachine:" + name,
			"Name": name,
		},
	}
	if cfg.RetryPause > 0 && cfg.RetryPause < time.Millisecond {
		initMsg["retryPauseMs"] = 1
	}
	if err := r.send(initMsg); err != nil {
		r.Close()
		return nil, err
	}
	select {
	case err := <-r.ready:
		if err != nil {
			r.Close()
			return nil, err
		}
		return r, nil
	case <-ctx.Done():
		r.Close()
		return nil, fmt.Errorf("sfnlocal: waiting for node to start: %w", ctx.Err())
	}
}

// nodeEnv is our environment without AWS settings that could send the
// runner's Lambda calls elsewhere, plus the local endpoint and the
// credentials to sign them with.
func nodeEnv(invokeURL string, creds aws.Credentials) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	if creds.AccessKeyID == "" {
		creds = aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"}
	}
	if creds.SessionToken != "" {
		env = append(env, "AWS_SESSION_TOKEN="+creds.SessionToken)
	}
	return append(env,
		"AWS_ENDPOINT_URL_LAMBDA="+invokeURL,
		"AWS_ACCESS_KEY_ID="+creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey,
		"AWS_REGION="+LocalRegion,
		"AWS_EC2_METADATA_DISABLED=true",
		// The SDK is pinned by package-lock.json, so its notice that later
		// releases will need Node 22 is noise here.
		"AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true",
	)
}

// ExecutionID is the id of the execution named name.
func (r *Runner) ExecutionID(name string) string { return r.idPrefix + name }

// Start starts an execution named name with input and returns its id.
// Starting a name again with the same input (compared as JSON values)
// returns the same id and starts nothing, even after the execution ended;
// another input is ErrExecutionAlreadyExists.
func (r *Runner) Start(ctx context.Context, name string, input []byte) (string, error) {
	if err := validateName(name); err != nil {
		return "", err
	}
	if len(bytes.TrimSpace(input)) == 0 {
		input = []byte("{}")
	}
	if len(input) > MaxPayloadBytes {
		return "", fmt.Errorf("sfnlocal: %w: %d bytes, the limit is %d", ErrInvalidInput, len(input), MaxPayloadBytes)
	}
	canonical, err := canonjson.Encode(input)
	if err != nil {
		return "", fmt.Errorf("sfnlocal: %w: %v", ErrInvalidInput, err)
	}

	r.mu.Lock()
	if e, ok := r.executions[name]; ok {
		r.mu.Unlock()
		if !bytes.Equal(e.input, canonical) {
			return "", fmt.Errorf("sfnlocal: start %s: %w", name, ErrExecutionAlreadyExists)
		}
		return r.awaitStart(ctx, e)
	}
	if r.exitErr != nil {
		r.mu.Unlock()
		return "", fmt.Errorf("sfnlocal: start %s: %w: %v", name, ErrRunnerClosed, r.exitErr)
	}
	e := &execution{name: name, id: r.ExecutionID(name), input: canonical, started: make(chan struct{}), done: make(chan struct{})}
	r.executions[name] = e
	r.mu.Unlock()

	if err := r.send(map[string]any{"op": "start", "name": name, "id": e.id, "input": json.RawMessage(input)}); err != nil {
		// The process is gone; read() settles e when it notices.
		return "", fmt.Errorf("sfnlocal: start %s: %w", name, err)
	}
	return r.awaitStart(ctx, e)
}

func (r *Runner) awaitStart(ctx context.Context, e *execution) (string, error) {
	select {
	case <-e.started:
		if e.startErr != nil {
			return "", fmt.Errorf("sfnlocal: start %s: %w", e.name, e.startErr)
		}
		return e.id, nil
	case <-ctx.Done():
		return "", fmt.Errorf("sfnlocal: start %s: %w", e.name, ctx.Err())
	}
}

// Stop stops a running execution; it ends ABORTED with cause. Stopping an
// execution that already ended, or that does not exist, is not an error
// (the AWS adapter treats the latter the same way).
func (r *Runner) Stop(ctx context.Context, executionID, cause string) error {
	e := r.lookup(executionID)
	if e == nil {
		return nil
	}
	select {
	case <-e.started:
	case <-ctx.Done():
		return fmt.Errorf("sfnlocal: stop %s: %w", e.name, ctx.Err())
	}
	if e.startErr != nil {
		return nil
	}
	r.mu.Lock()
	if e.stopCause == "" {
		e.stopCause = cause
	}
	r.mu.Unlock()
	select {
	case <-e.done:
		return nil
	default:
	}
	// If the process is gone the execution is settled as failed, which also
	// answers the stop.
	_ = r.send(map[string]any{"op": "stop", "name": e.name})
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sfnlocal: stop %s: %w", e.name, ctx.Err())
	}
}

// Wait returns how the execution ended, waiting for it as long as ctx allows.
func (r *Runner) Wait(ctx context.Context, executionID string) (Result, error) {
	e := r.lookup(executionID)
	if e == nil {
		return Result{}, fmt.Errorf("sfnlocal: wait %s: %w", executionID, ErrExecutionDoesNotExist)
	}
	select {
	case <-e.done:
		return e.result, nil
	case <-ctx.Done():
		return Result{}, fmt.Errorf("sfnlocal: wait %s: %w", e.name, ctx.Err())
	}
}

// Status reports an execution's status without waiting: RUNNING, or how it
// ended.
func (r *Runner) Status(executionID string) (Result, error) {
	e := r.lookup(executionID)
	if e == nil {
		return Result{}, fmt.Errorf("sfnlocal: status %s: %w", executionID, ErrExecutionDoesNotExist)
	}
	select {
	case <-e.done:
		return e.result, nil
	default:
		return Result{Status: StatusRunning}, nil
	}
}

// Done is closed once the Node process has ended (Close, or it died).
func (r *Runner) Done() <-chan struct{} { return r.dead }

// Close ends the Node process and its process group. Executions still
// running end FAILED with Error ErrorRunnerExited.
func (r *Runner) Close() error {
	r.closeOnce.Do(func() {
		r.mu.Lock()
		if r.exitErr == nil {
			r.exitErr = ErrRunnerClosed
		}
		r.mu.Unlock()
		_ = r.stdin.Close() // Node exits when its stdin closes
		select {
		case <-r.dead:
		case <-time.After(2 * time.Second):
		}
		// The whole group, in case anything outlived Node's own exit.
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	})
	<-r.dead
	return nil
}

func (r *Runner) lookup(executionID string) *execution {
	name, ok := strings.CutPrefix(executionID, r.idPrefix)
	if !ok {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.executions[name]
}

func (r *Runner) send(msg any) error {
	line, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("sfnlocal: encode message for node: %w", err)
	}
	line = append(line, '\n')
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if _, err := r.stdin.Write(line); err != nil {
		return fmt.Errorf("sfnlocal: write to node: %w: %v", ErrRunnerClosed, err)
	}
	return nil
}

// event is one line Node writes on stdout.
type event struct {
	Event  string          `json:"event"`
	Name   string          `json:"name"`
	Output json.RawMessage `json:"output"`
	Error  string          `json:"error"`
	Cause  string          `json:"cause"`
}

// read follows Node's stdout until it closes, then reaps the process and
// settles every execution still running.
func (r *Runner) read(stdout io.Reader) {
	br := bufio.NewReaderSize(stdout, 64*1024)
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			r.handle(line)
		}
		if err != nil {
			break
		}
	}
	waitErr := r.cmd.Wait()
	r.mu.Lock()
	reason := r.exitErr
	if reason == nil {
		reason = fmt.Errorf("node exited unexpectedly (%v)", waitErr)
		if tail := r.stderr.tail(); tail != "" {
			reason = fmt.Errorf("%w; its last output: %s", reason, tail)
		}
		r.exitErr = reason
	}
	for _, e := range r.executions {
		r.settleStart(e, fmt.Errorf("%w: %v", ErrRunnerClosed, reason))
		r.settle(e, Result{Status: StatusFailed, Error: ErrorRunnerExited,
			Cause: "the local state machine runner ended before the execution did: " + reason.Error()})
	}
	r.mu.Unlock()
	r.answerInit(fmt.Errorf("sfnlocal: node ended before it was ready: %w", reason))
	close(r.dead)
}

// answerInit hands NewRunner the first answer to init; later ones are moot.
func (r *Runner) answerInit(err error) {
	select {
	case r.ready <- err:
	default:
	}
}

func (r *Runner) handle(line []byte) {
	var ev event
	if err := json.Unmarshal(line, &ev); err != nil || ev.Event == "" {
		r.logger.Warn("sfnlocal: unexpected output from the runner", "line", string(line))
		return
	}
	switch ev.Event {
	case "ready":
		r.answerInit(nil)
		return
	case "initFailed":
		r.answerInit(fmt.Errorf("sfnlocal: the runner refused the definition: %s", ev.Error))
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.executions[ev.Name]
	if !ok {
		r.logger.Warn("sfnlocal: event for an unknown execution", "event", ev.Event, "name", ev.Name)
		return
	}
	switch ev.Event {
	case "started":
		r.settleStart(e, nil)
	case "startFailed":
		r.settleStart(e, errors.New(ev.Error))
		delete(r.executions, e.name) // never ran: the name is free again
	case "succeeded":
		r.settle(e, Result{Status: StatusSucceeded, Output: ev.Output})
	case "failed":
		r.settle(e, Result{Status: StatusFailed, Error: ev.Error, Cause: ev.Cause})
	case "aborted":
		r.settle(e, Result{Status: StatusAborted, Cause: e.stopCause})
	default:
		r.logger.Warn("sfnlocal: unknown event from the runner", "event", ev.Event, "name", ev.Name)
	}
}

// settleStart and settle are called with r.mu held; each takes effect once.
func (r *Runner) settleStart(e *execution, err error) {
	select {
	case <-e.started:
	default:
		e.startErr = err
		close(e.started)
	}
}

func (r *Runner) settle(e *execution, res Result) {
	select {
	case <-e.done:
	default:
		e.result = res
		close(e.done)
	}
}

// validateName applies Step Functions' rules for execution names.
func validateName(name string) error {
	if n := len([]rune(name)); n < 1 || n > 80 {
		return fmt.Errorf("sfnlocal: %w: %q must be 1 to 80 characters", ErrInvalidName, name)
	}
	for _, c := range name {
		if unicode.IsSpace(c) || unicode.IsControl(c) || strings.ContainsRune(`<>{}[]?*"#%\^|~`+"`"+`$&,;:/`, c) {
			return fmt.Errorf("sfnlocal: %w: %q contains %q", ErrInvalidName, name, c)
		}
	}
	return nil
}

// stderrLog sends Node's stderr to the logger line by line and keeps the
// last lines to explain an unexpected exit.
type stderrLog struct {
	logger  *slog.Logger
	mu      sync.Mutex
	partial []byte
	last    []string
}

func (s *stderrLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimRight(string(s.partial[:i]), "\r")
		s.partial = s.partial[i+1:]
		if line == "" {
			continue
		}
		s.logger.Warn("sfnlocal: runner stderr", "line", line)
		s.last = append(s.last, line)
		if len(s.last) > 10 {
			s.last = s.last[1:]
		}
	}
	return len(p), nil
}

func (s *stderrLog) tail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.last, " | ")
}

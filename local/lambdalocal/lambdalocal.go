// Package lambdalocal is a local AWS Lambda service: each function runs as
// its real bootstrap binary under the AWS Lambda Runtime Interface Emulator
// (aws-lambda-rie, outside any container), with its environment, timeout and
// memory, and is reached through the Lambda Invoke API as the AWS SDK calls
// it.
//
//   - Each function has a pool of emulator processes ("instances"), each an
//     `aws-lambda-rie <bootstrap>` on free loopback ports serving one
//     invocation at a time, as a Lambda execution environment does. More
//     start as concurrency needs, up to Function.MaxConcurrency; an instance
//     whose invocation timed out or whose runtime crashed is killed, and the
//     next invocation starts a fresh one.
//   - Service.ServeHTTP answers POST /2015-03-31/functions/{name or ARN}/invocations:
//     RequestResponse (the result, or a function error with
//     X-Amz-Function-Error: Unhandled and its {errorType, errorMessage}
//     document; a timeout is errorType Sandbox.Timedout), Event (202, queued)
//     and DryRun (204).
//   - Event invocations go through a queue per function applying the
//     function's EventInvokeConfig: retries after a function error, a
//     timeout or a crash, the maximum event age, and the OnFailure (and
//     OnSuccess) destination, which receives Lambda's invocation record.
//   - Close kills every process it started.
//
// Wiring, as the local stack (local/localstack) does it:
//
//	deployed, err := samtemplate.Transform(ctx, "template.yaml", opts) // names: samtemplate.LogicalIDNames
//	fns, err := lambdalocal.FunctionsFromTemplate(deployed, source)
//	// per function: fns[i].Environment gets the local endpoints
//	// (AWS_ENDPOINT_URL_DYNAMODB, ...) and credentials
//	svc, err := lambdalocal.New(ctx, lambdalocal.Config{Root: root, Functions: fns,
//		Fallback: inProcessInvokeServer, Output: os.Stderr, Logger: logger})
//	defer svc.Close()
//	mux.Handle("/2015-03-31/functions/", svc) // or url, err := svc.Start(ctx)
//	// AWS_ENDPOINT_URL_LAMBDA=<the server's URL> for the state machine
//	// runner and for functions that invoke others.
//
// The emulator is pinned in go.mod (tool directive) and built on demand by
// EnsureEmulator into .build/tools; New does that unless Config.Emulator is
// given.
package lambdalocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"dirsync/local/dynamolocal"
	"dirsync/local/sfnlocal"
)

// Function is one Lambda function of the local service.
type Function struct {
	// Name is the function's name: the Invoke API accepts it or ARN, and
	// the function sees it as AWS_LAMBDA_FUNCTION_NAME. The local stack
	// names a function by its template logical id.
	Name string
	// ARN defaults to sfnlocal.LocalARN(Name), as the state machine
	// definition and the template's !GetAtt F.Arn resolve locally.
	ARN string
	// Bootstrap is the path of the function's executable; or Package is a
	// main package of the module ("./functions/progress") that New builds
	// for the host (see Build). Exactly one is set.
	Bootstrap string
	Package   string
	// Environment is the function's environment (the template's Variables
	// plus whatever the local stack adds: endpoints, credentials). The
	// bootstrap sees exactly this, Config.Environment under it, and the
	// variables Lambda sets (AWS_LAMBDA_FUNCTION_NAME,
	// AWS_LAMBDA_FUNCTION_TIMEOUT, AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
	// AWS_LAMBDA_FUNCTION_VERSION, AWS_REGION, AWS_DEFAULT_REGION, and the
	// emulator's AWS_LAMBDA_RUNTIME_API, AWS_LAMBDA_LOG_GROUP_NAME, ...),
	// which it may not set.
	Environment map[string]string
	// Timeout is the function's timeout, in whole seconds (rounded up);
	// default 3 s, Lambda's. The emulator kills an invocation at it.
	Timeout time.Duration
	// MemoryMB is the memory size (AWS_LAMBDA_FUNCTION_MEMORY_SIZE),
	// default 128. It is not enforced.
	MemoryMB int
	// MaxConcurrency caps the function's instances; default
	// Config.MaxConcurrency.
	MaxConcurrency int
	// Async is the function's EventInvokeConfig.
	Async AsyncConfig
}

// AsyncConfig is a function's EventInvokeConfig: how Event invocations are
// retried and where they go when they end.
type AsyncConfig struct {
	// MaximumRetryAttempts after the first attempt fails (0..2); nil is
	// Lambda's default, 2.
	MaximumRetryAttempts *int
	// MaximumEventAge: an event not run by then is dropped (to OnFailure,
	// condition EventAgeExceeded). 0 is Lambda's default, 6 hours.
	MaximumEventAge time.Duration
	// OnFailure and OnSuccess name (or are the ARN of) a function invoked
	// asynchronously with the invocation record; "" is none. A function of
	// this service, or of Config.Fallback.
	OnFailure string
	OnSuccess string
}

// Retries returns &n, for AsyncConfig.MaximumRetryAttempts (0 is a valid value).
func Retries(n int) *int { return &n }

// Config configures a Service.
type Config struct {
	Functions []Function
	// Root is the module root (go.mod), where packages are built and the
	// emulator is found; "" = found from the working directory upwards.
	Root string
	// Emulator is the path of aws-lambda-rie; "" = EnsureEmulator(Root).
	Emulator string
	// BuildDir receives the bootstraps of Package functions; "" = a
	// temporary folder that Close removes.
	BuildDir string
	// Region is AWS_REGION; default sfnlocal.LocalRegion.
	Region string
	// Environment is given to every function, under its own Environment.
	Environment map[string]string
	// MaxConcurrency is the default instance cap per function; default 10.
	MaxConcurrency int
	// RetryDelays are the waits before the first and the second retry of a
	// failed Event invocation; default Lambda's, about 1 and 2 minutes.
	RetryDelays []time.Duration
	// Fallback serves Invoke API requests for functions this service does
	// not run (e.g. in-process Go functions, sfnlocal.InvokeServer), and
	// receives records for destinations it does not run. nil = 404.
	Fallback http.Handler
	// AuthorizeDestination, when set, decides whether a function (by name)
	// may deliver its invocation record to a destination (an ARN), as
	// Lambda requires of the function's execution role; a refused record is
	// dropped, as Lambda counts a destination delivery failure.
	AuthorizeDestination func(function, destinationARN string) error
	// Output receives the functions' and the emulator's output, each line
	// prefixed "<function>[<instance>] "; nil discards it.
	Output io.Writer
	// EmulatorLogLevel is the emulator's own log level (--log-level):
	// default "warn". START/END/REPORT lines are always written.
	EmulatorLogLevel string
	// StartTimeout bounds an instance's start (until its invoke endpoint
	// listens); default 10 s.
	StartTimeout time.Duration
	Logger       *slog.Logger
}

// function is a validated Function with its derived state.
type function struct {
	Function
	env     []string // the instance environment
	timeout int      // seconds
	retries int
	maxAge  time.Duration
	pool    *pool
	// invocations counts every invocation sent to an instance.
	invocations atomic.Int64
	// peakMemoryMB and longest are the highest MaxMemoryUsedMB and
	// Duration of its invocations so far.
	peakMemoryMB atomic.Int64
	longest      atomic.Int64 // nanoseconds
}

// record keeps an invocation's result in the function's peaks.
func (fn *function) record(res *Result) {
	for mb := int64(res.MaxMemoryUsedMB); ; {
		old := fn.peakMemoryMB.Load()
		if mb <= old || fn.peakMemoryMB.CompareAndSwap(old, mb) {
			break
		}
	}
	for d := int64(res.Duration); ; {
		old := fn.longest.Load()
		if d <= old || fn.longest.CompareAndSwap(old, d) {
			break
		}
	}
}

// Service is a running local Lambda service. It is an http.Handler serving
// the Lambda Invoke API.
type Service struct {
	cfg      Config
	logger   *slog.Logger
	emulator string
	output   *syncWriter
	client   *http.Client
	mux      *http.ServeMux

	byName map[string]*function
	byARN  map[string]*function
	order  []*function

	// Invocations run under base, not a caller's context: a Lambda keeps
	// running when its caller goes away. Close cancels it.
	base       context.Context
	cancelBase context.CancelFunc
	spawnReq   chan spawnRequest

	mu     sync.Mutex
	closed bool
	async  int           // Event invocations queued or running
	idle   chan struct{} // closed when async drops to 0; replaced when it rises
	tmpDir string
	srv    *http.Server
	url    string
	wg     sync.WaitGroup // async goroutines
	starts sync.WaitGroup // instances starting
}

var functionName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// reservedEnv are set by the service (or the emulator) and cannot be set by
// a function, as in Lambda. AWS_LAMBDA_MAX_CONCURRENCY would switch the
// emulator to its multi-concurrency (Managed Instances) mode.
var reservedEnv = map[string]bool{
	"AWS_LAMBDA_FUNCTION_NAME": true, "AWS_LAMBDA_FUNCTION_TIMEOUT": true,
	"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": true, "AWS_LAMBDA_FUNCTION_VERSION": true,
	"AWS_REGION": true, "AWS_DEFAULT_REGION": true, "AWS_LAMBDA_RUNTIME_API": true,
	"AWS_LAMBDA_MAX_CONCURRENCY": true, "_HANDLER": true, "LAMBDA_TASK_ROOT": true,
	"LAMBDA_RUNTIME_DIR": true, "AWS_EXECUTION_ENV": true,
}

// New validates the functions, builds the Package ones and makes the
// emulator ready. No instance starts before an invocation needs it.
func New(ctx context.Context, cfg Config) (_ *Service, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Region == "" {
		cfg.Region = sfnlocal.LocalRegion
	}
	if cfg.MaxConcurrency <= 0 {
		cfg.MaxConcurrency = 10
	}
	if len(cfg.RetryDelays) == 0 {
		cfg.RetryDelays = []time.Duration{time.Minute, 2 * time.Minute}
	}
	if cfg.EmulatorLogLevel == "" {
		cfg.EmulatorLogLevel = "warn"
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 10 * time.Second
	}
	for k := range cfg.Environment {
		if reservedEnv[k] {
			return nil, fmt.Errorf("lambdalocal: Config.Environment: %s is reserved", k)
		}
	}
	base, cancel := context.WithCancel(context.Background())
	s := &Service{
		cfg: cfg, logger: cfg.Logger, output: &syncWriter{w: cfg.Output},
		byName: map[string]*function{}, byARN: map[string]*function{},
		base: base, cancelBase: cancel, spawnReq: make(chan spawnRequest),
		idle: make(chan struct{}),
	}
	close(s.idle)
	s.client = &http.Client{Transport: &http.Transport{
		Proxy:               nil, // loopback only: never through an HTTP(S)_PROXY
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 1, // one invocation at a time per instance
		IdleConnTimeout:     time.Minute,
	}}
	go s.spawner()
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()

	if cfg.Root == "" {
		if cfg.Root, err = dynamolocal.RepoRoot(); err != nil {
			return nil, fmt.Errorf("lambdalocal: %w", err)
		}
		s.cfg.Root = cfg.Root
	}
	if err := s.addFunctions(cfg.Functions); err != nil {
		return nil, err
	}
	if s.emulator = cfg.Emulator; s.emulator == "" {
		if s.emulator, err = EnsureEmulator(ctx, cfg.Root); err != nil {
			return nil, err
		}
	} else if err := executable(s.emulator); err != nil {
		return nil, fmt.Errorf("lambdalocal: emulator %s: %w", s.emulator, err)
	}
	if err := s.build(ctx); err != nil {
		return nil, err
	}
	for _, fn := range s.order {
		if err := executable(fn.Bootstrap); err != nil {
			return nil, fmt.Errorf("lambdalocal: %s: bootstrap %s: %w", fn.Name, fn.Bootstrap, err)
		}
		if fn.Bootstrap, err = filepath.Abs(fn.Bootstrap); err != nil {
			return nil, fmt.Errorf("lambdalocal: %w", err)
		}
	}

	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /2015-03-31/functions/{function}/invocations", s.serveInvoke)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if cfg.Fallback != nil {
			cfg.Fallback.ServeHTTP(w, r)
			return
		}
		sfnlocal.WriteServiceError(w, http.StatusNotFound, "UnknownOperationException", "unknown operation "+r.Method+" "+r.URL.Path)
	})
	return s, nil
}

func (s *Service) addFunctions(fns []Function) error {
	for _, f := range fns {
		if !functionName.MatchString(f.Name) {
			return fmt.Errorf("lambdalocal: function name %q: want 1-64 letters, digits, - or _", f.Name)
		}
		if _, dup := s.byName[f.Name]; dup {
			return fmt.Errorf("lambdalocal: function %s is declared twice", f.Name)
		}
		if f.ARN == "" {
			f.ARN = sfnlocal.LocalARN(f.Name)
		}
		if _, dup := s.byARN[f.ARN]; dup {
			return fmt.Errorf("lambdalocal: two functions have the ARN %s", f.ARN)
		}
		if (f.Bootstrap == "") == (f.Package == "") {
			return fmt.Errorf("lambdalocal: %s: set exactly one of Bootstrap and Package", f.Name)
		}
		if f.Timeout == 0 {
			f.Timeout = 3 * time.Second
		}
		if f.Timeout < 0 || f.Timeout > 900*time.Second {
			return fmt.Errorf("lambdalocal: %s: Timeout %s: want 1 s to 900 s", f.Name, f.Timeout)
		}
		if f.MemoryMB == 0 {
			f.MemoryMB = 128
		}
		if f.MemoryMB < 128 || f.MemoryMB > 10240 {
			return fmt.Errorf("lambdalocal: %s: MemoryMB %d: want 128 to 10240", f.Name, f.MemoryMB)
		}
		if f.MaxConcurrency <= 0 {
			f.MaxConcurrency = s.cfg.MaxConcurrency
		}
		fn := &function{Function: f, timeout: int((f.Timeout + time.Second - 1) / time.Second), retries: 2, maxAge: 6 * time.Hour}
		if r := f.Async.MaximumRetryAttempts; r != nil {
			if *r < 0 || *r > 2 {
				return fmt.Errorf("lambdalocal: %s: MaximumRetryAttempts %d: want 0 to 2", f.Name, *r)
			}
			fn.retries = *r
		}
		if a := f.Async.MaximumEventAge; a != 0 {
			if a < 0 || a > 6*time.Hour {
				return fmt.Errorf("lambdalocal: %s: MaximumEventAge %s: want up to 6 h", f.Name, a)
			}
			fn.maxAge = a
		}
		env := maps.Clone(s.cfg.Environment)
		if env == nil {
			env = map[string]string{}
		}
		for k, v := range f.Environment {
			if reservedEnv[k] {
				return fmt.Errorf("lambdalocal: %s: environment variable %s is reserved", f.Name, k)
			}
			env[k] = v
		}
		env["AWS_LAMBDA_FUNCTION_NAME"] = f.Name
		env["AWS_LAMBDA_FUNCTION_VERSION"] = "$LATEST"
		env["AWS_LAMBDA_FUNCTION_TIMEOUT"] = strconv.Itoa(fn.timeout)
		env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = strconv.Itoa(f.MemoryMB)
		env["AWS_REGION"] = s.cfg.Region
		env["AWS_DEFAULT_REGION"] = s.cfg.Region
		fn.env = environ(env)
		fn.Environment = maps.Clone(f.Environment)
		fn.pool = newPool(s, fn)
		s.byName[f.Name] = fn
		s.byARN[f.ARN] = fn
		s.order = append(s.order, fn)
	}
	for _, fn := range s.order {
		for _, dest := range []string{fn.Async.OnFailure, fn.Async.OnSuccess} {
			if dest == "" {
				continue
			}
			if _, ok := s.lookup(dest); !ok && s.cfg.Fallback == nil {
				return fmt.Errorf("lambdalocal: %s: destination %s is not a function of the service (and there is no Fallback)", fn.Name, dest)
			}
		}
	}
	return nil
}

// build compiles the Package functions.
func (s *Service) build(ctx context.Context) error {
	var pkgs []string
	for _, fn := range s.order {
		if fn.Package != "" {
			pkgs = append(pkgs, fn.Package)
		}
	}
	if len(pkgs) == 0 {
		return nil
	}
	dir := s.cfg.BuildDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "lambdalocal-")
		if err != nil {
			return fmt.Errorf("lambdalocal: %w", err)
		}
		s.tmpDir, dir = tmp, tmp
	}
	built, err := Build(ctx, s.cfg.Root, dir, pkgs...)
	if err != nil {
		return err
	}
	for _, fn := range s.order {
		if fn.Package != "" {
			fn.Bootstrap = built[fn.Package]
		}
	}
	return nil
}

// lookup resolves a FunctionName as Lambda accepts it: a name, a full ARN
// (a version or alias qualifier is ignored) or a partial ARN
// (account:function:name).
func (s *Service) lookup(name string) (*function, bool) {
	if fn, ok := s.byName[name]; ok {
		return fn, true
	}
	if strings.HasPrefix(name, "arn:") {
		if parts := strings.Split(name, ":"); len(parts) == 8 {
			name = strings.Join(parts[:7], ":")
		}
		fn, ok := s.byARN[name]
		return fn, ok
	}
	if parts := strings.Split(name, ":"); len(parts) >= 3 && parts[1] == "function" {
		fn, ok := s.byName[parts[2]]
		return fn, ok
	}
	return nil, false
}

// Functions lists the service's functions as configured (defaults applied,
// Bootstrap set for built ones).
func (s *Service) Functions() []Function {
	out := make([]Function, 0, len(s.order))
	for _, fn := range s.order {
		out = append(out, fn.Function)
	}
	return out
}

// ServeHTTP serves the Lambda Invoke API.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Start serves the Invoke API on a free loopback port and returns its base
// URL (for AWS_ENDPOINT_URL_LAMBDA).
func (s *Service) Start(ctx context.Context) (string, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("lambdalocal: listen: %w", err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return "", errClosed
	}
	s.srv, s.url = srv, "http://"+ln.Addr().String()
	s.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("lambdalocal: invoke endpoint stopped", "err", err)
		}
	}()
	return s.url, nil
}

// URL is the base URL given by Start.
func (s *Service) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Instance describes one running instance.
type Instance struct {
	Function string
	Seq      int   // 1, 2, ... in the order the function's instances started
	PID      int   // the emulator's process id
	Runtime  []int // its children: the bootstrap, once the first invocation started it
	Busy     bool
	// Invocations the instance has served.
	Invocations int
	// Ready is how long the emulator took to listen after its exec.
	Ready time.Duration
}

// Instances lists the running instances of every function.
func (s *Service) Instances() []Instance {
	var out []Instance
	for _, fn := range s.order {
		ins, _ := fn.pool.snapshot()
		for _, in := range ins {
			in.mu.Lock()
			out = append(out, Instance{Function: fn.Name, Seq: in.seq, PID: in.pid(), Runtime: childPIDs(in.pid()),
				Busy: in.busy, Invocations: in.invocations, Ready: in.ready})
			in.mu.Unlock()
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Function != out[j].Function {
			return out[i].Function < out[j].Function
		}
		return out[i].Seq < out[j].Seq
	})
	return out
}

// Crash kills the runtime (the bootstrap) of every instance of a function
// that is serving an invocation, as an execution environment dies under
// an invocation in Lambda (out of memory, a segfault): each invocation ends
// in Runtime.ExitError, with what that means for its caller or for an
// asynchronous event's retries. It returns how many it killed.
func (s *Service) Crash(function string) int {
	fn, ok := s.lookup(function)
	if !ok {
		return 0
	}
	ins, _ := fn.pool.snapshot()
	n := 0
	for _, in := range ins {
		in.mu.Lock()
		busy := in.busy
		in.mu.Unlock()
		if !busy {
			continue
		}
		n += len(killRuntime(in.pid()))
	}
	return n
}

// Invocations is how many invocations of a function have reached an
// instance, retries of Event invocations included.
func (s *Service) Invocations(function string) int {
	fn, ok := s.lookup(function)
	if !ok {
		return 0
	}
	return int(fn.invocations.Load())
}

// TakePeaks returns the highest Max Memory Used and the longest duration
// of a function's invocations since the last TakePeaks, what Lambda's
// REPORT lines would show at worst, and starts over; zero for a function
// not invoked meanwhile.
func (s *Service) TakePeaks(function string) (maxMemoryUsedMB int, longest time.Duration) {
	fn, ok := s.lookup(function)
	if !ok {
		return 0, 0
	}
	return int(fn.peakMemoryMB.Swap(0)), time.Duration(fn.longest.Swap(0))
}

// Started is how many instances of a function have ever started.
func (s *Service) Started(function string) int {
	fn, ok := s.lookup(function)
	if !ok {
		return 0
	}
	_, n := fn.pool.snapshot()
	return n
}

// Close stops serving, abandons queued Event invocations, kills every
// instance (emulators and bootstraps) and waits for them, and removes the
// temporary build folder. Invocations in flight end with an error.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	srv := s.srv
	s.mu.Unlock()
	s.cancelBase()
	var errs []error
	if srv != nil {
		if err := srv.Close(); err != nil {
			errs = append(errs, fmt.Errorf("lambdalocal: close the invoke endpoint: %w", err))
		}
	}
	s.starts.Wait() // an instance starting now lands in its pool, or is killed
	var wg sync.WaitGroup
	for _, fn := range s.order {
		wg.Go(fn.pool.close)
	}
	wg.Wait()
	s.wg.Wait()
	if s.tmpDir != "" {
		if err := os.RemoveAll(s.tmpDir); err != nil {
			errs = append(errs, fmt.Errorf("lambdalocal: %w", err))
		}
	}
	return errors.Join(errs...)
}

// spawnRequest asks the spawner thread to start a process.
type spawnRequest struct {
	cmd *exec.Cmd
	err chan error
}

// spawner starts every emulator from one OS thread that lives as long as
// the service: Pdeathsig fires when the thread that started a process
// exits, and Go may end other threads at any time.
func (s *Service) spawner() {
	runtime.LockOSThread()
	// Never unlocked: when the service closes, the thread exits with this
	// goroutine, after every instance has been killed.
	for {
		select {
		case req := <-s.spawnReq:
			req.err <- req.cmd.Start()
		case <-s.base.Done():
			return
		}
	}
}

func (s *Service) spawn(cmd *exec.Cmd) error {
	req := spawnRequest{cmd: cmd, err: make(chan error, 1)}
	select {
	case s.spawnReq <- req:
	case <-s.base.Done():
		return errClosed
	}
	return <-req.err
}

// beginStart counts an instance start in, unless Close has begun.
func (s *Service) beginStart() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.starts.Add(1)
	return true
}

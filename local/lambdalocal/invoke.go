package lambdalocal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"

	"dirsync/local/sfnlocal"
)

// FunctionUnhandled is the X-Amz-Function-Error of every function error:
// Lambda reports a returned error, a panic, a crash and a timeout alike.
const FunctionUnhandled = "Unhandled"

// ErrFunctionNotFound is returned for a function the service does not run.
var ErrFunctionNotFound = errors.New("lambdalocal: function not found")

// Result is the outcome of one invocation, as the Invoke API reports it.
type Result struct {
	RequestID string
	// Payload is the function's response, or the error document
	// ({"errorType", "errorMessage", ...}) when FunctionError is set.
	Payload []byte
	// FunctionError is FunctionUnhandled when the function returned an
	// error, panicked, exited or timed out; "" when it succeeded.
	FunctionError string
	// ErrorType is the error document's errorType: the Go error's type
	// name for a returned error, "Runtime.ExitError" for a process that
	// exited, "Sandbox.Timedout" for a timeout.
	ErrorType string
	// Duration of the invocation, cold start included.
	Duration time.Duration
	// ColdStart is set on an instance's first invocation (the one that
	// starts the bootstrap).
	ColdStart bool
	// InstancePID and InstanceSeq name the instance that ran it.
	InstancePID int
	InstanceSeq int
	// MaxMemoryUsedMB is the runtime's peak resident memory while it ran
	// (what Lambda's REPORT line calls Max Memory Used).
	MaxMemoryUsedMB int
}

// Invoke runs one RequestResponse invocation of function (a name or ARN)
// and returns its result; a function error is a Result, not an error. ctx
// bounds only the wait for a free instance: once running, an invocation
// runs to its end, its timeout or Close, as in Lambda.
func (s *Service) Invoke(ctx context.Context, function string, payload []byte) (*Result, error) {
	fn, ok := s.lookup(function)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrFunctionNotFound, function)
	}
	if len(bytes.TrimSpace(payload)) == 0 {
		payload = []byte("{}")
	}
	return s.run(ctx, fn, sfnlocal.NewRequestID(), payload, nil)
}

// run invokes fn once on a free instance. A start that failed before the
// request reached the emulator is tried once more on a fresh instance.
func (s *Service) run(ctx context.Context, fn *function, requestID string, payload []byte, h http.Header) (*Result, error) {
	for attempt := 0; ; attempt++ {
		in, err := fn.pool.acquire(ctx)
		if err != nil {
			return nil, err
		}
		res, healthy, notSent, err := s.runOn(in, requestID, payload, h)
		fn.pool.release(in, healthy)
		if notSent && attempt == 0 {
			continue
		}
		return res, err
	}
}

var timedOut = regexp.MustCompile(`^Task timed out after ([0-9]+\.[0-9]{2}) seconds$`)

// runOn sends one invocation to an instance and maps the emulator's answer
// to Lambda's: healthy says whether the instance may serve again.
func (s *Service) runOn(in *instance, requestID string, payload []byte, h http.Header) (res *Result, healthy, notSent bool, err error) {
	fn := in.fn
	in.mu.Lock()
	in.busy = true
	cold := in.invocations == 0
	in.invocations++
	in.mu.Unlock()
	fn.invocations.Add(1)
	defer func() {
		in.mu.Lock()
		in.busy = false
		in.mu.Unlock()
	}()

	// The emulator enforces the timeout (for init and for the invocation);
	// this only guards against an emulator that hangs.
	guard := time.Duration(2*fn.timeout+10) * time.Second
	ctx, cancel := context.WithTimeout(s.base, guard)
	start := time.Now()
	watch := watchMemory(in, fn.MemoryMB)
	resp, err := in.post(ctx, s.client, requestID, payload, h)
	cancel()
	peakMB, outOfMemory := watch()
	res = &Result{RequestID: requestID, Duration: time.Since(start), ColdStart: cold, InstancePID: in.pid(), InstanceSeq: in.seq,
		MaxMemoryUsedMB: peakMB}
	fn.record(res)
	if outOfMemory {
		// Lambda ends an invocation whose environment went past its
		// memory size and resets the environment.
		s.fail(res, errorDocument("Runtime.OutOfMemory", fmt.Sprintf("RequestId: %s Error: Runtime exited with error: signal: killed", requestID)))
		return res, false, false, nil
	}

	if err != nil {
		var opErr *net.OpError
		switch {
		case s.base.Err() != nil:
			return nil, false, false, errClosed
		case errors.As(err, &opErr) && opErr.Op == "dial":
			s.logger.Warn("lambdalocal: instance unreachable, trying a fresh one", "function", fn.Name, "instance", in.seq, "err", err)
			return nil, false, true, fmt.Errorf("lambdalocal: %s: instance %d unreachable: %w", fn.Name, in.seq, err)
		case errors.Is(err, context.DeadlineExceeded):
			s.fail(res, timeoutDocument(requestID, fmt.Sprintf("%d.00", fn.timeout)))
			s.logger.Warn("lambdalocal: the emulator did not end a timed-out invocation", "function", fn.Name, "instance", in.seq)
			return res, false, false, nil
		}
		// Did the emulator die under the invocation?
		select {
		case <-in.done:
		case <-time.After(100 * time.Millisecond):
		}
		if in.exited() {
			s.fail(res, errorDocument("Runtime.ExitError", fmt.Sprintf("RequestId: %s Error: the execution environment exited (%v)", requestID, in.cmd.ProcessState)))
			return res, false, false, nil
		}
		return nil, false, false, fmt.Errorf("lambdalocal: %s: instance %d: %w\n%s", fn.Name, in.seq, err, in.out.tail())
	}

	body := bytes.TrimSpace(resp.body)
	switch {
	case resp.status == http.StatusOK && timedOut.Match(body):
		// The emulator killed the runtime; Lambda resets the execution
		// environment, so this instance goes and a fresh one serves next.
		secs := timedOut.FindSubmatch(body)[1]
		s.fail(res, timeoutDocument(requestID, string(secs)))
		return res, false, false, nil
	case resp.status == http.StatusOK && len(resp.body) > sfnlocal.MaxSyncPayload:
		s.fail(res, errorDocument("Function.ResponseSizeTooLarge",
			fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", sfnlocal.MaxSyncPayload)))
		return res, true, false, nil
	case resp.status == http.StatusOK:
		// The emulator drops the runtime's error headers: a function error
		// is told by its body, the runtime's error document.
		if typ, ok := parseErrorDocument(body); ok {
			res.Payload, res.FunctionError, res.ErrorType = body, FunctionUnhandled, typ
			return res, true, false, nil
		}
		if len(body) == 0 {
			body = []byte("null")
		}
		res.Payload = body
		return res, true, false, nil
	case resp.status == http.StatusBadGateway:
		// The runtime exited (a panic reports its error first), or its
		// init failed. Replace the instance.
		if _, ok := parseErrorDocument(body); ok {
			s.fail(res, body)
		} else {
			s.fail(res, errorDocument("Runtime.ExitError", fmt.Sprintf("RequestId: %s Error: %s", requestID, strings.TrimSpace(string(body)))))
		}
		return res, false, false, nil
	}
	return nil, false, false, fmt.Errorf("lambdalocal: %s: the emulator answered %d: %s", fn.Name, resp.status, body)
}

// fail makes res a function error with the given error document.
func (s *Service) fail(res *Result, doc []byte) {
	res.Payload, res.FunctionError = doc, FunctionUnhandled
	res.ErrorType, _ = parseErrorDocument(doc)
}

// timeoutDocument is Lambda's answer for a timed-out invocation; Step
// Functions reports it as the error Sandbox.Timedout.
func timeoutDocument(requestID, seconds string) []byte {
	return errorDocument("Sandbox.Timedout", fmt.Sprintf("RequestId: %s Error: Task timed out after %s seconds", requestID, seconds))
}

func errorDocument(typ, msg string) []byte {
	b, _ := json.Marshal(struct {
		Type    string `json:"errorType"`
		Message string `json:"errorMessage"`
	}{typ, msg}) // plain strings: cannot fail
	return b
}

// parseErrorDocument recognises a runtime's error document: an object with
// errorType and errorMessage and nothing but the optional fields runtimes
// add. (A function that succeeds with exactly such an object would be
// reported as failed; Lambda would tell them apart, the emulator cannot.)
func parseErrorDocument(body []byte) (string, bool) {
	if len(body) == 0 || body[0] != '{' {
		return "", false
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return "", false
	}
	rawType, okType := doc["errorType"]
	_, okMessage := doc["errorMessage"]
	if !okType || !okMessage {
		return "", false
	}
	for k := range doc {
		switch k {
		case "errorType", "errorMessage", "stackTrace", "requestId", "cause", "errorData":
		default:
			return "", false
		}
	}
	var typ string
	if json.Unmarshal(rawType, &typ) != nil {
		return "", false
	}
	return typ, true
}

// serveInvoke answers POST /2015-03-31/functions/{function}/invocations with
// the request parsing and response conventions of sfnlocal.InvokeServer.
func (s *Service) serveInvoke(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("function")
	fn, ok := s.lookup(name)
	if !ok {
		if s.cfg.Fallback != nil {
			s.cfg.Fallback.ServeHTTP(w, r)
			return
		}
		sfnlocal.WriteServiceError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name)
		return
	}
	inv, ok := sfnlocal.ReadInvocation(w, r)
	if !ok {
		return
	}
	invocationType, payload, requestID := inv.Type, inv.Payload, inv.RequestID

	switch invocationType {
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
		return
	case "Event":
		if err := s.enqueue(fn, requestID, payload); err != nil {
			sfnlocal.WriteServiceError(w, http.StatusServiceUnavailable, "ServiceException", "the local Lambda service is shutting down")
			return
		}
		w.WriteHeader(http.StatusAccepted)
		return
	}

	res, err := s.run(r.Context(), fn, requestID, payload, r.Header)
	if err != nil {
		switch {
		case errors.Is(err, errClosed):
			sfnlocal.WriteServiceError(w, http.StatusServiceUnavailable, "ServiceException", "the local Lambda service is shutting down")
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			// The caller left while waiting for an instance.
			sfnlocal.WriteServiceError(w, http.StatusServiceUnavailable, "ServiceException", "the caller went away before an instance was free")
		default:
			s.logger.Error("lambdalocal: invocation failed", "function", fn.Name, "requestId", requestID, "err", err)
			sfnlocal.WriteServiceError(w, http.StatusInternalServerError, "ServiceException", err.Error())
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	if res.FunctionError != "" {
		s.logger.Info("lambdalocal: function error", "function", fn.Name, "requestId", requestID, "errorType", res.ErrorType)
		w.Header().Set("X-Amz-Function-Error", res.FunctionError)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(res.Payload)
}

// Package sfnlocal runs the apply state machine on a developer's machine: the
// definition from template.yaml is executed by aws-local-stepfunctions in one
// Node process (Runner), whose Lambda tasks call the AWS Lambda Invoke API of
// an in-process endpoint (InvokeServer) that dispatches to Go functions.
// Step Functions' 256 KiB payload quota holds as in AWS: a state machine
// whose states pass more fails with States.DataLimitExceeded here too.
//
// Wiring, as the local dev server and end-to-end tests do it:
//
//	def, err := sfnlocal.DefinitionFromTemplate("template.yaml", "ApplyStateMachine")
//	srv := sfnlocal.NewInvokeServer(logger)
//	srv.Register(sfnlocal.LocalARN("ApplyFunction"), sfnlocal.JSONFunction(applyHandler))
//	srv.Register(sfnlocal.LocalARN("FinalizeFunction"), sfnlocal.JSONFunction(finalizeHandler))
//	url, err := srv.Start(ctx)
//	runner, err := sfnlocal.NewRunner(ctx, sfnlocal.RunnerConfig{Definition: def, InvokeURL: url, Logger: logger})
//	id, err := runner.Start(ctx, name, input) // runner.Stop, runner.Wait, runner.Close
package sfnlocal

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Local identity of the emulated account, as in the ARNs it hands out.
const (
	LocalRegion    = "us-east-1"
	LocalAccountID = "000000000000"
)

// Payload limits of the Lambda Invoke API.
const (
	MaxSyncPayload  = 6 * 1024 * 1024
	MaxEventPayload = 256 * 1024
)

// Function is a Lambda function's handler: the JSON payload in, the JSON
// result out. An error is reported as a function error whose errorType is the
// error's Go type name, exactly as aws-lambda-go reports it in AWS.
type Function func(ctx context.Context, payload []byte) ([]byte, error)

// JSONFunction adapts a typed handler the way aws-lambda-go's lambda.Start
// does: the payload is decoded into In, the result encoded as JSON, and the
// handler's error returned unchanged so its type names the errorType.
//
// (lambda.NewHandler(h).Invoke is not a substitute: it returns a pooled
// buffer that a concurrent invocation may overwrite.)
func JSONFunction[In, Out any](handler func(context.Context, In) (Out, error)) Function {
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		var in In
		if err := json.NewDecoder(bytes.NewReader(payload)).Decode(&in); err != nil {
			return nil, err
		}
		out, err := handler(ctx, in)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(out); err != nil {
			return nil, err
		}
		return bytes.TrimRight(buf.Bytes(), "\n"), nil
	}
}

// LocalARN is the ARN under which the local stack knows the function with
// the template logical id functionLogicalID.
func LocalARN(functionLogicalID string) string {
	return "arn:aws:lambda:" + LocalRegion + ":" + LocalAccountID + ":function:" + functionLogicalID
}

// InvokeServer implements the Lambda Invoke API
// (POST /2015-03-31/functions/{FunctionName}/invocations) for registered Go
// functions, so AWS SDK clients pointed at it (AWS_ENDPOINT_URL_LAMBDA) call
// Go code. Function errors and panics become Lambda function errors; the
// server itself never fails because of a function.
type InvokeServer struct {
	logger *slog.Logger
	mux    *http.ServeMux

	mu        sync.RWMutex
	functions map[string]Function // by ARN
	closed    bool

	// Functions run under base, not the request's context: a Lambda keeps
	// running when its caller goes away. Close cancels it.
	base       context.Context
	cancelBase context.CancelFunc
	background sync.WaitGroup // Event invocations in flight

	srv *http.Server
	url string
}

// NewInvokeServer returns a server with no functions. A nil logger discards.
func NewInvokeServer(logger *slog.Logger) *InvokeServer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	base, cancel := context.WithCancel(context.Background())
	s := &InvokeServer{
		logger:     logger,
		functions:  map[string]Function{},
		base:       base,
		cancelBase: cancel,
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /2015-03-31/functions/{function}/invocations", s.invoke)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteServiceError(w, http.StatusNotFound, "UnknownOperationException", "unknown operation "+r.Method+" "+r.URL.Path)
	})
	return s
}

// Register makes fn callable as arn (use LocalARN). It may be called while
// serving; registering an ARN again replaces its function.
func (s *InvokeServer) Register(arn string, fn Function) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.functions[arn] = fn
}

// ServeHTTP serves the Lambda Invoke API.
func (s *InvokeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Start serves on a free loopback port and returns the base URL to use as
// AWS_ENDPOINT_URL_LAMBDA.
func (s *InvokeServer) Start(ctx context.Context) (string, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("sfnlocal: listen for the invoke endpoint: %w", err)
	}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		// Idle keep-alive connections of finished callers are dropped soon.
		IdleTimeout: 30 * time.Second,
		ErrorLog:    slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	s.url = "http://" + ln.Addr().String()
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("sfnlocal: invoke endpoint stopped", "err", err)
		}
	}()
	return s.url, nil
}

// URL is the base URL given by Start.
func (s *InvokeServer) URL() string { return s.url }

// Close stops serving, cancels the context of running functions and waits
// for Event invocations to return.
func (s *InvokeServer) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancelBase()
	var err error
	if s.srv != nil {
		err = s.srv.Close()
	}
	s.background.Wait()
	if err != nil {
		return fmt.Errorf("sfnlocal: close invoke endpoint: %w", err)
	}
	return nil
}

// startBackground counts an Event invocation in, unless Close has begun
// (a WaitGroup must not grow while Close waits on it).
func (s *InvokeServer) startBackground() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.background.Add(1)
	return true
}

// lookup resolves a FunctionName as Lambda accepts it: a full ARN (a
// version or alias qualifier is ignored) or a bare function name.
func (s *InvokeServer) lookup(name string) (string, Function, bool) {
	arn := name
	if !strings.HasPrefix(name, "arn:") {
		arn = LocalARN(name)
	} else if parts := strings.Split(name, ":"); len(parts) == 8 {
		arn = strings.Join(parts[:7], ":")
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	fn, ok := s.functions[arn]
	return arn, fn, ok
}

func (s *InvokeServer) invoke(w http.ResponseWriter, r *http.Request) {
	arn, fn, ok := s.lookup(r.PathValue("function"))
	if !ok {
		WriteServiceError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+arn)
		return
	}
	inv, ok := ReadInvocation(w, r)
	if !ok {
		return
	}
	invocationType, payload, requestID := inv.Type, inv.Payload, inv.RequestID

	switch invocationType {
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
		return
	case "Event":
		if !s.startBackground() {
			WriteServiceError(w, http.StatusServiceUnavailable, "ServiceException", "the local invoke endpoint is shutting down")
			return
		}
		go func() {
			defer s.background.Done()
			if _, fnErr := s.call(arn, requestID, fn, payload); fnErr != nil {
				s.logger.Warn("sfnlocal: event invocation failed", "function", arn, "requestId", requestID,
					"errorType", fnErr.Type, "errorMessage", fnErr.Message)
			}
		}()
		w.WriteHeader(http.StatusAccepted)
		return
	}

	out, fnErr := s.call(arn, requestID, fn, payload)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	if fnErr != nil {
		s.logger.Info("sfnlocal: function error", "function", arn, "requestId", requestID,
			"errorType", fnErr.Type, "errorMessage", fnErr.Message)
		body, _ := json.Marshal(fnErr) // plain strings: cannot fail
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// call runs fn as the Lambda runtime would, turning an error or a panic into
// the error document the runtime reports.
func (s *InvokeServer) call(arn, requestID string, fn Function, payload []byte) (out []byte, fnErr *messages.InvokeResponse_Error) {
	defer func() {
		if v := recover(); v != nil {
			s.logger.Error("sfnlocal: function panicked", "function", arn, "requestId", requestID,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			out, fnErr = nil, &messages.InvokeResponse_Error{Type: errorType(v), Message: fmt.Sprintf("%v", v)}
		}
	}()
	ctx := lambdacontext.NewContext(s.base, &lambdacontext.LambdaContext{AwsRequestID: requestID, InvokedFunctionArn: arn})
	out, err := fn(ctx, payload)
	if err != nil {
		// aws-lambda-go passes a runtime error document through as it is.
		if ive, ok := err.(messages.InvokeResponse_Error); ok { //nolint:errorlint // the same direct assertion as aws-lambda-go
			return nil, &ive
		}
		return nil, &messages.InvokeResponse_Error{Type: errorType(err), Message: err.Error()}
	}
	if len(bytes.TrimSpace(out)) == 0 {
		return []byte("null"), nil
	}
	if !json.Valid(out) {
		return nil, &messages.InvokeResponse_Error{Type: "Runtime.MarshalError", Message: "the function's result is not JSON"}
	}
	return out, nil
}

// errorType names an error (or a panic value) exactly as aws-lambda-go does:
// the name of its dynamic type with one pointer stripped, so a returned
// *apply.RetryableError is "RetryableError" and a wrapped one is "wrapError".
func errorType(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return ""
	}
	if t.Kind() == reflect.Pointer {
		return t.Elem().Name()
	}
	return t.Name()
}

// Invocation is one Invoke API request, as ReadInvocation accepted it.
type Invocation struct {
	Type      string // "" or RequestResponse, Event, DryRun
	Payload   []byte // valid JSON; an empty body is {}
	RequestID string // also sent as X-Amzn-Requestid
}

// ReadInvocation reads an Invoke API request as the Lambda service checks
// it: the invocation type, the client context, the payload limits (6 MB
// synchronous, 256 KB Event), a JSON payload. A refused request is
// answered here, as the service answers it, and ok is false.
func ReadInvocation(w http.ResponseWriter, r *http.Request) (inv Invocation, ok bool) {
	inv.Type = r.Header.Get("X-Amz-Invocation-Type")
	limit := MaxSyncPayload
	switch inv.Type {
	case "", "RequestResponse", "DryRun":
	case "Event":
		limit = MaxEventPayload
	default:
		WriteServiceError(w, http.StatusBadRequest, "InvalidParameterValueException", "unsupported InvocationType "+inv.Type)
		return inv, false
	}
	if cc := r.Header.Get("X-Amz-Client-Context"); cc != "" {
		if _, err := base64.StdEncoding.DecodeString(cc); err != nil {
			WriteServiceError(w, http.StatusBadRequest, "InvalidRequestContentException", "Client context must be a valid Base64-encoded JSON object.")
			return inv, false
		}
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		WriteServiceError(w, http.StatusBadRequest, "InvalidRequestContentException", "could not read the request body: "+err.Error())
		return inv, false
	}
	if len(payload) > limit {
		WriteServiceError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException",
			fmt.Sprintf("Request must be smaller than %d bytes for the %s operation", limit, "Invoke"))
		return inv, false
	}
	if len(bytes.TrimSpace(payload)) == 0 {
		payload = []byte("{}")
	}
	if !json.Valid(payload) {
		WriteServiceError(w, http.StatusBadRequest, "InvalidRequestContentException", "Could not parse request body into json")
		return inv, false
	}
	inv.Payload, inv.RequestID = payload, NewRequestID()
	w.Header().Set("X-Amzn-Requestid", inv.RequestID)
	return inv, true
}

// WriteServiceError answers like the Lambda service does for its own errors:
// the error code in X-Amzn-ErrorType and a JSON body the SDKs read.
func WriteServiceError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	body, _ := json.Marshal(map[string]string{"Type": "User", "message": message})
	_, _ = w.Write(body)
}

// NewRequestID is a Lambda-style request id.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

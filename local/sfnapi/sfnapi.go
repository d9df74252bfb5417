// Package sfnapi serves the AWS Step Functions API (StartExecution,
// DescribeExecution, StopExecution, ListExecutions) over its AWS JSON 1.0
// protocol, in front of local state machine executors such as
// *sfnlocal.Runner, so AWS SDK clients pointed at it (AWS_ENDPOINT_URL_SFN)
// run the state machines locally with Step Functions' rules for STANDARD
// state machines.
//
// The protocol posts every call to the endpoint's path, so a server with
// other routes at / mounts the Handler at a path of its own, without a
// trailing slash (mux.Handle("POST /stepfunctions", h)), and clients take
// that URL as their endpoint (AWS_ENDPOINT_URL_SFN=http://host:port/stepfunctions).
//
// Executions started by calling an executor directly, not through the
// Handler, are not listed or described; starting their names through the
// Handler follows Step Functions' rules all the same.
package sfnapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"dirsync/local/sfnlocal"
)

// Executor runs the executions of one state machine. *sfnlocal.Runner
// satisfies it.
type Executor interface {
	// Start starts the execution name with input and returns its id (an
	// execution ARN). A repeat with the same input returns the same id.
	Start(ctx context.Context, name string, input []byte) (string, error)
	// Stop ends a running execution ABORTED with cause.
	Stop(ctx context.Context, executionID, cause string) error
	// Status reports RUNNING or how the execution ended, without waiting.
	Status(executionID string) (sfnlocal.Result, error)
	// Wait returns how the execution ended.
	Wait(ctx context.Context, executionID string) (sfnlocal.Result, error)
	// ExecutionID is the id the execution named name has.
	ExecutionID(name string) string
}

var _ Executor = (*sfnlocal.Runner)(nil)

// Step Functions' limits.
const (
	maxNameChars   = 80
	maxInputBytes  = sfnlocal.MaxPayloadBytes
	maxErrorChars  = 256
	maxCauseChars  = 32768
	defaultResults = 100
	maxResults     = 1000
)

// Handler is an http.Handler serving the Step Functions API for the state
// machines added to it. The zero value is not usable; use New.
type Handler struct {
	now    func() time.Time
	base   context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	machines map[string]*machine // by state machine ARN
	seq      int64

	// onStatusChange receives the detail of Step Functions' "Execution
	// Status Change" event when an execution started here ends.
	onStatusChange func(StatusChange)
}

// StatusChange is the detail of the "Step Functions Execution Status
// Change" event Step Functions sends to EventBridge's default bus (dates in
// milliseconds since the epoch, as in the event).
type StatusChange struct {
	ExecutionArn    string  `json:"executionArn"`
	StateMachineArn string  `json:"stateMachineArn"`
	Name            string  `json:"name"`
	Status          string  `json:"status"`
	StartDate       int64   `json:"startDate"`
	StopDate        int64   `json:"stopDate"`
	Input           string  `json:"input"`
	Output          *string `json:"output"`
	Error           *string `json:"error"`
	Cause           *string `json:"cause"`
}

// OnStatusChange has fn receive the status change of every execution
// started through h when it ends (SUCCEEDED, FAILED, ABORTED), as Step
// Functions emits it to EventBridge. Call it before starting executions.
func (h *Handler) OnStatusChange(fn func(StatusChange)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.onStatusChange = fn
}

type machine struct {
	arn        string
	executor   Executor
	executions map[string]*record // by execution ARN
}

// record is what Step Functions remembers of an execution beyond what the
// executor reports.
type record struct {
	arn, name string
	machine   *machine
	input     string
	seq       int64 // order of starts, for ListExecutions
	start     time.Time
	stop      time.Time // zero while running
	result    sfnlocal.Result
	closed    bool
	stopping  bool   // StopExecution was called while it ran
	stopError string // given to the first StopExecution
	stopCause string
}

// New returns a Handler without state machines.
func New() *Handler {
	base, cancel := context.WithCancel(context.Background())
	return &Handler{now: time.Now, base: base, cancel: cancel, machines: map[string]*machine{}}
}

// Close stops following executions. It does not stop the executors.
func (h *Handler) Close() error {
	h.cancel()
	return nil
}

// Add serves the state machine run by executor and returns its ARN, derived
// from executor's execution ids (arn:...:execution:<machine>:<name> is an
// execution of arn:...:stateMachine:<machine>).
func (h *Handler) Add(executor Executor) (string, error) {
	const probe = "probe"
	id := executor.ExecutionID(probe)
	arn, _, err := splitExecutionARN(id)
	if err != nil {
		return "", fmt.Errorf("sfnapi: the executor's execution ids are not execution ARNs: %w", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.machines[arn]; ok {
		return "", fmt.Errorf("sfnapi: state machine %s is served already", arn)
	}
	h.machines[arn] = &machine{arn: arn, executor: executor, executions: map[string]*record{}}
	return arn, nil
}

// splitExecutionARN parses arn:<p>:states:<region>:<account>:execution:<machine>:<name>
// into its state machine's ARN and the execution name.
func splitExecutionARN(arn string) (stateMachineARN, name string, err error) {
	parts := strings.SplitN(arn, ":", 8)
	if len(parts) != 8 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "execution" || parts[6] == "" || parts[7] == "" {
		return "", "", fmt.Errorf("%q is not an execution ARN", arn)
	}
	return strings.Join([]string{"arn", parts[1], "states", parts[3], parts[4], "stateMachine", parts[6]}, ":"), parts[7], nil
}

// apiError is an error answer: Code becomes __type.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func clientError(code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}

// ServeHTTP answers one API call.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-amzn-RequestId", sfnlocal.NewRequestID())
	if r.Method != http.MethodPost {
		writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Code: "UnknownOperationException", Message: "Step Functions takes POST requests"})
		return
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AWSStepFunctions.")
	if !ok {
		writeError(w, clientError("UnknownOperationException", "X-Amz-Target %q is not a Step Functions operation", r.Header.Get("X-Amz-Target")))
		return
	}
	var out any
	var err error
	switch op {
	case "StartExecution":
		var in startInput
		if err = decode(r, &in); err == nil {
			out, err = h.startExecution(r.Context(), in)
		}
	case "DescribeExecution":
		var in arnInput
		if err = decode(r, &in); err == nil {
			out, err = h.describeExecution(in)
		}
	case "StopExecution":
		var in stopInput
		if err = decode(r, &in); err == nil {
			out, err = h.stopExecution(r.Context(), in)
		}
	case "ListExecutions":
		var in listInput
		if err = decode(r, &in); err == nil {
			out, err = h.listExecutions(in)
		}
	default:
		err = clientError("UnknownOperationException", "operation %s is not served locally", op)
	}
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: err.Error()}
		}
		writeError(w, ae)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(out)
}

func decode(r *http.Request, v any) error {
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 4*maxInputBytes)).Decode(v); err != nil {
		return clientError("SerializationException", "cannot read the request: %v", err)
	}
	return nil
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.Code, "message": e.Message})
}

// epoch is a timestamp as Step Functions writes it: seconds since the
// epoch with milliseconds as the fraction.
func epoch(t time.Time) *float64 {
	if t.IsZero() {
		return nil
	}
	f := float64(t.UnixMilli()) / 1000
	return &f
}

type startInput struct {
	StateMachineArn string  `json:"stateMachineArn"`
	Name            *string `json:"name"`
	Input           *string `json:"input"`
}

type startOutput struct {
	ExecutionArn string   `json:"executionArn"`
	StartDate    *float64 `json:"startDate"`
}

func (h *Handler) startExecution(ctx context.Context, in startInput) (*startOutput, error) {
	m, err := h.machine(in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	var name string
	if in.Name == nil {
		name = newName()
	} else {
		name = *in.Name
	}
	if err := validateName(name); err != nil {
		return nil, err
	}
	input := "{}"
	if in.Input != nil {
		input = *in.Input
	}
	if len(input) > maxInputBytes {
		return nil, clientError("ValidationException", "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to %d", maxInputBytes)
	}
	if !json.Valid([]byte(input)) {
		return nil, clientError("InvalidExecutionInput", "Invalid State Machine Execution Input: the input is not JSON")
	}
	arn := m.executor.ExecutionID(name)

	h.mu.Lock()
	existing := m.executions[arn]
	if existing != nil {
		h.refresh(existing)
	}
	h.mu.Unlock()
	if existing != nil && existing.closed {
		return nil, alreadyExists(arn)
	}
	if existing == nil {
		// Started by calling the executor directly, not through this API:
		// a closed one still holds its name.
		if res, err := m.executor.Status(arn); err == nil && res.Status != sfnlocal.StatusRunning {
			return nil, alreadyExists(arn)
		}
	}

	id, err := m.executor.Start(ctx, name, []byte(input))
	switch {
	case errors.Is(err, sfnlocal.ErrExecutionAlreadyExists):
		return nil, alreadyExists(arn)
	case errors.Is(err, sfnlocal.ErrInvalidName):
		return nil, clientError("InvalidName", "Invalid Name: '%s'", name)
	case errors.Is(err, sfnlocal.ErrInvalidInput):
		return nil, clientError("InvalidExecutionInput", "Invalid State Machine Execution Input: %v", err)
	case errors.Is(err, sfnlocal.ErrRunnerClosed):
		return nil, &apiError{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Message: err.Error()}
	case err != nil:
		return nil, err
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	rec := m.executions[id]
	if rec == nil {
		h.seq++
		rec = &record{arn: id, name: name, machine: m, input: input, seq: h.seq, start: h.now()}
		m.executions[id] = rec
		go h.follow(rec)
	} else if rec == existing {
		// It was running with this input when we looked; if it has closed
		// since, Step Functions would have refused the name.
		h.refresh(rec)
		if rec.closed {
			return nil, alreadyExists(id)
		}
	}
	return &startOutput{ExecutionArn: id, StartDate: epoch(rec.start)}, nil
}

func alreadyExists(arn string) error {
	return clientError("ExecutionAlreadyExists", "Execution Already Exists: '%s'", arn)
}

// follow records when rec ends.
func (h *Handler) follow(rec *record) {
	res, err := rec.machine.executor.Wait(h.base, rec.arn)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.close(rec, res)
}

// refresh asks the executor whether rec has ended; h.mu is held.
func (h *Handler) refresh(rec *record) {
	if rec.closed {
		return
	}
	res, err := rec.machine.executor.Status(rec.arn)
	if err != nil || res.Status == sfnlocal.StatusRunning {
		return
	}
	h.close(rec, res)
}

// close settles rec once; h.mu is held.
func (h *Handler) close(rec *record, res sfnlocal.Result) {
	if rec.closed {
		return
	}
	rec.closed = true
	rec.result = res
	rec.stop = h.now()
	if fn := h.onStatusChange; fn != nil {
		d := rec.describe()
		change := StatusChange{
			ExecutionArn: d.ExecutionArn, StateMachineArn: d.StateMachineArn, Name: d.Name, Status: d.Status,
			StartDate: rec.start.UnixMilli(), StopDate: rec.stop.UnixMilli(), Input: d.Input, Output: d.Output,
		}
		if d.Error != "" || d.Cause != "" {
			change.Error, change.Cause = &d.Error, &d.Cause
		}
		go fn(change) // EventBridge delivers on its own time, never under our lock
	}
}

func (h *Handler) machine(arn string) (*machine, error) {
	if arn == "" {
		return nil, clientError("ValidationException", "1 validation error detected: Value null at 'stateMachineArn' failed to satisfy constraint: Member must not be null")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if m, ok := h.machines[arn]; ok {
		return m, nil
	}
	if p := strings.Split(arn, ":"); len(p) != 7 || p[0] != "arn" || p[2] != "states" || p[5] != "stateMachine" {
		return nil, clientError("InvalidArn", "Invalid Arn: '%s'", arn)
	}
	return nil, clientError("StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", arn)
}

// execution finds the record of an execution ARN; h.mu is held.
func (h *Handler) execution(arn string) (*record, error) {
	if arn == "" {
		return nil, clientError("ValidationException", "1 validation error detected: Value null at 'executionArn' failed to satisfy constraint: Member must not be null")
	}
	machineARN, _, err := splitExecutionARN(arn)
	if err != nil {
		return nil, clientError("InvalidArn", "Invalid Arn: '%s'", arn)
	}
	if m, ok := h.machines[machineARN]; ok {
		if rec, ok := m.executions[arn]; ok {
			return rec, nil
		}
	}
	return nil, clientError("ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", arn)
}

type arnInput struct {
	ExecutionArn string `json:"executionArn"`
}

type describeOutput struct {
	ExecutionArn    string          `json:"executionArn"`
	StateMachineArn string          `json:"stateMachineArn"`
	Name            string          `json:"name"`
	Status          string          `json:"status"`
	StartDate       *float64        `json:"startDate"`
	StopDate        *float64        `json:"stopDate,omitempty"`
	Input           string          `json:"input"`
	InputDetails    map[string]bool `json:"inputDetails"`
	Output          *string         `json:"output,omitempty"`
	OutputDetails   map[string]bool `json:"outputDetails,omitempty"`
	Error           string          `json:"error,omitempty"`
	Cause           string          `json:"cause,omitempty"`
}

func (h *Handler) describeExecution(in arnInput) (*describeOutput, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	rec, err := h.execution(in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	h.refresh(rec)
	return rec.describe(), nil
}

// describe is DescribeExecution's answer for rec; h.mu is held.
func (rec *record) describe() *describeOutput {
	out := &describeOutput{
		ExecutionArn:    rec.arn,
		StateMachineArn: rec.machine.arn,
		Name:            rec.name,
		Status:          rec.status(),
		StartDate:       epoch(rec.start),
		StopDate:        epoch(rec.stop),
		Input:           rec.input,
		InputDetails:    map[string]bool{"included": true},
	}
	if rec.closed {
		switch rec.result.Status {
		case sfnlocal.StatusSucceeded:
			output := string(rec.result.Output)
			if output == "" {
				output = "null"
			}
			out.Output = &output
			out.OutputDetails = map[string]bool{"included": true}
		case sfnlocal.StatusAborted:
			out.Error, out.Cause = rec.result.Error, rec.result.Cause
			if rec.stopping {
				out.Error, out.Cause = rec.stopError, rec.stopCause
			}
		default:
			out.Error, out.Cause = rec.result.Error, rec.result.Cause
		}
	}
	return out
}

func (rec *record) status() string {
	if !rec.closed {
		return sfnlocal.StatusRunning
	}
	return rec.result.Status
}

type stopInput struct {
	ExecutionArn string  `json:"executionArn"`
	Error        *string `json:"error"`
	Cause        *string `json:"cause"`
}

type stopOutput struct {
	StopDate *float64 `json:"stopDate"`
}

func (h *Handler) stopExecution(ctx context.Context, in stopInput) (*stopOutput, error) {
	var stopErr, cause string
	if in.Error != nil {
		stopErr = *in.Error
	}
	if in.Cause != nil {
		cause = *in.Cause
	}
	if n := len([]rune(stopErr)); n > maxErrorChars {
		return nil, clientError("ValidationException", "1 validation error detected: Value at 'error' failed to satisfy constraint: Member must have length less than or equal to %d", maxErrorChars)
	}
	if n := len([]rune(cause)); n > maxCauseChars {
		return nil, clientError("ValidationException", "1 validation error detected: Value at 'cause' failed to satisfy constraint: Member must have length less than or equal to %d", maxCauseChars)
	}
	h.mu.Lock()
	rec, err := h.execution(in.ExecutionArn)
	if err != nil {
		h.mu.Unlock()
		return nil, err
	}
	h.refresh(rec)
	if rec.closed {
		// Stopping an execution that has ended changes nothing.
		defer h.mu.Unlock()
		return &stopOutput{StopDate: epoch(rec.stop)}, nil
	}
	if !rec.stopping {
		// The first stop's error and cause stand, as the executor keeps
		// the first cause.
		rec.stopping = true
		rec.stopError, rec.stopCause = stopErr, cause
	}
	h.mu.Unlock()

	if err := rec.machine.executor.Stop(ctx, rec.arn, cause); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refresh(rec)
	if !rec.closed {
		// The executor has stopped it, whatever its Status says yet.
		h.close(rec, sfnlocal.Result{Status: sfnlocal.StatusAborted, Cause: rec.stopCause})
	}
	return &stopOutput{StopDate: epoch(rec.stop)}, nil
}

type listInput struct {
	StateMachineArn string `json:"stateMachineArn"`
	StatusFilter    string `json:"statusFilter"`
	MaxResults      int    `json:"maxResults"`
	NextToken       string `json:"nextToken"`
}

type listItem struct {
	ExecutionArn    string   `json:"executionArn"`
	StateMachineArn string   `json:"stateMachineArn"`
	Name            string   `json:"name"`
	Status          string   `json:"status"`
	StartDate       *float64 `json:"startDate"`
	StopDate        *float64 `json:"stopDate,omitempty"`
}

type listOutput struct {
	Executions []listItem `json:"executions"`
	NextToken  string     `json:"nextToken,omitempty"`
}

var statuses = map[string]bool{
	"RUNNING": true, "SUCCEEDED": true, "FAILED": true, "TIMED_OUT": true, "ABORTED": true, "PENDING_REDRIVE": true,
}

func (h *Handler) listExecutions(in listInput) (*listOutput, error) {
	if in.StatusFilter != "" && !statuses[in.StatusFilter] {
		return nil, clientError("ValidationException", "1 validation error detected: Value '%s' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE]", in.StatusFilter)
	}
	limit := in.MaxResults
	if limit < 0 || limit > maxResults {
		return nil, clientError("ValidationException", "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 0 and %d", limit, maxResults)
	}
	if limit == 0 {
		limit = defaultResults
	}
	after := int64(-1) // seq below which the page starts; -1 is the first page
	if in.NextToken != "" {
		raw, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err == nil {
			after, err = strconv.ParseInt(string(raw), 10, 64)
		}
		if err != nil || after < 0 {
			return nil, clientError("InvalidToken", "Invalid Token: '%s'", in.NextToken)
		}
	}
	m, err := h.machine(in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var recs []*record
	for _, rec := range m.executions {
		h.refresh(rec)
		if after >= 0 && rec.seq >= after {
			continue
		}
		if in.StatusFilter != "" && rec.status() != in.StatusFilter {
			continue
		}
		recs = append(recs, rec)
	}
	// Newest first.
	sort.Slice(recs, func(i, j int) bool { return recs[i].seq > recs[j].seq })
	out := &listOutput{Executions: []listItem{}}
	if len(recs) > limit {
		recs = recs[:limit]
		out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(recs[limit-1].seq, 10)))
	}
	for _, rec := range recs {
		out.Executions = append(out.Executions, listItem{
			ExecutionArn: rec.arn, StateMachineArn: m.arn, Name: rec.name,
			Status: rec.status(), StartDate: epoch(rec.start), StopDate: epoch(rec.stop),
		})
	}
	return out, nil
}

// validateName applies Step Functions' rules for execution names: the
// length is a ValidationException, a character it does not allow
// InvalidName.
func validateName(name string) error {
	if n := len([]rune(name)); n < 1 || n > maxNameChars {
		return clientError("ValidationException", "1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must have length between 1 and %d", name, maxNameChars)
	}
	for _, c := range name {
		if unicode.IsSpace(c) || unicode.IsControl(c) || strings.ContainsRune(`<>{}[]?*"#%\^|~`+"`"+`$&,;:/`, c) {
			return clientError("InvalidName", "Invalid Name: '%s'", name)
		}
	}
	return nil
}

// newName is the name Step Functions gives an execution started without
// one: a UUID.
func newName() string {
	id := sfnlocal.NewRequestID()
	if len(id) == 36 {
		return id
	}
	return strconv.FormatInt(time.Now().UnixNano(), 36)
}

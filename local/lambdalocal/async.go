package lambdalocal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"dirsync/local/sfnlocal"
)

// Conditions of an invocation record.
const (
	ConditionRetriesExhausted = "RetriesExhausted"
	ConditionEventAgeExceeded = "EventAgeExceeded"
	ConditionSuccess          = "Success"
)

// InvocationRecord is what Lambda sends an asynchronous invocation's
// destination (internal/apply's finalizer reads it).
type InvocationRecord struct {
	Version        string               `json:"version"`
	Timestamp      string               `json:"timestamp"`
	RequestContext RecordRequestContext `json:"requestContext"`
	RequestPayload json.RawMessage      `json:"requestPayload"`
	// ResponseContext and ResponsePayload describe the last attempt; an
	// event that expired before any attempt has neither.
	ResponseContext *RecordResponseContext `json:"responseContext,omitempty"`
	ResponsePayload json.RawMessage        `json:"responsePayload,omitempty"`
}

// RecordRequestContext names the invocation a record is about.
type RecordRequestContext struct {
	RequestID              string `json:"requestId"`
	FunctionARN            string `json:"functionArn"` // qualified: ...:function:<name>:$LATEST
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// RecordResponseContext is the last attempt's response.
type RecordResponseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError,omitempty"`
}

// InvokeAsync queues an Event invocation of function (a name or ARN), as
// the Invoke API does with X-Amz-Invocation-Type: Event, and returns its
// request id.
func (s *Service) InvokeAsync(function string, payload []byte) (string, error) {
	fn, ok := s.lookup(function)
	if !ok {
		return "", fmt.Errorf("%w: %s", ErrFunctionNotFound, function)
	}
	if len(bytes.TrimSpace(payload)) == 0 {
		payload = []byte("{}")
	}
	if !json.Valid(payload) {
		return "", errors.New("lambdalocal: the payload is not JSON")
	}
	id := sfnlocal.NewRequestID()
	return id, s.enqueue(fn, id, payload)
}

// WaitAsync waits until no Event invocation is queued, running or waiting
// to be retried, destinations' invocations included.
func (s *Service) WaitAsync(ctx context.Context) error {
	for {
		s.mu.Lock()
		n, idle := s.async, s.idle
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// enqueue accepts an Event invocation. Each event waits for a free instance
// of its function like any invocation, so a function's MaxConcurrency also
// bounds its asynchronous work.
func (s *Service) enqueue(fn *function, requestID string, payload []byte) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosed
	}
	if s.async == 0 {
		s.idle = make(chan struct{})
	}
	s.async++
	s.wg.Add(1)
	s.mu.Unlock()
	enqueued := time.Now()
	go func() {
		defer s.asyncDone()
		s.runEvent(fn, requestID, payload, enqueued)
	}()
	return nil
}

func (s *Service) asyncDone() {
	s.mu.Lock()
	s.async--
	if s.async == 0 {
		close(s.idle)
	}
	s.mu.Unlock()
	s.wg.Done()
}

// runEvent applies the function's EventInvokeConfig to one event: an
// attempt, then up to MaximumRetryAttempts more after a function error (a
// timeout and a crash are function errors), each after its retry delay, as
// long as the event is younger than MaximumEventAge; then the destination.
func (s *Service) runEvent(fn *function, requestID string, payload []byte, enqueued time.Time) {
	deadline := enqueued.Add(fn.maxAge)
	attempts := 0
	var last *Result
	for {
		if !time.Now().Before(deadline) {
			s.eventEnded(fn, requestID, payload, ConditionEventAgeExceeded, attempts, last)
			return
		}
		ctx, cancel := context.WithDeadline(s.base, deadline)
		res, err := s.run(ctx, fn, requestID, payload, nil)
		cancel()
		if err != nil {
			if s.base.Err() != nil {
				s.logger.Warn("lambdalocal: event abandoned on close", "function", fn.Name, "requestId", requestID)
				return
			}
			if errors.Is(err, context.DeadlineExceeded) { // waited for an instance past its age
				s.eventEnded(fn, requestID, payload, ConditionEventAgeExceeded, attempts, last)
				return
			}
			// It could not run (an instance did not start): a failed attempt.
			res = &Result{RequestID: requestID, FunctionError: FunctionUnhandled, ErrorType: "ServiceException",
				Payload: errorDocument("ServiceException", err.Error())}
		}
		attempts++
		last = res
		if res.FunctionError == "" {
			s.eventEnded(fn, requestID, payload, ConditionSuccess, attempts, last)
			return
		}
		s.logger.Warn("lambdalocal: event invocation failed", "function", fn.Name, "requestId", requestID,
			"attempt", attempts, "errorType", res.ErrorType)
		if attempts > fn.retries {
			s.eventEnded(fn, requestID, payload, ConditionRetriesExhausted, attempts, last)
			return
		}
		wait := s.retryDelay(attempts)
		if left := time.Until(deadline); left < wait {
			wait = left
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.base.Done():
			t.Stop()
			s.logger.Warn("lambdalocal: event abandoned on close", "function", fn.Name, "requestId", requestID)
			return
		}
	}
}

// retryDelay is the wait before retry n (1-based).
func (s *Service) retryDelay(n int) time.Duration {
	d := s.cfg.RetryDelays
	if n > len(d) {
		return d[len(d)-1]
	}
	return d[n-1]
}

// eventEnded sends the invocation record to the destination of the outcome,
// if the function has one.
func (s *Service) eventEnded(fn *function, requestID string, payload []byte, condition string, attempts int, last *Result) {
	dest := fn.Async.OnFailure
	if condition == ConditionSuccess {
		dest = fn.Async.OnSuccess
	} else if dest == "" {
		s.logger.Warn("lambdalocal: event dropped", "function", fn.Name, "requestId", requestID, "condition", condition, "attempts", attempts)
	}
	if dest == "" {
		return
	}
	rec := InvocationRecord{
		Version:   "1.0",
		Timestamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		RequestContext: RecordRequestContext{
			RequestID: requestID, FunctionARN: fn.ARN + ":$LATEST",
			Condition: condition, ApproximateInvokeCount: attempts,
		},
		RequestPayload: payload,
	}
	if last != nil {
		rec.ResponseContext = &RecordResponseContext{StatusCode: http.StatusOK, ExecutedVersion: "$LATEST", FunctionError: last.FunctionError}
		rec.ResponsePayload = last.Payload
	}
	body, err := json.Marshal(rec)
	if err != nil { // the payloads are valid JSON: cannot happen
		s.logger.Error("lambdalocal: encode an invocation record", "function", fn.Name, "err", err)
		return
	}
	s.logger.Info("lambdalocal: event to its destination", "function", fn.Name, "requestId", requestID,
		"condition", condition, "attempts", attempts, "destination", dest)
	if s.cfg.AuthorizeDestination != nil {
		destARN := dest
		if target, ok := s.lookup(dest); ok {
			destARN = target.ARN
		}
		if err := s.cfg.AuthorizeDestination(fn.Name, destARN); err != nil {
			// Lambda counts a DestinationDeliveryFailure; the record is lost.
			s.logger.Error("lambdalocal: the function's role may not deliver to its destination", "function", fn.Name,
				"destination", dest, "err", err)
			return
		}
	}
	if target, ok := s.lookup(dest); ok {
		if err := s.enqueue(target, sfnlocal.NewRequestID(), body); err != nil {
			s.logger.Warn("lambdalocal: destination not invoked", "function", fn.Name, "destination", dest, "err", err)
		}
		return
	}
	if s.cfg.Fallback == nil {
		s.logger.Error("lambdalocal: unknown destination", "function", fn.Name, "destination", dest)
		return
	}
	// A destination the fallback serves gets an Event invocation.
	req, err := http.NewRequestWithContext(s.base, http.MethodPost,
		"/2015-03-31/functions/"+url.PathEscape(dest)+"/invocations", bytes.NewReader(body))
	if err != nil {
		s.logger.Error("lambdalocal: destination request", "destination", dest, "err", err)
		return
	}
	req.Header.Set("X-Amz-Invocation-Type", "Event")
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	s.cfg.Fallback.ServeHTTP(w, req)
	if w.Code != http.StatusAccepted {
		s.logger.Error("lambdalocal: destination refused the record", "function", fn.Name, "destination", dest,
			"status", w.Code, "body", w.Body.String())
	}
}

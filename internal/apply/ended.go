package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"dirsync/internal/domain"
)

// PreviewFailures records that Lambda gave up on a preview's worker.
type PreviewFailures interface {
	WorkerFailed(ctx context.Context, tenant, syncID, why string) error
}

// Finalizer is the finalize function. It ends a sync on whatever reports
// its end: the state machine's last step (a FinalizeEvent), EventBridge when
// an apply execution ended FAILED, TIMED_OUT or ABORTED (which the state
// machine cannot report itself), and the preview worker's OnFailure
// destination when Lambda gave up on the worker. Each is idempotent.
type Finalizer struct {
	Apply    *Service
	Previews PreviewFailures
}

// executionStatusChange is EventBridge's "Step Functions Execution Status
// Change" event, with what is needed of it.
type executionStatusChange struct {
	DetailType string `json:"detail-type"`
	Detail     struct {
		ExecutionArn string  `json:"executionArn"`
		Status       string  `json:"status"`
		Input        *string `json:"input"`
		Error        *string `json:"error"`
		Cause        *string `json:"cause"`
	} `json:"detail"`
}

// invocationRecord is what Lambda sends an asynchronous invocation's
// OnFailure destination.
type invocationRecord struct {
	RequestContext *struct {
		Condition              string `json:"condition"`
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponsePayload json.RawMessage `json:"responsePayload"`
}

const executionStatusChangeType = "Step Functions Execution Status Change"

// Handle dispatches one event by its shape.
func (f *Finalizer) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		DetailType     string          `json:"detail-type"`
		RequestContext json.RawMessage `json:"requestContext"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("finalize: decode event: %w", err)
	}
	switch {
	case probe.DetailType == executionStatusChangeType:
		var ev executionStatusChange
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("finalize: decode execution status change: %w", err)
		}
		return nil, f.executionEnded(ctx, ev)
	case probe.DetailType != "":
		return nil, fmt.Errorf("finalize: unexpected event %q", probe.DetailType)
	case len(probe.RequestContext) > 0:
		var rec invocationRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return nil, fmt.Errorf("finalize: decode invocation record: %w", err)
		}
		return nil, f.workerFailed(ctx, rec)
	}
	var ev FinalizeEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("finalize: decode finalize event: %w", err)
	}
	return f.Apply.Finalize(ctx, ev)
}

// executionEnded ends an APPLYING sync whose execution ended without
// reaching finalize. An execution stopped by a cancel finds its sync
// CANCELLED and changes nothing.
func (f *Finalizer) executionEnded(ctx context.Context, ev executionStatusChange) error {
	d := ev.Detail
	if d.Input == nil {
		return fmt.Errorf("finalize: execution %s ended %s but the event carries no input to name its sync", d.ExecutionArn, d.Status)
	}
	var in ExecutionInput
	if err := json.Unmarshal([]byte(*d.Input), &in); err != nil || in.TenantID == "" || in.SyncID == "" {
		return fmt.Errorf("finalize: execution %s: input names no sync: %v", d.ExecutionArn, err)
	}
	var failure domain.SyncError
	switch d.Status {
	case "FAILED":
		failure = domain.SyncError{Code: domain.SyncErrApplyFailed, Message: "the apply execution failed: " + errorText(d.Error, d.Cause)}
	case "TIMED_OUT":
		failure = domain.SyncError{Code: domain.SyncErrApplyTimedOut, Message: "the apply execution reached its time limit; what was applied is reported"}
	case "ABORTED":
		failure = domain.SyncError{Code: domain.SyncErrApplyAborted, Message: "the apply execution was stopped outside a cancel; what was applied is reported"}
	default:
		return nil // RUNNING, SUCCEEDED: finalize itself reports those
	}
	st, err := f.Apply.finish(ctx, in.TenantID, in.SyncID, &failure)
	if err != nil {
		return retryable(err)
	}
	f.Apply.logger().Info("apply execution ended", "tenant_id", in.TenantID, "sync_id", in.SyncID, "execution_status", d.Status, "status", st)
	return nil
}

func errorText(name, cause *string) string {
	parts := make([]string, 0, 2)
	for _, p := range []*string{name, cause} {
		if p != nil && *p != "" {
			parts = append(parts, *p)
		}
	}
	if len(parts) == 0 {
		return "no error was reported"
	}
	msg := strings.Join(parts, ": ")
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return msg
}

// workerFailed ends the preview of an invocation Lambda gave up on.
func (f *Finalizer) workerFailed(ctx context.Context, rec invocationRecord) error {
	if f.Previews == nil {
		return errors.New("finalize: an invocation record arrived but no preview failures recorder is configured")
	}
	var job struct {
		TenantID string `json:"tenantId"`
		SyncID   string `json:"syncId"`
	}
	if err := json.Unmarshal(rec.RequestPayload, &job); err != nil || job.TenantID == "" || job.SyncID == "" {
		return fmt.Errorf("finalize: the invocation record names no preview job: %v", err)
	}
	why := "Lambda gave up on its invocation"
	switch rec.RequestContext.Condition {
	case "EventAgeExceeded":
		why = "its invocation waited too long to run (EventAgeExceeded)"
	case "RetriesExhausted":
		var res struct {
			ErrorType    string `json:"errorType"`
			ErrorMessage string `json:"errorMessage"`
		}
		_ = json.Unmarshal(rec.ResponsePayload, &res)
		why = fmt.Sprintf("%d attempts failed, the last with %s", rec.RequestContext.ApproximateInvokeCount,
			errorText(&res.ErrorType, &res.ErrorMessage))
	}
	return f.Previews.WorkerFailed(ctx, job.TenantID, job.SyncID, why)
}

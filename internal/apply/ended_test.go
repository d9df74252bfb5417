package apply

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"dirsync/internal/domain"
)

// executionEvent is an EventBridge "Step Functions Execution Status Change"
// event as AWS sends it (trimmed of what the handler ignores).
func executionEvent(t *testing.T, sc *scenario, status string) json.RawMessage {
	t.Helper()
	input, err := NewExecutionInput(sc.sync, 4)
	if err != nil {
		t.Fatal(err)
	}
	ev := map[string]any{
		"version": "0", "id": "315c1398-40ff-a850-213b-158f73e60175", "detail-type": "Step Functions Execution Status Change",
		"source": "aws.states", "account": "123456789012", "time": "2026-12-01T22:00:00Z", "region": "eu-west-1",
		"resources": []string{"arn:aws:states:eu-west-1:123456789012:execution:ApplyStateMachine:sync-" + sc.sync.ID},
		"detail": map[string]any{
			"executionArn":    "arn:aws:states:eu-west-1:123456789012:execution:ApplyStateMachine:sync-" + sc.sync.ID,
			"stateMachineArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:ApplyStateMachine",
			"name":            "sync-" + sc.sync.ID, "status": status, "startDate": 1764626400000, "stopDate": 1764630000000,
			"input": string(input), "inputDetails": map[string]any{"included": true},
			"output": nil, "error": "States.Runtime", "cause": "An error occurred while executing the state 'MarkFailed'",
		},
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// An execution that ended without reaching finalize (it failed in
// MarkFailed itself, timed out, or was stopped outside a cancel) ends its
// sync; a repeated event, or one for a sync already ended, changes nothing.
func TestExecutionEndedFinalizesTheSync(t *testing.T) {
	tests := []struct {
		status     string
		cancelled  bool
		wantStatus domain.SyncStatus
		wantCode   string
	}{
		{"FAILED", false, domain.SyncFailed, domain.SyncErrApplyFailed},
		{"TIMED_OUT", false, domain.SyncFailed, domain.SyncErrApplyTimedOut},
		{"ABORTED", false, domain.SyncFailed, domain.SyncErrApplyAborted},
		{"ABORTED", true, domain.SyncCancelled, ""},
		{"SUCCEEDED", false, domain.SyncApplying, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s cancelled=%v", tt.status, tt.cancelled), func(t *testing.T) {
			ctx := context.Background()
			sc := newScenario(t, 2, 10, domain.Options{})
			if _, err := sc.svc.Confirm(ctx, admin, sc.sync.ID, false); err != nil {
				t.Fatal(err)
			}
			if tt.cancelled {
				if _, err := sc.svc.Cancel(ctx, admin, sc.sync.ID); err != nil {
					t.Fatal(err)
				}
			}
			f := &Finalizer{Apply: sc.svc}
			for range 2 { // EventBridge delivers at least once
				if _, err := f.Handle(ctx, executionEvent(t, sc, tt.status)); err != nil {
					t.Fatal(err)
				}
			}
			sy, err := sc.st.GetSync(ctx, tenant, sc.sync.ID)
			if err != nil {
				t.Fatal(err)
			}
			if sy.Status != tt.wantStatus || (tt.wantCode != "" && (sy.Error == nil || sy.Error.Code != tt.wantCode)) {
				t.Fatalf("sync = %s %+v, want %s %s", sy.Status, sy.Error, tt.wantStatus, tt.wantCode)
			}
			if tt.wantStatus == domain.SyncFailed {
				if p := sc.progress(t); p.Status != domain.SyncFailed || p.FinishedAt == nil {
					t.Fatalf("progress %+v", p)
				}
			}
		})
	}
}

type recordedFailures struct{ tenant, syncID, why string }

func (r *recordedFailures) WorkerFailed(_ context.Context, tenant, syncID, why string) error {
	r.tenant, r.syncID, r.why = tenant, syncID, why
	return nil
}

// The preview worker's OnFailure destination record names the job and why
// Lambda gave up.
func TestWorkerOnFailureRecord(t *testing.T) {
	tests := []struct {
		name, record, wantWhy string
	}{
		{"retries exhausted", `{"version":"1.0","timestamp":"2026-12-01T22:00:00.000Z",
			"requestContext":{"requestId":"e4b46cbf-b738-xmpl-8880-a18cdf61200e","functionArn":"arn:aws:lambda:eu-west-1:123456789012:function:PreviewWorker:$LATEST","condition":"RetriesExhausted","approximateInvokeCount":2},
			"requestPayload":{"tenantId":"acme","syncId":"1m8s","actorEmail":"ada@acme.test"},
			"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},
			"responsePayload":{"errorMessage":"RequestId: e4b4 Error: Runtime exited with error: signal: killed","errorType":"Runtime.ExitError"}}`,
			"2 attempts failed, the last with Runtime.ExitError: RequestId: e4b4 Error: Runtime exited with error: signal: killed"},
		{"event too old", `{"version":"1.0","requestContext":{"condition":"EventAgeExceeded","approximateInvokeCount":0},
			"requestPayload":{"tenantId":"acme","syncId":"1m8s"}}`,
			"its invocation waited too long to run (EventAgeExceeded)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordedFailures{}
			f := &Finalizer{Apply: &Service{}, Previews: rec}
			if _, err := f.Handle(context.Background(), json.RawMessage(tt.record)); err != nil {
				t.Fatal(err)
			}
			if rec.tenant != "acme" || rec.syncID != "1m8s" || rec.why != tt.wantWhy {
				t.Fatalf("recorded %+v, want acme/1m8s %q", rec, tt.wantWhy)
			}
		})
	}
	if _, err := (&Finalizer{Apply: &Service{}, Previews: &recordedFailures{}}).Handle(context.Background(), json.RawMessage(`{"requestContext":{},"requestPayload":{}}`)); err == nil {
		t.Fatal("a record naming no job was accepted")
	}
}

package sfnexec

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// stepFunctions serves StartExecution, StopExecution and DescribeExecution
// over Step Functions' JSON protocol with the service's naming rules, so the
// real SDK client (and its error decoding) is what the adapter talks to.
type stepFunctions struct {
	mu         sync.Mutex
	executions map[string]*storedExecution
}

type storedExecution struct {
	machine, input, status string
}

func (s *stepFunctions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		StateMachineArn string `json:"stateMachineArn"`
		Name            string `json:"name"`
		Input           *string
		ExecutionArn    string `json:"executionArn"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(w, "SerializationException", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := float64(time.Now().Unix())
	switch strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AWSStepFunctions.") {
	case "StartExecution":
		input := "{}"
		if req.Input != nil {
			input = *req.Input
		}
		arn, _ := executionARN(req.StateMachineArn, req.Name)
		if e, ok := s.executions[arn]; ok {
			if e.status == "RUNNING" && e.input == input {
				reply(w, map[string]any{"executionArn": arn, "startDate": now})
				return
			}
			fail(w, "ExecutionAlreadyExists", "Execution Already Exists: '"+arn+"'")
			return
		}
		s.executions[arn] = &storedExecution{machine: req.StateMachineArn, input: input, status: "RUNNING"}
		reply(w, map[string]any{"executionArn": arn, "startDate": now})
	case "DescribeExecution":
		e, ok := s.executions[req.ExecutionArn]
		if !ok {
			fail(w, "ExecutionDoesNotExist", "Execution Does Not Exist: '"+req.ExecutionArn+"'")
			return
		}
		reply(w, map[string]any{"executionArn": req.ExecutionArn, "stateMachineArn": e.machine, "status": e.status, "input": e.input, "startDate": now})
	case "StopExecution":
		e, ok := s.executions[req.ExecutionArn]
		if !ok {
			fail(w, "ExecutionDoesNotExist", "Execution Does Not Exist: '"+req.ExecutionArn+"'")
			return
		}
		if e.status != "RUNNING" {
			fail(w, "ValidationException", "Execution is not running")
			return
		}
		e.status = "ABORTED"
		reply(w, map[string]any{"stopDate": now})
	default:
		fail(w, "UnknownOperationException", r.Header.Get("X-Amz-Target"))
	}
}

func reply(w http.ResponseWriter, body any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(body)
}

func fail(w http.ResponseWriter, code, message string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.swf.service.v2.model#" + code, "message": message})
}

func TestExecutionsWithTheSDKClient(t *testing.T) {
	service := &stepFunctions{executions: map[string]*storedExecution{}}
	srv := httptest.NewServer(service)
	defer srv.Close()
	client := sfn.New(sfn.Options{
		Region:           "eu-west-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		RetryMaxAttempts: 1,
	})
	ex := &Executions{Client: client, StateMachineARN: machineARN}
	ctx := context.Background()
	input := []byte(`{"tenantId":"acme","syncId":"s1","userBatches":[0],"groupBatches":[],"maxConcurrency":10}`)

	arn, err := ex.Start(ctx, "confirm-s1", input)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := ex.Start(ctx, "confirm-s1", input); err != nil || again != arn {
		t.Fatalf("repeat while running = %q, %v; want %q", again, err, arn)
	}
	service.mu.Lock()
	service.executions[arn].status = "SUCCEEDED"
	service.mu.Unlock()
	if again, err := ex.Start(ctx, "confirm-s1", input); err != nil || again != arn {
		t.Fatalf("repeat after the end = %q, %v; want %q", again, err, arn)
	}
	if _, err := ex.Start(ctx, "confirm-s1", []byte(`{"tenantId":"acme","syncId":"other"}`)); !errors.Is(err, ErrExecutionAlreadyExists) {
		t.Fatalf("another input: %v, want ErrExecutionAlreadyExists", err)
	}
	if err := ex.Stop(ctx, arn, "too late"); err != nil {
		t.Errorf("stopping an ended execution: %v", err)
	}
	if err := ex.Stop(ctx, strings.Replace(arn, "confirm-s1", "never", 1), "x"); err != nil {
		t.Errorf("stopping a missing execution: %v", err)
	}
	running, err := ex.Start(ctx, "confirm-s2", input)
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.Stop(ctx, running, "cancelled"); err != nil {
		t.Fatal(err)
	}
	service.mu.Lock()
	status := service.executions[running].status
	service.mu.Unlock()
	if status != "ABORTED" {
		t.Errorf("status after Stop = %s, want ABORTED", status)
	}
}

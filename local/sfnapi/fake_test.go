package sfnapi

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dirsync/local/sfnlocal"
)

// fakeExecutor ends executions as the test says, for outcomes the Node
// runner does not produce on demand.
type fakeExecutor struct {
	prefix string
	mu     sync.Mutex
	ended  map[string]sfnlocal.Result
	err    error // returned by Start
}

func (f *fakeExecutor) ExecutionID(name string) string { return f.prefix + name }

func (f *fakeExecutor) Start(_ context.Context, name string, _ []byte) (string, error) {
	if f.err != nil {
		return "", f.err
	}
	return f.ExecutionID(name), nil
}

func (f *fakeExecutor) Stop(context.Context, string, string) error { return nil }

func (f *fakeExecutor) Status(id string) (sfnlocal.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if res, ok := f.ended[id]; ok {
		return res, nil
	}
	return sfnlocal.Result{Status: sfnlocal.StatusRunning}, nil
}

func (f *fakeExecutor) Wait(ctx context.Context, id string) (sfnlocal.Result, error) {
	<-ctx.Done()
	return sfnlocal.Result{}, ctx.Err()
}

func TestFakeExecutor(t *testing.T) {
	h := New()
	t.Cleanup(func() { _ = h.Close() })
	f := &fakeExecutor{prefix: "arn:aws:states:us-east-1:123456789012:execution:Fake:", ended: map[string]sfnlocal.Result{}}
	arn, err := h.Add(f)
	if err != nil || arn != "arn:aws:states:us-east-1:123456789012:stateMachine:Fake" {
		t.Fatalf("Add: %q %v", arn, err)
	}
	if _, err := h.Add(f); err == nil {
		t.Fatal("Add accepted the same state machine twice")
	}
	if _, err := h.Add(&fakeExecutor{prefix: "exec-"}); err == nil {
		t.Fatal("Add accepted execution ids that are not ARNs")
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client := sfn.New(sfn.Options{
		BaseEndpoint: aws.String(srv.URL), Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
	ctx := context.Background()

	t.Run("TimedOutIsReported", func(t *testing.T) {
		out, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String("slow")})
		if err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		f.ended[aws.ToString(out.ExecutionArn)] = sfnlocal.Result{Status: "TIMED_OUT", Error: "States.Timeout", Cause: "too slow"}
		f.mu.Unlock()
		desc, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: out.ExecutionArn})
		if err != nil {
			t.Fatal(err)
		}
		if desc.Status != types.ExecutionStatusTimedOut || aws.ToString(desc.Error) != "States.Timeout" || desc.StopDate == nil {
			t.Fatalf("status %s error %q stopDate %v", desc.Status, aws.ToString(desc.Error), desc.StopDate)
		}
		list, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(arn), StatusFilter: types.ExecutionStatusTimedOut})
		if err != nil || len(list.Executions) != 1 {
			t.Fatalf("TIMED_OUT filter: %v %+v", err, list)
		}
	})
	t.Run("NameOfAClosedExecutionStartedElsewhereIsTaken", func(t *testing.T) {
		f.mu.Lock()
		f.ended[f.ExecutionID("direct")] = sfnlocal.Result{Status: sfnlocal.StatusSucceeded, Output: []byte("{}")}
		f.mu.Unlock()
		_, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String("direct")})
		if code(err) != "ExecutionAlreadyExists" {
			t.Fatalf("%v", err)
		}
	})
	t.Run("ClosedRunnerIsServiceUnavailable", func(t *testing.T) {
		f.err = fmt.Errorf("sfnlocal: start x: %w", sfnlocal.ErrRunnerClosed)
		defer func() { f.err = nil }()
		_, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String("x")})
		if code(err) != "ServiceUnavailable" {
			t.Fatalf("%v", err)
		}
	})
	t.Run("MaxResultsOutOfRange", func(t *testing.T) {
		_, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(arn), MaxResults: 1001})
		if code(err) != "ValidationException" {
			t.Fatalf("%v", err)
		}
	})
}

package sfnapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"dirsync/local/dynamolocal"
	"dirsync/local/sfnlocal"
)

// WorkFailed is the error the Work function returns for {"fail": true}.
type WorkFailed struct{ Msg string }

func (e *WorkFailed) Error() string { return e.Msg }

// gates hold Work invocations whose input has "hold": key until released.
type gates struct {
	mu    sync.Mutex
	gates map[string]chan struct{}
}

func (g *gates) gate(key string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gates == nil {
		g.gates = map[string]chan struct{}{}
	}
	c, ok := g.gates[key]
	if !ok {
		c = make(chan struct{})
		g.gates[key] = c
	}
	return c
}

func (g *gates) release(key string) {
	c := g.gate(key)
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-c:
	default:
		close(c)
	}
}

func (g *gates) releaseAll() {
	g.mu.Lock()
	keys := make([]string, 0, len(g.gates))
	for k := range g.gates {
		keys = append(keys, k)
	}
	g.mu.Unlock()
	for _, k := range keys {
		g.release(k)
	}
}

// definition: a Task calling Work, then a Pass that wraps its result.
const definition = `{"StartAt":"Work","States":{
 "Work":{"Type":"Task","Resource":"arn:aws:lambda:LOCALREGION:LOCALACCOUNT:function:Work","ResultPath":"$.work","Next":"Done"},
 "Done":{"Type":"Pass","Parameters":{"done.$":"$.work"},"End":true}}}`

// stack is an invoke server with the Work function, a runner per state
// machine name, the Handler in front of them on httptest and an SDK client.
type stack struct {
	gates   *gates
	calls   atomic.Int64
	handler *Handler
	client  *sfn.Client
	arns    map[string]string // state machine ARN by name
	url     string
}

func newStack(t *testing.T, machines ...string) *stack {
	t.Helper()
	if len(machines) == 0 {
		machines = []string{"Probe"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := &stack{gates: &gates{}, arns: map[string]string{}}
	server := sfnlocal.NewInvokeServer(nil)
	server.Register(sfnlocal.LocalARN("Work"), sfnlocal.JSONFunction(func(ctx context.Context, in map[string]any) (any, error) {
		s.calls.Add(1)
		if key, ok := in["hold"].(string); ok {
			select {
			case <-s.gates.gate(key):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if fail, _ := in["fail"].(bool); fail {
			return nil, &WorkFailed{Msg: "work failed on purpose"}
		}
		return map[string]any{"echo": in["value"]}, nil
	}))
	invokeURL, err := server.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close() })
	t.Cleanup(s.gates.releaseAll) // before the server closes

	root, err := dynamolocal.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	def := strings.NewReplacer("LOCALREGION", sfnlocal.LocalRegion, "LOCALACCOUNT", sfnlocal.LocalAccountID).Replace(definition)
	s.handler = New()
	t.Cleanup(func() { _ = s.handler.Close() })
	for _, name := range machines {
		runner, err := sfnlocal.NewRunner(ctx, sfnlocal.RunnerConfig{
			Root: root, Definition: []byte(def), InvokeURL: invokeURL, StateMachineName: name,
			Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = runner.Close() })
		arn, err := s.handler.Add(runner)
		if err != nil {
			t.Fatal(err)
		}
		s.arns[name] = arn
	}
	srv := httptest.NewServer(s.handler)
	t.Cleanup(srv.Close)
	s.url = srv.URL
	s.client = sfn.New(sfn.Options{
		BaseEndpoint:     aws.String(srv.URL),
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("local", "local", ""),
		RetryMaxAttempts: 1,
	})
	return s
}

func (s *stack) arn() string { return s.arns["Probe"] }

func (s *stack) start(t *testing.T, machine, name, input string) *sfn.StartExecutionOutput {
	t.Helper()
	out, err := s.client.StartExecution(context.Background(), &sfn.StartExecutionInput{
		StateMachineArn: aws.String(machine), Name: aws.String(name), Input: aws.String(input),
	})
	if err != nil {
		t.Fatalf("StartExecution %s: %v", name, err)
	}
	return out
}

func (s *stack) describe(t *testing.T, arn string) *sfn.DescribeExecutionOutput {
	t.Helper()
	out, err := s.client.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("DescribeExecution %s: %v", arn, err)
	}
	return out
}

// await polls DescribeExecution until the execution is no longer RUNNING.
func (s *stack) await(t *testing.T, arn string) *sfn.DescribeExecutionOutput {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := s.describe(t, arn)
		if out.Status != types.ExecutionStatusRunning {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still RUNNING after 30s", arn)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// awaitCalls waits until Work has been called n times in all, so a held
// execution is known to sit in its Task.
func (s *stack) awaitCalls(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for s.calls.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("Work called %d times, want %d", s.calls.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// code is the error code the SDK decoded, "" for no error.
func code(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return "not an API error: " + err.Error()
}

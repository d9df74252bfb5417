package sfnlocal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

type echoIn struct {
	Name string `json:"name"`
}

type lambdaError struct{ code string }

func (e lambdaError) Error() string { return "value error " + e.code }

// newInvokeClient starts an InvokeServer and returns the real AWS SDK Lambda
// client pointed at it.
func newInvokeClient(t *testing.T) (*InvokeServer, *lambda.Client) {
	t.Helper()
	server := NewInvokeServer(testLogger(t))
	url, err := server.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close() })
	client := lambda.New(lambda.Options{
		Region:       LocalRegion,
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		// One attempt: a 5xx must reach the test, not be retried away.
		RetryMaxAttempts: 1,
	})
	return server, client
}

func TestInvokeServerSynchronous(t *testing.T) {
	server, client := newInvokeClient(t)
	arn := LocalARN("EchoFunction")
	server.Register(arn, JSONFunction(func(ctx context.Context, in echoIn) (map[string]string, error) {
		lc, _ := lambdacontext.FromContext(ctx)
		switch in.Name {
		case "retry":
			return nil, &RetryableError{Msg: "throttled by the table"}
		case "value":
			return nil, lambdaError{code: "7"}
		case "wrapped":
			return nil, fmt.Errorf("apply: %w", &RetryableError{Msg: "inner"})
		case "document":
			return nil, messages.InvokeResponse_Error{Type: "Custom.Type", Message: "as the runtime reports it"}
		case "panic":
			panic("index out of range")
		case "panic-error":
			panic(&PermanentError{Msg: "bad state"})
		}
		return map[string]string{"hello": in.Name, "arn": lc.InvokedFunctionArn, "hasRequestId": fmt.Sprint(lc.AwsRequestID != "")}, nil
	}))
	server.Register(LocalARN("RawFunction"), func(context.Context, []byte) ([]byte, error) { return []byte("not json"), nil })
	server.Register(LocalARN("NilFunction"), func(context.Context, []byte) ([]byte, error) { return nil, nil })

	tests := []struct {
		name      string
		function  string
		payload   string
		wantError string // X-Amz-Function-Error body's errorType; "" for success
		wantBody  string // substring of the payload
	}{
		{name: "result", function: arn, payload: `{"name":"ada"}`, wantBody: `"hello":"ada"`},
		{name: "context carries the ARN", function: arn, payload: `{"name":"x"}`, wantBody: `"arn":"` + arn + `"`},
		{name: "context carries a request id", function: arn, payload: `{"name":"x"}`, wantBody: `"hasRequestId":"true"`},
		{name: "bare function name", function: "EchoFunction", payload: `{"name":"bare"}`, wantBody: `"hello":"bare"`},
		{name: "qualified ARN", function: arn + ":$LATEST", payload: `{"name":"q"}`, wantBody: `"hello":"q"`},
		{name: "empty payload is an empty object", function: arn, payload: ``, wantBody: `"hello":""`},
		{name: "pointer error type", function: arn, payload: `{"name":"retry"}`, wantError: "RetryableError", wantBody: "throttled by the table"},
		{name: "value error type", function: arn, payload: `{"name":"value"}`, wantError: "lambdaError", wantBody: "value error 7"},
		{name: "wrapped error is named by its wrapper", function: arn, payload: `{"name":"wrapped"}`, wantError: "wrapError", wantBody: "apply: inner"},
		{name: "runtime error document passes through", function: arn, payload: `{"name":"document"}`, wantError: "Custom.Type", wantBody: "as the runtime reports it"},
		{name: "panic with a string", function: arn, payload: `{"name":"panic"}`, wantError: "string", wantBody: "index out of range"},
		{name: "panic with an error", function: arn, payload: `{"name":"panic-error"}`, wantError: "PermanentError", wantBody: "bad state"},
		{name: "payload that does not decode", function: arn, payload: `{"name":3}`, wantError: "UnmarshalTypeError"},
		{name: "result that is not JSON", function: LocalARN("RawFunction"), payload: `{}`, wantError: "Runtime.MarshalError"},
		{name: "no result is null", function: LocalARN("NilFunction"), payload: `{}`, wantBody: "null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &lambda.InvokeInput{FunctionName: aws.String(tt.function)}
			if tt.payload != "" {
				in.Payload = []byte(tt.payload)
			}
			out, err := client.Invoke(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if out.StatusCode != http.StatusOK {
				t.Errorf("status %d, want 200", out.StatusCode)
			}
			if got := aws.ToString(out.FunctionError); (got != "") != (tt.wantError != "") || (got != "" && got != "Unhandled") {
				t.Errorf("FunctionError = %q, want Unhandled only for errors", got)
			}
			if !json.Valid(out.Payload) {
				t.Fatalf("payload is not JSON: %s", out.Payload)
			}
			if tt.wantError != "" {
				var doc struct {
					ErrorType    string `json:"errorType"`
					ErrorMessage string `json:"errorMessage"`
				}
				if err := json.Unmarshal(out.Payload, &doc); err != nil {
					t.Fatal(err)
				}
				if doc.ErrorType != tt.wantError {
					t.Errorf("errorType = %q, want %q (payload %s)", doc.ErrorType, tt.wantError, out.Payload)
				}
			}
			if !strings.Contains(string(out.Payload), tt.wantBody) {
				t.Errorf("payload %s lacks %s", out.Payload, tt.wantBody)
			}
		})
	}
}

func TestInvokeServerServiceErrors(t *testing.T) {
	server, client := newInvokeClient(t)
	server.Register(LocalARN("Known"), func(context.Context, []byte) ([]byte, error) { return []byte(`{}`), nil })

	_, err := client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(LocalARN("Unknown")), Payload: []byte(`{}`)})
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) || !strings.Contains(notFound.ErrorMessage(), LocalARN("Unknown")) {
		t.Errorf("unknown function: %v, want ResourceNotFoundException naming it", err)
	}

	_, err = client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(LocalARN("Known")), Payload: []byte(`{"a":`)})
	var badContent *types.InvalidRequestContentException
	if !errors.As(err, &badContent) {
		t.Errorf("payload that is not JSON: %v, want InvalidRequestContentException", err)
	}

	big := []byte(`{"a":"` + strings.Repeat("x", MaxSyncPayload) + `"}`)
	_, err = client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(LocalARN("Known")), Payload: big})
	var tooLarge *types.RequestTooLargeException
	if !errors.As(err, &tooLarge) {
		t.Errorf("payload over 6 MB: %v, want RequestTooLargeException", err)
	}

	out, err := client.Invoke(context.Background(), &lambda.InvokeInput{
		FunctionName: aws.String(LocalARN("Known")), InvocationType: types.InvocationTypeDryRun, Payload: []byte(`{}`),
	})
	if err != nil || out.StatusCode != http.StatusNoContent {
		t.Errorf("dry run: %v, status %v; want 204", err, out)
	}
}

func TestInvokeServerEvent(t *testing.T) {
	server, client := newInvokeClient(t)
	got := make(chan string, 1)
	release := make(chan struct{})
	server.Register(LocalARN("Worker"), JSONFunction(func(ctx context.Context, in echoIn) (any, error) {
		<-release // the caller has its 202 long before this returns
		got <- in.Name
		return nil, nil
	}))
	server.Register(LocalARN("Failing"), func(context.Context, []byte) ([]byte, error) {
		return nil, &PermanentError{Msg: "nobody waits for this"}
	})

	out, err := client.Invoke(context.Background(), &lambda.InvokeInput{
		FunctionName: aws.String("Worker"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"name":"job-1"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.StatusCode != http.StatusAccepted || len(out.Payload) != 0 {
		t.Errorf("event invoke answered %d with %q, want 202 and no payload", out.StatusCode, out.Payload)
	}
	close(release)
	select {
	case name := <-got:
		if name != "job-1" {
			t.Errorf("function got %q, want job-1", name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the event invocation never ran")
	}

	out, err = client.Invoke(context.Background(), &lambda.InvokeInput{
		FunctionName: aws.String("Failing"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`),
	})
	if err != nil || out.StatusCode != http.StatusAccepted {
		t.Errorf("event invoke of a failing function: %v %v, want 202 (the error is logged)", err, out)
	}

	big := []byte(`{"a":"` + strings.Repeat("x", MaxEventPayload) + `"}`)
	_, err = client.Invoke(context.Background(), &lambda.InvokeInput{
		FunctionName: aws.String("Worker"), InvocationType: types.InvocationTypeEvent, Payload: big,
	})
	var tooLarge *types.RequestTooLargeException
	if !errors.As(err, &tooLarge) {
		t.Errorf("event payload over 256 KiB: %v, want RequestTooLargeException", err)
	}
}

func TestInvokeServerCloseCancelsFunctions(t *testing.T) {
	server, client := newInvokeClient(t)
	cancelled := make(chan struct{})
	entered := make(chan struct{})
	server.Register(LocalARN("Slow"), func(ctx context.Context, _ []byte) ([]byte, error) {
		close(entered)
		<-ctx.Done()
		close(cancelled)
		return nil, ctx.Err()
	})
	if _, err := client.Invoke(context.Background(), &lambda.InvokeInput{
		FunctionName: aws.String("Slow"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`),
	}); err != nil {
		t.Fatal(err)
	}
	<-entered
	done := make(chan error, 1)
	go func() { done <- server.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	select {
	case <-cancelled:
	default:
		t.Error("Close returned before the running event invocation saw its context cancelled")
	}
}

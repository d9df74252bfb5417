package sfnapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// TestMountedUnderPath: the stack's server has the console at /, so the
// API is mounted under a path; an SDK endpoint with that path reaches it.
func TestMountedUnderPath(t *testing.T) {
	h := New()
	t.Cleanup(func() { _ = h.Close() })
	arn, err := h.Add(&fakeExecutor{prefix: "arn:aws:states:us-east-1:123456789012:execution:Fake:"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	// The SDK posts to the endpoint's path itself, without a trailing slash.
	mux.Handle("POST /stepfunctions", h)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "console", http.StatusTeapot) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client := sfn.New(sfn.Options{
		BaseEndpoint: aws.String(srv.URL + "/stepfunctions"), Region: "us-east-1", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
	out, err := client.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String("m")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.ExecutionArn) != "arn:aws:states:us-east-1:123456789012:execution:Fake:m" {
		t.Fatalf("executionArn %s", aws.ToString(out.ExecutionArn))
	}
}

// TestEndpointFromEnvironment: a function built as functions/confirm is
// (config.LoadDefaultConfig, sfn.NewFromConfig) reaches the mounted API
// through AWS_ENDPOINT_URL_SFN alone.
func TestEndpointFromEnvironment(t *testing.T) {
	h := New()
	t.Cleanup(func() { _ = h.Close() })
	arn, err := h.Add(&fakeExecutor{prefix: "arn:aws:states:us-east-1:123456789012:execution:Fake:"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /stepfunctions", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL_SFN", srv.URL+"/stepfunctions")
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = sfn.NewFromConfig(cfg).DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{
		ExecutionArn: aws.String("arn:aws:states:us-east-1:123456789012:execution:Fake:nothing"),
	})
	if code(err) != "ExecutionDoesNotExist" {
		t.Fatalf("%v, want ExecutionDoesNotExist from the local API (%s)", err, arn)
	}
}

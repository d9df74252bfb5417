package iamlocal

import (
	"context"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dirsync/local/sfnapi"
	"dirsync/local/sfnlocal"
)

// executor starts executions that run until the test ends.
type executor struct{ prefix string }

func (e executor) ExecutionID(name string) string { return e.prefix + name }
func (e executor) Start(_ context.Context, name string, _ []byte) (string, error) {
	return e.ExecutionID(name), nil
}
func (e executor) Stop(context.Context, string, string) error { return nil }
func (e executor) Status(string) (sfnlocal.Result, error) {
	return sfnlocal.Result{Status: sfnlocal.StatusRunning}, nil
}
func (e executor) Wait(ctx context.Context, _ string) (sfnlocal.Result, error) {
	<-ctx.Done()
	return sfnlocal.Result{}, ctx.Err()
}

func TestStepFunctionsThroughSfnapi(t *testing.T) {
	a, ps := guarded(t)
	api := sfnapi.New()
	t.Cleanup(func() { _ = api.Close() })
	machine, err := api.Add(executor{prefix: localARN("states", "execution:ApplyStateMachine:")})
	if err != nil {
		t.Fatal(err)
	}
	// Mounted under a path, as the local stack serves it.
	mux := http.NewServeMux()
	mux.Handle("POST /stepfunctions", a.StepFunctions(api))
	url := serve(t, mux) + "/stepfunctions"
	client := func(creds aws.CredentialsProvider) *sfn.Client {
		return sfn.New(sfn.Options{Region: sfnlocal.LocalRegion, BaseEndpoint: aws.String(url), Credentials: creds, RetryMaxAttempts: 1})
	}
	ctx := context.Background()
	execution := localARN("states", "execution:ApplyStateMachine:sync-1")
	start := func(c *sfn.Client) error {
		_, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Name: aws.String("sync-1"), Input: aws.String("{}")})
		return err
	}
	describe := func(c *sfn.Client) error {
		_, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(execution)})
		return err
	}
	tests := []struct {
		name string
		role string
		call func(c *sfn.Client) error
		want func(p *Principal) *refusal
	}{
		{"StartExecution denied", "ProgressFunctionRole", start, func(p *Principal) *refusal { return accessDenied(400, p, "states:StartExecution", machine) }},
		{"StartExecution allowed", "ConfirmFunctionRole", start, nil},
		{"DescribeExecution allowed", "ConfirmFunctionRole", describe, nil},
		{"DescribeExecution denied", "PreviewFunctionRole", describe, func(p *Principal) *refusal { return accessDenied(400, p, "states:DescribeExecution", execution) }},
		{"StopExecution allowed", "ConfirmFunctionRole", func(c *sfn.Client) error {
			_, err := c.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(execution)})
			return err
		}, nil},
		{"ListExecutions denied", "ConfirmFunctionRole", func(c *sfn.Client) error {
			_, err := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(machine)})
			return err
		}, func(p *Principal) *refusal { return accessDenied(400, p, "states:ListExecutions", machine) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := principal(t, ps, tt.role)
			var want *refusal
			if tt.want != nil {
				want = tt.want(p)
			}
			checkRefusal(t, tt.call(client(p.Provider())), want)
		})
	}
	confirm := principal(t, ps, "ConfirmFunctionRole")
	auth := []struct {
		name  string
		creds aws.CredentialsProvider
		want  refusal
	}{
		{"the admin lists", ps.Admin().Provider(), refusal{}},
		{"unknown access key", unknownKey(), refusal{400, "UnrecognizedClientException", msgUnrecognized}},
		{"wrong secret", wrongSecret(confirm), refusal{400, "InvalidSignatureException", msgSignature}},
	}
	for _, tt := range auth {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client(tt.creds).ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(machine)})
			want := &tt.want
			if tt.want.code == "" {
				want = nil
			}
			checkRefusal(t, err, want)
		})
	}
}

func TestLambdaInvokeThroughInvokeServer(t *testing.T) {
	a, ps := guarded(t)
	srv := sfnlocal.NewInvokeServer(nil)
	t.Cleanup(func() { _ = srv.Close() })
	echo := func(_ context.Context, payload []byte) ([]byte, error) { return payload, nil }
	for _, fn := range []string{"PreviewWorkerFunction", "ApplyFunction", "FinalizeFunction"} {
		srv.Register(sfnlocal.LocalARN(fn), echo)
	}
	url := serve(t, a.Lambda(srv, nil))
	client := func(creds aws.CredentialsProvider) *lambda.Client {
		return lambda.New(lambda.Options{Region: sfnlocal.LocalRegion, BaseEndpoint: aws.String(url), Credentials: creds, RetryMaxAttempts: 1})
	}
	invoke := func(name string, qualifier *string) func(c *lambda.Client) error {
		return func(c *lambda.Client) error {
			out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(name), Qualifier: qualifier, Payload: []byte(`{"a":1}`)})
			if err == nil && (out.FunctionError != nil || string(out.Payload) != `{"a":1}`) {
				t.Errorf("Invoke %s = %s %v, want the payload back", name, out.Payload, aws.ToString(out.FunctionError))
			}
			return err
		}
	}
	tests := []struct {
		name string
		role string
		call func(c *lambda.Client) error
		want func(p *Principal) *refusal
	}{
		{"by name", "PreviewFunctionRole", invoke("PreviewWorkerFunction", nil), nil},
		{"by ARN", "PreviewFunctionRole", invoke(sfnlocal.LocalARN("PreviewWorkerFunction"), nil), nil},
		{"qualified", "PreviewFunctionRole", invoke("PreviewWorkerFunction", aws.String("$LATEST")), nil},
		{"another function by name", "PreviewFunctionRole", invoke("ApplyFunction", nil),
			func(p *Principal) *refusal {
				return accessDenied(403, p, "lambda:InvokeFunction", sfnlocal.LocalARN("ApplyFunction"))
			}},
		{"another function by ARN", "PreviewWorkerFunctionRole", invoke(sfnlocal.LocalARN("ApplyFunction"), nil),
			func(p *Principal) *refusal {
				return accessDenied(403, p, "lambda:InvokeFunction", sfnlocal.LocalARN("ApplyFunction"))
			}},
		{"the state machine's tasks", "ApplyStateMachineRole", invoke(sfnlocal.LocalARN("ApplyFunction"), nil), nil},
		{"a function with no role to invoke", "ProgressFunctionRole", invoke("FinalizeFunction", nil),
			func(p *Principal) *refusal {
				return accessDenied(403, p, "lambda:InvokeFunction", sfnlocal.LocalARN("FinalizeFunction"))
			}},
		{"another API is not modelled", "PreviewFunctionRole", func(c *lambda.Client) error {
			_, err := c.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String("PreviewWorkerFunction")})
			return err
		}, func(*Principal) *refusal { return &refusal{403, "AccessDeniedException", ""} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := principal(t, ps, tt.role)
			var want *refusal
			if tt.want != nil {
				want = tt.want(p)
			}
			checkRefusal(t, tt.call(client(p.Provider())), want)
		})
	}
	preview := principal(t, ps, "PreviewFunctionRole")
	auth := []struct {
		name  string
		creds aws.CredentialsProvider
		want  refusal
	}{
		{"unknown access key", unknownKey(), refusal{403, "UnrecognizedClientException", msgUnrecognized}},
		{"wrong secret", wrongSecret(preview), refusal{403, "InvalidSignatureException", msgSignature}},
		{"wrong session token", wrongToken(preview), refusal{403, "UnrecognizedClientException", msgUnrecognized}},
	}
	for _, tt := range auth {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client(tt.creds).Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("PreviewWorkerFunction")})
			checkRefusal(t, err, &tt.want)
		})
	}
	t.Run("a name resolves through the caller's func", func(t *testing.T) {
		resolved := serve(t, a.Lambda(srv, func(name string) (string, bool) {
			return sfnlocal.LocalARN("ApplyFunction"), name == "apply"
		}))
		c := lambda.New(lambda.Options{Region: sfnlocal.LocalRegion, BaseEndpoint: aws.String(resolved), Credentials: preview.Provider(), RetryMaxAttempts: 1})
		_, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("apply")})
		checkRefusal(t, err, accessDenied(403, preview, "lambda:InvokeFunction", sfnlocal.LocalARN("ApplyFunction")))
	})
}

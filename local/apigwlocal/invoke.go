package apigwlocal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Invoker runs a function synchronously (RequestResponse), as the HTTP
// API's Lambda integration does: payload is the payload format 2.0 event,
// the result is the function's JSON result. function is the template's
// logical id ("ProgressFunction").
//
// A non-nil error is a failed invocation (a function error, a crash, the
// Lambda service refusing it): API Gateway answers 500, or 413 when the
// error wraps ErrRequestTooLarge. The context carries no deadline and is
// not cancelled when the client goes away or the integration times out:
// a Lambda invocation runs on (within its own timeout) whatever its caller
// does.
type Invoker interface {
	Invoke(ctx context.Context, function string, payload []byte) ([]byte, error)
}

// InvokerFunc is an Invoker as a function.
type InvokerFunc func(ctx context.Context, function string, payload []byte) ([]byte, error)

// Invoke calls f.
func (f InvokerFunc) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	return f(ctx, function, payload)
}

// ErrRequestTooLarge is the Lambda service refusing a payload over its
// invocation limit (6 MB synchronous): API Gateway answers 413.
var ErrRequestTooLarge = errors.New("request payload too large for the function")

// FunctionError is a function's error result (Lambda's X-Amz-Function-Error
// with its {errorType, errorMessage} document).
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("function error %s: %s", e.Type, e.Message)
}

// Functions invokes Go functions in-process, by logical id. Each takes the
// event JSON and returns the result JSON (sfnlocal.JSONFunction and
// EventHandler build such functions).
type Functions map[string]func(ctx context.Context, payload []byte) ([]byte, error)

// Invoke runs the named function; an unknown name is an error (500), as a
// missing function is in AWS.
func (fs Functions) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	fn, ok := fs[function]
	if !ok {
		return nil, fmt.Errorf("apigwlocal: function %s not found", function)
	}
	return fn(ctx, payload)
}

// EventHandler adapts an API Gateway payload format 2.0 handler (such as
// lambdahttp.Handler's) to a Functions entry, decoding the event and
// encoding the response as aws-lambda-go's lambda.Start does.
func EventHandler(h func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)) func(context.Context, []byte) ([]byte, error) {
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, err
		}
		resp, err := h(ctx, ev)
		if err != nil {
			return nil, err
		}
		return json.Marshal(resp)
	}
}

// LambdaAPI is the part of the AWS Lambda client LambdaInvoker uses.
type LambdaAPI interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// LambdaInvoker invokes functions through the Lambda Invoke API (the local
// stack's Lambda service, or AWS), naming each by name(logicalID), e.g.
// sfnlocal.LocalARN. A function error becomes a *FunctionError, Lambda's
// RequestTooLargeException wraps ErrRequestTooLarge.
func LambdaInvoker(client LambdaAPI, name func(logicalID string) string) Invoker {
	return InvokerFunc(func(ctx context.Context, function string, payload []byte) ([]byte, error) {
		out, err := client.Invoke(ctx, &lambda.InvokeInput{
			FunctionName:   aws.String(name(function)),
			InvocationType: types.InvocationTypeRequestResponse,
			Payload:        payload,
		})
		if err != nil {
			if _, ok := errors.AsType[*types.RequestTooLargeException](err); ok {
				return nil, fmt.Errorf("apigwlocal: invoke %s: %w (%w)", function, ErrRequestTooLarge, err)
			}
			return nil, fmt.Errorf("apigwlocal: invoke %s: %w", function, err)
		}
		if out.FunctionError != nil {
			fe := &FunctionError{}
			if json.Unmarshal(out.Payload, fe) != nil || fe.Type == "" {
				fe.Type, fe.Message = aws.ToString(out.FunctionError), string(out.Payload)
			}
			return nil, fe
		}
		return out.Payload, nil
	})
}

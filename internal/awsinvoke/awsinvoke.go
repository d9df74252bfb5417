// Package awsinvoke hands preview jobs to the previewworker Lambda with an
// asynchronous invoke (Lambda retries failed async invocations itself).
package awsinvoke

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"dirsync/internal/preview"
)

// LambdaAPI is the part of the Lambda client used here.
type LambdaAPI interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Dispatcher invokes FunctionName asynchronously with the job as payload.
type Dispatcher struct {
	Client       LambdaAPI
	FunctionName string
}

// New is the dispatcher to the named worker function, with a Lambda client
// of cfg.
func New(cfg aws.Config, functionName string) *Dispatcher {
	return &Dispatcher{Client: lambda.NewFromConfig(cfg), FunctionName: functionName}
}

// Dispatch queues the job; it returns once Lambda accepted it.
func (d *Dispatcher) Dispatch(ctx context.Context, job preview.Job) error {
	payload, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("awsinvoke: encode job: %w", err)
	}
	out, err := d.Client.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(d.FunctionName),
		InvocationType: types.InvocationTypeEvent,
		Payload:        payload,
	})
	if err != nil {
		return fmt.Errorf("awsinvoke: invoke %s: %w", d.FunctionName, err)
	}
	if out.StatusCode != 202 {
		return fmt.Errorf("awsinvoke: invoke %s: status %d", d.FunctionName, out.StatusCode)
	}
	return nil
}

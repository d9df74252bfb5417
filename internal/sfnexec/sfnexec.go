// Package sfnexec starts and stops executions of the apply state machine in
// AWS Step Functions, idempotently by execution name.
package sfnexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dirsync/internal/canonjson"
)

// ErrExecutionAlreadyExists means the execution name was used before with a
// different input.
var ErrExecutionAlreadyExists = errors.New("execution already exists with a different input")

// maxCauseChars is StopExecution's limit on cause.
const maxCauseChars = 32768

// SFNAPI is the part of the Step Functions client used here.
type SFNAPI interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, opts ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	StopExecution(ctx context.Context, in *sfn.StopExecutionInput, opts ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

// Executions starts and stops executions of one STANDARD state machine.
type Executions struct {
	Client          SFNAPI
	StateMachineARN string
}

// New is the adapter to the state machine stateMachineARN, with a Step
// Functions client of cfg.
func New(cfg aws.Config, stateMachineARN string) *Executions {
	return &Executions{Client: sfn.NewFromConfig(cfg), StateMachineARN: stateMachineARN}
}

// Start starts the execution name with input and returns its ARN. Starting
// a name again with the same input returns the same ARN and starts nothing,
// whether the first execution still runs or has ended; another input is
// ErrExecutionAlreadyExists.
func (e *Executions) Start(ctx context.Context, name string, input []byte) (string, error) {
	req := &sfn.StartExecutionInput{StateMachineArn: aws.String(e.StateMachineARN), Name: aws.String(name)}
	if len(bytes.TrimSpace(input)) > 0 {
		req.Input = aws.String(string(input))
	}
	out, err := e.Client.StartExecution(ctx, req)
	if err == nil {
		// Step Functions answers a repeat of a running execution's name and
		// input with that execution.
		return aws.ToString(out.ExecutionArn), nil
	}
	var exists *types.ExecutionAlreadyExists
	if !errors.As(err, &exists) {
		return "", fmt.Errorf("sfnexec: start execution %s: %w", name, err)
	}
	// The name is taken by an execution that has ended, or by one with
	// another input: which one decides.
	arn, err := executionARN(e.StateMachineARN, name)
	if err != nil {
		return "", err
	}
	desc, err := e.Client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("sfnexec: describe existing execution %s: %w", name, err)
	}
	same, err := sameJSON(input, []byte(aws.ToString(desc.Input)))
	if err != nil {
		return "", fmt.Errorf("sfnexec: compare inputs of execution %s: %w", name, err)
	}
	if !same {
		return "", fmt.Errorf("sfnexec: start execution %s: %w", name, ErrExecutionAlreadyExists)
	}
	return arn, nil
}

// Stop stops a running execution. An execution that has already ended, or
// does not exist, is not an error.
func (e *Executions) Stop(ctx context.Context, executionID string, cause string) error {
	if r := []rune(cause); len(r) > maxCauseChars {
		cause = string(r[:maxCauseChars])
	}
	_, err := e.Client.StopExecution(ctx, &sfn.StopExecutionInput{
		ExecutionArn: aws.String(executionID),
		Cause:        aws.String(cause),
	})
	if err == nil {
		return nil
	}
	var missing *types.ExecutionDoesNotExist
	if errors.As(err, &missing) {
		return nil
	}
	// Whatever Step Functions answers for stopping an ended execution, an
	// ended execution is what Stop asks for.
	desc, descErr := e.Client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(executionID)})
	if descErr == nil && desc.Status != types.ExecutionStatusRunning {
		return nil
	}
	return fmt.Errorf("sfnexec: stop execution %s: %w", executionID, err)
}

// executionARN derives an execution's ARN from its state machine's:
// arn:<partition>:states:<region>:<account>:stateMachine:<machine> becomes
// arn:<partition>:states:<region>:<account>:execution:<machine>:<name>.
func executionARN(stateMachineARN, name string) (string, error) {
	parts := strings.Split(stateMachineARN, ":")
	if len(parts) != 7 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "stateMachine" || parts[6] == "" {
		return "", fmt.Errorf("sfnexec: %q is not a state machine ARN", stateMachineARN)
	}
	parts[5] = "execution"
	return strings.Join(append(parts, name), ":"), nil
}

// sameJSON compares two JSON documents as values; an empty document is the
// empty object Step Functions uses for an execution without input.
func sameJSON(a, b []byte) (bool, error) {
	return canonjson.Equal(orEmptyObject(a), orEmptyObject(b))
}

func orEmptyObject(doc []byte) []byte {
	if len(bytes.TrimSpace(doc)) == 0 {
		return []byte("{}")
	}
	return doc
}

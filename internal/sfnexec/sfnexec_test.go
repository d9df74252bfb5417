package sfnexec

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

var _ SFNAPI = (*sfn.Client)(nil)

const machineARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:ApplyStateMachine"

// fakeSFN answers each operation from the test's table and records calls.
type fakeSFN struct {
	startOut *sfn.StartExecutionOutput
	startErr error
	stopErr  error
	descOut  *sfn.DescribeExecutionOutput
	descErr  error

	starts    []*sfn.StartExecutionInput
	stops     []*sfn.StopExecutionInput
	describes []*sfn.DescribeExecutionInput
}

func (f *fakeSFN) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	f.starts = append(f.starts, in)
	return f.startOut, f.startErr
}

func (f *fakeSFN) StopExecution(_ context.Context, in *sfn.StopExecutionInput, _ ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error) {
	f.stops = append(f.stops, in)
	if f.stopErr != nil {
		return nil, f.stopErr
	}
	return &sfn.StopExecutionOutput{}, nil
}

func (f *fakeSFN) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	f.describes = append(f.describes, in)
	return f.descOut, f.descErr
}

func TestStart(t *testing.T) {
	const input = `{"tenantId":"acme","syncId":"s1","userBatches":[0,1],"groupBatches":[2],"maxConcurrency":10}`
	existingARN := "arn:aws:states:eu-west-1:123456789012:execution:ApplyStateMachine:confirm-s1"
	alreadyExists := &types.ExecutionAlreadyExists{Message: aws.String("Execution Already Exists: '" + existingARN + "'")}
	throttled := errors.New("throttled by the API")

	tests := []struct {
		name         string
		machine      string
		input        string
		fake         fakeSFN
		wantARN      string
		wantErrIs    error
		wantErrText  string
		wantDescribe bool
	}{
		{
			name:    "new execution",
			input:   input,
			fake:    fakeSFN{startOut: &sfn.StartExecutionOutput{ExecutionArn: aws.String(existingARN)}},
			wantARN: existingARN,
		},
		{
			name:         "ended execution with the same input",
			input:        input,
			fake:         fakeSFN{startErr: alreadyExists, descOut: &sfn.DescribeExecutionOutput{Status: types.ExecutionStatusSucceeded, Input: aws.String(input)}},
			wantARN:      existingARN,
			wantDescribe: true,
		},
		{
			name:  "same input written differently",
			input: input,
			fake: fakeSFN{startErr: alreadyExists, descOut: &sfn.DescribeExecutionOutput{
				Status: types.ExecutionStatusAborted,
				Input:  aws.String(`{ "maxConcurrency": 10, "groupBatches": [2], "userBatches": [0, 1], "syncId": "s1", "tenantId": "acme" }`),
			}},
			wantARN:      existingARN,
			wantDescribe: true,
		},
		{
			name:  "different input",
			input: input,
			fake: fakeSFN{startErr: alreadyExists, descOut: &sfn.DescribeExecutionOutput{
				Status: types.ExecutionStatusRunning,
				Input:  aws.String(`{"tenantId":"acme","syncId":"s1","userBatches":[0],"groupBatches":[2],"maxConcurrency":10}`),
			}},
			wantErrIs:    ErrExecutionAlreadyExists,
			wantDescribe: true,
		},
		{
			name:         "describe fails",
			input:        input,
			fake:         fakeSFN{startErr: alreadyExists, descErr: throttled},
			wantErrIs:    throttled,
			wantDescribe: true,
		},
		{
			name:        "other start error",
			input:       input,
			fake:        fakeSFN{startErr: &types.InvalidName{Message: aws.String("bad name")}},
			wantErrText: "bad name",
		},
		{
			name:        "existing name under a malformed state machine ARN",
			machine:     "arn:aws:lambda:eu-west-1:123456789012:function:Nope",
			input:       input,
			fake:        fakeSFN{startErr: alreadyExists},
			wantErrText: "not a state machine ARN",
		},
		{
			name:         "no input is the empty object",
			input:        "",
			fake:         fakeSFN{startErr: alreadyExists, descOut: &sfn.DescribeExecutionOutput{Status: types.ExecutionStatusSucceeded, Input: aws.String("{}")}},
			wantARN:      existingARN,
			wantDescribe: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			machine := tt.machine
			if machine == "" {
				machine = machineARN
			}
			fake := tt.fake
			ex := &Executions{Client: &fake, StateMachineARN: machine}
			arn, err := ex.Start(context.Background(), "confirm-s1", []byte(tt.input))
			switch {
			case tt.wantErrIs != nil:
				if !errors.Is(err, tt.wantErrIs) {
					t.Fatalf("err = %v, want %v", err, tt.wantErrIs)
				}
			case tt.wantErrText != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErrText) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErrText)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if arn != tt.wantARN {
					t.Errorf("arn = %s, want %s", arn, tt.wantARN)
				}
			}
			if len(fake.starts) != 1 {
				t.Fatalf("StartExecution called %d times, want 1", len(fake.starts))
			}
			s := fake.starts[0]
			if aws.ToString(s.StateMachineArn) != machine || aws.ToString(s.Name) != "confirm-s1" || aws.ToString(s.Input) != tt.input {
				t.Errorf("StartExecution(%s, %s, %s), want (%s, confirm-s1, %s)",
					aws.ToString(s.StateMachineArn), aws.ToString(s.Name), aws.ToString(s.Input), machine, tt.input)
			}
			if tt.input == "" && s.Input != nil {
				t.Errorf("Input = %q, want unset", aws.ToString(s.Input))
			}
			if got := len(fake.describes) == 1; got != tt.wantDescribe {
				t.Fatalf("DescribeExecution calls = %d, want describe %v", len(fake.describes), tt.wantDescribe)
			}
			if tt.wantDescribe && aws.ToString(fake.describes[0].ExecutionArn) != existingARN {
				t.Errorf("described %s, want %s", aws.ToString(fake.describes[0].ExecutionArn), existingARN)
			}
		})
	}
}

func TestStop(t *testing.T) {
	const arn = "arn:aws:states:eu-west-1:123456789012:execution:ApplyStateMachine:confirm-s1"
	invalid := &types.ValidationException{Message: aws.String("execution is not running")}
	tests := []struct {
		name         string
		fake         fakeSFN
		wantErr      bool
		wantDescribe bool
	}{
		{name: "running execution stops", fake: fakeSFN{}},
		{name: "missing execution", fake: fakeSFN{stopErr: &types.ExecutionDoesNotExist{Message: aws.String("no")}}},
		{
			name:         "execution already ended",
			fake:         fakeSFN{stopErr: invalid, descOut: &sfn.DescribeExecutionOutput{Status: types.ExecutionStatusSucceeded}},
			wantDescribe: true,
		},
		{
			name:         "still running after a failed stop",
			fake:         fakeSFN{stopErr: errors.New("throttled"), descOut: &sfn.DescribeExecutionOutput{Status: types.ExecutionStatusRunning}},
			wantErr:      true,
			wantDescribe: true,
		},
		{
			name:         "stop and describe both fail",
			fake:         fakeSFN{stopErr: errors.New("throttled"), descErr: errors.New("throttled too")},
			wantErr:      true,
			wantDescribe: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := tt.fake
			ex := &Executions{Client: &fake, StateMachineARN: machineARN}
			err := ex.Stop(context.Background(), arn, "cancelled by admin@acme.example")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr && !errors.Is(err, fake.stopErr) {
				t.Errorf("err = %v does not wrap the StopExecution error", err)
			}
			if len(fake.stops) != 1 || aws.ToString(fake.stops[0].ExecutionArn) != arn || aws.ToString(fake.stops[0].Cause) != "cancelled by admin@acme.example" {
				t.Errorf("StopExecution calls = %+v", fake.stops)
			}
			if got := len(fake.describes) == 1; got != tt.wantDescribe {
				t.Errorf("DescribeExecution calls = %d, want describe %v", len(fake.describes), tt.wantDescribe)
			}
		})
	}
}

func TestStopTruncatesLongCause(t *testing.T) {
	fake := &fakeSFN{}
	ex := &Executions{Client: fake, StateMachineARN: machineARN}
	if err := ex.Stop(context.Background(), "arn:x", strings.Repeat("é", maxCauseChars+10)); err != nil {
		t.Fatal(err)
	}
	if n := len([]rune(aws.ToString(fake.stops[0].Cause))); n != maxCauseChars {
		t.Errorf("cause has %d characters, want %d", n, maxCauseChars)
	}
}

func TestExecutionARN(t *testing.T) {
	tests := []struct {
		machine, want string
		wantErr       bool
	}{
		{machine: machineARN, want: "arn:aws:states:eu-west-1:123456789012:execution:ApplyStateMachine:run-1"},
		{machine: "arn:aws-us-gov:states:us-gov-west-1:123456789012:stateMachine:M", want: "arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:M:run-1"},
		{machine: "arn:aws:states:eu-west-1:123456789012:execution:M:other", wantErr: true},
		{machine: "ApplyStateMachine", wantErr: true},
	}
	for _, tt := range tests {
		got, err := executionARN(tt.machine, "run-1")
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("executionARN(%s) = %q, %v; want %q, error %v", tt.machine, got, err, tt.want, tt.wantErr)
		}
	}
}

package awsinvoke

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"dirsync/internal/preview"
)

type recordingLambda struct {
	in     *lambda.InvokeInput
	status int32
	err    error
}

func (r *recordingLambda) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	r.in = in
	return &lambda.InvokeOutput{StatusCode: r.status}, r.err
}

func TestDispatch(t *testing.T) {
	tests := []struct {
		name    string
		status  int32
		err     error
		wantErr bool
	}{
		{"accepted", 202, nil, false},
		{"unexpected status", 200, nil, true},
		{"invoke error", 0, errors.New("throttled"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &recordingLambda{status: tt.status, err: tt.err}
			d := &Dispatcher{Client: fake, FunctionName: "worker"}
			err := d.Dispatch(context.Background(), preview.Job{TenantID: "acme", SyncID: "s1", ActorEmail: "a@example.com"})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if fake.in.InvocationType != types.InvocationTypeEvent || *fake.in.FunctionName != "worker" {
				t.Fatalf("invoke input = %+v", fake.in)
			}
			var job preview.Job
			if err := json.Unmarshal(fake.in.Payload, &job); err != nil || job.SyncID != "s1" || job.TenantID != "acme" {
				t.Fatalf("payload = %s (%v)", fake.in.Payload, err)
			}
		})
	}
}

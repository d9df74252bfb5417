package motolocal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func start(t *testing.T, opts Options) *Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inst, err := StartWith(ctx, opts)
	if err != nil {
		t.Fatal(err) // ErrMissing says how to install it
	}
	t.Cleanup(inst.Stop)
	return inst
}

// create creates a secret with the test credentials; it returns its ARN.
func create(ctx context.Context, inst *Instance, name string) (string, error) {
	out, err := inst.SecretsManager().CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("s")})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ARN), nil
}

func TestEnforceIAM(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		opts        Options
		wantAccount string
		// served: whether a request from an unknown principal is served,
		// before WithoutAuth and after it
		served bool
	}{
		{"default", Options{}, DefaultAccountID, true},
		{"enforcing", Options{EnforceIAM: true, AccountID: "000000000000"}, "000000000000", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst := start(t, tt.opts)
			check := func(when string, i int) {
				t.Helper()
				_, err := create(ctx, inst, fmt.Sprintf("%s-%d", when, i))
				if tt.served && err != nil {
					t.Errorf("%s: unknown principal refused: %v", when, err)
				}
				if !tt.served {
					// moto answers IAM's XML InvalidClientTokenId, which
					// the Secrets Manager client cannot read: the status says it.
					var re *awshttp.ResponseError
					if !errors.As(err, &re) || re.HTTPStatusCode() != 403 {
						t.Errorf("%s: unknown principal: %v, want moto's HTTP 403", when, err)
					}
				}
			}
			check("before", 0)
			var arn string
			if err := inst.WithoutAuth(ctx, func() error {
				var err error
				arn, err = create(ctx, inst, "setup")
				return err
			}); err != nil {
				t.Fatalf("setup without auth: %v", err)
			}
			if want := ":" + tt.wantAccount + ":secret:setup-"; !strings.Contains(arn, want) {
				t.Errorf("secret ARN %s, want it in account %s", arn, tt.wantAccount)
			}
			check("after", 1)
		})
	}
}

func TestWithoutAuthReturnsTheSetupsError(t *testing.T) {
	inst := start(t, Options{EnforceIAM: true})
	boom := errors.New("boom")
	if err := inst.WithoutAuth(context.Background(), func() error { return boom }); !errors.Is(err, boom) {
		t.Errorf("WithoutAuth = %v, want the setup's error", err)
	}
	if _, err := create(context.Background(), inst, "x"); err == nil {
		t.Error("moto serves an unknown principal after a failed setup")
	}
}

package secrets

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"dirsync/internal/domain"
)

// fakeSecretsManager keeps secrets by name and answers like the service:
// PutSecretValue on a missing secret is ResourceNotFoundException.
type fakeSecretsManager struct {
	values  map[string]string
	created []string
}

func (f *fakeSecretsManager) CreateSecret(_ context.Context, in *secretsmanager.CreateSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	f.created = append(f.created, aws.ToString(in.Name))
	f.values[aws.ToString(in.Name)] = aws.ToString(in.SecretString)
	return &secretsmanager.CreateSecretOutput{}, nil
}

func (f *fakeSecretsManager) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	if _, ok := f.values[aws.ToString(in.SecretId)]; !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("not found")}
	}
	f.values[aws.ToString(in.SecretId)] = aws.ToString(in.SecretString)
	return &secretsmanager.PutSecretValueOutput{}, nil
}

func (f *fakeSecretsManager) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	v, ok := f.values[aws.ToString(in.SecretId)]
	if !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("not found")}
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(v)}, nil
}

func TestSecretsManager(t *testing.T) {
	ctx := context.Background()
	fake := &fakeSecretsManager{values: map[string]string{}}
	sm := &SecretsManager{Client: fake, Prefix: "directory-sync"}
	if _, err := sm.GetSecret(ctx, "acme"); domain.ErrorCode(err) != domain.ENotFound {
		t.Fatalf("missing secret: %v, want not_found", err)
	}
	for _, v := range []string{"first~secret", "second~secret"} {
		if err := sm.PutSecret(ctx, "acme", v); err != nil {
			t.Fatal(err)
		}
		if got, err := sm.GetSecret(ctx, "acme"); err != nil || got != v {
			t.Fatalf("GetSecret = %q, %v; want %q", got, err, v)
		}
	}
	if len(fake.created) != 1 || fake.created[0] != "directory-sync/acme/entra-client-secret" {
		t.Fatalf("created %v: want one secret under the prefix (the IAM policy covers <prefix>/*)", fake.created)
	}
	if err := sm.PutSecret(ctx, "acme/../other", "x"); err == nil {
		t.Fatal("a path-like tenant id was accepted")
	}
}

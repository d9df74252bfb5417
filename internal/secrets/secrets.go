// Package secrets keeps each tenant's Entra client secret outside DynamoDB,
// in AWS Secrets Manager (locally: moto_server's, see local/motolocal).
//
// Every put makes a new version and returns its id. A connection records
// the version it was saved with and a sync pins it, so a preview reads
// exactly the secret of the connection it started with.
package secrets

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"dirsync/internal/domain"
)

// checkTenant keeps tenant ids usable in secret names; auth
// refuses tokens whose tenant fails the same rule, so this never fires for
// a caller's request.
func checkTenant(tenant string) error {
	if !domain.ValidTenantID(tenant) {
		return fmt.Errorf("secrets: invalid tenant id %q: want %s", tenant, domain.TenantIDRule)
	}
	return nil
}

// SecretsManagerAPI is the part of the Secrets Manager client used here.
type SecretsManagerAPI interface {
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SecretsManager stores secrets as "<Prefix>/<tenant>/entra-client-credential",
// so an IAM policy on "<Prefix>/*" covers exactly these secrets. The name
// must not end in a hyphen and six characters: Secrets Manager appends
// "-" and six random characters to a secret's ARN, and a partial ARN
// ending like that is taken for a complete one.
type SecretsManager struct {
	Client SecretsManagerAPI
	Prefix string
}

func (s *SecretsManager) name(tenant string) string {
	return s.Prefix + "/" + tenant + "/entra-client-credential"
}

// legacyName is where secrets were stored before (its "-secret" suffix is
// the ambiguous kind); reads fall back to it until the secret is saved again.
func (s *SecretsManager) legacyName(tenant string) string {
	return s.Prefix + "/" + tenant + "/entra-client-secret"
}

// PutSecret creates or replaces the tenant's client secret and returns
// the id of the new version.
func (s *SecretsManager) PutSecret(ctx context.Context, tenant, secret string) (string, error) {
	if err := checkTenant(tenant); err != nil {
		return "", err
	}
	put, err := s.Client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(s.name(tenant)), SecretString: aws.String(secret),
	})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		created, err := s.Client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name: aws.String(s.name(tenant)), SecretString: aws.String(secret),
			Description: aws.String("Entra ID client secret of platform tenant " + tenant),
		})
		if err != nil {
			return "", fmt.Errorf("secrets: create %s: %w", tenant, err)
		}
		return aws.ToString(created.VersionId), nil
	}
	if err != nil {
		return "", fmt.Errorf("secrets: put %s: %w", tenant, err)
	}
	return aws.ToString(put.VersionId), nil
}

// GetSecret returns the tenant's current client secret.
func (s *SecretsManager) GetSecret(ctx context.Context, tenant string) (string, error) {
	return s.GetSecretVersion(ctx, tenant, "")
}

// GetSecretVersion returns one version of the tenant's client secret; ""
// is the current one.
func (s *SecretsManager) GetSecretVersion(ctx context.Context, tenant, version string) (string, error) {
	if err := checkTenant(tenant); err != nil {
		return "", err
	}
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.name(tenant))}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	out, err := s.Client.GetSecretValue(ctx, in)
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		in.SecretId = aws.String(s.legacyName(tenant))
		out, err = s.Client.GetSecretValue(ctx, in)
	}
	if errors.As(err, &nf) {
		return "", notStored(version)
	}
	if err != nil {
		return "", fmt.Errorf("secrets: get %s: %w", tenant, err)
	}
	return aws.ToString(out.SecretString), nil
}

func notStored(version string) error {
	if version != "" {
		return domain.Errorf(domain.ENotFound, "the client secret version %s is no longer stored; save the connection's secret again", version)
	}
	return domain.Errorf(domain.ENotFound, "no client secret is stored")
}

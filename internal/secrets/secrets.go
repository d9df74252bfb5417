// Package secrets keeps each tenant's Entra client secret outside DynamoDB:
// in AWS Secrets Manager when deployed, in a 0600 file (or memory) locally.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"dirsync/internal/domain"
)

// validTenant keeps tenant ids usable in secret names and file names.
var validTenant = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func checkTenant(tenant string) error {
	if !validTenant.MatchString(tenant) {
		return fmt.Errorf("secrets: invalid tenant id %q", tenant)
	}
	return nil
}

// SecretsManagerAPI is the part of the Secrets Manager client used here.
type SecretsManagerAPI interface {
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SecretsManager stores secrets as "<Prefix>/<tenant>/entra-client-secret",
// so an IAM policy on "<Prefix>/*" covers exactly these secrets.
type SecretsManager struct {
	Client SecretsManagerAPI
	Prefix string
}

func (s *SecretsManager) name(tenant string) string {
	return s.Prefix + "/" + tenant + "/entra-client-secret"
}

// PutSecret creates or replaces the tenant's client secret.
func (s *SecretsManager) PutSecret(ctx context.Context, tenant, secret string) error {
	if err := checkTenant(tenant); err != nil {
		return err
	}
	_, err := s.Client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(s.name(tenant)), SecretString: aws.String(secret),
	})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		_, err = s.Client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name: aws.String(s.name(tenant)), SecretString: aws.String(secret),
			Description: aws.String("Entra ID client secret of platform tenant " + tenant),
		})
	}
	if err != nil {
		return fmt.Errorf("secrets: put %s: %w", tenant, err)
	}
	return nil
}

// GetSecret returns the tenant's client secret.
func (s *SecretsManager) GetSecret(ctx context.Context, tenant string) (string, error) {
	if err := checkTenant(tenant); err != nil {
		return "", err
	}
	out, err := s.Client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.name(tenant))})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return "", domain.Errorf(domain.ENotFound, "no client secret is stored")
	}
	if err != nil {
		return "", fmt.Errorf("secrets: get %s: %w", tenant, err)
	}
	return aws.ToString(out.SecretString), nil
}

// Files keeps one 0600 file per tenant in Dir (created 0700): the local
// stack's stand-in for Secrets Manager, never inside DynamoDB.
type Files struct {
	Dir string
	mu  sync.Mutex
}

// PutSecret writes the secret atomically (temp file + rename).
func (f *Files) PutSecret(_ context.Context, tenant, secret string) error {
	if err := checkTenant(tenant); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return fmt.Errorf("secrets: mkdir: %w", err)
	}
	tmp, err := os.CreateTemp(f.Dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("secrets: temp file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("secrets: chmod: %w", err)
	}
	if _, err := tmp.WriteString(secret); err != nil {
		tmp.Close()
		return fmt.Errorf("secrets: write: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("secrets: close: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(f.Dir, tenant)); err != nil {
		return fmt.Errorf("secrets: rename: %w", err)
	}
	return nil
}

// GetSecret reads the tenant's secret file.
func (f *Files) GetSecret(_ context.Context, tenant string) (string, error) {
	if err := checkTenant(tenant); err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(f.Dir, tenant))
	if errors.Is(err, os.ErrNotExist) {
		return "", domain.Errorf(domain.ENotFound, "no client secret is stored")
	}
	if err != nil {
		return "", fmt.Errorf("secrets: read %s: %w", tenant, err)
	}
	return string(b), nil
}

// Memory keeps secrets in memory (tests, throwaway local runs).
type Memory struct {
	mu sync.Mutex
	m  map[string]string
}

// PutSecret stores the secret.
func (m *Memory) PutSecret(_ context.Context, tenant, secret string) error {
	if err := checkTenant(tenant); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string]string{}
	}
	m.m[tenant] = secret
	return nil
}

// GetSecret returns the stored secret.
func (m *Memory) GetSecret(_ context.Context, tenant string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.m[tenant]
	if !ok {
		return "", domain.Errorf(domain.ENotFound, "no client secret is stored")
	}
	return s, nil
}

// Package secrets keeps each tenant's Entra client secret outside DynamoDB:
// in AWS Secrets Manager when deployed, in 0600 files (or memory) locally.
//
// Every put makes a new version and returns its id. A connection records
// the version it was saved with and a sync pins it, so a preview reads
// exactly the secret of the connection it started with.
package secrets

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"dirsync/internal/domain"
)

// checkTenant keeps tenant ids usable in secret names and file names; auth
// refuses tokens whose tenant fails the same rule, so this never fires for
// a caller's request.
func checkTenant(tenant string) error {
	if !domain.ValidTenantID(tenant) {
		return fmt.Errorf("secrets: invalid tenant id %q: want %s", tenant, domain.TenantIDRule)
	}
	return nil
}

// newVersionID names a locally stored version, as Secrets Manager's
// VersionId does.
func newVersionID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// checkVersion keeps version ids usable as file names.
func checkVersion(version string) error {
	if len(version) > 64 || !domain.ValidTenantID(version) {
		return fmt.Errorf("secrets: invalid version id %q", version)
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

// Files keeps the secrets in Dir (created 0700) as 0600 files: the local
// stack's stand-in for Secrets Manager, never inside DynamoDB. <tenant>
// holds the current secret, <tenant>.versions/<version> every version.
type Files struct {
	Dir string
	mu  sync.Mutex
}

// PutSecret writes a new version and makes it current, each file
// atomically (temp file + rename).
func (f *Files) PutSecret(_ context.Context, tenant, secret string) (string, error) {
	if err := checkTenant(tenant); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	version := newVersionID()
	versions := filepath.Join(f.Dir, tenant+".versions")
	if err := os.MkdirAll(versions, 0o700); err != nil {
		return "", fmt.Errorf("secrets: mkdir: %w", err)
	}
	if err := writeFile(filepath.Join(versions, version), secret); err != nil {
		return "", err
	}
	if err := writeFile(filepath.Join(f.Dir, tenant), secret); err != nil {
		return "", err
	}
	return version, nil
}

// writeFile writes a 0600 file atomically.
func writeFile(path, content string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("secrets: temp file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("secrets: chmod: %w", err)
	}
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return fmt.Errorf("secrets: write: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("secrets: close: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("secrets: rename: %w", err)
	}
	return nil
}

// GetSecret reads the tenant's current secret.
func (f *Files) GetSecret(ctx context.Context, tenant string) (string, error) {
	return f.GetSecretVersion(ctx, tenant, "")
}

// GetSecretVersion reads one version of the tenant's secret; "" is the
// current one.
func (f *Files) GetSecretVersion(_ context.Context, tenant, version string) (string, error) {
	if err := checkTenant(tenant); err != nil {
		return "", err
	}
	path := filepath.Join(f.Dir, tenant)
	if version != "" {
		if err := checkVersion(version); err != nil {
			return "", err
		}
		path = filepath.Join(f.Dir, tenant+".versions", version)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", notStored(version)
	}
	if err != nil {
		return "", fmt.Errorf("secrets: read %s: %w", tenant, err)
	}
	return string(b), nil
}

func notStored(version string) error {
	if version != "" {
		return domain.Errorf(domain.ENotFound, "the client secret version %s is no longer stored; save the connection's secret again", version)
	}
	return domain.Errorf(domain.ENotFound, "no client secret is stored")
}

// Memory keeps secrets in memory (tests, throwaway local runs).
type Memory struct {
	mu       sync.Mutex
	current  map[string]string // tenant -> version
	versions map[string]string // tenant + "/" + version -> secret
}

// PutSecret stores a new version and makes it current.
func (m *Memory) PutSecret(_ context.Context, tenant, secret string) (string, error) {
	if err := checkTenant(tenant); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.current == nil {
		m.current, m.versions = map[string]string{}, map[string]string{}
	}
	version := newVersionID()
	m.versions[tenant+"/"+version] = secret
	m.current[tenant] = version
	return version, nil
}

// GetSecret returns the current secret.
func (m *Memory) GetSecret(ctx context.Context, tenant string) (string, error) {
	return m.GetSecretVersion(ctx, tenant, "")
}

// GetSecretVersion returns one version of the secret; "" is the current one.
func (m *Memory) GetSecretVersion(_ context.Context, tenant, version string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if version == "" {
		version = m.current[tenant]
	}
	s, ok := m.versions[tenant+"/"+version]
	if !ok {
		return "", notStored(version)
	}
	return s, nil
}

package secrets

import (
	"context"
	"testing"

	"dirsync/internal/domain"
)

type store interface {
	PutSecret(ctx context.Context, tenant, secret string) (string, error)
	GetSecret(ctx context.Context, tenant string) (string, error)
	GetSecretVersion(ctx context.Context, tenant, version string) (string, error)
}

// testVersions checks what every store promises: each put is a new
// version, the newest is current, older versions stay readable by id.
func testVersions(t *testing.T, s store, tenant string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.GetSecret(ctx, tenant); domain.ErrorCode(err) != domain.ENotFound {
		t.Fatalf("missing secret: %v, want not_found", err)
	}
	versions := map[string]string{}
	for _, v := range []string{"first~secret", "second~secret"} {
		version, err := s.PutSecret(ctx, tenant, v)
		if err != nil {
			t.Fatal(err)
		}
		if version == "" || versions[version] != "" {
			t.Fatalf("PutSecret returned version %q (seen: %v): want a new non-empty id", version, versions)
		}
		versions[version] = v
		got, err := s.GetSecret(ctx, tenant)
		if err != nil || got != v {
			t.Fatalf("GetSecret = %q, %v; want %q", got, err, v)
		}
	}
	for version, want := range versions {
		if got, err := s.GetSecretVersion(ctx, tenant, version); err != nil || got != want {
			t.Fatalf("GetSecretVersion(%s) = %q, %v; want %q", version, got, err, want)
		}
	}
	if _, err := s.GetSecretVersion(ctx, tenant, "0123456789abcdef0123456789abcdef"); domain.ErrorCode(err) != domain.ENotFound {
		t.Fatalf("unknown version: %v, want not_found", err)
	}
	for _, bad := range []string{"../etc/passwd", "acme/../other", ".", ""} {
		if _, err := s.PutSecret(ctx, bad, "x"); err == nil {
			t.Fatalf("tenant id %q was accepted", bad)
		}
	}
}

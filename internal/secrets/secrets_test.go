package secrets

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"dirsync/internal/domain"
)

type store interface {
	PutSecret(ctx context.Context, tenant, secret string) error
	GetSecret(ctx context.Context, tenant string) (string, error)
}

func TestLocalStores(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	for name, s := range map[string]store{"files": &Files{Dir: dir}, "memory": &Memory{}} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			if _, err := s.GetSecret(ctx, "acme"); domain.ErrorCode(err) != domain.ENotFound {
				t.Fatalf("missing secret: %v, want not_found", err)
			}
			for _, v := range []string{"first~secret", "second~secret"} {
				if err := s.PutSecret(ctx, "acme", v); err != nil {
					t.Fatal(err)
				}
				got, err := s.GetSecret(ctx, "acme")
				if err != nil || got != v {
					t.Fatalf("GetSecret = %q, %v; want %q", got, err, v)
				}
			}
			if err := s.PutSecret(ctx, "../etc/passwd", "x"); err == nil {
				t.Fatal("a path-like tenant id was accepted")
			}
		})
	}
	info, err := os.Stat(filepath.Join(dir, "acme"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode = %v, want 0600", info.Mode().Perm())
	}
	dinfo, _ := os.Stat(dir)
	if dinfo.Mode().Perm() != 0o700 {
		t.Fatalf("secret dir mode = %v, want 0700", dinfo.Mode().Perm())
	}
}

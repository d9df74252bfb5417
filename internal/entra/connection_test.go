package entra

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"dirsync/internal/domain"
)

func TestSyncError(t *testing.T) {
	tests := []struct {
		err  error
		code string
	}{
		{fmt.Errorf("entra: token: wrong client secret: %w", ErrBadCredentials), domain.SyncErrCredentials},
		{fmt.Errorf("entra: token: %w", ErrTenantNotFound), domain.SyncErrCredentials},
		{fmt.Errorf("entra: users page 1: needs User.Read.All: %w", ErrPermissionDenied), domain.SyncErrPermission},
		{fmt.Errorf("entra: users page 2: %w", ErrUnavailable), domain.SyncErrSourceRead},
		{fmt.Errorf("entra: users page 2: %w", ErrThrottled), domain.SyncErrSourceRead},
		{fmt.Errorf("entra: read users page 2: %w", malformed("Graph answered a page that is not a JSON object")), domain.SyncErrSourceRead},
		{checkComplete("users", 1000, 2000), domain.SyncErrSourceIncomplete},
		{scopeGroupsNotFound([]string{"g1"}), domain.SyncErrOptions},
		{errors.New("something else"), domain.SyncErrSourceRead},
	}
	for _, tt := range tests {
		got := SyncError(tt.err)
		if got.Code != tt.code || got.Message != tt.err.Error() {
			t.Errorf("SyncError(%v) = %+v, want code %s", tt.err, got, tt.code)
		}
	}
}

func TestConfigFor(t *testing.T) {
	conn := &domain.Connection{DirectoryTenantID: "dir", ClientID: "app", Cloud: domain.CloudUSGov}
	c := ConfigFor(conn, "s3cret", Config{GraphEndpoint: "https://graph.example", PageSize: 50})
	if c.DirectoryTenantID != "dir" || c.ClientID != "app" || c.ClientSecret != "s3cret" || c.Cloud != CloudUSGov ||
		c.GraphEndpoint != "https://graph.example" || c.PageSize != 50 {
		t.Fatalf("ConfigFor = %+v", c)
	}
}

type mapSecrets map[string]string

func (m mapSecrets) GetSecret(_ context.Context, tenant string) (string, error) {
	s, ok := m[tenant]
	if !ok {
		return "", domain.Errorf(domain.ENotFound, "no client secret is stored")
	}
	return s, nil
}

func TestTesterUsesTheStoredSecret(t *testing.T) {
	f := newFixture(t, 5, 2, nil)
	base := f.config(t)
	base.ClientSecret = "" // must come from the secret store
	conn := &domain.Connection{TenantID: "acme", DirectoryTenantID: testTenantID, ClientID: testClientID, Cloud: domain.CloudGlobal}
	tests := []struct {
		name    string
		secrets mapSecrets
		wantOK  bool
		wantMsg string
	}{
		{"good secret", mapSecrets{"acme": testSecret}, true, ""},
		{"wrong secret", mapSecrets{"acme": "not-the-secret-at-all"}, false, "secret"},
		{"no secret stored", mapSecrets{}, false, "no client secret is stored"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checks, err := (&Tester{Secrets: tt.secrets, Configure: func(c *domain.Connection, secret string) Config { return ConfigFor(c, secret, base) }}).Test(context.Background(), conn)
			if err != nil {
				t.Fatal(err)
			}
			allOK := len(checks) == 3
			for _, c := range checks {
				allOK = allOK && c.OK
			}
			if allOK != tt.wantOK {
				t.Fatalf("checks = %+v, want all ok = %v", checks, tt.wantOK)
			}
			if !tt.wantOK && !strings.Contains(strings.ToLower(checks[0].Message), tt.wantMsg) {
				t.Fatalf("token check message %q does not mention %q", checks[0].Message, tt.wantMsg)
			}
		})
	}
}

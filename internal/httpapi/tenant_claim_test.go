package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"dirsync/internal/auth"
	"dirsync/internal/domain"
)

// emptyConnections is a connection store holding none; its other methods
// belong to a nil interface and panic.
type emptyConnections struct{ ConnectionStore }

func (emptyConnections) GetConnection(context.Context, string) (*domain.Connection, error) {
	return nil, domain.Errorf(domain.ENotFound, "no connection")
}

// panickingSecrets stands for a secret store refusing the tenant id: being
// reached at all is the defect (the handler answers the panic 500).
type panickingSecrets struct{ SecretStore }

// TestTenantClaimBehindRequireBearer runs the API as the local stack does,
// behind auth.RequireBearer: a token whose tenant claim is not a valid
// platform tenant id is 401 naming the rule before any route runs.
func TestTenantClaimBehindRequireBearer(t *testing.T) {
	li, err := auth.NewLocalIssuer("https://issuer.local", "dirsync", nil)
	if err != nil {
		t.Fatal(err)
	}
	api := New(Deps{Connections: emptyConnections{}, Secrets: panickingSecrets{}}, Options{Logger: slog.New(slog.DiscardHandler)})
	h := auth.RequireBearer(li, auth.DefaultClaimNames())(api)
	token := func(tenant any) string {
		tok, err := li.Sign(map[string]any{"tenant_id": tenant, "sub": "s1", "roles": []string{"admin"}}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	invalid := `"tenant_id" claim is not a valid platform tenant id: it must be ` + domain.TenantIDRule
	tests := []struct {
		name    string
		method  string
		tenant  any
		status  int
		code    string
		message string
	}{
		{"path in the tenant", http.MethodPut, "acme/../x", http.StatusUnauthorized, domain.EUnauthorized, invalid},
		{"65-character tenant", http.MethodPut, "a" + strings.Repeat("0", 64), http.StatusUnauthorized, domain.EUnauthorized, invalid},
		{"colon in the tenant", http.MethodPut, "acme:eu", http.StatusUnauthorized, domain.EUnauthorized, invalid},
		{"negative numeric tenant", http.MethodGet, -5, http.StatusUnauthorized, domain.EUnauthorized, invalid},
		{"dotted tenant is accepted", http.MethodGet, "acme.example.com", http.StatusNotFound, domain.ENotFound, "no connection"},
		{"numeric tenant is accepted", http.MethodGet, 42, http.StatusNotFound, domain.ENotFound, "no connection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := ""
			if tt.method == http.MethodPut {
				body = validConnection
			}
			req := newRequest(tt.method, "/v1/connection", body, "Authorization", "Bearer "+token(tt.tenant))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var got errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if rec.Code != tt.status || got.Error.Code != tt.code || !strings.Contains(got.Error.Message, tt.message) {
				t.Fatalf("got %d %+v, want %d %s with a message containing %q", rec.Code, got.Error, tt.status, tt.code, tt.message)
			}
		})
	}
}

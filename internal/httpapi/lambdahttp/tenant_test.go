package lambdahttp

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"dirsync/internal/auth"
	"dirsync/internal/domain"
	"dirsync/internal/httpapi"
)

// noConnections is a connection store holding none. Its embedded
// interfaces are nil: any other call panics, which the handler answers 500.
type noConnections struct{ httpapi.ConnectionStore }

func (noConnections) GetConnection(context.Context, string) (*domain.Connection, error) {
	return nil, domain.Errorf(domain.ENotFound, "no connection")
}

// unreachableSecrets panics when used: a tenant id the secret store would
// refuse used to reach it and come back as a 500.
type unreachableSecrets struct{ httpapi.SecretStore }

// untestedConnections stands for the connection tester these tests never reach.
type untestedConnections struct{ httpapi.ConnectionTester }

// unsearchedGroups stands for the Entra group search these tests never reach.
type unsearchedGroups struct{ httpapi.EntraGroups }

// TestTenantClaimThroughTheAPIHandler sends the authorizer's claims through
// the adapter to the real API handler: a tenant claim that is not a valid
// platform tenant id is 401 saying so, never a 500 from the secret store.
func TestTenantClaimThroughTheAPIHandler(t *testing.T) {
	api, err := httpapi.New(httpapi.Deps{Connections: noConnections{}, Secrets: unreachableSecrets{}, Tester: untestedConnections{}, EntraGroups: unsearchedGroups{}},
		httpapi.Options{Logger: slog.New(slog.DiscardHandler)}, httpapi.ConnectionFunction)
	if err != nil {
		t.Fatal(err)
	}
	h := Handler(api, auth.DefaultClaimNames())
	put := func(claims map[string]string) events.APIGatewayV2HTTPRequest {
		ev := withClaims(event("PUT", "/v1/connection", ""), claims)
		ev.Body = `{"directoryTenantId":"11111111-2222-3333-4444-555555555555","clientId":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee","clientSecret":"s3cr3t-Value~0123456789"}`
		return ev
	}
	get := func(claims map[string]string) events.APIGatewayV2HTTPRequest {
		return withClaims(event("GET", "/v1/connection", ""), claims)
	}
	admin := func(tenant string) map[string]string {
		return map[string]string{"tenant_id": tenant, "sub": "s1", "roles": "[admin]"}
	}
	invalid := `"tenant_id" claim is not a valid platform tenant id: it must be ` + domain.TenantIDRule
	tests := []struct {
		name    string
		ev      events.APIGatewayV2HTTPRequest
		status  int
		code    string
		message string
	}{
		{"path in the tenant", put(admin("acme/../x")), http.StatusUnauthorized, domain.EUnauthorized, invalid},
		{"65-character tenant", put(admin("a" + strings.Repeat("0", 64))), http.StatusUnauthorized, domain.EUnauthorized, invalid},
		{"key separator in the tenant", get(admin("a#b")), http.StatusUnauthorized, domain.EUnauthorized, invalid},
		{"empty tenant", get(admin("")), http.StatusUnauthorized, domain.EUnauthorized, invalid},
		{"no tenant claim", get(map[string]string{"roles": "[admin]"}), http.StatusUnauthorized, domain.EUnauthorized, `no "tenant_id" claim`},
		{"dotted tenant is accepted", get(admin("acme.example.com")), http.StatusNotFound, domain.ENotFound, "no connection"},
		{"64-character tenant is accepted", get(admin("a" + strings.Repeat("0", 63))), http.StatusNotFound, domain.ENotFound, "no connection"},
		{"valid tenant, not an admin", get(map[string]string{"tenant_id": "acme", "roles": "not admin"}), http.StatusForbidden, domain.EForbidden, "admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := h(context.Background(), tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
				t.Fatalf("body %q: %v", resp.Body, err)
			}
			if resp.StatusCode != tt.status || body.Error.Code != tt.code || !strings.Contains(body.Error.Message, tt.message) {
				t.Fatalf("got %d %+v, want %d %s with a message containing %q", resp.StatusCode, body.Error, tt.status, tt.code, tt.message)
			}
			if resp.Headers["X-Request-Id"] != "req-123" {
				t.Fatalf("X-Request-Id = %q", resp.Headers["X-Request-Id"])
			}
		})
	}
}

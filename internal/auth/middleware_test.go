package auth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"dirsync/internal/domain"
)

func TestRequireBearer(t *testing.T) {
	li := newTestIssuer(t)
	sign := func(claims map[string]any) string {
		s, err := li.Sign(claims, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	admin := sign(map[string]any{"tenant_id": "acme", "sub": "s1", "email": "ada@acme.test", "roles": []string{"admin"}})
	noTenant := sign(map[string]any{"sub": "s1", "roles": []string{"admin"}})
	withTenant := func(tenant string) string {
		return sign(map[string]any{"tenant_id": tenant, "sub": "s1", "email": "ada@acme.test", "roles": []string{"admin"}})
	}
	other, _ := NewLocalIssuer("https://issuer.local", "dirsync", nil)
	foreign, _ := other.Sign(map[string]any{"tenant_id": "acme"}, time.Hour)

	var seen Claims
	var reached bool
	h := RequireBearer(li, DefaultClaimNames())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		seen, _ = FromContext(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}))

	tests := []struct {
		name       string
		header     string
		wantStatus int
		wantInMsg  string
	}{
		{"valid", "Bearer " + admin, http.StatusNoContent, ""},
		{"scheme is case-insensitive", "bearer " + admin, http.StatusNoContent, ""},
		{"missing", "", http.StatusUnauthorized, "missing bearer token"},
		{"basic scheme", "Basic YTpi", http.StatusUnauthorized, "missing bearer token"},
		{"empty token", "Bearer ", http.StatusUnauthorized, "missing bearer token"},
		{"another issuer's key", "Bearer " + foreign, http.StatusUnauthorized, "bad signature"},
		{"garbage", "Bearer abc.def.ghi", http.StatusUnauthorized, "invalid bearer token"},
		{"no tenant claim", "Bearer " + noTenant, http.StatusUnauthorized, `no "tenant_id" claim`},
		{"dotted tenant", "Bearer " + withTenant("acme.example.com"), http.StatusNoContent, ""},
		// A tenant the rest of the service cannot store is refused here, not
		// answered 500 deeper down.
		{"tenant with a path", "Bearer " + withTenant("acme/../x"), http.StatusUnauthorized,
			`"tenant_id" claim is not a valid platform tenant id: it must be ` + domain.TenantIDRule},
		{"65-character tenant", "Bearer " + withTenant("a"+strings.Repeat("0", 64)), http.StatusUnauthorized,
			"not a valid platform tenant id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reached, seen = false, Claims{}
			req := httptest.NewRequest(http.MethodGet, "/v1/syncs", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%s)", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantStatus == http.StatusNoContent {
				if !reached || !strings.HasPrefix(seen.TenantID, "acme") || seen.Email != "ada@acme.test" || !seen.HasRole("admin") {
					t.Fatalf("claims in context = %+v (reached %v)", seen, reached)
				}
				return
			}
			if reached {
				t.Fatal("handler reached without a valid token")
			}
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if body.Error.Code != "unauthorized" || !strings.Contains(body.Error.Message, tt.wantInMsg) {
				t.Fatalf("error = %+v, want code unauthorized mentioning %q", body.Error, tt.wantInMsg)
			}
			if tt.header == "Bearer "+withTenant("acme/../x") && strings.Contains(rec.Body.String(), "acme/../x") {
				t.Fatal("the refused tenant claim is echoed in the response")
			}
			if !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("WWW-Authenticate = %q", rec.Header().Get("WWW-Authenticate"))
			}
			if tok, ok := bearerToken(tt.header); ok && strings.Contains(rec.Body.String(), tok) {
				t.Fatal("the token is echoed in the response")
			}
		})
	}
}

package auth

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"dirsync/internal/domain"
)

func TestParseRoles(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"blank", "   ", nil},
		{"one role", "admin", []string{"admin"}},
		{"one role, trimmed", " \tadmin\n", []string{"admin"}},
		// A scalar is one role, never split: splitting would let these grant admin.
		{"scalar with a space", "not admin", []string{"not admin"}},
		{"scalar with a comma", "admin,user", []string{"admin,user"}},
		{"scalar with comma and space", "user, admin", []string{"user, admin"}},
		{"scalar with a tab", "x\tadmin", []string{"x\tadmin"}},
		{"scalar in quotes", `"admin"`, []string{`"admin"`}},
		{"open bracket only", "[admin", []string{"[admin"}},
		{"close bracket only", "admin]", []string{"admin]"}},
		{"lone bracket", "[", []string{"["}},
		{"bracket in the middle", "not [admin]", []string{"not [admin]"}},
		{"longer name", "administrator", []string{"administrator"}},
		// API Gateway's flattening of an array claim: split on spaces inside the brackets only.
		{"flattened", "[admin user]", []string{"admin", "user"}},
		{"flattened one", "[admin]", []string{"admin"}},
		{"flattened empty", "[]", nil},
		{"flattened blank", "[ ]", nil},
		{"flattened, surrounding whitespace", " [admin user] ", []string{"admin", "user"}},
		{"flattened, double space", "[admin  user]", []string{"admin", "user"}},
		{"flattened commas are part of a role", "[user, admin]", []string{"user,", "admin"}},
		{"flattened tab is not a separator", "[x\tadmin]", []string{"x\tadmin"}},
		{"flattened numbers", "[1 2]", []string{"1", "2"}},
		{"flattened numeric JSON", "[1]", []string{"1"}},
		{"JSON, not of strings: flattened", `[1,"x"]`, []string{`1,"x"`}},
		// A JSON array of strings is taken as it is, element by element.
		{"JSON array", `["admin","user"]`, []string{"admin", "user"}},
		{"JSON array with spaces", `[ "admin" , "user" ]`, []string{"admin", "user"}},
		{"JSON elements are not split", `["not admin","a,b"]`, []string{"not admin", "a,b"}},
		{"JSON elements are not trimmed", `[" admin"]`, []string{" admin"}},
		{"JSON empty element dropped", `["admin", ""]`, []string{"admin"}},
		{"JSON null element dropped", `["admin", null]`, []string{"admin"}},
		{"JSON empty array", `[ ]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseRoles(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseRoles(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzParseRoles checks that a scalar roles string (not in brackets) is
// exactly one role: it grants "admin" only when it is "admin", trimmed.
func FuzzParseRoles(f *testing.F) {
	for _, s := range []string{"admin", " admin ", "not admin", "admin,user", "admin user", "[admin]", "[not admin]",
		`["admin"]`, "[", "]", "][", "x]admin[", "admin\u00a0", "\u00a0admin", "\x85admin", "admin\x00", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		roles := ParseRoles(s)
		for _, r := range roles {
			if r == "" {
				t.Fatalf("ParseRoles(%q) = %q: an empty role", s, roles)
			}
		}
		trimmed := strings.TrimSpace(s)
		if strings.HasPrefix(trimmed, "[") && strings.HasSuffix(trimmed, "]") && len(trimmed) >= 2 {
			return // a list; its rules are the table's
		}
		c := Claims{Roles: roles}
		if c.HasRole("admin") != (trimmed == "admin") {
			t.Fatalf("ParseRoles(%q) = %q: HasRole(admin) = %v", s, roles, c.HasRole("admin"))
		}
		if trimmed != "" && !reflect.DeepEqual(roles, []string{trimmed}) {
			t.Fatalf("ParseRoles(%q) = %q, want the one role %q", s, roles, trimmed)
		}
		got, err := ClaimsFromStringMap(map[string]string{"tenant_id": "acme", "roles": s}, DefaultClaimNames())
		if err != nil || got.HasRole("admin") != (trimmed == "admin") {
			t.Fatalf("ClaimsFromStringMap roles %q = %q, %v", s, got.Roles, err)
		}
	})
}

var (
	tenant64 = "a" + strings.Repeat("0", 63)
	tenant65 = tenant64 + "0"
)

func TestClaimsFromMap(t *testing.T) {
	names := DefaultClaimNames()
	tests := []struct {
		name    string
		in      map[string]any
		names   ClaimNames
		want    Claims
		wantErr error // nil = accepted
	}{
		{"array roles", map[string]any{"tenant_id": "acme", "sub": "u1", "email": "a@x.io", "roles": []any{"admin", "user", 3}},
			names, Claims{TenantID: "acme", Subject: "u1", Email: "a@x.io", Roles: []string{"admin", "user"}}, nil},
		{"string slice roles", map[string]any{"tenant_id": "acme", "roles": []string{"admin"}},
			names, Claims{TenantID: "acme", Roles: []string{"admin"}}, nil},
		{"array elements are not split", map[string]any{"tenant_id": "acme", "roles": []any{"not admin", "a,b"}},
			names, Claims{TenantID: "acme", Roles: []string{"not admin", "a,b"}}, nil},
		{"string slice elements are not split or trimmed", map[string]any{"tenant_id": "acme", "roles": []string{"not admin", " admin", ""}},
			names, Claims{TenantID: "acme", Roles: []string{"not admin", " admin"}}, nil},
		{"flattened roles", map[string]any{"tenant_id": "acme", "roles": "[admin user]"},
			names, Claims{TenantID: "acme", Roles: []string{"admin", "user"}}, nil},
		{"scalar role with a space is one role", map[string]any{"tenant_id": "acme", "roles": "not admin"},
			names, Claims{TenantID: "acme", Roles: []string{"not admin"}}, nil},
		{"email falls back to preferred_username", map[string]any{"tenant_id": "acme", "preferred_username": "p@x.io", "upn": "u@x.io"},
			names, Claims{TenantID: "acme", Email: "p@x.io"}, nil},
		{"email falls back to upn", map[string]any{"tenant_id": "acme", "email": " ", "upn": "u@x.io"},
			names, Claims{TenantID: "acme", Email: "u@x.io"}, nil},
		{"numeric tenant", map[string]any{"tenant_id": float64(42)}, names, Claims{TenantID: "42"}, nil},
		{"json.Number tenant", map[string]any{"tenant_id": json.Number("42")}, names, Claims{TenantID: "42"}, nil},
		{"dotted tenant", map[string]any{"tenant_id": "acme.example.com"}, names, Claims{TenantID: "acme.example.com"}, nil},
		{"64-character tenant", map[string]any{"tenant_id": tenant64}, names, Claims{TenantID: tenant64}, nil},
		{"custom claim names", map[string]any{"org": "acme", "groups": "admin", "tenant_id": "ignored", "roles": "ignored"},
			ClaimNames{Tenant: "org", Roles: "groups"}, Claims{TenantID: "acme", Roles: []string{"admin"}}, nil},
		{"empty names mean defaults", map[string]any{"tenant_id": "acme"}, ClaimNames{}, Claims{TenantID: "acme"}, nil},
		{"roles of an unexpected type are none", map[string]any{"tenant_id": "acme", "roles": map[string]any{"a": 1}},
			names, Claims{TenantID: "acme"}, nil},
		{"no tenant", map[string]any{"sub": "u1"}, names, Claims{}, ErrNoTenant},
		{"fractional tenant", map[string]any{"tenant_id": 1.5}, names, Claims{}, ErrNoTenant},
		{"array tenant", map[string]any{"tenant_id": []any{"a"}}, names, Claims{}, ErrNoTenant},
		{"empty tenant", map[string]any{"tenant_id": ""}, names, Claims{}, ErrInvalidTenant},
		{"negative numeric tenant", map[string]any{"tenant_id": float64(-5)}, names, Claims{}, ErrInvalidTenant},
		{"tenant with key separator", map[string]any{"tenant_id": "a#b"}, names, Claims{}, ErrInvalidTenant},
		{"tenant with path", map[string]any{"tenant_id": "acme/../x"}, names, Claims{}, ErrInvalidTenant},
		{"dot-dot tenant", map[string]any{"tenant_id": ".."}, names, Claims{}, ErrInvalidTenant},
		{"tenant with space", map[string]any{"tenant_id": "a b"}, names, Claims{}, ErrInvalidTenant},
		{"tenant with control character", map[string]any{"tenant_id": "a\x00"}, names, Claims{}, ErrInvalidTenant},
		{"non-ASCII tenant", map[string]any{"tenant_id": "acmé"}, names, Claims{}, ErrInvalidTenant},
		{"65-character tenant", map[string]any{"tenant_id": tenant65}, names, Claims{}, ErrInvalidTenant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ClaimsFromMap(tt.in, tt.names)
			if tt.wantErr != nil {
				checkTenantErr(t, err, tt.wantErr, tt.names.withDefaults().Tenant)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// checkTenantErr checks a refused tenant claim: always ErrNoTenant, and
// ErrInvalidTenant with the rule in its message exactly when want says so.
func checkTenantErr(t *testing.T, err, want error, claim string) {
	t.Helper()
	if !errors.Is(err, ErrNoTenant) {
		t.Fatalf("err = %v, want ErrNoTenant", err)
	}
	invalid := errors.Is(err, ErrInvalidTenant)
	if invalid != (want == ErrInvalidTenant) {
		t.Fatalf("err = %v: errors.Is(ErrInvalidTenant) = %v", err, invalid)
	}
	msg := err.Error()
	if !strings.Contains(msg, strconv.Quote(claim)) {
		t.Fatalf("message %q does not name the claim %q", msg, claim)
	}
	if invalid && !(strings.Contains(msg, "not a valid platform tenant id") && strings.Contains(msg, domain.TenantIDRule)) {
		t.Fatalf("message %q does not say the tenant id is invalid and state the rule", msg)
	}
}

func TestClaimsFromStringMap(t *testing.T) {
	tests := []struct {
		name    string
		in      map[string]string
		want    Claims
		wantErr error
	}{
		{"API Gateway flattening", map[string]string{"tenant_id": "acme", "sub": "s", "email": "a@x.io", "roles": "[admin user]"},
			Claims{TenantID: "acme", Subject: "s", Email: "a@x.io", Roles: []string{"admin", "user"}}, nil},
		{"JSON array roles", map[string]string{"tenant_id": "acme", "roles": `["admin"]`},
			Claims{TenantID: "acme", Roles: []string{"admin"}}, nil},
		{"scalar role with a space is one role", map[string]string{"tenant_id": "acme", "roles": "not admin"},
			Claims{TenantID: "acme", Roles: []string{"not admin"}}, nil},
		{"upn fallback", map[string]string{"tenant_id": "acme", "upn": "u@x.io"}, Claims{TenantID: "acme", Email: "u@x.io"}, nil},
		{"dotted tenant", map[string]string{"tenant_id": "acme.example.com"}, Claims{TenantID: "acme.example.com"}, nil},
		{"no tenant", map[string]string{"roles": "admin"}, Claims{}, ErrNoTenant},
		{"empty tenant", map[string]string{"tenant_id": ""}, Claims{}, ErrInvalidTenant},
		{"bad tenant", map[string]string{"tenant_id": "a#b"}, Claims{}, ErrInvalidTenant},
		{"tenant with path", map[string]string{"tenant_id": "acme/../x"}, Claims{}, ErrInvalidTenant},
		{"65-character tenant", map[string]string{"tenant_id": tenant65}, Claims{}, ErrInvalidTenant},
		{"printable but not a tenant id", map[string]string{"tenant_id": "acme:eu"}, Claims{}, ErrInvalidTenant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ClaimsFromStringMap(tt.in, DefaultClaimNames())
			if tt.wantErr != nil {
				checkTenantErr(t, err, tt.wantErr, DefaultTenantClaim)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestHasRoleAndContext(t *testing.T) {
	c := Claims{TenantID: "acme", Roles: []string{"user", "admin"}}
	if !c.HasRole("admin") || c.HasRole("Admin") || c.HasRole("adm") {
		t.Fatalf("HasRole is not an exact match over %v", c.Roles)
	}
	if _, ok := FromContext(context.Background()); ok {
		t.Fatal("claims found in an empty context")
	}
	got, ok := FromContext(NewContext(context.Background(), c))
	if !ok || !reflect.DeepEqual(got, c) {
		t.Fatalf("FromContext = %+v, %v", got, ok)
	}
}

func TestClaimNamesFromEnv(t *testing.T) {
	env := map[string]string{"TENANT_CLAIM": "org_id"}
	got := ClaimNamesFromEnv(func(k string) string { return env[k] })
	if got != (ClaimNames{Tenant: "org_id", Roles: "roles"}) {
		t.Fatalf("got %+v", got)
	}
	if got := ClaimNamesFromEnv(func(string) string { return "" }); got != DefaultClaimNames() {
		t.Fatalf("defaults: got %+v", got)
	}
}

package auth

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestParseRoles(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   ", nil},
		{"admin", []string{"admin"}},
		{"[admin user]", []string{"admin", "user"}}, // API Gateway's flattening
		{"[admin]", []string{"admin"}},
		{"[]", nil},
		{`["admin","user"]`, []string{"admin", "user"}},
		{`[ "admin" , "user" ]`, []string{"admin", "user"}},
		{`["admin", ""]`, []string{"admin"}},
		{"[admin, user]", []string{"admin", "user"}},
		{"admin,user", []string{"admin", "user"}},
		{"admin user", []string{"admin", "user"}},
		{" admin ,, user ", []string{"admin", "user"}},
		{"[1 2]", []string{"1", "2"}},
		{`[1,"x"]`, []string{"1", "x"}}, // not a string array: read as a list
		{"administrator", []string{"administrator"}},
	}
	for _, tt := range tests {
		if got := ParseRoles(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseRoles(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestClaimsFromMap(t *testing.T) {
	names := DefaultClaimNames()
	tests := []struct {
		name    string
		in      map[string]any
		names   ClaimNames
		want    Claims
		wantErr bool
	}{
		{"array roles", map[string]any{"tenant_id": "acme", "sub": "u1", "email": "a@x.io", "roles": []any{"admin", "user", 3}},
			names, Claims{TenantID: "acme", Subject: "u1", Email: "a@x.io", Roles: []string{"admin", "user"}}, false},
		{"string slice roles", map[string]any{"tenant_id": "acme", "roles": []string{"admin"}},
			names, Claims{TenantID: "acme", Roles: []string{"admin"}}, false},
		{"flattened roles", map[string]any{"tenant_id": "acme", "roles": "[admin user]"},
			names, Claims{TenantID: "acme", Roles: []string{"admin", "user"}}, false},
		{"email falls back to preferred_username", map[string]any{"tenant_id": "acme", "preferred_username": "p@x.io", "upn": "u@x.io"},
			names, Claims{TenantID: "acme", Email: "p@x.io"}, false},
		{"email falls back to upn", map[string]any{"tenant_id": "acme", "email": " ", "upn": "u@x.io"},
			names, Claims{TenantID: "acme", Email: "u@x.io"}, false},
		{"numeric tenant", map[string]any{"tenant_id": float64(42)}, names, Claims{TenantID: "42"}, false},
		{"json.Number tenant", map[string]any{"tenant_id": json.Number("42")}, names, Claims{TenantID: "42"}, false},
		{"custom claim names", map[string]any{"org": "acme", "groups": "admin", "tenant_id": "ignored", "roles": "ignored"},
			ClaimNames{Tenant: "org", Roles: "groups"}, Claims{TenantID: "acme", Roles: []string{"admin"}}, false},
		{"empty names mean defaults", map[string]any{"tenant_id": "acme"}, ClaimNames{}, Claims{TenantID: "acme"}, false},
		{"roles of an unexpected type are none", map[string]any{"tenant_id": "acme", "roles": map[string]any{"a": 1}},
			names, Claims{TenantID: "acme"}, false},
		{"no tenant", map[string]any{"sub": "u1"}, names, Claims{}, true},
		{"empty tenant", map[string]any{"tenant_id": ""}, names, Claims{}, true},
		{"fractional tenant", map[string]any{"tenant_id": 1.5}, names, Claims{}, true},
		{"array tenant", map[string]any{"tenant_id": []any{"a"}}, names, Claims{}, true},
		{"tenant with key separator", map[string]any{"tenant_id": "a#b"}, names, Claims{}, true},
		{"tenant with space", map[string]any{"tenant_id": "a b"}, names, Claims{}, true},
		{"tenant with control character", map[string]any{"tenant_id": "a\x00"}, names, Claims{}, true},
		{"overlong tenant", map[string]any{"tenant_id": string(make([]byte, 129))}, names, Claims{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ClaimsFromMap(tt.in, tt.names)
			if tt.wantErr {
				if !errors.Is(err, ErrNoTenant) {
					t.Fatalf("err = %v, want ErrNoTenant", err)
				}
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

func TestClaimsFromStringMap(t *testing.T) {
	tests := []struct {
		name    string
		in      map[string]string
		want    Claims
		wantErr bool
	}{
		{"API Gateway flattening", map[string]string{"tenant_id": "acme", "sub": "s", "email": "a@x.io", "roles": "[admin user]"},
			Claims{TenantID: "acme", Subject: "s", Email: "a@x.io", Roles: []string{"admin", "user"}}, false},
		{"JSON array roles", map[string]string{"tenant_id": "acme", "roles": `["admin"]`},
			Claims{TenantID: "acme", Roles: []string{"admin"}}, false},
		{"upn fallback", map[string]string{"tenant_id": "acme", "upn": "u@x.io"}, Claims{TenantID: "acme", Email: "u@x.io"}, false},
		{"no tenant", map[string]string{"roles": "admin"}, Claims{}, true},
		{"bad tenant", map[string]string{"tenant_id": "a#b"}, Claims{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ClaimsFromStringMap(tt.in, DefaultClaimNames())
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
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

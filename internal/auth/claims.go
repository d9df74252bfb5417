// Package auth turns a caller's JWT claims into the identity the HTTP API
// works with: the platform tenant, the subject, the email and the roles.
//
// In AWS the API Gateway JWT authorizer verifies tokens and hands the claims
// to the Lambda; locally LocalIssuer and RequireBearer stand in for it, so
// both paths end in the same Claims in the request context.
package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// Claims is the caller's identity, taken from a verified token.
type Claims struct {
	TenantID string
	Subject  string
	Email    string
	Roles    []string
}

// HasRole reports whether the caller holds role (exact match).
func (c Claims) HasRole(role string) bool {
	for _, r := range c.Roles {
		if r == role {
			return true
		}
	}
	return false
}

type claimsKey struct{}

// NewContext returns ctx carrying c.
func NewContext(ctx context.Context, c Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// FromContext returns the claims carried by ctx, if any.
func FromContext(ctx context.Context) (Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(Claims)
	return c, ok
}

// Default claim names (DESIGN.md section 2).
const (
	DefaultTenantClaim = "tenant_id"
	DefaultRolesClaim  = "roles"
)

// ClaimNames says which claims carry the platform tenant and the roles; the
// platform's token issuer decides, so they are configuration.
type ClaimNames struct {
	Tenant string
	Roles  string
}

// DefaultClaimNames returns the default claim names.
func DefaultClaimNames() ClaimNames {
	return ClaimNames{Tenant: DefaultTenantClaim, Roles: DefaultRolesClaim}
}

// ClaimNamesFromEnv reads TENANT_CLAIM and ROLES_CLAIM through getenv
// (os.Getenv in the functions), falling back to the defaults when unset.
func ClaimNamesFromEnv(getenv func(string) string) ClaimNames {
	return ClaimNames{Tenant: getenv("TENANT_CLAIM"), Roles: getenv("ROLES_CLAIM")}.withDefaults()
}

func (n ClaimNames) withDefaults() ClaimNames {
	if n.Tenant == "" {
		n.Tenant = DefaultTenantClaim
	}
	if n.Roles == "" {
		n.Roles = DefaultRolesClaim
	}
	return n
}

// ErrNoTenant is returned when the claims carry no usable platform tenant.
var ErrNoTenant = errors.New("auth: token carries no usable tenant claim")

// maxTenantLen bounds the tenant id; tenant ids become part of storage keys.
const maxTenantLen = 128

// ClaimsFromMap reads Claims from verified token claims as a JWT library
// decodes them (strings, numbers, arrays). A missing or unusable tenant
// claim is ErrNoTenant; missing roles are simply no roles.
func ClaimsFromMap(m map[string]any, names ClaimNames) (Claims, error) {
	names = names.withDefaults()
	tenant, ok := scalarString(m[names.Tenant])
	if !ok || !validTenant(tenant) {
		return Claims{}, fmt.Errorf("%w (claim %q)", ErrNoTenant, names.Tenant)
	}
	sub, _ := scalarString(m["sub"])
	c := Claims{TenantID: tenant, Subject: sub, Email: firstString(m, "email", "preferred_username", "upn")}
	switch roles := m[names.Roles].(type) {
	case string:
		c.Roles = ParseRoles(roles)
	case []string:
		c.Roles = cleanRoles(roles)
	case []any:
		for _, r := range roles {
			if s, ok := r.(string); ok {
				c.Roles = append(c.Roles, s)
			}
		}
		c.Roles = cleanRoles(c.Roles)
	}
	return c, nil
}

// ClaimsFromStringMap reads Claims from the claims API Gateway's JWT
// authorizer hands a Lambda: every value a string, arrays flattened (see
// ParseRoles).
func ClaimsFromStringMap(m map[string]string, names ClaimNames) (Claims, error) {
	names = names.withDefaults()
	tenant := m[names.Tenant]
	if !validTenant(tenant) {
		return Claims{}, fmt.Errorf("%w (claim %q)", ErrNoTenant, names.Tenant)
	}
	c := Claims{TenantID: tenant, Subject: m["sub"], Roles: ParseRoles(m[names.Roles])}
	for _, k := range []string{"email", "preferred_username", "upn"} {
		if v := strings.TrimSpace(m[k]); v != "" {
			c.Email = v
			break
		}
	}
	return c, nil
}

// ParseRoles reads a roles claim flattened into one string. API Gateway
// renders an array claim as "[admin user]"; other issuers send a JSON array
// (`["admin","user"]`), a comma or space separated list, or one role.
func ParseRoles(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if strings.HasPrefix(s, "[") {
		var arr []string
		if err := json.Unmarshal([]byte(s), &arr); err == nil {
			return cleanRoles(arr)
		}
		s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	for i, f := range fields {
		fields[i] = strings.Trim(f, `"'`)
	}
	return cleanRoles(fields)
}

// cleanRoles drops empty entries.
func cleanRoles(in []string) []string {
	out := make([]string, 0, len(in))
	for _, r := range in {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// scalarString returns a string claim, or an integral number claim as
// decimal text (some issuers put numeric organisation ids in tokens).
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatInt(int64(x), 10), true
		}
	case json.Number:
		if _, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return string(x), true
		}
	}
	return "", false
}

func firstString(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

// validTenant accepts a non-empty, bounded tenant id of printable
// characters. '#' is refused because it separates the parts of storage keys.
func validTenant(t string) bool {
	if t == "" || len(t) > maxTenantLen {
		return false
	}
	for _, r := range t {
		if r == '#' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// Package auth turns a caller's JWT claims into the identity the HTTP API
// works with: the platform tenant, the subject, the email and the roles.
//
// In AWS the API Gateway JWT authorizer verifies tokens and hands the claims
// to the Lambda; locally LocalIssuer signs and local/apigwlocal verifies, so
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

	"dirsync/internal/domain"
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

type refusedKey struct{}

// NewRefusedContext returns ctx carrying why the caller's claims were
// refused (an error of ClaimsFromMap or ClaimsFromStringMap), so the 401
// answered later can say it. The API Lambdas need this: their adapter reads
// the claims before the handler runs.
func NewRefusedContext(ctx context.Context, err error) context.Context {
	return context.WithValue(ctx, refusedKey{}, err)
}

// RefusedFromContext returns the error NewRefusedContext put in ctx, or nil.
// Its message is meant for the caller.
func RefusedFromContext(ctx context.Context) error {
	err, _ := ctx.Value(refusedKey{}).(error)
	return err
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

// Tenant claim errors. Every unusable tenant claim is ErrNoTenant; one that
// is present but not a valid platform tenant id is also ErrInvalidTenant.
// Their messages name the claim and are meant for the caller (they never
// echo the claim's value).
var (
	ErrNoTenant      = errors.New("token carries no usable tenant claim")
	ErrInvalidTenant = fmt.Errorf("%w: not a valid platform tenant id", ErrNoTenant)
)

// tenantClaimError is a refused tenant claim: kind for errors.Is, msg for
// the caller.
type tenantClaimError struct {
	kind error
	msg  string
}

func (e *tenantClaimError) Error() string { return e.msg }
func (e *tenantClaimError) Unwrap() error { return e.kind }

// checkTenant accepts only what domain.ValidTenantID accepts: the tenant id
// becomes part of storage keys and secret names, so anything else would be
// refused later, as a 500, instead of now, as a 401.
func checkTenant(tenant, claim string) error {
	if !domain.ValidTenantID(tenant) {
		return &tenantClaimError{ErrInvalidTenant, fmt.Sprintf("the token's %q claim is not a valid platform tenant id: it must be %s", claim, domain.TenantIDRule)}
	}
	return nil
}

// ClaimsFromMap reads Claims from verified token claims as a JWT library
// decodes them (strings, numbers, arrays). A missing or unusable tenant
// claim is ErrNoTenant (ErrInvalidTenant when it is not a valid platform
// tenant id), whose message can be shown to the caller; missing roles are
// simply no roles.
func ClaimsFromMap(m map[string]any, names ClaimNames) (Claims, error) {
	names = names.withDefaults()
	raw, present := m[names.Tenant]
	if !present || raw == nil {
		return Claims{}, &tenantClaimError{ErrNoTenant, fmt.Sprintf("the token carries no %q claim", names.Tenant)}
	}
	tenant, ok := scalarString(raw)
	if !ok {
		return Claims{}, &tenantClaimError{ErrNoTenant, fmt.Sprintf("the token's %q claim is neither a string nor an integer", names.Tenant)}
	}
	if err := checkTenant(tenant, names.Tenant); err != nil {
		return Claims{}, err
	}
	sub, _ := scalarString(m["sub"])
	c := Claims{TenantID: tenant, Subject: sub, Email: firstString(m, "email", "preferred_username", "upn")}
	switch roles := m[names.Roles].(type) {
	case string:
		c.Roles = ParseRoles(roles)
	case []string:
		c.Roles = nonEmpty(roles)
	case []any:
		for _, r := range roles {
			if s, ok := r.(string); ok {
				c.Roles = append(c.Roles, s)
			}
		}
		c.Roles = nonEmpty(c.Roles)
	}
	return c, nil
}

// ClaimsFromStringMap reads Claims from the claims API Gateway's JWT
// authorizer hands a Lambda: every value a string, arrays flattened (see
// ParseRoles).
func ClaimsFromStringMap(m map[string]string, names ClaimNames) (Claims, error) {
	names = names.withDefaults()
	tenant, present := m[names.Tenant]
	if !present {
		return Claims{}, &tenantClaimError{ErrNoTenant, fmt.Sprintf("the token carries no %q claim", names.Tenant)}
	}
	if err := checkTenant(tenant, names.Tenant); err != nil {
		return Claims{}, err
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

// ParseRoles reads a roles claim that arrives as one string:
//
//   - text that parses as a JSON array of strings (`["admin","user"]`) is
//     that list, each element one role exactly as it is;
//   - any other text in brackets is API Gateway's flattening of an array
//     claim ("[admin user]"), split on spaces inside the brackets only;
//   - anything else is exactly one role, surrounding whitespace trimmed:
//     "not admin" is the role "not admin" and "admin,user" the role
//     "admin,user". A scalar is never split, since splitting "not admin"
//     would grant "admin".
//
// Role names must not contain spaces: API Gateway renders ["a b","c"] as
// "[a b c]", which cannot be told from ["a","b","c"].
func ParseRoles(s string) []string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		var arr []string
		if err := json.Unmarshal([]byte(s), &arr); err == nil {
			return nonEmpty(arr)
		}
		return nonEmpty(strings.Split(s[1:len(s)-1], " "))
	}
	if s == "" {
		return nil
	}
	return []string{s}
}

// nonEmpty drops empty roles (a JSON null element decodes to ""); the rest
// are kept as they are, so " admin" never becomes "admin".
func nonEmpty(in []string) []string {
	var out []string
	for _, r := range in {
		if r != "" {
			out = append(out, r)
		}
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

package apigwlocal_test

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"dirsync/internal/auth"
	"dirsync/local/apigwlocal"
)

// rawToken signs claims with the test key as they are (no exp, iss or aud
// added), with alg as the header says.
func rawToken(t *testing.T, alg jwt.SigningMethod, claims jwt.MapClaims) string {
	t.Helper()
	var key any = testKey
	if alg == jwt.SigningMethodNone {
		key = jwt.UnsafeAllowNoneSignatureType
	}
	s, err := jwt.NewWithClaims(alg, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAuthorizerRefuses: every request the JWT authorizer refuses is
// 401 {"message":"Unauthorized"} and never reaches the function; a refused
// token (not a missing one) gets API Gateway's www-authenticate challenge.
func TestAuthorizerRefuses(t *testing.T) {
	claims := map[string]any{"tenant_id": "acme", "roles": []string{"admin"}}
	now := time.Now()
	expiredIssuer := newIssuer(t, testIssuer, testAudience, testKey)
	expiredIssuer.SetClock(func() time.Time { return now.Add(-2 * time.Hour) })
	futureIssuer := newIssuer(t, testIssuer, testAudience, testKey)
	futureIssuer.SetClock(func() time.Time { return now.Add(time.Hour) })
	base := jwt.MapClaims{"tenant_id": "acme", "iss": testIssuer, "aud": testAudience, "exp": now.Add(time.Hour).Unix()}
	without := func(name string) jwt.MapClaims {
		c := maps.Clone(base)
		delete(c, name)
		return c
	}
	with := func(name string, v any) jwt.MapClaims {
		c := maps.Clone(base)
		c[name] = v
		return c
	}

	for _, tc := range []struct {
		name, header, description string // description "" = no challenge
	}{
		{"no header", "", ""},
		{"empty bearer", "Bearer ", ""},
		{"garbage", "Bearer not-a-jwt", "the token is malformed"},
		{"other scheme", "Basic dXNlcjpwYXNz", "the token is malformed"},
		{"bad payload", "Bearer eyJhbGciOiJIUzI1NiJ9.!!!.sig", "the token is malformed"},
		{"bad signature", "Bearer " + sign(t, newIssuer(t, testIssuer, testAudience, []byte("another-key-another-key-another!!")), claims), "signing method or signature is invalid"},
		{"tampered claims", "Bearer " + tamper(t, sign(t, newIssuer(t, testIssuer, testAudience, testKey), claims)), "signing method or signature is invalid"},
		{"alg none", "Bearer " + rawToken(t, jwt.SigningMethodNone, base), "signing method none is invalid"},
		{"expired", "Bearer " + sign(t, expiredIssuer, claims), "the token has expired"},
		{"not yet valid", "Bearer " + sign(t, futureIssuer, claims), "the token is not valid yet"},
		{"issued in the future", "Bearer " + rawToken(t, jwt.SigningMethodHS256, with("iat", now.Add(time.Hour).Unix())), "the token was issued in the future"},
		{"no exp", "Bearer " + rawToken(t, jwt.SigningMethodHS256, without("exp")), "the token has no valid exp claim"},
		{"string exp", "Bearer " + rawToken(t, jwt.SigningMethodHS256, with("exp", strconv.FormatInt(now.Add(time.Hour).Unix(), 10))), "the token has no valid exp claim"},
		{"wrong audience", "Bearer " + sign(t, newIssuer(t, testIssuer, "someone-else", testKey), claims), "the token does not have a valid audience"},
		{"no audience", "Bearer " + rawToken(t, jwt.SigningMethodHS256, without("aud")), "the token does not have a valid audience"},
		{"wrong client_id without aud", "Bearer " + rawToken(t, jwt.SigningMethodHS256, jwt.MapClaims{"iss": testIssuer, "client_id": "intruder", "exp": now.Add(time.Hour).Unix()}), "the token does not have a valid audience"},
		{"wrong issuer", "Bearer " + sign(t, newIssuer(t, "https://evil.example/", testAudience, testKey), claims), "the token does not have a valid issuer"},
		{"no issuer", "Bearer " + rawToken(t, jwt.SigningMethodHS256, without("iss")), "the token does not have a valid issuer"},
		// Configured audience, but the verifier (the issuer's keys) knows
		// only its own: the signature check is the verifier's word.
		{"other configured audience, unknown to the verifier", "Bearer " + sign(t, newIssuer(t, testIssuer, "other-client", testKey), claims), "signing method or signature is invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{t: t}
			srv := newGateway(t, rec, nil)
			var h []string
			if tc.header != "" {
				h = []string{"Authorization", tc.header}
			}
			got := do(t, srv, "GET", "/v1/syncs/s1/progress", nil, h...)
			wantGatewayAnswer(t, got, http.StatusUnauthorized, "Unauthorized")
			want := ""
			if tc.description != "" {
				want = `Bearer scope="" error="invalid_token" error_description="` + tc.description + `"`
			}
			if ch := got.header.Get("Www-Authenticate"); ch != want {
				t.Errorf("www-authenticate %q, want %q", ch, want)
			}
			if n := len(rec.all()); n != 0 {
				t.Errorf("the function was invoked %d times", n)
			}
		})
	}
}

func tamper(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	payload = []byte(strings.Replace(string(payload), `"acme"`, `"evil"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

// TestAuthorizerAccepts: the identity source may carry the token bare or
// after "Bearer " (any case), as API Gateway documents; an audience may
// also be matched by client_id when the token has no aud.
func TestAuthorizerAccepts(t *testing.T) {
	token := adminToken(t)
	now := time.Now()
	clientIDToken := rawToken(t, jwt.SigningMethodHS256, jwt.MapClaims{
		"tenant_id": "acme", "iss": testIssuer, "client_id": "other-client", "exp": now.Add(time.Hour).Unix(),
	})
	for _, tc := range []struct {
		name, header string
		verifier     apigwlocal.TokenVerifier
	}{
		{"bearer", "Bearer " + token, nil},
		{"lower-case scheme", "bearer " + token, nil},
		{"bare token", token, nil},
		{"aud array", "Bearer " + rawToken(t, jwt.SigningMethodHS256, jwt.MapClaims{
			"iss": testIssuer, "aud": []string{"x", "other-client"}, "exp": now.Add(time.Hour).Unix(),
		}), hmacOnly{}},
		{"client_id without aud", "Bearer " + clientIDToken, hmacOnly{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{t: t}
			srv := newGateway(t, rec, func(o *apigwlocal.Options) {
				if tc.verifier != nil {
					o.Verifier = tc.verifier
				}
			})
			got := do(t, srv, "GET", "/v1/syncs/s1/progress", nil, "Authorization", tc.header)
			if got.status != http.StatusOK {
				t.Fatalf("%d %s (%s)", got.status, got.body, got.header.Get("Www-Authenticate"))
			}
			if a := rec.only(t).event.RequestContext.Authorizer; a == nil || a.JWT == nil || a.JWT.Claims["iss"] != testIssuer {
				t.Errorf("authorizer context %+v", a)
			}
		})
	}
}

// hmacOnly checks the signature with the test key and nothing else, as a
// JWKS does: the claims are the gateway's to check.
type hmacOnly struct{}

func (hmacOnly) Verify(token string) (map[string]any, error) {
	p, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return testKey, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation())
	if err != nil {
		return nil, err
	}
	return p.Claims.(jwt.MapClaims), nil
}

// TestClaimsAsAPIGatewayPassesThem: every claim reaches the function as a
// string: strings as they are, numbers as their exact text, booleans as
// true/false, arrays flattened to "[a b c]", objects as their JSON; a null
// claim is left out. The platform's claim reader still finds the tenant
// and the roles in them.
func TestClaimsAsAPIGatewayPassesThem(t *testing.T) {
	li := newIssuer(t, testIssuer, testAudience, testKey)
	fixed := time.Unix(1_750_000_000, 0)
	li.SetClock(func() time.Time { return fixed })
	token := sign(t, li, map[string]any{
		"sub":       "u-1",
		"tenant_id": "acme",
		"email":     "admin@acme.test",
		"roles":     []string{"admin", "user"},
		"one_role":  []string{"admin"},
		"no_roles":  []string{},
		"org_num":   42,
		"ratio":     1.5,
		"big":       json.Number("12345678901234567890"),
		"verified":  true,
		"mixed":     []any{1, "two", 3.5, false},
		"nested":    map[string]any{"a": map[string]any{"b": []int{1, 2}}, "c": "d"},
		"objects":   []any{map[string]any{"k": "v"}},
		"nothing":   nil,
		"text":      "with spaces, commas and \"quotes\"",
	})
	rec := &recorder{t: t}
	srv := newGateway(t, rec, func(o *apigwlocal.Options) {
		o.Now = func() time.Time { return fixed.Add(time.Minute) }
		o.Verifier = li // on the same clock
	})
	if got := do(t, srv, "GET", "/v1/users", nil, bearer(token)...); got.status != http.StatusOK {
		t.Fatalf("%d %s", got.status, got.body)
	}
	jwtCtx := rec.only(t).event.RequestContext.Authorizer.JWT
	want := map[string]string{
		"iss": testIssuer, "aud": testAudience,
		"iat": "1750000000", "nbf": "1750000000", "exp": "1750003600",
		"sub":       "u-1",
		"tenant_id": "acme",
		"email":     "admin@acme.test",
		"roles":     "[admin user]",
		"one_role":  "[admin]",
		"no_roles":  "[]",
		"org_num":   "42",
		"ratio":     "1.5",
		"big":       "12345678901234567890",
		"verified":  "true",
		"mixed":     "[1 two 3.5 false]",
		"nested":    `{"a":{"b":[1,2]},"c":"d"}`,
		"objects":   `[{"k":"v"}]`,
		"text":      `with spaces, commas and "quotes"`,
	}
	if !maps.Equal(jwtCtx.Claims, want) {
		for _, k := range slices.Sorted(maps.Keys(want)) {
			if jwtCtx.Claims[k] != want[k] {
				t.Errorf("claim %s = %q, want %q", k, jwtCtx.Claims[k], want[k])
			}
		}
		for k := range jwtCtx.Claims {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected claim %s = %q", k, jwtCtx.Claims[k])
			}
		}
	}
	if jwtCtx.Scopes != nil {
		t.Errorf("scopes %v, want none (no route requires scopes)", jwtCtx.Scopes)
	}
	c, err := auth.ClaimsFromStringMap(jwtCtx.Claims, auth.DefaultClaimNames())
	if err != nil {
		t.Fatal(err)
	}
	if c.TenantID != "acme" || !slices.Equal(c.Roles, []string{"admin", "user"}) || c.Email != "admin@acme.test" || c.Subject != "u-1" {
		t.Errorf("claims read back as %+v", c)
	}
}

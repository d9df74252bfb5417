package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func newTestIssuer(t *testing.T) *LocalIssuer {
	t.Helper()
	li, err := NewLocalIssuer("https://issuer.local", "dirsync", nil)
	if err != nil {
		t.Fatal(err)
	}
	return li
}

func TestLocalIssuerRoundTrip(t *testing.T) {
	li := newTestIssuer(t)
	tok, err := li.Sign(map[string]any{"tenant_id": "acme", "roles": []string{"admin"}, "iss": "forged"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := li.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if claims["tenant_id"] != "acme" || claims["iss"] != "https://issuer.local" {
		t.Fatalf("claims = %v", claims)
	}
	c, err := ClaimsFromMap(claims, DefaultClaimNames())
	if err != nil || !c.HasRole("admin") {
		t.Fatalf("claims from a verified token = %+v, %v", c, err)
	}
}

func TestLocalIssuerRejects(t *testing.T) {
	li := newTestIssuer(t)
	now := time.Now()
	other := newTestIssuer(t)
	otherIss, _ := NewLocalIssuer("https://elsewhere", "dirsync", li.key)
	otherAud, _ := NewLocalIssuer("https://issuer.local", "someone-else", li.key)

	signWith := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		t.Helper()
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	valid := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": "https://issuer.local", "aud": "dirsync", "tenant_id": "acme", "exp": now.Add(time.Hour).Unix()}
	}
	mustSign := func(l *LocalIssuer) string {
		s, err := l.Sign(map[string]any{"tenant_id": "acme"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := mustSign(li)
	parts := strings.Split(good, ".")

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"another key", mustSign(other), jwt.ErrTokenSignatureInvalid},
		{"another issuer", mustSign(otherIss), jwt.ErrTokenInvalidIssuer},
		{"another audience", mustSign(otherAud), jwt.ErrTokenInvalidAudience},
		{"HS512 with the right key", signWith(jwt.SigningMethodHS512, li.key, valid()), jwt.ErrTokenSignatureInvalid},
		{"alg none", signWith(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid()), jwt.ErrTokenSignatureInvalid},
		{"no exp", signWith(jwt.SigningMethodHS256, li.key, func() jwt.MapClaims { c := valid(); delete(c, "exp"); return c }()), jwt.ErrTokenRequiredClaimMissing},
		{"not yet valid", signWith(jwt.SigningMethodHS256, li.key, func() jwt.MapClaims { c := valid(); c["nbf"] = now.Add(time.Minute).Unix(); return c }()), jwt.ErrTokenNotValidYet},
		{"expired", signWith(jwt.SigningMethodHS256, li.key, func() jwt.MapClaims { c := valid(); c["exp"] = now.Add(-time.Second).Unix(); return c }()), jwt.ErrTokenExpired},
		{"tampered payload", parts[0] + "." + parts[1] + "x." + parts[2], jwt.ErrTokenMalformed},
		{"tampered signature", parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])), jwt.ErrTokenSignatureInvalid},
		{"garbage", "not-a-token", jwt.ErrTokenMalformed},
		{"empty", "", jwt.ErrTokenMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := li.Verify(tt.token)
			if err == nil {
				t.Fatalf("accepted: %v", claims)
			}
			if tt.want != nil && !errorsIs(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// errorsIs accepts either sentinel for signature-type failures: the library
// reports a refused algorithm as unverifiable or as a bad signature.
func errorsIs(err, want error) bool {
	if want == jwt.ErrTokenSignatureInvalid {
		return errors.Is(err, jwt.ErrTokenSignatureInvalid) || errors.Is(err, jwt.ErrTokenUnverifiable)
	}
	return errors.Is(err, want)
}

func TestLocalIssuerExpiryFollowsClock(t *testing.T) {
	li := newTestIssuer(t)
	start := time.Now()
	li.SetClock(func() time.Time { return start })
	tok, err := li.Sign(map[string]any{"tenant_id": "acme"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := li.Verify(tok); err != nil {
		t.Fatalf("fresh token refused: %v", err)
	}
	li.SetClock(func() time.Time { return start.Add(2 * time.Minute) })
	if _, err := li.Verify(tok); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Fatalf("expired token: err = %v", err)
	}
}

func TestNewLocalIssuerValidation(t *testing.T) {
	if _, err := NewLocalIssuer("", "aud", nil); err == nil {
		t.Fatal("empty issuer accepted")
	}
	if _, err := NewLocalIssuer("iss", "", nil); err == nil {
		t.Fatal("empty audience accepted")
	}
	if _, err := NewLocalIssuer("iss", "aud", []byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
	a, _ := NewLocalIssuer("iss", "aud", nil)
	b, _ := NewLocalIssuer("iss", "aud", nil)
	if string(a.key) == string(b.key) {
		t.Fatal("two issuers without a key share one")
	}
	if _, err := a.Sign(nil, 0); err == nil {
		t.Fatal("zero ttl accepted")
	}
}

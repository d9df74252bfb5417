package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// minKeyLen is the shortest HS256 key accepted: the hash's own size.
const minKeyLen = 32

// LocalIssuer signs and verifies HS256 tokens for the local stack, where it
// stands in for the platform's identity provider and API Gateway's JWT
// authorizer. It is never used in AWS.
type LocalIssuer struct {
	key      []byte
	issuer   string
	audience string
	now      func() time.Time
}

// NewLocalIssuer returns an issuer for iss and aud. A nil key means a
// random one, so tokens of an earlier run stop working.
func NewLocalIssuer(issuer, audience string, key []byte) (*LocalIssuer, error) {
	if issuer == "" || audience == "" {
		return nil, errors.New("auth: local issuer needs an issuer and an audience")
	}
	if key == nil {
		key = make([]byte, minKeyLen)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("auth: generate signing key: %w", err)
		}
	}
	if len(key) < minKeyLen {
		return nil, fmt.Errorf("auth: signing key has %d bytes, want at least %d", len(key), minKeyLen)
	}
	return &LocalIssuer{key: append([]byte(nil), key...), issuer: issuer, audience: audience, now: time.Now}, nil
}

// SetClock replaces the issuer's clock (tests of expiry).
func (li *LocalIssuer) SetClock(now func() time.Time) { li.now = now }

// Issuer is the iss of the tokens.
func (li *LocalIssuer) Issuer() string { return li.issuer }

// Audience is the aud of the tokens.
func (li *LocalIssuer) Audience() string { return li.audience }

// Sign returns a token carrying claims, valid for ttl from now. iss, aud,
// iat, nbf and exp are always set by the issuer.
func (li *LocalIssuer) Sign(claims map[string]any, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", fmt.Errorf("auth: sign: ttl must be positive, got %s", ttl)
	}
	now := li.now()
	mc := jwt.MapClaims(maps.Clone(claims))
	if mc == nil {
		mc = jwt.MapClaims{}
	}
	mc["iss"] = li.issuer
	mc["aud"] = li.audience
	mc["iat"] = now.Unix()
	mc["nbf"] = now.Unix()
	mc["exp"] = now.Add(ttl).Unix()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, mc).SignedString(li.key)
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	return s, nil
}

// Verify checks a token's signature (HS256 only), issuer, audience,
// expiry (required) and not-before, and returns its claims.
func (li *LocalIssuer) Verify(token string) (map[string]any, error) {
	parsed, err := jwt.Parse(token,
		func(*jwt.Token) (any, error) { return li.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(li.issuer),
		jwt.WithAudience(li.audience),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(li.now),
	)
	if err != nil {
		return nil, fmt.Errorf("auth: verify: %w", err)
	}
	mc, ok := parsed.Claims.(jwt.MapClaims)
	if !ok {
		return nil, errors.New("auth: verify: unexpected claims type")
	}
	return map[string]any(mc), nil
}

package apigwlocal

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"time"
)

// TokenVerifier checks a token's signature (and whatever else it checks
// itself, e.g. its own issuer and audience). It stands in for the issuer's
// JSON Web Key Set API Gateway fetches; auth.LocalIssuer is one.
type TokenVerifier interface {
	Verify(token string) (map[string]any, error)
}

// authError is why the JWT authorizer refused a request. An empty
// description means the identity source was missing: API Gateway answers
// without a www-authenticate challenge then.
type authError struct{ description string }

func (e *authError) Error() string {
	if e.description == "" {
		return "no identity source"
	}
	return e.description
}

// challenge is the www-authenticate header API Gateway sends with a
// refused token.
func (e *authError) challenge() string {
	if e.description == "" {
		return ""
	}
	return `Bearer scope="" error="invalid_token" error_description="` + e.description + `"`
}

// authorized is what a valid token gives the integration.
type authorized struct {
	claims map[string]string
}

// authorize runs the JWT authorizer the way API Gateway documents it: take
// the token from the identity source (bare or after "Bearer "), decode it,
// validate exp, nbf, iat, iss and aud (or client_id when there is no aud),
// and verify its signature.
func authorize(cfg *jwtConfig, verifier TokenVerifier, headerValue string, now time.Time) (*authorized, error) {
	token := strings.TrimSpace(headerValue)
	if len(token) > 7 && strings.EqualFold(token[:7], "Bearer ") {
		token = strings.TrimSpace(token[7:])
	} else if strings.EqualFold(token, "Bearer") {
		token = ""
	}
	if token == "" {
		return nil, &authError{}
	}
	claims, err := decodeJWT(token)
	if err != nil {
		return nil, err
	}
	if err := validateClaims(cfg, claims, now); err != nil {
		return nil, err
	}
	if _, err := verifier.Verify(token); err != nil {
		return nil, &authError{"signing method or signature is invalid"}
	}
	flat := make(map[string]string, len(claims))
	for name, raw := range claims {
		if v, ok := flattenClaim(raw); ok {
			flat[name] = v
		}
	}
	return &authorized{claims: flat}, nil
}

// decodeJWT returns the claims of a compact JWS, each as its raw JSON (so
// numbers keep their exact text).
func decodeJWT(token string) (map[string]json.RawMessage, error) {
	malformed := &authError{"the token is malformed"}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, malformed
	}
	var header struct {
		Alg string `json:"alg"`
	}
	raw, err := b64url(parts[0])
	if err != nil || json.Unmarshal(raw, &header) != nil {
		return nil, malformed
	}
	if header.Alg == "" || strings.EqualFold(header.Alg, "none") {
		return nil, &authError{"signing method " + header.Alg + " is invalid"}
	}
	raw, err = b64url(parts[1])
	if err != nil {
		return nil, malformed
	}
	var claims map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if dec.Decode(&claims) != nil || claims == nil || dec.More() {
		return nil, malformed
	}
	return claims, nil
}

func b64url(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func validateClaims(cfg *jwtConfig, claims map[string]json.RawMessage, now time.Time) error {
	unix := big.NewFloat(float64(now.Unix()))
	exp, ok := numericDate(claims["exp"])
	if !ok {
		return &authError{"the token has no valid exp claim"}
	}
	if exp.Cmp(unix) <= 0 {
		return &authError{"the token has expired"}
	}
	if raw, present := claims["nbf"]; present {
		nbf, ok := numericDate(raw)
		if !ok || nbf.Cmp(unix) > 0 {
			return &authError{"the token is not valid yet"}
		}
	}
	if raw, present := claims["iat"]; present {
		iat, ok := numericDate(raw)
		if !ok || iat.Cmp(unix) > 0 {
			return &authError{"the token was issued in the future"}
		}
	}
	var iss string
	if json.Unmarshal(claims["iss"], &iss) != nil || iss != cfg.issuer {
		return &authError{"the token does not have a valid issuer"}
	}
	if !audienceMatches(cfg.audiences, claims) {
		return &authError{"the token does not have a valid audience"}
	}
	return nil
}

// numericDate reads a JWT NumericDate (seconds since the epoch, possibly
// fractional).
func numericDate(raw json.RawMessage) (*big.Float, bool) {
	var n json.Number
	if len(raw) == 0 || json.Unmarshal(raw, &n) != nil || raw[0] == '"' {
		return nil, false
	}
	f, ok := new(big.Float).SetString(n.String())
	return f, ok
}

// audienceMatches checks aud (a string or an array of strings) against the
// configured audiences, or client_id when the token has no aud, as API
// Gateway does.
func audienceMatches(audiences []string, claims map[string]json.RawMessage) bool {
	var got []string
	if raw, ok := claims["aud"]; ok {
		var one string
		if json.Unmarshal(raw, &one) == nil {
			got = []string{one}
		} else if json.Unmarshal(raw, &got) != nil {
			return false
		}
	} else if raw, ok := claims["client_id"]; ok {
		var id string
		if json.Unmarshal(raw, &id) != nil {
			return false
		}
		got = []string{id}
	}
	for _, g := range got {
		for _, a := range audiences {
			if g == a {
				return true
			}
		}
	}
	return false
}

// flattenClaim renders a claim the way API Gateway's JWT authorizer hands
// claims to the integration: every value a string; a string as it is, a
// number as its text, a boolean as true/false, an array as its elements so
// rendered, separated by spaces, in brackets ("[a b c]"), an object as its
// JSON. A null claim is left out.
func flattenClaim(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	case '[':
		var elems []json.RawMessage
		if json.Unmarshal(raw, &elems) != nil {
			return "", false
		}
		parts := make([]string, len(elems))
		for i, e := range elems {
			parts[i], _ = flattenClaim(e) // a null element renders empty
		}
		return "[" + strings.Join(parts, " ") + "]", true
	case '{':
		var buf bytes.Buffer
		if json.Compact(&buf, raw) != nil {
			return "", false
		}
		return buf.String(), true
	}
	return string(raw), true // a number, true or false: its JSON text
}

package auth

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"dirsync/internal/domain"
)

// TokenVerifier verifies a bearer token and returns its claims.
type TokenVerifier interface {
	Verify(token string) (map[string]any, error)
}

// RequireBearer is the local stand-in for API Gateway's JWT authorizer: a
// request without a valid bearer token is answered 401 in the API's error
// shape; otherwise its claims go into the request context.
func RequireBearer(verifier TokenVerifier, names ClaimNames) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, ok := bearerToken(r.Header.Get("Authorization"))
			if !ok {
				writeUnauthorized(w, "", "missing bearer token: send Authorization: Bearer <JWT>")
				return
			}
			raw, err := verifier.Verify(token)
			if err != nil {
				writeUnauthorized(w, "invalid_token", "invalid bearer token: "+reason(err))
				return
			}
			claims, err := ClaimsFromMap(raw, names)
			if err != nil {
				// A tenant claim the service cannot use is 401, not 403: the
				// token does not identify any platform tenant, so no
				// permission could help; another token is what fixes it.
				writeUnauthorized(w, "invalid_token", err.Error())
				return
			}
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), claims)))
		})
	}
}

// bearerToken extracts the token of an "Authorization: Bearer <token>"
// header; the scheme is case-insensitive (RFC 7235).
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// reason names why a token was refused without echoing any of it.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong audience"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "a required claim is missing"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "bad signature or algorithm"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	}
	return "rejected"
}

func writeUnauthorized(w http.ResponseWriter, bearerError, message string) {
	challenge := `Bearer realm="dirsync"`
	if bearerError != "" {
		challenge += `, error="` + bearerError + `"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	body := map[string]map[string]string{"error": {"code": domain.EUnauthorized, "message": message}}
	_ = json.NewEncoder(w).Encode(body) // the client went away; nothing left to tell it
}

package fakeentra

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// grant is what the server remembers about an issued access token.
type grant struct {
	tenantID string
	clientID string
	roles    []string
	expires  time.Time
}

// reservedScopes are OpenID scopes clients add to every token request, and
// which the client-credentials grant ignores.
var reservedScopes = map[string]bool{"openid": true, "profile": true, "offline_access": true, "email": true}

// serveAuthority answers the Entra ID (login.microsoftonline.com) paths:
// {tenant}/v2.0/.well-known/openid-configuration, {tenant}/oauth2/v2.0/token
// and {tenant}/discovery/v2.0/keys.
func (s *Server) serveAuthority(w http.ResponseWriter, r *http.Request, path string) {
	tenantSeg, rest, _ := strings.Cut(path, "/")
	switch rest {
	case "v2.0/.well-known/openid-configuration":
		s.serveOpenIDConfiguration(w, r, tenantSeg)
	case "oauth2/v2.0/token":
		s.serveToken(w, r, tenantSeg)
	case "discovery/v2.0/keys":
		if s.tenant(tenantSeg) == nil {
			s.writeUnknownTenant(w, tenantSeg)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"keys": []any{}})
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) serveOpenIDConfiguration(w http.ResponseWriter, r *http.Request, tenantSeg string) {
	if r.Method != http.MethodGet {
		s.writeAADError(w, http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts GET requests.")
		return
	}
	st := s.tenant(tenantSeg)
	if st == nil {
		s.writeUnknownTenant(w, tenantSeg)
		return
	}
	base := s.url + "/" + st.id
	host := strings.TrimPrefix(s.url, "https://")
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              s.url + "/" + st.id + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                base + "/v2.0",
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     s.url + "/oidc/userinfo",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid"},
		"kerberos_endpoint":                     base + "/kerberos",
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   host,
		"cloud_graph_host_name":                 host,
		"msgraph_host":                          host,
		"rbac_url":                              s.url,
	})
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, tenantSeg string) {
	if r.Method != http.MethodPost {
		s.writeAADError(w, http.StatusMethodNotAllowed, "invalid_request", 900561,
			"The endpoint only accepts POST, OPTIONS requests. Received a "+r.Method+" request.")
		return
	}
	st := s.tenant(tenantSeg)
	if st == nil {
		s.writeUnknownTenant(w, tenantSeg)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		s.writeAADError(w, http.StatusBadRequest, "invalid_request", 900144,
			"The request body must contain the following parameter: 'grant_type'.")
		return
	}
	form := r.PostForm
	if gt := form.Get("grant_type"); gt == "" {
		s.writeAADError(w, http.StatusBadRequest, "invalid_request", 900144,
			"The request body must contain the following parameter: 'grant_type'.")
		return
	} else if gt != "client_credentials" {
		s.writeAADError(w, http.StatusBadRequest, "unsupported_grant_type", 70003,
			"The app requested an unsupported grant type '"+gt+"'.")
		return
	}
	clientID, secret := form.Get("client_id"), form.Get("client_secret")
	if basicID, basicSecret, ok := r.BasicAuth(); ok {
		clientID, secret = basicID, basicSecret
	}
	if clientID == "" {
		s.writeAADError(w, http.StatusBadRequest, "invalid_request", 900144,
			"The request body must contain the following parameter: 'client_id'.")
		return
	}
	app, ok := st.app(clientID)
	if !ok {
		s.writeAADError(w, http.StatusBadRequest, "unauthorized_client", 700016,
			"Application with identifier '"+clientID+"' was not found in the directory '"+st.domainOrID()+
				"'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.")
		return
	}
	if secret == "" {
		s.writeAADError(w, http.StatusUnauthorized, "invalid_client", 7000216,
			"'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
		return
	}
	if secret != app.Secret {
		s.writeAADError(w, http.StatusUnauthorized, "invalid_client", 7000215,
			"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+clientID+"'.")
		return
	}
	if code, aadsts, msg, ok := s.checkScope(form.Get("scope")); !ok {
		s.writeAADError(w, http.StatusBadRequest, code, aadsts, msg)
		return
	}

	token := newAccessToken()
	expiresIn := int(s.tokenTTL / time.Second)
	if expiresIn > 1 {
		expiresIn-- // AAD reports one second less than the lifetime
	}
	s.tokMu.Lock()
	s.pruneExpiredLocked()
	s.tokens[token] = grant{
		tenantID: st.id,
		clientID: clientID,
		roles:    slices.Clone(app.Roles),
		expires:  time.Now().Add(s.tokenTTL),
	}
	s.tokMu.Unlock()
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     expiresIn,
		"ext_expires_in": expiresIn,
		"access_token":   token,
	})
}

// checkScope accepts exactly the resource's .default scope, ignoring the
// OpenID scopes MSAL appends to every request.
func (s *Server) checkScope(scope string) (code string, aadsts int, msg string, ok bool) {
	var resources []string
	for _, sc := range strings.Fields(scope) {
		if !reservedScopes[strings.ToLower(sc)] {
			resources = append(resources, sc)
		}
	}
	if len(resources) == 0 {
		return "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.", false
	}
	for _, sc := range resources {
		if !strings.HasSuffix(sc, "/.default") {
			return "invalid_scope", 1002012, "The provided value for scope " + sc +
				" is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", false
		}
		if !strings.EqualFold(sc, s.url+"/.default") {
			return "invalid_scope", 70011, "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope " + sc + " is not valid.", false
		}
	}
	return "", 0, "", true
}

// pruneExpiredLocked drops expired grants once the table grows, so a
// long-running server does not keep every token it ever issued.
func (s *Server) pruneExpiredLocked() {
	if len(s.tokens) < 4096 {
		return
	}
	now := time.Now()
	for k, g := range s.tokens {
		if now.After(g.expires) {
			delete(s.tokens, k)
		}
	}
}

// authorize returns the grant behind the request's bearer token.
func (s *Server) authorize(r *http.Request) (grant, string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return grant{}, "Access token is empty.", false
	}
	s.tokMu.Lock()
	g, ok := s.tokens[token]
	s.tokMu.Unlock()
	if !ok || time.Now().After(g.expires) {
		return grant{}, "Access token has expired or is not yet valid.", false
	}
	return g, "", true
}

func newAccessToken() string {
	var b [48]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "eyJ0eXAiOiJKV1QifQ." + base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *Server) writeUnknownTenant(w http.ResponseWriter, tenant string) {
	s.writeAADError(w, http.StatusBadRequest, "invalid_tenant", 90002,
		"Tenant '"+tenant+"' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.")
}

// writeAADError writes an error the way the Entra ID token service does.
func (s *Server) writeAADError(w http.ResponseWriter, status int, code string, aadsts int, message string) {
	traceID, correlationID := newGUID(), newGUID()
	ts := time.Now().UTC().Format("2006-01-02 15:04:05Z")
	desc := "AADSTS" + strconv.Itoa(aadsts) + ": " + message + " Trace ID: " + traceID +
		" Correlation ID: " + correlationID + " Timestamp: " + ts
	writeJSON(w, status, map[string]any{
		"error":             code,
		"error_description": desc,
		"error_codes":       []int{aadsts},
		"timestamp":         ts,
		"trace_id":          traceID,
		"correlation_id":    correlationID,
		"error_uri":         s.url + "/error?code=" + strconv.Itoa(aadsts),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

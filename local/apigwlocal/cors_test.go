package apigwlocal_test

import (
	"context"
	"maps"
	"net/http"
	"strings"
	"testing"
)

// corsHeaders returns the response's Access-Control-* headers.
func corsHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for name, vs := range h {
		if strings.HasPrefix(name, "Access-Control-") {
			out[name] = strings.Join(vs, ",")
		}
	}
	return out
}

// TestPreflight: API Gateway answers a preflight (OPTIONS with Origin and
// Access-Control-Request-Method) itself, without a token and without
// invoking a function: 204 with the template's CORS configuration when the
// origin, method and requested headers are allowed, 204 without any CORS
// header otherwise.
func TestPreflight(t *testing.T) {
	allowed := map[string]string{
		"Access-Control-Allow-Origin":  consoleURL,
		"Access-Control-Allow-Methods": "GET,POST,PUT,PATCH",
		"Access-Control-Allow-Headers": "authorization,content-type",
		"Access-Control-Max-Age":       "600",
	}
	for _, tc := range []struct {
		name, path, origin, method, headers string
		want                                map[string]string
	}{
		{"console GET", "/v1/syncs/s1/progress", consoleURL, "GET", "authorization", allowed},
		{"console PATCH with a body", "/v1/users/u1", consoleURL, "PATCH", "authorization,content-type", allowed},
		{"headers in any case and order", "/v1/users", consoleURL, "POST", "Content-Type, Authorization", allowed},
		{"no requested headers", "/v1/users", consoleURL, "GET", "", allowed},
		{"second allowed origin", "/v1/users", "http://localhost:5173", "GET", "authorization",
			map[string]string{
				"Access-Control-Allow-Origin":  "http://localhost:5173",
				"Access-Control-Allow-Methods": "GET,POST,PUT,PATCH",
				"Access-Control-Allow-Headers": "authorization,content-type",
				"Access-Control-Max-Age":       "600",
			}},
		{"path without a route", "/v1/nothing", consoleURL, "GET", "authorization", allowed},
		{"other origin", "/v1/users", "https://evil.example", "GET", "authorization", map[string]string{}},
		{"origin with another port", "/v1/users", "http://localhost:5174", "GET", "authorization", map[string]string{}},
		{"origin with another scheme", "/v1/users", "http://console.example.com", "GET", "authorization", map[string]string{}},
		{"method not allowed", "/v1/users/u1", consoleURL, "DELETE", "authorization", map[string]string{}},
		{"header not allowed", "/v1/users", consoleURL, "GET", "authorization,x-custom", map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{t: t}
			srv := newGateway(t, rec, nil)
			h := []string{"Origin", tc.origin, "Access-Control-Request-Method", tc.method}
			if tc.headers != "" {
				h = append(h, "Access-Control-Request-Headers", tc.headers)
			}
			got := do(t, srv, "OPTIONS", tc.path, nil, h...)
			if got.status != http.StatusNoContent || got.body != "" {
				t.Fatalf("%d %q, want 204 without a body", got.status, got.body)
			}
			if ch := corsHeaders(got.header); !maps.Equal(ch, tc.want) {
				t.Errorf("CORS headers %v\nwant %v", ch, tc.want)
			}
			if got.header.Get("Www-Authenticate") != "" || got.header.Get("Apigw-Requestid") == "" {
				t.Errorf("headers %v", got.header)
			}
			if n := len(rec.all()); n != 0 {
				t.Errorf("%d invocations, want none", n)
			}
		})
	}
}

// TestCORSOnResponses: a response to an allowed origin carries
// Access-Control-Allow-Origin and Vary: Origin, whatever CORS headers the
// function set are replaced by the API's, and API Gateway's own answers
// (401, 404) carry them too; another origin gets none.
func TestCORSOnResponses(t *testing.T) {
	rec := &recorder{t: t}
	rec.respond = func(_ context.Context, _ call) ([]byte, error) {
		return []byte(`{"statusCode":200,"headers":{"content-type":"application/json","access-control-allow-origin":"*","Access-Control-Allow-Methods":"DELETE","vary":"Accept-Encoding"},"body":"{}"}`), nil
	}
	srv := newGateway(t, rec, nil)
	token := adminToken(t)
	for _, tc := range []struct {
		name, path, origin string
		token              bool
		status             int
		want               map[string]string
		vary               []string
	}{
		{"allowed origin", "/v1/users", consoleURL, true, 200, map[string]string{"Access-Control-Allow-Origin": consoleURL, "Access-Control-Expose-Headers": "link"}, []string{"Accept-Encoding", "Origin"}},
		{"other origin", "/v1/users", "https://evil.example", true, 200, map[string]string{}, []string{"Accept-Encoding"}},
		{"no origin", "/v1/users", "", true, 200, map[string]string{}, []string{"Accept-Encoding"}},
		{"401 to an allowed origin", "/v1/users", consoleURL, false, 401, map[string]string{"Access-Control-Allow-Origin": consoleURL, "Access-Control-Expose-Headers": "link"}, []string{"Origin"}},
		{"404 to an allowed origin", "/v1/nothing", consoleURL, true, 404, map[string]string{"Access-Control-Allow-Origin": consoleURL, "Access-Control-Expose-Headers": "link"}, []string{"Origin"}},
		{"401 to another origin", "/v1/users", "https://evil.example", false, 401, map[string]string{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h []string
			if tc.origin != "" {
				h = append(h, "Origin", tc.origin)
			}
			if tc.token {
				h = append(h, bearer(token)...)
			}
			got := do(t, srv, "GET", tc.path, nil, h...)
			if got.status != tc.status {
				t.Fatalf("status %d, want %d", got.status, tc.status)
			}
			if ch := corsHeaders(got.header); !maps.Equal(ch, tc.want) {
				t.Errorf("CORS headers %v, want %v", ch, tc.want)
			}
			if vary := got.header.Values("Vary"); strings.Join(vary, "|") != strings.Join(tc.vary, "|") {
				t.Errorf("Vary %q, want %q", vary, tc.vary)
			}
		})
	}
}

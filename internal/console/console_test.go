package console

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestHandlerServesFiles(t *testing.T) {
	h := Handler()
	tests := []struct {
		path        string
		status      int
		contentType string
		bodyHas     string
	}{
		{"/", http.StatusOK, "text/html; charset=utf-8", "<title>Import from Azure AD"},
		{"/index.html", http.StatusOK, "text/html; charset=utf-8", `<script type="module" src="app.js">`},
		{"/app.js", http.StatusOK, "text/javascript; charset=utf-8", "import "},
		{"/api.js", http.StatusOK, "text/javascript; charset=utf-8", "export class Api"},
		{"/styles.css", http.StatusOK, "text/css; charset=utf-8", ":root"},
		{"/favicon.svg", http.StatusOK, "image/svg+xml", "<svg"},
		{"/missing.js", http.StatusNotFound, "text/plain; charset=utf-8", "not found"},
		{"/web/app.js", http.StatusNotFound, "text/plain; charset=utf-8", "not found"},
		{"/../console.go", http.StatusNotFound, "text/plain; charset=utf-8", "not found"},
		{"/v1/users", http.StatusNotFound, "text/plain; charset=utf-8", "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res := get(t, h, http.MethodGet, tt.path, nil)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if got := res.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type %q, want %q", got, tt.contentType)
			}
			if !strings.Contains(string(body), tt.bodyHas) {
				t.Errorf("body lacks %q", tt.bodyHas)
			}
			if got := res.Header.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control %q, want no-cache", got)
			}
			if got := res.Header.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
				t.Errorf("CSP %q, want %q", got, ContentSecurityPolicy)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
		})
	}
}

// The policy must keep the page to its own origin: no inline code, no
// eval, nothing from elsewhere.
func TestContentSecurityPolicyIsStrict(t *testing.T) {
	directives := map[string]string{}
	for _, d := range strings.Split(ContentSecurityPolicy, ";") {
		fields := strings.Fields(d)
		if len(fields) == 0 {
			continue
		}
		directives[fields[0]] = strings.Join(fields[1:], " ")
	}
	want := map[string]string{
		"default-src":     "'none'",
		"script-src":      "'self'",
		"style-src":       "'self'",
		"connect-src":     "'self'",
		"img-src":         "'self'",
		"frame-ancestors": "'none'",
		"base-uri":        "'none'",
	}
	for name, value := range want {
		if directives[name] != value {
			t.Errorf("%s = %q, want %q", name, directives[name], value)
		}
	}
	for name, value := range directives {
		for _, loose := range []string{"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"} {
			if strings.Contains(" "+value+" ", " "+loose+" ") {
				t.Errorf("%s allows %s", name, loose)
			}
		}
	}
}

func TestHandlerMethodsAndRevalidation(t *testing.T) {
	h := Handler()
	tests := []struct {
		name   string
		method string
		header http.Header
		status int
	}{
		{"head", http.MethodHead, nil, http.StatusOK},
		{"post refused", http.MethodPost, nil, http.StatusMethodNotAllowed},
		{"put refused", http.MethodPut, nil, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, h, tt.method, "/app.js", tt.header)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if tt.status == http.StatusMethodNotAllowed && res.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow %q", res.Header.Get("Allow"))
			}
		})
	}

	// no-cache means the browser revalidates: the ETag must answer 304.
	first := get(t, h, http.MethodGet, "/styles.css", nil)
	etag := first.Header.Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-f]{24}"$`).MatchString(etag) {
		t.Fatalf("ETag %q", etag)
	}
	again := get(t, h, http.MethodGet, "/styles.css", http.Header{"If-None-Match": {etag}})
	if again.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation status %d, want 304", again.StatusCode)
	}
	other := get(t, h, http.MethodGet, "/app.js", nil)
	if other.Header.Get("ETag") == etag {
		t.Error("two different files share an ETag")
	}
}

// Every module the page imports must be served, and nothing may be loaded
// from another origin (the page runs without a CDN, under the CSP).
func TestPageReferencesOnlyServedFiles(t *testing.T) {
	h := Handler()
	files, err := load("")
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"#]+)"|from '(\./[^']+)'|import\('(\./[^']+)'\)`)
	for name, f := range files {
		if !strings.HasSuffix(name, ".html") && !strings.HasSuffix(name, ".js") {
			continue
		}
		for _, m := range refs.FindAllStringSubmatch(string(f.body), -1) {
			ref := m[1] + m[2] + m[3]
			if strings.Contains(ref, "://") || strings.HasPrefix(ref, "//") {
				t.Errorf("%s loads %s from another origin", name, ref)
				continue
			}
			res := get(t, h, http.MethodGet, "/"+strings.TrimPrefix(ref, "./"), nil)
			if res.StatusCode != http.StatusOK {
				t.Errorf("%s references %s, served with status %d", name, ref, res.StatusCode)
			}
		}
		// Inline handlers and styles would be blocked by the CSP.
		for _, inline := range []string{" onclick=", " onload=", " style=", "<style", "javascript:"} {
			if strings.Contains(string(f.body), inline) {
				t.Errorf("%s contains %q, which the CSP blocks", name, inline)
			}
		}
	}
	web, err := fs.Sub(embedded, "web")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := fs.ReadDir(web, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := files[e.Name()]; !ok && !e.IsDir() {
			t.Errorf("web/%s has a type the handler does not serve", e.Name())
		}
	}
}

// A console on its own origin names the API's in index.html and may
// connect to it, and to nothing else.
func TestHandlerForAnotherOrigin(t *testing.T) {
	tests := []struct {
		apiBase  string
		meta     string
		connects string
	}{
		{"", `<meta name="api-base" content="">`, "connect-src 'self';"},
		{"http://127.0.0.1:8080/", `<meta name="api-base" content="http://127.0.0.1:8080">`, "connect-src 'self' http://127.0.0.1:8080;"},
		{`https://api.example.com/"x`, `<meta name="api-base" content="https://api.example.com/&#34;x">`, `connect-src 'self' https://api.example.com/"x;`},
	}
	for _, tt := range tests {
		t.Run(tt.apiBase, func(t *testing.T) {
			res := get(t, HandlerFor(tt.apiBase), http.MethodGet, "/", nil)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK || !strings.Contains(string(body), tt.meta) {
				t.Fatalf("status %d; index.html lacks %s", res.StatusCode, tt.meta)
			}
			if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, tt.connects) {
				t.Errorf("CSP %q lacks %q", csp, tt.connects)
			}
		})
	}
}

// Package console is the admin console page "Admin app > User Management >
// Import Users > Import from Azure AD": plain HTML, CSS and ES modules in
// web/, with no build step, that call the HTTP API v1 with the admin's
// bearer token.
//
// Handler serves the embedded files (the local stack mounts it at /). The
// same web/ folder is what gets deployed as static files, e.g. to an S3
// bucket behind CloudFront:
//
//	aws s3 sync internal/console/web s3://<bucket>/ --cache-control no-cache
//
// When the API is on another origin (API Gateway), set the API's base URL in
// index.html's <meta name="api-base" content="https://..."> before uploading,
// allow that origin in the API's CORS settings, and have the CDN send the
// same headers as Handler with that origin added to connect-src.
//
// The page takes the admin token from a sign-in field, or from the URL
// fragment (#token=<jwt>, which never reaches a server), and keeps it in
// sessionStorage only.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed web
var embedded embed.FS

// ContentSecurityPolicy allows the page to load and call nothing but its
// own origin: no inline script or style, no framing, no plugins.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; " +
	"frame-ancestors 'none'"

// contentTypes names the type of every kind of file web/ holds, so the
// answer does not depend on the host's mime.types.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".json": "application/json",
	".txt":  "text/plain; charset=utf-8",
}

type file struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the page: index.html at /, the other files by name, 404
// for anything else. Every answer says no-cache (the browser revalidates
// with the ETag, so a deploy is seen at once) and carries the CSP.
func Handler() http.Handler { return HandlerFor("") }

// HandlerFor serves the page calling the API at apiBase (an origin such as
// https://api.example.com; "" = the page's own): index.html's api-base meta
// names it and the CSP's connect-src allows it, as a deployment behind a CDN
// is configured.
func HandlerFor(apiBase string) http.Handler {
	apiBase = strings.TrimRight(apiBase, "/")
	files, err := load(apiBase)
	if err != nil {
		// The embedded files are fixed at build time and the package tests
		// read every one, so this only guards against a broken build.
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "console unavailable: "+err.Error(), http.StatusInternalServerError)
		})
	}
	csp := ContentSecurityPolicy
	if apiBase != "" {
		csp = strings.Replace(csp, "connect-src 'self'", "connect-src 'self' "+apiBase, 1)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" {
			name = "index.html"
		}
		f, ok := files[name]
		if !ok {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		h.Set("Content-Type", f.contentType)
		h.Set("ETag", f.etag)
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.body))
	})
}

// apiBaseMeta is index.html's api-base meta as shipped (empty: same origin).
const apiBaseMeta = `<meta name="api-base" content="">`

// load reads every embedded file whose type is known, keyed by its path
// under web/, with index.html naming apiBase when it is not "".
func load(apiBase string) (map[string]file, error) {
	fsys, err := fs.Sub(embedded, "web")
	if err != nil {
		return nil, fmt.Errorf("console: web files: %w", err)
	}
	files := map[string]file{}
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return nil
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("console: read %s: %w", p, err)
		}
		if p == "index.html" && apiBase != "" {
			if !bytes.Contains(body, []byte(apiBaseMeta)) {
				return fmt.Errorf("console: index.html has no %s to set", apiBaseMeta)
			}
			body = bytes.Replace(body, []byte(apiBaseMeta), []byte(`<meta name="api-base" content="`+html.EscapeString(apiBase)+`">`), 1)
		}
		sum := sha256.Sum256(body)
		files[p] = file{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("console: load web files: %w", err)
	}
	return files, nil
}

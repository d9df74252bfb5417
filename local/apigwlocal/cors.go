package apigwlocal

import (
	"net/http"
	"strconv"
	"strings"
)

// CORS, as API Gateway applies an HTTP API's CorsConfiguration: it answers
// preflight requests itself (no route, no authorizer, no integration), adds
// the CORS headers to every other response when the request's Origin is
// allowed, and ignores the CORS headers an integration returns.

// isPreflight reports whether r is a CORS preflight: OPTIONS with both
// Origin and Access-Control-Request-Method.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// originAllowed reports whether origin is one of the allowed origins.
// Origins compare exactly, except for the case of scheme and host, which
// browsers always send in lower case.
func (c *corsConfig) originAllowed(origin string) bool {
	if origin == "" {
		return false
	}
	if c.anyOrigin {
		return true
	}
	for _, o := range c.origins {
		if strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

func (c *corsConfig) methodAllowed(method string) bool {
	if c.anyMethod {
		return true
	}
	for _, m := range c.methods {
		if m == method { // methods are case-sensitive (RFC 9110)
			return true
		}
	}
	return false
}

// headersAllowed checks an Access-Control-Request-Headers list.
func (c *corsConfig) headersAllowed(requested string) bool {
	if c.anyHeader {
		return true
	}
	for _, h := range strings.Split(requested, ",") {
		h = strings.ToLower(strings.TrimSpace(h))
		if h != "" && !c.allowedHeader[h] {
			return false
		}
	}
	return true
}

// allowOrigin is the Access-Control-Allow-Origin value for an allowed
// origin: "*" when every origin is allowed, else the origin itself.
func (c *corsConfig) allowOrigin(origin string) string {
	if c.anyOrigin {
		return "*"
	}
	return origin
}

// preflight answers a preflight request: 204, with the Access-Control-Allow-*
// headers only when the origin, the method and every requested header are
// allowed.
func (c *corsConfig) preflight(h http.Header, r *http.Request) {
	origin := r.Header.Get("Origin")
	method := r.Header.Get("Access-Control-Request-Method")
	requested := strings.Join(r.Header.Values("Access-Control-Request-Headers"), ",")
	if !c.originAllowed(origin) || !c.methodAllowed(method) || !c.headersAllowed(requested) {
		return
	}
	h.Set("Access-Control-Allow-Origin", c.allowOrigin(origin))
	if c.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if len(c.methods) > 0 {
		h.Set("Access-Control-Allow-Methods", strings.Join(c.methods, ","))
	}
	if len(c.headers) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(c.headers, ","))
	}
	if c.maxAge >= 0 {
		h.Set("Access-Control-Max-Age", strconv.Itoa(c.maxAge))
	}
}

// actual sets the CORS headers of a response to a non-preflight request,
// after dropping whatever CORS headers the integration set.
func (c *corsConfig) actual(h http.Header, r *http.Request) {
	for name := range h {
		if strings.HasPrefix(name, "Access-Control-") {
			delete(h, name)
		}
	}
	origin := r.Header.Get("Origin")
	if !c.originAllowed(origin) {
		return
	}
	h.Set("Access-Control-Allow-Origin", c.allowOrigin(origin))
	if c.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if len(c.expose) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(c.expose, ","))
	}
	if !c.anyOrigin {
		h.Add("Vary", "Origin")
	}
}

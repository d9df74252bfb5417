package apigwlocal

import (
	"fmt"
	"net/url"
	"strings"

	"dirsync/internal/samtemplate"
)

// route is one route of the API: "GET /v1/syncs/{id}" delivered to a
// function, behind an authorizer or none.
type route struct {
	key      string // the route key, e.g. "GET /v1/syncs/{id}"
	method   string // upper case; "ANY" matches every method
	segs     []segment
	function string
	auth     *jwtConfig // nil = no authorization
}

// segment is one path segment of a route: a literal, a {name} parameter
// (one segment) or a greedy {name+} parameter (the rest of the path).
type segment struct {
	literal string
	param   string
	greedy  bool
}

func newRoute(r samtemplate.Route) (*route, error) {
	if r.Method == "" || !strings.HasPrefix(r.Path, "/") {
		return nil, fmt.Errorf("apigwlocal: %s has no method or a path not starting with /", r.Function)
	}
	rt := &route{key: r.Method + " " + r.Path, method: r.Method, function: r.Function}
	parts := strings.Split(r.Path[1:], "/")
	for i, p := range parts {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			name := p[1 : len(p)-1]
			greedy := strings.HasSuffix(name, "+")
			name = strings.TrimSuffix(name, "+")
			if name == "" || (greedy && i != len(parts)-1) {
				return nil, fmt.Errorf("apigwlocal: route %s: bad path parameter %q", rt.key, p)
			}
			rt.segs = append(rt.segs, segment{param: name, greedy: greedy})
			continue
		}
		if strings.ContainsAny(p, "{}") {
			return nil, fmt.Errorf("apigwlocal: route %s: a path parameter must be a whole segment, got %q", rt.key, p)
		}
		rt.segs = append(rt.segs, segment{literal: p})
	}
	return rt, nil
}

// match reports whether the route matches a request for method and the
// raw (still percent-encoded) path, and its path parameters, decoded.
func (rt *route) match(method string, rawSegs []string) (map[string]string, bool) {
	if rt.method != "ANY" && rt.method != method {
		return nil, false
	}
	var params map[string]string
	for i, s := range rt.segs {
		if i >= len(rawSegs) {
			return nil, false
		}
		if s.greedy {
			rest := strings.Join(rawSegs[i:], "/")
			if rest == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[s.param] = unescape(rest)
			return params, true
		}
		v := unescape(rawSegs[i])
		if s.param == "" {
			if v != s.literal {
				return nil, false
			}
			continue
		}
		if v == "" {
			return nil, false
		}
		if params == nil {
			params = map[string]string{}
		}
		params[s.param] = v
	}
	if len(rawSegs) != len(rt.segs) {
		return nil, false
	}
	return params, true
}

// moreSpecific reports whether a should win over b when both match: API
// Gateway prefers a literal segment over a parameter, a parameter over a
// greedy one, and an explicit method over ANY.
func moreSpecific(a, b *route) bool {
	for i := 0; i < len(a.segs) && i < len(b.segs); i++ {
		if ra, rb := rank(a.segs[i]), rank(b.segs[i]); ra != rb {
			return ra < rb
		}
	}
	if len(a.segs) != len(b.segs) {
		return len(a.segs) > len(b.segs)
	}
	return a.method != "ANY" && b.method == "ANY"
}

func rank(s segment) int {
	switch {
	case s.param == "":
		return 0
	case !s.greedy:
		return 1
	}
	return 2
}

// findRoute returns the route a request goes to, nil when none matches.
func findRoute(routes []*route, method, rawPath string) (*route, map[string]string) {
	if !strings.HasPrefix(rawPath, "/") {
		return nil, nil
	}
	segs := strings.Split(rawPath[1:], "/")
	var best *route
	var bestParams map[string]string
	for _, rt := range routes {
		params, ok := rt.match(method, segs)
		if !ok {
			continue
		}
		if best == nil || moreSpecific(rt, best) {
			best, bestParams = rt, params
		}
	}
	return best, bestParams
}

// unescape decodes a path segment; one that is not valid percent-encoding
// is taken as it is.
func unescape(s string) string {
	if v, err := url.PathUnescape(s); err == nil {
		return v
	}
	return s
}

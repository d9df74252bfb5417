package apigwlocal_test

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"dirsync/local/apigwlocal"
)

// templateRoutes is template.yaml's HTTP API, route by route.
var templateRoutes = map[string]string{
	"GET /v1/connection":                 "ConnectionFunction",
	"PUT /v1/connection":                 "ConnectionFunction",
	"POST /v1/connection/test":           "ConnectionFunction",
	"POST /v1/connection/ignored-users":  "ConnectionFunction",
	"GET /v1/connection/groups":          "ConnectionFunction",
	"POST /v1/syncs":                     "PreviewFunction",
	"GET /v1/syncs":                      "PreviewFunction",
	"GET /v1/syncs/{id}":                 "PreviewFunction",
	"GET /v1/syncs/{id}/changes":         "PreviewFunction",
	"PATCH /v1/syncs/{id}/changes/{seq}": "PreviewFunction",
	"POST /v1/syncs/{id}/exclusions":     "PreviewFunction",
	"POST /v1/syncs/{id}/undo":           "PreviewFunction",
	"GET /v1/syncs/{id}/progress":        "ProgressFunction",
	"POST /v1/syncs/{id}/confirm":        "ConfirmFunction",
	"POST /v1/syncs/{id}/cancel":         "ConfirmFunction",
	"GET /v1/users":                      "DirectoryFunction",
	"POST /v1/users":                     "DirectoryFunction",
	"GET /v1/users/{id}":                 "DirectoryFunction",
	"PATCH /v1/users/{id}":               "DirectoryFunction",
	"GET /v1/groups":                     "DirectoryFunction",
	"GET /v1/groups/{id}/members":        "DirectoryFunction",
}

// TestRoutesAreTheTemplates: the gateway serves exactly the HttpApi events
// of template.yaml, each behind the default PlatformJwt authorizer.
func TestRoutesAreTheTemplates(t *testing.T) {
	gw, err := apigwlocal.New(loadTemplate(t), apigwlocal.Options{
		Parameters: testParameters(), Verifier: newIssuer(t, testIssuer, testAudience, testKey), Invoker: &recorder{t: t},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range gw.Routes() {
		got[r.Key] = r.Function
		if r.Authorizer != "PlatformJwt" {
			t.Errorf("%s: authorizer %q, want PlatformJwt", r.Key, r.Authorizer)
		}
	}
	if !maps.Equal(got, templateRoutes) {
		t.Errorf("routes\n%v\nwant\n%v", got, templateRoutes)
	}
	var fromTemplate []string
	for _, r := range loadTemplate(t).Routes() {
		fromTemplate = append(fromTemplate, r.Pattern())
	}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, fromTemplate) {
		t.Errorf("routes %v, samtemplate.Routes %v", keys, fromTemplate)
	}
}

// TestEveryRouteReachesItsFunction sends a request on every template route
// and checks the function, routeKey and pathParameters of the event.
func TestEveryRouteReachesItsFunction(t *testing.T) {
	rec := &recorder{t: t}
	srv := newGateway(t, rec, nil)
	token := adminToken(t)
	for _, key := range slices.Sorted(maps.Keys(templateRoutes)) {
		t.Run(key, func(t *testing.T) {
			rec.calls = nil
			method, path, _ := strings.Cut(key, " ")
			got := do(t, srv, method, concrete(path), nil, bearer(token)...)
			if got.status != http.StatusOK || got.body != `{"ok":true}` {
				t.Fatalf("%d %s", got.status, got.body)
			}
			c := rec.only(t)
			if c.function != templateRoutes[key] {
				t.Errorf("function %s, want %s", c.function, templateRoutes[key])
			}
			ev := c.event
			if ev.RouteKey != key || ev.RequestContext.RouteKey != key {
				t.Errorf("routeKey %q / %q, want %q", ev.RouteKey, ev.RequestContext.RouteKey, key)
			}
			var want map[string]string
			if strings.Contains(path, "{id}") {
				want = map[string]string{"id": "abc-123"}
			}
			if strings.Contains(path, "{seq}") {
				want["seq"] = "42"
			}
			if !maps.Equal(ev.PathParameters, want) {
				t.Errorf("pathParameters %v, want %v", ev.PathParameters, want)
			}
			if ev.RawPath != concrete(path) || ev.RequestContext.HTTP.Method != method {
				t.Errorf("rawPath %q method %q", ev.RawPath, ev.RequestContext.HTTP.Method)
			}
		})
	}
}

// TestPathParameters: a parameter is one whole segment, percent-decoded in
// pathParameters while rawPath keeps what the client sent.
func TestPathParameters(t *testing.T) {
	rec := &recorder{t: t}
	srv := newGateway(t, rec, nil)
	token := adminToken(t)
	for _, tc := range []struct {
		path, rawPath, id string
	}{
		{"/v1/users/u%20one", "/v1/users/u%20one", "u one"},
		{"/v1/users/a%2Fb", "/v1/users/a%2Fb", "a/b"},
		{"/v1/users/%C3%A9", "/v1/users/%C3%A9", "é"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			rec.calls = nil
			if got := do(t, srv, "GET", tc.path, nil, bearer(token)...); got.status != http.StatusOK {
				t.Fatalf("%d %s", got.status, got.body)
			}
			ev := rec.only(t).event
			if ev.RouteKey != "GET /v1/users/{id}" || ev.PathParameters["id"] != tc.id || ev.RawPath != tc.rawPath {
				t.Errorf("routeKey %q id %q rawPath %q", ev.RouteKey, ev.PathParameters["id"], ev.RawPath)
			}
		})
	}
}

// TestUnknownRoute: no route (unknown path, another method, a trailing
// slash, an extra or empty segment) answers 404 {"message":"Not Found"}
// without invoking anything, with or without a token.
func TestUnknownRoute(t *testing.T) {
	rec := &recorder{t: t}
	srv := newGateway(t, rec, nil)
	token := adminToken(t)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/"},
		{"GET", "/v1"},
		{"GET", "/v1/nothing"},
		{"DELETE", "/v1/users/abc"},
		{"POST", "/v1/connection"},
		{"HEAD", "/v1/users"},
		{"OPTIONS", "/v1/users"}, // not a preflight: no Origin
		{"GET", "/v1/syncs/"},
		{"GET", "/v1/syncs//progress"},
		{"GET", "/v1/syncs/a/b/progress"},
		{"GET", "/V1/users"},
	} {
		for _, withToken := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s %s token=%v", tc.method, tc.path, withToken), func(t *testing.T) {
				var h []string
				if withToken {
					h = bearer(token)
				}
				got := do(t, srv, tc.method, tc.path, nil, h...)
				if tc.method == "HEAD" {
					if got.status != http.StatusNotFound {
						t.Fatalf("status %d", got.status)
					}
				} else {
					wantGatewayAnswer(t, got, http.StatusNotFound, "Not Found")
				}
			})
		}
	}
	if n := len(rec.all()); n != 0 {
		t.Errorf("%d invocations, want none", n)
	}
}

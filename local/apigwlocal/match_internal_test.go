package apigwlocal

import (
	"maps"
	"testing"

	"dirsync/internal/samtemplate"
)

// TestRouteSelection: among matching routes API Gateway picks the most
// specific: a literal segment over a parameter, a parameter over a greedy
// one, an explicit method over ANY.
func TestRouteSelection(t *testing.T) {
	var routes []*route
	for _, r := range []samtemplate.Route{
		{Method: "GET", Path: "/things/{id}", Function: "ByID"},
		{Method: "GET", Path: "/things/special", Function: "Special"},
		{Method: "ANY", Path: "/things/{id}", Function: "AnyByID"},
		{Method: "GET", Path: "/files/{path+}", Function: "Files"},
		{Method: "GET", Path: "/files/{dir}/index", Function: "Index"},
	} {
		rt, err := newRoute(r)
		if err != nil {
			t.Fatal(err)
		}
		routes = append(routes, rt)
	}
	for _, tc := range []struct {
		method, path, function string
		params                 map[string]string
	}{
		{"GET", "/things/7", "ByID", map[string]string{"id": "7"}},
		{"GET", "/things/special", "Special", nil},
		{"DELETE", "/things/7", "AnyByID", map[string]string{"id": "7"}},
		{"GET", "/files/a/b/c.txt", "Files", map[string]string{"path": "a/b/c.txt"}},
		{"GET", "/files/a%2Fb", "Files", map[string]string{"path": "a/b"}},
		{"GET", "/files/docs/index", "Index", map[string]string{"dir": "docs"}},
		{"GET", "/files/", "", nil},
		{"GET", "/things", "", nil},
		{"GET", "/things/", "", nil},
		{"GET", "things/7", "", nil},
	} {
		rt, params := findRoute(routes, tc.method, tc.path)
		got := ""
		if rt != nil {
			got = rt.function
		}
		if got != tc.function || !maps.Equal(params, tc.params) {
			t.Errorf("%s %s: %q %v, want %q %v", tc.method, tc.path, got, params, tc.function, tc.params)
		}
	}
}

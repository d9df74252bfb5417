package samtemplate

import (
	"sort"
	"strings"
)

// Function is an AWS::Serverless::Function of the template.
type Function struct {
	LogicalID   string
	BuildMethod string
	// Dir is the package under functions/ that sam's makefile build uses:
	// the logical id without "Function", lower-cased.
	Dir    string
	Routes []Route
}

// Route is an HttpApi event of a function.
type Route struct {
	Method   string
	Path     string // e.g. /v1/syncs/{id}
	Function string // logical id
}

// Pattern renders the route as a net/http ServeMux pattern ("GET /v1/syncs/{id}").
func (r Route) Pattern() string { return r.Method + " " + r.Path }

// Functions returns the template's functions with their HTTP routes.
func (t *Template) Functions() []Function {
	var out []Function
	for _, r := range t.OfType("AWS::Serverless::Function") {
		f := Function{
			LogicalID: r.LogicalID,
			Dir:       strings.ToLower(strings.TrimSuffix(r.LogicalID, "Function")),
		}
		f.BuildMethod = r.BuildMethod
		events, _ := r.Properties["Events"].(map[string]any)
		for _, e := range events {
			em, _ := e.(map[string]any)
			if Str(em, "Type") != "HttpApi" {
				continue
			}
			f.Routes = append(f.Routes, Route{
				Method:   strings.ToUpper(Str(em, "Properties", "Method")),
				Path:     Str(em, "Properties", "Path"),
				Function: r.LogicalID,
			})
		}
		sort.Slice(f.Routes, func(i, j int) bool { return f.Routes[i].Pattern() < f.Routes[j].Pattern() })
		out = append(out, f)
	}
	return out
}

// Routes returns every HTTP route of every function, sorted.
func (t *Template) Routes() []Route {
	var out []Route
	for _, f := range t.Functions() {
		out = append(out, f.Routes...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pattern() < out[j].Pattern() })
	return out
}

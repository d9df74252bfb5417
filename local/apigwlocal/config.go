package apigwlocal

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"dirsync/internal/samtemplate"
)

// httpAPIType is the SAM resource type of an HTTP API.
const httpAPIType = "AWS::Serverless::HttpApi"

// jwtConfig is a JWT authorizer as the template declares it, its
// parameters resolved.
type jwtConfig struct {
	name      string
	header    string // canonical name of the identity source header
	issuer    string
	audiences []string
}

// corsConfig is the HTTP API's CorsConfiguration, its parameters resolved.
// Header names and methods are kept as declared; comparisons fold case.
type corsConfig struct {
	origins       []string // exact origins, or "*"
	methods       []string
	headers       []string
	expose        []string
	maxAge        int // seconds; -1 = not set
	credentials   bool
	anyOrigin     bool
	anyMethod     bool
	anyHeader     bool
	allowedHeader map[string]bool // lower-cased
}

// apiConfig is what the gateway takes from template.yaml.
type apiConfig struct {
	logicalID string
	stage     string
	routes    []*route
	cors      *corsConfig // nil = no CORS configuration
}

// resolver resolves the intrinsic values the gateway reads (literals and
// !Ref to a template parameter).
type resolver struct {
	tpl    *samtemplate.Template
	params map[string]string
}

// list resolves v to a list: a YAML list of strings (or of refs), or a
// ref to a CommaDelimitedList parameter, or one string.
func (rv resolver) list(v any, what string) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		var out []string
		for _, e := range x {
			s, err := rv.str(e, what)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	case map[string]any:
		name, ok := x["Ref"].(string)
		if !ok || len(x) != 1 {
			return nil, fmt.Errorf("apigwlocal: %s: only literals and !Ref to a parameter are supported, got %v", what, x)
		}
		val, typ, err := rv.param(name, what)
		if err != nil {
			return nil, err
		}
		if typ == "CommaDelimitedList" || strings.HasPrefix(typ, "List<") {
			return splitList(val), nil
		}
		return []string{val}, nil
	default:
		s, err := rv.str(v, what)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
}

// str resolves v to one string.
func (rv resolver) str(v any, what string) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int, int64, float64, bool:
		return fmt.Sprint(x), nil
	case map[string]any:
		name, ok := x["Ref"].(string)
		if !ok || len(x) != 1 {
			return "", fmt.Errorf("apigwlocal: %s: only literals and !Ref to a parameter are supported, got %v", what, x)
		}
		val, typ, err := rv.param(name, what)
		if err != nil {
			return "", err
		}
		if typ == "CommaDelimitedList" || strings.HasPrefix(typ, "List<") {
			return "", fmt.Errorf("apigwlocal: %s: parameter %s is a list where one value is expected", what, name)
		}
		return val, nil
	default:
		return "", fmt.Errorf("apigwlocal: %s: unsupported value %v", what, v)
	}
}

// param returns a parameter's value (the caller's, else the template's
// Default) and its type.
func (rv resolver) param(name, what string) (value, typ string, err error) {
	p, ok := rv.tpl.Parameters[name]
	if !ok {
		return "", "", fmt.Errorf("apigwlocal: %s refers to %s, which is not a parameter of the template", what, name)
	}
	typ = samtemplate.Str(p, "Type")
	if v, ok := rv.params[name]; ok {
		return v, typ, nil
	}
	if d, ok := p["Default"]; ok && d != nil {
		return fmt.Sprint(d), typ, nil
	}
	return "", "", fmt.Errorf("apigwlocal: %s: parameter %s has no value and no default: pass it in Options.Parameters", what, name)
}

// splitList splits a CommaDelimitedList value as CloudFormation does.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// loadConfig reads the HTTP API named apiID ("" = the only one) with its
// routes, authorizer and CORS configuration.
func loadConfig(tpl *samtemplate.Template, apiID string, params map[string]string) (*apiConfig, error) {
	if tpl == nil {
		return nil, fmt.Errorf("apigwlocal: no template")
	}
	apis := tpl.OfType(httpAPIType)
	var api samtemplate.Resource
	switch {
	case apiID != "":
		r, ok := tpl.Resources[apiID]
		if !ok || r.Type != httpAPIType {
			return nil, fmt.Errorf("apigwlocal: the template has no %s %s", httpAPIType, apiID)
		}
		api = r
	case len(apis) == 1:
		api = apis[0]
	default:
		return nil, fmt.Errorf("apigwlocal: the template has %d %s resources: name one in Options.HTTPAPI", len(apis), httpAPIType)
	}
	rv := resolver{tpl: tpl, params: params}
	cfg := &apiConfig{logicalID: api.LogicalID}

	cfg.stage = "$default"
	if v, ok := api.Properties["StageName"]; ok {
		s, err := rv.str(v, api.LogicalID+".StageName")
		if err != nil {
			return nil, err
		}
		cfg.stage = s
	}
	if cfg.stage != "$default" {
		// A named stage prefixes every path with /<stage>; the API served
		// here is the default stage's.
		return nil, fmt.Errorf("apigwlocal: %s: StageName %q is not supported, only $default", api.LogicalID, cfg.stage)
	}

	authorizers, defaultAuth, err := loadAuth(rv, api)
	if err != nil {
		return nil, err
	}
	if cfg.cors, err = loadCORS(rv, api); err != nil {
		return nil, err
	}
	if err := checkEvents(tpl, api.LogicalID); err != nil {
		return nil, err
	}

	seen := map[string]bool{}
	for _, r := range tpl.Routes() {
		rt, err := newRoute(r)
		if err != nil {
			return nil, err
		}
		if seen[rt.key] {
			return nil, fmt.Errorf("apigwlocal: route %s is declared twice", rt.key)
		}
		seen[rt.key] = true
		if defaultAuth != "" {
			rt.auth = authorizers[defaultAuth]
		}
		cfg.routes = append(cfg.routes, rt)
	}
	return cfg, nil
}

// loadAuth reads Auth.Authorizers (JWT only) and Auth.DefaultAuthorizer.
func loadAuth(rv resolver, api samtemplate.Resource) (map[string]*jwtConfig, string, error) {
	auth, _ := api.Properties["Auth"].(map[string]any)
	if auth == nil {
		return nil, "", nil
	}
	out := map[string]*jwtConfig{}
	defs, _ := auth["Authorizers"].(map[string]any)
	names := make([]string, 0, len(defs))
	for name := range defs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		def, _ := defs[name].(map[string]any)
		what := api.LogicalID + ".Auth.Authorizers." + name
		jc, _ := def["JwtConfiguration"].(map[string]any)
		if jc == nil {
			return nil, "", fmt.Errorf("apigwlocal: %s: only JWT authorizers (JwtConfiguration) are supported", what)
		}
		if _, ok := def["AuthorizationScopes"]; ok {
			return nil, "", fmt.Errorf("apigwlocal: %s: AuthorizationScopes are not supported", what)
		}
		src := samtemplate.Str(def, "IdentitySource")
		if src == "" {
			src = "$request.header.Authorization" // SAM's default
		}
		header, ok := strings.CutPrefix(src, "$request.header.")
		if !ok || header == "" || strings.Contains(header, ",") {
			return nil, "", fmt.Errorf("apigwlocal: %s: IdentitySource %q is not supported, only one $request.header.<name>", what, src)
		}
		issuer, err := rv.str(firstKey(jc, "issuer", "Issuer"), what+".JwtConfiguration.issuer")
		if err != nil {
			return nil, "", err
		}
		audiences, err := rv.list(firstKey(jc, "audience", "Audience"), what+".JwtConfiguration.audience")
		if err != nil {
			return nil, "", err
		}
		if issuer == "" || len(audiences) == 0 {
			return nil, "", fmt.Errorf("apigwlocal: %s: the JWT authorizer needs an issuer and at least one audience", what)
		}
		out[name] = &jwtConfig{name: name, header: header, issuer: issuer, audiences: audiences}
	}
	def := samtemplate.Str(auth, "DefaultAuthorizer")
	if def != "" && def != "NONE" && out[def] == nil {
		return nil, "", fmt.Errorf("apigwlocal: %s.Auth.DefaultAuthorizer %s is not one of its authorizers", api.LogicalID, def)
	}
	if def == "NONE" {
		def = ""
	}
	return out, def, nil
}

// loadCORS reads CorsConfiguration (a mapping; absent or false = none).
func loadCORS(rv resolver, api samtemplate.Resource) (*corsConfig, error) {
	raw, ok := api.Properties["CorsConfiguration"]
	if !ok || raw == nil || raw == false {
		return nil, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("apigwlocal: %s.CorsConfiguration: only the mapping form is supported", api.LogicalID)
	}
	what := api.LogicalID + ".CorsConfiguration."
	c := &corsConfig{maxAge: -1, allowedHeader: map[string]bool{}}
	var err error
	if c.origins, err = rv.list(m["AllowOrigins"], what+"AllowOrigins"); err != nil {
		return nil, err
	}
	if c.methods, err = rv.list(m["AllowMethods"], what+"AllowMethods"); err != nil {
		return nil, err
	}
	if c.headers, err = rv.list(m["AllowHeaders"], what+"AllowHeaders"); err != nil {
		return nil, err
	}
	if c.expose, err = rv.list(m["ExposeHeaders"], what+"ExposeHeaders"); err != nil {
		return nil, err
	}
	for _, o := range c.origins {
		if o == "*" {
			c.anyOrigin = true
			continue
		}
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("apigwlocal: %sAllowOrigins: %q is not an origin (scheme://host[:port])", what, o)
		}
	}
	for i, meth := range c.methods {
		c.methods[i] = strings.ToUpper(meth)
		c.anyMethod = c.anyMethod || meth == "*"
	}
	for _, h := range c.headers {
		c.anyHeader = c.anyHeader || h == "*"
		c.allowedHeader[strings.ToLower(h)] = true
	}
	if v, ok := m["MaxAge"]; ok {
		s, err := rv.str(v, what+"MaxAge")
		if err != nil {
			return nil, err
		}
		if c.maxAge, err = strconv.Atoi(s); err != nil || c.maxAge < 0 {
			return nil, fmt.Errorf("apigwlocal: %sMaxAge %q is not a number of seconds", what, s)
		}
	}
	if v, ok := m["AllowCredentials"]; ok {
		s, err := rv.str(v, what+"AllowCredentials")
		if err != nil {
			return nil, err
		}
		if c.credentials, err = strconv.ParseBool(s); err != nil {
			return nil, fmt.Errorf("apigwlocal: %sAllowCredentials %q is not a boolean", what, s)
		}
	}
	if c.credentials && c.anyOrigin {
		// API Gateway refuses this configuration at deploy time.
		return nil, fmt.Errorf("apigwlocal: %s: AllowCredentials is not supported with AllowOrigins \"*\"", api.LogicalID+".CorsConfiguration")
	}
	return c, nil
}

// checkEvents refuses what the routes of samtemplate.Routes do not carry:
// an HttpApi event with its own Auth, or one bound to another API (one
// without ApiId belongs to SAM's implicit HTTP API).
func checkEvents(tpl *samtemplate.Template, apiID string) error {
	for _, fn := range tpl.OfType("AWS::Serverless::Function") {
		events, _ := fn.Properties["Events"].(map[string]any)
		for name, e := range events {
			em, _ := e.(map[string]any)
			if samtemplate.Str(em, "Type") != "HttpApi" {
				continue
			}
			props, _ := em["Properties"].(map[string]any)
			what := fn.LogicalID + ".Events." + name
			if _, ok := props["Auth"]; ok {
				return fmt.Errorf("apigwlocal: %s: a route's own Auth is not supported", what)
			}
			ref, _ := props["ApiId"].(map[string]any)
			if target, _ := ref["Ref"].(string); target != apiID {
				if props["ApiId"] == nil {
					return fmt.Errorf("apigwlocal: %s has no ApiId: it would go to SAM's implicit HTTP API, not %s", what, apiID)
				}
				return fmt.Errorf("apigwlocal: %s belongs to another API than %s", what, apiID)
			}
		}
	}
	return nil
}

func firstKey(m map[string]any, keys ...string) any {
	for _, k := range keys {
		if v, ok := m[k]; ok {
			return v
		}
	}
	return nil
}

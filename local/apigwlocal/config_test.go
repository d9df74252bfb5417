package apigwlocal_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"dirsync/internal/samtemplate"
	"dirsync/local/apigwlocal"
)

// miniTemplate is a one-function HTTP API; api and event are spliced into
// the HttpApi's Properties and the event's Properties.
func miniTemplate(t *testing.T, api, event string) *samtemplate.Template {
	t.Helper()
	src := `
Parameters:
  Issuer: {Type: String, Default: "https://issuer.example/"}
  Audience: {Type: CommaDelimitedList}
  Origins: {Type: CommaDelimitedList, Default: "https://a.example,https://b.example"}
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
` + indent(api, 6) + `
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Get:
          Type: HttpApi
          Properties:
` + indent(event, 12) + `
`
	tpl, err := samtemplate.Parse([]byte(src))
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	return tpl
}

func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = pad + l
	}
	return strings.Join(lines, "\n")
}

const (
	jwtAuth = `
Auth:
  DefaultAuthorizer: Jwt
  Authorizers:
    Jwt:
      IdentitySource: $request.header.Authorization
      JwtConfiguration: {issuer: !Ref Issuer, audience: !Ref Audience}`
	getEvent = `{ApiId: !Ref Api, Method: GET, Path: "/things/{id}"}`
)

// TestNewRefusesWhatItCannotServe: what the stand-in does not implement,
// or a template it cannot resolve, is an error at New, never a gateway
// that behaves unlike API Gateway.
func TestNewRefusesWhatItCannotServe(t *testing.T) {
	verifier := newIssuer(t, testIssuer, testAudience, testKey)
	for _, tc := range []struct {
		name, api, event string
		params           map[string]string
		noVerifier       bool
		want             string
	}{
		{"named stage", "StageName: prod\n" + jwtAuth, getEvent, map[string]string{"Audience": "x"}, false, "StageName"},
		{"route-level auth", jwtAuth, `{ApiId: !Ref Api, Method: GET, Path: /x, Auth: {Authorizer: NONE}}`, map[string]string{"Audience": "x"}, false, "own Auth"},
		{"event of another API", jwtAuth, `{ApiId: !Ref Other, Method: GET, Path: /x}`, map[string]string{"Audience": "x"}, false, "another API"},
		{"event of the implicit API", jwtAuth, `{Method: GET, Path: /x}`, map[string]string{"Audience": "x"}, false, "no ApiId"},
		{"parameter without value", jwtAuth, getEvent, nil, false, "parameter Audience has no value"},
		{"unknown parameter", strings.Replace(jwtAuth, "!Ref Issuer", "!Ref Nope", 1), getEvent, map[string]string{"Audience": "x"}, false, "not a parameter"},
		{"lambda authorizer", `
Auth:
  DefaultAuthorizer: L
  Authorizers:
    L: {FunctionArn: arn:aws:lambda:us-east-1:1:function:f}`, getEvent, nil, false, "only JWT authorizers"},
		{"scopes", jwtAuth + "\n      AuthorizationScopes: [read]", getEvent, map[string]string{"Audience": "x"}, false, "AuthorizationScopes"},
		{"identity source not a header", strings.Replace(jwtAuth, "$request.header.Authorization", "$request.querystring.token", 1), getEvent, map[string]string{"Audience": "x"}, false, "IdentitySource"},
		{"unknown default authorizer", strings.Replace(jwtAuth, "DefaultAuthorizer: Jwt", "DefaultAuthorizer: Other", 1), getEvent, map[string]string{"Audience": "x"}, false, "not one of its authorizers"},
		{"no verifier", jwtAuth, getEvent, map[string]string{"Audience": "x"}, true, "Options.Verifier is required"},
		{"credentials with any origin", "CorsConfiguration: {AllowOrigins: ['*'], AllowCredentials: true}", getEvent, nil, false, "AllowCredentials"},
		{"origin with a path", "CorsConfiguration: {AllowOrigins: ['https://a.example/app']}", getEvent, nil, false, "not an origin"},
		{"bad max age", "CorsConfiguration: {AllowOrigins: ['https://a.example'], MaxAge: soon}", getEvent, nil, false, "MaxAge"},
		{"greedy parameter not last", "{}", `{ApiId: !Ref Api, Method: GET, Path: "/a/{p+}/b"}`, nil, false, "bad path parameter"},
		{"partial segment parameter", "{}", `{ApiId: !Ref Api, Method: GET, Path: "/a/x{p}"}`, nil, false, "whole segment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := apigwlocal.Options{Parameters: tc.params, Verifier: verifier, Invoker: &recorder{t: t}}
			if tc.noVerifier {
				opts.Verifier = nil
			}
			_, err := apigwlocal.New(miniTemplate(t, tc.api, tc.event), opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			if testing.Verbose() {
				t.Log(err)
			}
		})
	}
	if _, err := apigwlocal.New(loadTemplate(t), apigwlocal.Options{Parameters: testParameters(), Verifier: verifier}); err == nil {
		t.Error("New without an Invoker succeeded")
	}
	if _, err := apigwlocal.New(loadTemplate(t), apigwlocal.Options{Verifier: verifier, Invoker: &recorder{t: t}}); err == nil ||
		!strings.Contains(err.Error(), "JwtIssuer") && !strings.Contains(err.Error(), "JwtAudience") && !strings.Contains(err.Error(), "CorsAllowedOrigins") {
		t.Errorf("template.yaml without its parameters: %v", err)
	}
}

// TestParametersAndDefaults: parameters are resolved as CloudFormation
// would (a CommaDelimitedList split, a missing one's Default); an API
// without Auth invokes without an authorizer context; CORS with "*"
// answers "*" without Vary.
func TestParametersAndDefaults(t *testing.T) {
	rec := &recorder{t: t}
	gw, err := apigwlocal.New(miniTemplate(t, `
CorsConfiguration:
  AllowOrigins: ['*']
  AllowMethods: ['*']
  AllowHeaders: ['*']
  ExposeHeaders: [x-request-id]`, getEvent), apigwlocal.Options{Invoker: rec})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	got := do(t, srv, "GET", "/things/7", nil, "Origin", "https://anywhere.example")
	if got.status != 200 || got.header.Get("Access-Control-Allow-Origin") != "*" || got.header.Get("Vary") != "" ||
		got.header.Get("Access-Control-Expose-Headers") != "x-request-id" {
		t.Errorf("%d %v", got.status, got.header)
	}
	if a := rec.only(t).event.RequestContext.Authorizer; a != nil {
		t.Errorf("authorizer context %+v without an authorizer", a)
	}
	pre := do(t, srv, "OPTIONS", "/things/7", nil, "Origin", "https://anywhere.example",
		"Access-Control-Request-Method", "DELETE", "Access-Control-Request-Headers", "x-anything")
	if pre.status != http.StatusNoContent || pre.header.Get("Access-Control-Allow-Origin") != "*" ||
		pre.header.Get("Access-Control-Allow-Methods") != "*" || pre.header.Get("Access-Control-Max-Age") != "" {
		t.Errorf("preflight %d %v", pre.status, pre.header)
	}

	// The Default of Issuer and the caller's Audience list: a token for
	// the list's second audience passes.
	li := newIssuer(t, "https://issuer.example/", "second", testKey)
	gw, err = apigwlocal.New(miniTemplate(t, jwtAuth, getEvent), apigwlocal.Options{
		Parameters: map[string]string{"Audience": "first, second"}, Verifier: li, Invoker: &recorder{t: t},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(gw)
	defer srv2.Close()
	if got := do(t, srv2, "GET", "/things/7", nil, bearer(sign(t, li, nil))...); got.status != 200 {
		t.Errorf("%d %s", got.status, got.body)
	}
	if got := do(t, srv2, "GET", "/things/7", nil); got.status != 401 {
		t.Errorf("without a token: %d", got.status)
	}
}

// TestPreflightTakenByARoute: a route matching OPTIONS (here ANY) takes a
// preflight like any request, authorizer included; API Gateway answers
// only preflights no route takes.
func TestPreflightTakenByARoute(t *testing.T) {
	rec := &recorder{t: t}
	gw, err := apigwlocal.New(miniTemplate(t, jwtAuth+"\nCorsConfiguration: {AllowOrigins: !Ref Origins, AllowMethods: [GET]}",
		`{ApiId: !Ref Api, Method: ANY, Path: "/things/{id}"}`), apigwlocal.Options{
		Parameters: map[string]string{"Audience": "x"}, Verifier: newIssuer(t, testIssuer, testAudience, testKey), Invoker: rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	preflight := []string{"Origin", "https://b.example", "Access-Control-Request-Method", "GET"}
	got := do(t, srv, "OPTIONS", "/things/7", nil, preflight...)
	wantGatewayAnswer(t, got, http.StatusUnauthorized, "Unauthorized")
	if got.header.Get("Access-Control-Allow-Origin") != "https://b.example" {
		t.Errorf("CORS headers %v", got.header)
	}
	got = do(t, srv, "OPTIONS", "/elsewhere", nil, preflight...)
	if got.status != http.StatusNoContent || got.header.Get("Access-Control-Allow-Methods") != "GET" {
		t.Errorf("preflight without a route: %d %v", got.status, got.header)
	}
	if n := len(rec.all()); n != 0 {
		t.Errorf("%d invocations", n)
	}
}

package lambdahttp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"dirsync/internal/auth"
	"dirsync/internal/domain"
	"dirsync/internal/httpapi"
)

// seen is what the echo handler observed of a request.
type seen struct {
	Method    string              `json:"method"`
	Path      string              `json:"path"`
	RawPath   string              `json:"rawPath"`
	Query     map[string][]string `json:"query"`
	Body      string              `json:"body"`
	Length    int64               `json:"length"`
	Header    map[string]string   `json:"header"`
	Claims    *auth.Claims        `json:"claims"`
	RequestID string              `json:"requestId"`
	Host      string              `json:"host"`
}

func echo(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s := seen{
		Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Query: r.URL.Query(), Body: string(b),
		Length: r.ContentLength, RequestID: httpapi.RequestID(r.Context()), Host: r.Host,
		Header: map[string]string{"Content-Type": r.Header.Get("Content-Type"), "X-Multi": r.Header.Get("X-Multi")},
	}
	if c := r.Header.Get("Cookie"); c != "" {
		s.Header["Cookie"] = c
	}
	if c, ok := auth.FromContext(r.Context()); ok {
		s.Claims = &c
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Add("Set-Cookie", "a=1")
	w.Header().Add("Set-Cookie", "b=2")
	w.Header().Add("Vary", "Accept")
	w.Header().Add("Vary", "Origin")
	w.WriteHeader(http.StatusTeapot)
	_ = json.NewEncoder(w).Encode(s)
}

func event(method, path, query string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: path, RawQueryString: query,
		Headers: map[string]string{"content-type": "application/json", "x-multi": "a,b"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "req-123", DomainName: "api.example.test",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, SourceIP: "192.0.2.1"},
		},
	}
}

func withClaims(ev events.APIGatewayV2HTTPRequest, claims map[string]string) events.APIGatewayV2HTTPRequest {
	ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
	}
	return ev
}

func TestRequestConversion(t *testing.T) {
	admin := map[string]string{"tenant_id": "acme", "sub": "s1", "email": "ada@acme.test", "roles": "[admin user]"}
	tests := []struct {
		name string
		ev   events.APIGatewayV2HTTPRequest
		want seen
	}{
		{
			"claims, query and plain body",
			func() events.APIGatewayV2HTTPRequest {
				ev := withClaims(event("POST", "/v1/users", "limit=5&q=a%20b"), admin)
				ev.Body = `{"email":"x@y.z"}`
				ev.Cookies = []string{"c=1", "d=2"}
				return ev
			}(),
			seen{Method: "POST", Path: "/v1/users", RawPath: "/v1/users", Query: map[string][]string{"limit": {"5"}, "q": {"a b"}},
				Body: `{"email":"x@y.z"}`, Length: 17, RequestID: "req-123", Host: "api.example.test",
				Header: map[string]string{"Content-Type": "application/json", "X-Multi": "a,b", "Cookie": "c=1; d=2"},
				Claims: &auth.Claims{TenantID: "acme", Subject: "s1", Email: "ada@acme.test", Roles: []string{"admin", "user"}}},
		},
		{
			"base64 body and escaped path",
			func() events.APIGatewayV2HTTPRequest {
				ev := event("PATCH", "/v1/users/a%2Fb", "")
				ev.Body = base64.StdEncoding.EncodeToString([]byte("\x00\x01binary"))
				ev.IsBase64Encoded = true
				return ev
			}(),
			seen{Method: "PATCH", Path: "/v1/users/a/b", RawPath: "/v1/users/a%2Fb", Query: map[string][]string{},
				Body: "\x00\x01binary", Length: 8, RequestID: "req-123", Host: "api.example.test",
				Header: map[string]string{"Content-Type": "application/json", "X-Multi": "a,b"}},
		},
		{
			"claims without a tenant stay out",
			withClaims(event("GET", "/v1/syncs", ""), map[string]string{"sub": "s1", "roles": "admin"}),
			seen{Method: "GET", Path: "/v1/syncs", RawPath: "/v1/syncs", Query: map[string][]string{}, RequestID: "req-123",
				Host: "api.example.test", Header: map[string]string{"Content-Type": "application/json", "X-Multi": "a,b"}},
		},
		{
			"empty path",
			event("GET", "", ""),
			seen{Method: "GET", Path: "/", RawPath: "/", Query: map[string][]string{}, RequestID: "req-123",
				Host: "api.example.test", Header: map[string]string{"Content-Type": "application/json", "X-Multi": "a,b"}},
		},
	}
	handler := Handler(http.HandlerFunc(echo), auth.DefaultClaimNames())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := handler(context.Background(), tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusTeapot {
				t.Fatalf("status = %d: %s", resp.StatusCode, resp.Body)
			}
			if !reflect.DeepEqual(resp.Cookies, []string{"a=1", "b=2"}) || resp.Headers["Vary"] != "Accept,Origin" {
				t.Fatalf("cookies %v, headers %v", resp.Cookies, resp.Headers)
			}
			if _, ok := resp.Headers["Set-Cookie"]; ok {
				t.Fatal("Set-Cookie left in the headers")
			}
			if resp.IsBase64Encoded {
				t.Fatal("JSON body base64-encoded")
			}
			var got seen
			if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("handler saw\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestFailuresAnswerInTheErrorShape(t *testing.T) {
	names := auth.DefaultClaimNames()
	panicking := Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom: secret detail") }), names)
	echoing := Handler(http.HandlerFunc(echo), names)
	badBase64 := event("POST", "/v1/users", "")
	badBase64.Body, badBase64.IsBase64Encoded = "***", true
	tests := []struct {
		name    string
		handler func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
		ev      events.APIGatewayV2HTTPRequest
		status  int
		code    string
	}{
		{"handler panic", panicking, event("GET", "/v1/users", ""), 500, "internal"},
		{"bad base64 body", echoing, badBase64, 400, "bad_request"},
		{"no method", echoing, event("", "/v1/users", ""), 400, "bad_request"},
		{"malformed path", echoing, event("GET", "/v1/%zz", ""), 400, "bad_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tt.handler(context.Background(), tt.ev)
			if err != nil {
				t.Fatalf("error returned to the runtime: %v", err)
			}
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
				t.Fatalf("body %q: %v", resp.Body, err)
			}
			if resp.StatusCode != tt.status || body.Error.Code != tt.code || resp.Headers["Content-Type"] != "application/json" {
				t.Fatalf("got %d %+v, want %d %s", resp.StatusCode, body.Error, tt.status, tt.code)
			}
			if strings.Contains(resp.Body, "secret detail") {
				t.Fatal("panic details reached the caller")
			}
		})
	}
}

func TestResponseBodies(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		wantBody    string
		wantBase64  bool
	}{
		{"json", "GET", "application/json", `{"a":1}`, `{"a":1}`, false},
		{"text", "GET", "text/plain; charset=utf-8", "héllo", "héllo", false},
		{"binary", "GET", "application/octet-stream", "\x00\x01", base64.StdEncoding.EncodeToString([]byte("\x00\x01")), true},
		{"json that is not UTF-8", "GET", "application/json", "\xff", base64.StdEncoding.EncodeToString([]byte("\xff")), true},
		{"empty", "GET", "application/octet-stream", "", "", false},
		{"head drops the body", "HEAD", "application/json", `{"a":1}`, "", false},
		{"csv", "GET", "text/csv; charset=utf-8", "seq,email\r\n1,\"Ada, L\"\r\n", "seq,email\r\n1,\"Ada, L\"\r\n", false},
		// Escaped as JSON, these would cost more than base64's third.
		{"text mostly escapes", "GET", "text/csv", "<&>\r\n", base64.StdEncoding.EncodeToString([]byte("<&>\r\n")), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				_, _ = io.WriteString(w, tt.body)
			}), auth.DefaultClaimNames())
			resp, err := h(context.Background(), event(tt.method, "/x", ""))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || resp.Body != tt.wantBody || resp.IsBase64Encoded != tt.wantBase64 {
				t.Fatalf("got %d %q base64=%v", resp.StatusCode, resp.Body, resp.IsBase64Encoded)
			}
		})
	}
}

// TestLargestExportFitsLambda holds the CSV export's limit to Lambda's
// 6 MB response, whatever the characters: the response document
// (headers and all) as aws-lambda-go encodes it.
func TestLargestExportFitsLambda(t *testing.T) {
	const lambdaMax = 6_000_000 // 6 MB, the lower reading of Lambda's quota
	for name, unit := range map[string]string{
		"ascii":           "abcdefgh",
		"quotes and ends": "\"\"\"\r\n\"\"\"",
		"html escapes":    "<<&&>><<",
		"control bytes":   "\x01\x02\x03\x04",
		"line separators": "\u2028\u2029",
		"non-ASCII":       "Zoë李",
	} {
		body := strings.Repeat(unit, httpapi.MaxExportBytes/len(unit))
		h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="sync-`+strings.Repeat("x", 64)+`-changes.csv"`)
			w.Header().Set("X-Request-Id", strings.Repeat("r", 64))
			_, _ = io.WriteString(w, body)
		}), auth.DefaultClaimNames())
		resp, err := h(context.Background(), event("GET", "/x", ""))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		if len(doc) > lambdaMax {
			t.Errorf("%s: %d bytes of CSV are a %d-byte Lambda response, over %d", name, len(body), len(doc), lambdaMax)
		}
		got := []byte(resp.Body)
		if resp.IsBase64Encoded {
			if got, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
				t.Fatal(err)
			}
		}
		if string(got) != body {
			t.Errorf("%s: body altered", name)
		}
	}
}

// unusedSyncs stands for the preview function's sync store, which these
// tests never reach.
type unusedSyncs struct{ httpapi.SyncStore }

// unusedReviews stands for the change reviewer these tests never reach.
type unusedReviews struct{ httpapi.ChangeReviewer }

// starter records who started a preview; it starts no undo.
type starter struct {
	httpapi.PreviewStarter
	actors []domain.Actor
}

func (s *starter) Start(_ context.Context, a domain.Actor, _ bool) (*domain.Sync, error) {
	s.actors = append(s.actors, a)
	return &domain.Sync{ID: "sync1", TenantID: a.TenantID, Status: domain.SyncPreviewing}, nil
}

// TestWithTheAPIHandler runs the real API handler behind the adapter: the
// authorizer's claims decide the caller and tenant, and the request id is
// API Gateway's.
func TestWithTheAPIHandler(t *testing.T) {
	st := &starter{}
	api, err := httpapi.New(httpapi.Deps{Previews: st, Syncs: unusedSyncs{}, Reviews: unusedReviews{}}, httpapi.Options{Logger: slog.New(slog.DiscardHandler)}, httpapi.PreviewFunction)
	if err != nil {
		t.Fatal(err)
	}
	h := Handler(api, auth.ClaimNames{Tenant: "org", Roles: "groups"})
	tests := []struct {
		name   string
		ev     events.APIGatewayV2HTTPRequest
		status int
		actor  *domain.Actor
	}{
		{"admin", withClaims(event("POST", "/v1/syncs", ""), map[string]string{"org": "acme", "sub": "s1", "upn": "ada@acme.test", "groups": `["admin"]`}),
			http.StatusAccepted, &domain.Actor{TenantID: "acme", Subject: "s1", Email: "ada@acme.test"}},
		{"no authorizer", event("POST", "/v1/syncs", ""), http.StatusUnauthorized, nil},
		{"default claim names are not these", withClaims(event("POST", "/v1/syncs", ""), map[string]string{"tenant_id": "acme", "roles": "admin"}),
			http.StatusUnauthorized, nil},
		{"not an admin", withClaims(event("POST", "/v1/syncs", ""), map[string]string{"org": "acme", "groups": "[user]"}), http.StatusForbidden, nil},
		{"unknown route", withClaims(event("GET", "/v1/nothing", ""), map[string]string{"org": "acme", "groups": "admin"}), http.StatusNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st.actors = nil
			resp, err := h(context.Background(), tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || resp.Headers["X-Request-Id"] != "req-123" {
				t.Fatalf("got %d %v %s", resp.StatusCode, resp.Headers, resp.Body)
			}
			switch {
			case tt.actor == nil && len(st.actors) != 0:
				t.Fatalf("preview started by %+v", st.actors)
			case tt.actor != nil && (len(st.actors) != 1 || st.actors[0] != *tt.actor):
				t.Fatalf("actors = %+v, want %+v", st.actors, *tt.actor)
			}
		})
	}
}

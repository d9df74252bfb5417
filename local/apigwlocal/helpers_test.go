package apigwlocal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"dirsync/internal/auth"
	"dirsync/internal/samtemplate"
	"dirsync/local/apigwlocal"
)

// The parameters the tests deploy template.yaml with.
const (
	testIssuer   = "https://auth.localhost/"
	testAudience = "directory-sync"
	consoleURL   = "https://console.example.com"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func testParameters() map[string]string {
	return map[string]string{
		"JwtIssuer":          testIssuer,
		"JwtAudience":        testAudience + ",other-client",
		"CorsAllowedOrigins": consoleURL + ",http://localhost:5173",
	}
}

func loadTemplate(t *testing.T) *samtemplate.Template {
	t.Helper()
	tpl, err := samtemplate.Load(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func newIssuer(t *testing.T, issuer, audience string, key []byte) *auth.LocalIssuer {
	t.Helper()
	li, err := auth.NewLocalIssuer(issuer, audience, key)
	if err != nil {
		t.Fatal(err)
	}
	return li
}

// adminToken is a valid token of tenant acme with the admin role.
func adminToken(t *testing.T) string {
	t.Helper()
	return sign(t, newIssuer(t, testIssuer, testAudience, testKey), map[string]any{
		"sub": "u-1", "tenant_id": "acme", "email": "admin@acme.test", "roles": []string{"admin"},
	})
}

func sign(t *testing.T, li *auth.LocalIssuer, claims map[string]any) string {
	t.Helper()
	tok, err := li.Sign(claims, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// call is one invocation a recorder saw.
type call struct {
	function string
	payload  []byte
	event    events.APIGatewayV2HTTPRequest
}

// recorder is an Invoker recording each invocation. It decodes every event
// strictly into aws-lambda-go's type, so a field API Gateway does not send
// fails the test. respond answers (default: a 200 JSON response).
type recorder struct {
	t       *testing.T
	mu      sync.Mutex
	calls   []call
	respond func(ctx context.Context, c call) ([]byte, error)
}

func (rec *recorder) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	c := call{function: function, payload: append([]byte(nil), payload...)}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c.event); err != nil {
		rec.t.Errorf("event does not decode into events.APIGatewayV2HTTPRequest: %v\n%s", err, payload)
	}
	rec.mu.Lock()
	rec.calls = append(rec.calls, c)
	rec.mu.Unlock()
	if rec.respond != nil {
		return rec.respond(ctx, c)
	}
	return []byte(`{"statusCode":200,"headers":{"content-type":"application/json"},"body":"{\"ok\":true}"}`), nil
}

func (rec *recorder) all() []call {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]call(nil), rec.calls...)
}

// only returns the only invocation, failing unless there was exactly one.
func (rec *recorder) only(t *testing.T) call {
	t.Helper()
	calls := rec.all()
	if len(calls) != 1 {
		t.Fatalf("%d invocations, want 1", len(calls))
	}
	return calls[0]
}

// newGateway serves template.yaml's API with inv, behind an httptest server.
func newGateway(t *testing.T, inv apigwlocal.Invoker, tweak func(*apigwlocal.Options)) *httptest.Server {
	t.Helper()
	opts := apigwlocal.Options{
		Parameters: testParameters(),
		Verifier:   newIssuer(t, testIssuer, testAudience, testKey),
		Invoker:    inv,
	}
	if tweak != nil {
		tweak(&opts)
	}
	gw, err := apigwlocal.New(loadTemplate(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return srv
}

// response is a finished exchange.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends a request; headers are name/value pairs (a name may repeat).
func do(t *testing.T, srv *httptest.Server, method, target string, body io.Reader, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+target, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// wantGatewayAnswer checks one of API Gateway's own answers.
func wantGatewayAnswer(t *testing.T, got response, status int, message string) {
	t.Helper()
	if got.status != status {
		t.Fatalf("status %d (body %s), want %d", got.status, got.body, status)
	}
	if want := `{"message":"` + message + `"}`; got.body != want {
		t.Errorf("body %s, want %s", got.body, want)
	}
	if ct := got.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if got.header.Get("Apigw-Requestid") == "" {
		t.Error("no apigw-requestid header")
	}
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

func concrete(path string) string {
	return strings.NewReplacer("{id}", "abc-123", "{seq}", "42").Replace(path)
}

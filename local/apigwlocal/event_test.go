package apigwlocal_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"dirsync/local/apigwlocal"
)

// TestEventAsAPIGatewayBuildsIt checks a payload format 2.0 event field by
// field: version, routeKey, rawPath and rawQueryString as sent, query
// parameters decoded with repeated keys joined by commas, cookies split out
// of the headers, headers lower-cased with repeated ones joined by commas
// plus the ones API Gateway adds, and the request context.
func TestEventAsAPIGatewayBuildsIt(t *testing.T) {
	rec := &recorder{t: t}
	fixed := time.Date(2026, 3, 12, 19, 3, 58, 390_000_000, time.UTC)
	li := newIssuer(t, testIssuer, testAudience, testKey)
	li.SetClock(func() time.Time { return fixed.Add(-time.Minute) })
	srv := newGateway(t, rec, func(o *apigwlocal.Options) {
		o.Now = func() time.Time { return fixed }
		o.Verifier = li
		o.AccountID, o.APIID = "123456789012", "a1b2c3d4e5"
	})
	token := sign(t, li, map[string]any{"tenant_id": "acme", "roles": []string{"admin"}})
	got := do(t, srv, "GET", "/v1/syncs/s-1/changes?kind=add&kind=update&q=J%C3%BCrgen+M&empty=&flag&limit=10", nil,
		"Authorization", "Bearer "+token,
		"User-Agent", "dirsync-test/1.0",
		"Accept", "application/json",
		"X-Multi", "one",
		"X-Multi", "two",
		"Cookie", "a=1; b=2",
		"Cookie", "c=3",
		"X-Forwarded-For", "203.0.113.9",
	)
	if got.status != http.StatusOK {
		t.Fatalf("%d %s", got.status, got.body)
	}
	c := rec.only(t)
	ev := c.event
	if ev.Version != "2.0" || ev.RouteKey != "GET /v1/syncs/{id}/changes" || ev.RawPath != "/v1/syncs/s-1/changes" {
		t.Errorf("version %q routeKey %q rawPath %q", ev.Version, ev.RouteKey, ev.RawPath)
	}
	if want := "kind=add&kind=update&q=J%C3%BCrgen+M&empty=&flag&limit=10"; ev.RawQueryString != want {
		t.Errorf("rawQueryString %q, want %q", ev.RawQueryString, want)
	}
	wantQuery := map[string]string{"kind": "add,update", "q": "Jürgen M", "empty": "", "flag": "", "limit": "10"}
	if !maps.Equal(ev.QueryStringParameters, wantQuery) {
		t.Errorf("queryStringParameters %v, want %v", ev.QueryStringParameters, wantQuery)
	}
	if !slices.Equal(ev.Cookies, []string{"a=1", "b=2", "c=3"}) {
		t.Errorf("cookies %v", ev.Cookies)
	}
	if !maps.Equal(ev.PathParameters, map[string]string{"id": "s-1"}) {
		t.Errorf("pathParameters %v", ev.PathParameters)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	_, port, _ := net.SplitHostPort(host)
	wantHeaders := map[string]string{
		"authorization":     "Bearer " + token,
		"user-agent":        "dirsync-test/1.0",
		"accept":            "application/json",
		"accept-encoding":   "gzip",
		"x-multi":           "one,two",
		"host":              host,
		"x-forwarded-for":   "203.0.113.9, 127.0.0.1",
		"x-forwarded-proto": "http",
		"x-forwarded-port":  port,
	}
	trace := ev.Headers["x-amzn-trace-id"]
	delete(ev.Headers, "x-amzn-trace-id")
	if !maps.Equal(ev.Headers, wantHeaders) {
		t.Errorf("headers\n%v\nwant\n%v", ev.Headers, wantHeaders)
	}
	if !strings.HasPrefix(trace, "Root=1-") || len(trace) != len("Root=1-")+8+1+24 {
		t.Errorf("x-amzn-trace-id %q", trace)
	}
	rc := ev.RequestContext
	if rc.AccountID != "123456789012" || rc.APIID != "a1b2c3d4e5" || rc.Stage != "$default" || rc.RouteKey != ev.RouteKey {
		t.Errorf("accountId %q apiId %q stage %q routeKey %q", rc.AccountID, rc.APIID, rc.Stage, rc.RouteKey)
	}
	if rc.DomainName != "127.0.0.1" || rc.DomainPrefix != "127" {
		t.Errorf("domainName %q domainPrefix %q", rc.DomainName, rc.DomainPrefix)
	}
	if rc.HTTP.Method != "GET" || rc.HTTP.Path != "/v1/syncs/s-1/changes" || rc.HTTP.Protocol != "HTTP/1.1" ||
		rc.HTTP.SourceIP != "127.0.0.1" || rc.HTTP.UserAgent != "dirsync-test/1.0" {
		t.Errorf("http %+v", rc.HTTP)
	}
	if rc.Time != "12/Mar/2026:19:03:58 +0000" || rc.TimeEpoch != fixed.UnixMilli() {
		t.Errorf("time %q timeEpoch %d", rc.Time, rc.TimeEpoch)
	}
	if rc.RequestID == "" || len(rc.RequestID) != 16 || rc.RequestID != got.header.Get("Apigw-Requestid") {
		t.Errorf("requestId %q, apigw-requestid %q", rc.RequestID, got.header.Get("Apigw-Requestid"))
	}
	if ev.Body != "" || ev.IsBase64Encoded || ev.StageVariables != nil {
		t.Errorf("body %q isBase64Encoded %v stageVariables %v", ev.Body, ev.IsBase64Encoded, ev.StageVariables)
	}

	// Fields API Gateway leaves out are left out of the JSON itself.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(c.payload, &raw); err != nil {
		t.Fatal(err)
	}
	var rcRaw map[string]json.RawMessage
	if err := json.Unmarshal(raw["requestContext"], &rcRaw); err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"body", "stageVariables"} {
		if _, ok := raw[absent]; ok {
			t.Errorf("event has %s", absent)
		}
	}
	if _, ok := rcRaw["authentication"]; ok {
		t.Error("requestContext has authentication (only mutual TLS has it)")
	}
	var authz struct {
		JWT map[string]json.RawMessage `json:"jwt"`
	}
	if err := json.Unmarshal(rcRaw["authorizer"], &authz); err != nil || authz.JWT["claims"] == nil {
		t.Errorf("requestContext.authorizer %s", rcRaw["authorizer"])
	}
	if s := string(authz.JWT["scopes"]); s != "null" {
		t.Errorf("authorizer.jwt.scopes %s, want null", s)
	}
}

// TestEventWithoutQueryOrCookies: a request without them leaves the fields
// out, as API Gateway does.
func TestEventWithoutQueryOrCookies(t *testing.T) {
	rec := &recorder{t: t}
	srv := newGateway(t, rec, nil)
	if got := do(t, srv, "GET", "/v1/users", nil, bearer(adminToken(t))...); got.status != http.StatusOK {
		t.Fatalf("%d %s", got.status, got.body)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(rec.only(t).payload, &raw); err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"cookies", "queryStringParameters", "pathParameters", "body"} {
		if _, ok := raw[absent]; ok {
			t.Errorf("event has %s: %s", absent, raw[absent])
		}
	}
	if string(raw["rawQueryString"]) != `""` || string(raw["isBase64Encoded"]) != "false" {
		t.Errorf("rawQueryString %s isBase64Encoded %s", raw["rawQueryString"], raw["isBase64Encoded"])
	}
}

// TestRequestBodies: HTTP APIs pass text/*, application/json,
// application/xml and application/javascript bodies as text and
// base64-encode every other body (no content type, form posts, binary).
func TestRequestBodies(t *testing.T) {
	binary := []byte{0x00, 0xff, 0x10, 'P', 'N', 'G', 0x80}
	for _, tc := range []struct {
		name, contentType string
		body              []byte
		base64            bool
	}{
		{"json", "application/json", []byte(`{"email":"jürgen@acme.test"}`), false},
		{"json with charset", "application/json; charset=utf-8", []byte(`{"a":1}`), false},
		{"text", "text/plain", []byte("héllo"), false},
		{"csv", "text/csv", []byte("a,b\n1,2\n"), false},
		{"xml", "application/xml", []byte("<a/>"), false},
		{"javascript", "application/javascript", []byte("x()"), false},
		{"form", "application/x-www-form-urlencoded", []byte("a=1&b=2"), true},
		{"no content type", "", []byte(`{"a":1}`), true},
		{"octet-stream", "application/octet-stream", binary, true},
		{"png", "image/png", binary, true},
		{"problem+json", "application/problem+json", []byte(`{}`), true},
		{"json that is not UTF-8", "application/json", []byte("{\"a\":\"\xff\"}"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{t: t}
			srv := newGateway(t, rec, nil)
			h := bearer(adminToken(t))
			if tc.contentType != "" {
				h = append(h, "Content-Type", tc.contentType)
			}
			if got := do(t, srv, "POST", "/v1/users", bytes.NewReader(tc.body), h...); got.status != http.StatusOK {
				t.Fatalf("%d %s", got.status, got.body)
			}
			ev := rec.only(t).event
			if ev.IsBase64Encoded != tc.base64 {
				t.Fatalf("isBase64Encoded %v, want %v", ev.IsBase64Encoded, tc.base64)
			}
			body := []byte(ev.Body)
			if tc.base64 {
				var err error
				if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(body, tc.body) {
				t.Errorf("body %q, want %q", body, tc.body)
			}
			if ev.Headers["content-length"] != strconv.Itoa(len(tc.body)) {
				t.Errorf("content-length %q", ev.Headers["content-length"])
			}
		})
	}
}

// TestFunctionResponses: the function's payload format 2.0 response is the
// HTTP answer (status, headers, one Set-Cookie per cookie, a base64 body
// decoded); a result that is not that shape is the body of a 200 with
// content-type application/json.
func TestFunctionResponses(t *testing.T) {
	for _, tc := range []struct {
		name, result string
		status       int
		header       map[string][]string
		body         string
	}{
		{"response", `{"statusCode":201,"headers":{"content-type":"application/json","x-request-id":"r1"},"body":"{\"id\":\"u1\"}"}`,
			201, map[string][]string{"Content-Type": {"application/json"}, "X-Request-Id": {"r1"}}, `{"id":"u1"}`},
		{"comma-joined header stays one", `{"statusCode":200,"headers":{"cache-control":"no-store, private"},"body":"x"}`,
			200, map[string][]string{"Cache-Control": {"no-store, private"}}, "x"},
		{"cookies", `{"statusCode":200,"cookies":["a=1; Path=/","b=2; HttpOnly"],"body":""}`,
			200, map[string][]string{"Set-Cookie": {"a=1; Path=/", "b=2; HttpOnly"}}, ""},
		{"base64 body", `{"statusCode":200,"headers":{"content-type":"image/png"},"isBase64Encoded":true,"body":"AP8QUE5HgA=="}`,
			200, map[string][]string{"Content-Type": {"image/png"}}, "\x00\xff\x10PNG\x80"},
		// The changes export: a CSV file as text, or in base64 when that is
		// shorter (lambdahttp), with its file name.
		{"csv as text", `{"statusCode":200,"headers":{"content-type":"text/csv; charset=utf-8","content-disposition":"attachment; filename=\"sync-s1-changes.csv\"","vary":"Accept"},"body":"seq,name\r\n1,\"Zoë \"\"Z\"\", A\"\r\n"}`,
			200, map[string][]string{"Content-Type": {"text/csv; charset=utf-8"}, "Content-Disposition": {`attachment; filename="sync-s1-changes.csv"`}, "Vary": {"Accept"}},
			"seq,name\r\n1,\"Zoë \"\"Z\"\", A\"\r\n"},
		{"csv in base64", `{"statusCode":200,"headers":{"content-type":"text/csv; charset=utf-8"},"isBase64Encoded":true,"body":"PCY+LCc9MQ0K"}`,
			200, map[string][]string{"Content-Type": {"text/csv; charset=utf-8"}}, "<&>,'=1\r\n"},
		{"no body", `{"statusCode":204}`, 204, nil, ""},
		{"no content type is not sniffed", `{"statusCode":200,"body":"<html></html>"}`,
			200, map[string][]string{"Content-Type": nil}, "<html></html>"},
		{"multiValueHeaders are not payload 2.0", `{"statusCode":200,"multiValueHeaders":{"x-a":["1","2"]},"body":"x"}`,
			200, map[string][]string{"X-A": nil}, "x"},
		{"object without statusCode", `{"message":"hi","n":1}`,
			200, map[string][]string{"Content-Type": {"application/json"}}, `{"message":"hi","n":1}`},
		{"string", `"Hello from Lambda!"`, 200, map[string][]string{"Content-Type": {"application/json"}}, "Hello from Lambda!"},
		{"number", `42`, 200, map[string][]string{"Content-Type": {"application/json"}}, "42"},
		{"null", `null`, 200, map[string][]string{"Content-Type": {"application/json"}}, "null"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{t: t, respond: func(context.Context, call) ([]byte, error) { return []byte(tc.result), nil }}
			srv := newGateway(t, rec, nil)
			got := do(t, srv, "GET", "/v1/users", nil, bearer(adminToken(t))...)
			if got.status != tc.status || got.body != tc.body {
				t.Fatalf("%d %q, want %d %q", got.status, got.body, tc.status, tc.body)
			}
			for name, want := range tc.header {
				if vs := got.header.Values(name); !slices.Equal(vs, want) {
					t.Errorf("%s: %q, want %q", name, vs, want)
				}
			}
		})
	}
}

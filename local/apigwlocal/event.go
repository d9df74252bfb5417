package apigwlocal

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The payload format 2.0 event, field for field as API Gateway sends it
// (aws-lambda-go's events.APIGatewayV2HTTPRequest reads it): absent
// cookies, query parameters, path parameters and body are left out, and
// requestContext carries no authentication block without mutual TLS.
type event struct {
	Version               string            `json:"version"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Cookies               []string          `json:"cookies,omitempty"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters,omitempty"`
	PathParameters        map[string]string `json:"pathParameters,omitempty"`
	RequestContext        requestContext    `json:"requestContext"`
	Body                  string            `json:"body,omitempty"`
	IsBase64Encoded       bool              `json:"isBase64Encoded"`
}

type requestContext struct {
	AccountID    string             `json:"accountId"`
	APIID        string             `json:"apiId"`
	Authorizer   *authorizerContext `json:"authorizer,omitempty"`
	DomainName   string             `json:"domainName"`
	DomainPrefix string             `json:"domainPrefix"`
	HTTP         httpContext        `json:"http"`
	RequestID    string             `json:"requestId"`
	RouteKey     string             `json:"routeKey"`
	Stage        string             `json:"stage"`
	Time         string             `json:"time"`
	TimeEpoch    int64              `json:"timeEpoch"`
}

type authorizerContext struct {
	JWT *jwtContext `json:"jwt"`
}

// jwtContext: scopes are the route's matched authorization scopes, null
// when the route requires none (as every route of this template).
type jwtContext struct {
	Claims map[string]string `json:"claims"`
	Scopes []string          `json:"scopes"`
}

type httpContext struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	Protocol  string `json:"protocol"`
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// requestTimeLayout is the format of requestContext.time
// ("12/Mar/2020:19:03:58 +0000").
const requestTimeLayout = "02/Jan/2006:15:04:05 -0700"

// hopByHop are the request headers that end at the gateway.
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

// request is what the gateway knows of one request once it is routed.
type request struct {
	r         *http.Request
	rawPath   string
	route     *route
	params    map[string]string
	body      []byte
	requestID string
	received  time.Time
	claims    map[string]string // nil = no authorizer on the route
}

// buildEvent renders the payload format 2.0 event of a request.
func (g *Gateway) buildEvent(q *request) ([]byte, error) {
	r := q.r
	sourceIP := r.RemoteAddr
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		sourceIP = host
	}
	ev := event{
		Version:        "2.0",
		RouteKey:       q.route.key,
		RawPath:        q.rawPath,
		RawQueryString: r.URL.RawQuery,
		Headers:        map[string]string{},
		PathParameters: q.params,
		RequestContext: requestContext{
			AccountID: g.accountID,
			APIID:     g.apiID,
			HTTP: httpContext{
				Method:    r.Method,
				Path:      q.rawPath,
				Protocol:  r.Proto,
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
			RequestID: q.requestID,
			RouteKey:  q.route.key,
			Stage:     g.cfg.stage,
			Time:      q.received.UTC().Format(requestTimeLayout),
			TimeEpoch: q.received.UnixMilli(),
		},
	}
	ev.RequestContext.DomainName = hostOnly(r.Host)
	ev.RequestContext.DomainPrefix, _, _ = strings.Cut(ev.RequestContext.DomainName, ".")
	if q.claims != nil {
		ev.RequestContext.Authorizer = &authorizerContext{JWT: &jwtContext{Claims: q.claims}}
	}

	// Headers: names lower-cased, repeated headers joined with commas;
	// cookies go to their own field, one element per cookie.
	for name, values := range r.Header {
		switch {
		case hopByHop[name] || name == "Content-Length":
			continue
		case name == "Cookie":
			for _, line := range values {
				for _, c := range strings.Split(line, ";") {
					if c = strings.TrimSpace(c); c != "" {
						ev.Cookies = append(ev.Cookies, c)
					}
				}
			}
			continue
		}
		ev.Headers[strings.ToLower(name)] = strings.Join(values, ",")
	}
	ev.Headers["host"] = r.Host
	if len(q.body) > 0 || r.Header.Get("Content-Length") != "" {
		ev.Headers["content-length"] = strconv.Itoa(len(q.body))
	}
	if xff := ev.Headers["x-forwarded-for"]; xff != "" {
		ev.Headers["x-forwarded-for"] = xff + ", " + sourceIP
	} else {
		ev.Headers["x-forwarded-for"] = sourceIP
	}
	ev.Headers["x-forwarded-proto"] = "http"
	if r.TLS != nil {
		ev.Headers["x-forwarded-proto"] = "https"
	}
	ev.Headers["x-forwarded-port"] = localPort(r)
	ev.Headers["x-amzn-trace-id"] = traceID(q.received)

	// Query string: values decoded, repeated keys joined with commas.
	if r.URL.RawQuery != "" {
		ev.QueryStringParameters = map[string]string{}
		for _, pair := range strings.Split(r.URL.RawQuery, "&") {
			if pair == "" {
				continue
			}
			k, v, _ := strings.Cut(pair, "=")
			k, v = queryUnescape(k), queryUnescape(v)
			if prev, ok := ev.QueryStringParameters[k]; ok {
				v = prev + "," + v
			}
			ev.QueryStringParameters[k] = v
		}
		if len(ev.QueryStringParameters) == 0 {
			ev.QueryStringParameters = nil
		}
	}

	if len(q.body) > 0 {
		if isTextBody(r.Header.Get("Content-Type")) && utf8.Valid(q.body) {
			ev.Body = string(q.body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(q.body)
			ev.IsBase64Encoded = true
		}
	}
	return json.Marshal(ev)
}

// isTextBody reports whether API Gateway passes a body of this content type
// as text. HTTP APIs have no binary media types: they pass text/*,
// application/json, application/xml and application/javascript as they are
// and base64-encode every other body, one without a content type and
// application/x-www-form-urlencoded included.
func isTextBody(contentType string) bool {
	if contentType == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch mt {
	case "application/json", "application/xml", "application/javascript":
		return true
	}
	return strings.HasPrefix(mt, "text/")
}

func queryUnescape(s string) string {
	if v, err := url.QueryUnescape(s); err == nil {
		return v
	}
	return s
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// localPort is the port the request arrived on.
func localPort(r *http.Request) string {
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(addr.String()); err == nil {
			return port
		}
	}
	if _, port, err := net.SplitHostPort(r.Host); err == nil {
		return port
	}
	if r.TLS != nil {
		return "443"
	}
	return "80"
}

// traceID is an X-Ray trace header as API Gateway adds it.
func traceID(t time.Time) string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return fmt.Sprintf("Root=1-%08x-%s", t.Unix(), hex.EncodeToString(b[:]))
}

// newRequestID returns an id in the shape of API Gateway's (16 characters,
// e.g. "JKJaXmPLvHcESHA=").
func newRequestID() string {
	var b [11]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// response is an integration's answer, as the gateway sends it on.
type response struct {
	status  int
	headers map[string]string
	cookies []string
	body    []byte
}

// errMalformedResponse is an integration answer API Gateway cannot use.
var errMalformedResponse = errors.New("malformed Lambda proxy response")

// parseResponse reads a function's result as API Gateway reads payload
// format 2.0 responses: a JSON object with a statusCode is the response
// (statusCode, headers, cookies, body, isBase64Encoded); any other valid
// JSON is the body of a 200 with content-type application/json (a JSON
// string is its text). Payload format 2.0 has no multiValueHeaders: such a
// field is ignored.
func parseResponse(out []byte) (*response, error) {
	out = bytes.TrimSpace(out)
	if len(out) == 0 || !json.Valid(out) {
		return nil, fmt.Errorf("%w: not JSON", errMalformedResponse)
	}
	var fields map[string]json.RawMessage
	if out[0] == '{' {
		if err := json.Unmarshal(out, &fields); err != nil {
			return nil, fmt.Errorf("%w: %v", errMalformedResponse, err)
		}
	}
	if _, ok := fields["statusCode"]; !ok {
		body := out
		if out[0] == '"' {
			var s string
			if err := json.Unmarshal(out, &s); err != nil {
				return nil, fmt.Errorf("%w: %v", errMalformedResponse, err)
			}
			body = []byte(s)
		}
		return &response{status: http.StatusOK, headers: map[string]string{"Content-Type": "application/json"}, body: body}, nil
	}
	var res struct {
		StatusCode      int               `json:"statusCode"`
		Headers         map[string]string `json:"headers"`
		Cookies         []string          `json:"cookies"`
		Body            *string           `json:"body"`
		IsBase64Encoded bool              `json:"isBase64Encoded"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformedResponse, err)
	}
	if res.StatusCode < 100 || res.StatusCode > 599 {
		return nil, fmt.Errorf("%w: statusCode %d", errMalformedResponse, res.StatusCode)
	}
	resp := &response{status: res.StatusCode, headers: res.Headers, cookies: res.Cookies}
	if res.Body != nil {
		resp.body = []byte(*res.Body)
		if res.IsBase64Encoded {
			b, err := base64.StdEncoding.DecodeString(*res.Body)
			if err != nil {
				return nil, fmt.Errorf("%w: isBase64Encoded but the body is not base64", errMalformedResponse)
			}
			resp.body = b
		}
	}
	return resp, nil
}

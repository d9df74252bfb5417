// Package lambdahttp runs an http.Handler behind API Gateway HTTP APIs
// (payload format 2.0): it turns the event into an http.Request carrying the
// JWT authorizer's claims and API Gateway's request id, and the handler's
// response back into the Lambda response.
package lambdahttp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"dirsync/internal/auth"
	"dirsync/internal/domain"
	"dirsync/internal/httpapi"
)

// Handler returns the Lambda handler serving h. It never returns an error
// and never panics: API Gateway would turn either into a bare 500/502, so
// failures are answered in the API's error shape instead.
func Handler(h http.Handler, names auth.ClaimNames) func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (resp events.APIGatewayV2HTTPResponse, err error) {
		reqID := ev.RequestContext.RequestID
		defer func() {
			if p := recover(); p != nil {
				slog.ErrorContext(ctx, "handler panic", "request_id", reqID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				resp, err = errorResponse(http.StatusInternalServerError, domain.EInternal, "internal error (request id "+reqID+")"), nil
			}
		}()
		req, err := newRequest(ctx, ev, names)
		if err != nil {
			return errorResponse(http.StatusBadRequest, domain.EInvalid, err.Error()), nil
		}
		w := newResponseWriter()
		h.ServeHTTP(w, req)
		return w.response(req.Method), nil
	}
}

// newRequest builds the http.Request an event describes.
func newRequest(ctx context.Context, ev events.APIGatewayV2HTTPRequest, names auth.ClaimNames) (*http.Request, error) {
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		return nil, fmt.Errorf("request: no HTTP method in the event")
	}
	path := ev.RawPath
	if path == "" {
		path = "/"
	}
	target := path
	if ev.RawQueryString != "" {
		target += "?" + ev.RawQueryString
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, fmt.Errorf("request: malformed path or query string")
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return nil, fmt.Errorf("request: body is not valid base64")
		}
	}

	if id := ev.RequestContext.RequestID; id != "" {
		ctx = httpapi.WithRequestID(ctx, id)
	}
	// Claims the authorizer passed but without a usable tenant stay out of
	// the context, and why goes in: the handler then answers 401 saying it.
	if a := ev.RequestContext.Authorizer; a != nil && a.JWT != nil {
		if claims, err := auth.ClaimsFromStringMap(a.JWT.Claims, names); err == nil {
			ctx = auth.NewContext(ctx, claims)
		} else {
			ctx = auth.NewRefusedContext(ctx, err)
		}
	}

	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("request: %s", err.Error())
	}
	req.URL = u
	req.RequestURI = target
	req.ContentLength = int64(len(body))
	for k, v := range ev.Headers {
		req.Header.Set(k, v)
	}
	if len(ev.Cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	req.Host = ev.RequestContext.DomainName
	if host := req.Header.Get("Host"); host != "" {
		req.Host = host
	}
	req.RemoteAddr = ev.RequestContext.HTTP.SourceIP
	return req, nil
}

// responseWriter records a response in memory.
type responseWriter struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func newResponseWriter() *responseWriter { return &responseWriter{header: http.Header{}} }

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.body.Write(b)
}

// response converts the recorded response. Set-Cookie goes to Cookies, the
// other headers are joined with commas as payload format 2.0 expects, and a
// body that is not UTF-8 text, or whose JSON escaping would be longer than
// base64 (a third more), is base64-encoded: Lambda's 6 MB response limit
// counts the escaped body, so a text body of n bytes never costs more
// than 4n/3.
func (w *responseWriter) response(method string) events.APIGatewayV2HTTPResponse {
	resp := events.APIGatewayV2HTTPResponse{StatusCode: w.status, Headers: map[string]string{}}
	if !w.wroteHeader {
		resp.StatusCode = http.StatusOK
	}
	for k, vs := range w.header {
		if k == "Set-Cookie" {
			resp.Cookies = append(resp.Cookies, vs...)
			continue
		}
		resp.Headers[k] = strings.Join(vs, ",")
	}
	if method == http.MethodHead {
		return resp
	}
	body := w.body.Bytes()
	if isText(w.header.Get("Content-Type")) && utf8.Valid(body) && escapedLen(body) <= base64.StdEncoding.EncodedLen(len(body)) {
		resp.Body = string(body)
	} else if len(body) > 0 {
		resp.Body = base64.StdEncoding.EncodeToString(body)
		resp.IsBase64Encoded = true
	}
	return resp
}

// escapedLen bounds the length of body as a JSON string's contents: the
// two-byte escapes, \u00XX for other control bytes, and for <, >, & and
// U+2028/U+2029 too (encoders may escape them).
func escapedLen(body []byte) int {
	n := len(body)
	for i, c := range body {
		switch {
		case c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t':
			n++
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			n += 5
		case c == 0xE2 && i+2 < len(body) && body[i+1] == 0x80 && (body[i+2] == 0xA8 || body[i+2] == 0xA9):
			n += 3
		}
	}
	return n
}

func isText(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "text/") || mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// errorResponse answers in the API's error shape when the handler itself
// could not run.
func errorResponse(status int, code, message string) events.APIGatewayV2HTTPResponse {
	body, _ := json.Marshal(map[string]map[string]string{"error": {"code": code, "message": message}}) // maps of strings always marshal
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
		Body:       string(body) + "\n",
	}
}

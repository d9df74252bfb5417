// Package apigwlocal is the local stand-in for the API Gateway HTTP API of
// template.yaml: an http.Handler that routes requests by the functions'
// HttpApi events, runs the API's JWT authorizer, applies its
// CorsConfiguration, and delivers each request to the function declaring
// its route as the payload format 2.0 event API Gateway builds, turning the
// function's result back into the HTTP answer. API Gateway's own answers
// are reproduced: 404 {"message":"Not Found"} for no route,
// 401 {"message":"Unauthorized"} for a missing or refused token (the
// function is not invoked), 413 over the 10 MB payload limit,
// 500 {"message":"Internal Server Error"} for a failed invocation or an
// unusable result, and 503 {"message":"Service Unavailable"} past the
// 30-second integration timeout.
//
// Wiring, as the local stack does it:
//
//	tpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
//	gw, err := apigwlocal.New(tpl, apigwlocal.Options{
//		Parameters: map[string]string{
//			"JwtIssuer": localstack.LocalIssuer, "JwtAudience": localstack.LocalAudience,
//			"CorsAllowedOrigins": "http://localhost:5173",
//		},
//		Verifier: issuer, // *auth.LocalIssuer
//		Invoker:  apigwlocal.LambdaInvoker(lambdaClient, sfnlocal.LocalARN),
//		Logger:   logger,
//	})
//	mux.Handle("/v1/", gw)
package apigwlocal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"dirsync/internal/samtemplate"
)

// Limits of API Gateway HTTP APIs.
const (
	// DefaultIntegrationTimeout is the HTTP API's maximum integration
	// timeout, the one SAM gives Lambda integrations.
	DefaultIntegrationTimeout = 30 * time.Second
	// DefaultMaxRequestBody is the HTTP API's payload size limit (10 MB).
	DefaultMaxRequestBody = 10 << 20
)

// Local identity of the emulated API, as in requestContext.
const (
	DefaultAccountID = "000000000000"
	DefaultAPIID     = "local"
)

// Options configure a Gateway.
type Options struct {
	// Parameters are the template parameters' values, as a deployment
	// passes them (a CommaDelimitedList comma-separated); a parameter not
	// given takes its template Default. The authorizer's issuer and
	// audience and the CORS origins are read through them.
	Parameters map[string]string
	// Verifier checks token signatures; required when a route has an
	// authorizer. The gateway itself checks exp, nbf, iat, iss and aud
	// against the template's JwtConfiguration.
	Verifier TokenVerifier
	// Invoker runs the functions; required.
	Invoker Invoker
	// HTTPAPI is the logical id of the AWS::Serverless::HttpApi to serve;
	// "" = the template's only one.
	HTTPAPI string
	// IntegrationTimeout defaults to DefaultIntegrationTimeout.
	IntegrationTimeout time.Duration
	// MaxRequestBody (bytes) defaults to DefaultMaxRequestBody.
	MaxRequestBody int64
	// AccountID and APIID fill requestContext; defaults DefaultAccountID
	// and DefaultAPIID.
	AccountID, APIID string
	// Now is the clock of token validation and requestContext.time;
	// default time.Now.
	Now func() time.Time
	// Logger receives one access log record per request, with the fields
	// of the template's AccessLogSettings (requestId, routeKey, status,
	// latency, integrationError) and authorizerError, at Info; nil
	// discards.
	Logger *slog.Logger
}

// Gateway serves the HTTP API. Its configuration is fixed by New; it is
// safe for concurrent use.
type Gateway struct {
	cfg       *apiConfig
	verifier  TokenVerifier
	invoker   Invoker
	timeout   time.Duration
	maxBody   int64
	accountID string
	apiID     string
	now       func() time.Time
	log       *slog.Logger
}

// New builds the gateway of the HTTP API in tpl: its routes
// (samtemplate.Template.Routes), its Auth (JWT authorizers and the default
// one) and its CorsConfiguration, with the parameters of opts. What the
// stand-in does not implement (a named stage, route-level Auth,
// authorization scopes, Lambda authorizers) is an error rather than
// silently different behaviour.
func New(tpl *samtemplate.Template, opts Options) (*Gateway, error) {
	cfg, err := loadConfig(tpl, opts.HTTPAPI, opts.Parameters)
	if err != nil {
		return nil, err
	}
	if opts.Invoker == nil {
		return nil, errors.New("apigwlocal: Options.Invoker is required")
	}
	for _, rt := range cfg.routes {
		if rt.auth != nil && opts.Verifier == nil {
			return nil, fmt.Errorf("apigwlocal: route %s has the JWT authorizer %s: Options.Verifier is required", rt.key, rt.auth.name)
		}
	}
	g := &Gateway{
		cfg: cfg, verifier: opts.Verifier, invoker: opts.Invoker,
		timeout: opts.IntegrationTimeout, maxBody: opts.MaxRequestBody,
		accountID: opts.AccountID, apiID: opts.APIID, now: opts.Now, log: opts.Logger,
	}
	if g.timeout <= 0 {
		g.timeout = DefaultIntegrationTimeout
	}
	if g.maxBody <= 0 {
		g.maxBody = DefaultMaxRequestBody
	}
	if g.accountID == "" {
		g.accountID = DefaultAccountID
	}
	if g.apiID == "" {
		g.apiID = DefaultAPIID
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	return g, nil
}

// Route is one served route: its key ("GET /v1/syncs/{id}"), the function
// it goes to and the authorizer guarding it ("" = none).
type Route struct {
	Key        string
	Function   string
	Authorizer string
}

// Routes lists the served routes, sorted by key.
func (g *Gateway) Routes() []Route {
	out := make([]Route, 0, len(g.cfg.routes))
	for _, rt := range g.cfg.routes {
		r := Route{Key: rt.key, Function: rt.function}
		if rt.auth != nil {
			r.Authorizer = rt.auth.name
		}
		out = append(out, r)
	}
	return out
}

// accessLog is one request's record: the template's access log format,
// plus why the authorizer refused the request (never the token).
type accessLog struct {
	requestID        string
	routeKey         string
	status           int
	integrationError string
	authorizerError  string
}

// ServeHTTP answers one request as API Gateway would.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	q := &request{r: r, requestID: newRequestID(), received: g.now(), rawPath: rawPath(r)}
	al := &accessLog{requestID: q.requestID, routeKey: "-"}
	g.serve(w, q, al)
	g.log.LogAttrs(r.Context(), slog.LevelInfo, "http api",
		slog.String("requestId", al.requestID), slog.String("routeKey", al.routeKey),
		slog.Int("status", al.status), slog.Int64("latency", time.Since(start).Milliseconds()),
		slog.String("integrationError", al.integrationError), slog.String("authorizerError", al.authorizerError))
}

func (g *Gateway) serve(w http.ResponseWriter, q *request, al *accessLog) {
	r := q.r
	w.Header().Set("Apigw-Requestid", q.requestID)
	route, params := findRoute(g.cfg.routes, r.Method, q.rawPath)

	// A preflight no route takes is answered here: no authorizer, no
	// integration. A route matching OPTIONS (its own, or ANY) takes it like
	// any request, authorizer included, as API Gateway routes it.
	if g.cfg.cors != nil && isPreflight(r) && route == nil {
		g.cfg.cors.preflight(w.Header(), r)
		al.status = http.StatusNoContent
		w.WriteHeader(http.StatusNoContent)
		return
	}

	body, status := g.readBody(r)
	if status != 0 {
		g.gatewayError(w, r, al, status)
		return
	}
	if route == nil {
		g.gatewayError(w, r, al, http.StatusNotFound)
		return
	}
	al.routeKey = route.key
	q.route, q.params, q.body = route, params, body

	if route.auth != nil {
		granted, err := authorize(route.auth, g.verifier, strings.Join(r.Header.Values(route.auth.header), ","), g.now())
		if err != nil {
			al.authorizerError = err.Error()
			if ae, ok := errors.AsType[*authError](err); ok && ae.challenge() != "" {
				w.Header().Set("Www-Authenticate", ae.challenge())
			}
			g.gatewayError(w, r, al, http.StatusUnauthorized)
			return
		}
		q.claims = granted.claims
	}

	payload, err := g.buildEvent(q)
	if err != nil {
		al.integrationError = err.Error()
		g.gatewayError(w, r, al, http.StatusInternalServerError)
		return
	}
	out, err := g.invoke(r.Context(), route.function, payload)
	switch {
	case errors.Is(err, errIntegrationTimeout):
		al.integrationError = err.Error()
		g.gatewayError(w, r, al, http.StatusServiceUnavailable)
		return
	case errors.Is(err, errClientGone):
		al.status = 0 // nobody to answer
		return
	case errors.Is(err, ErrRequestTooLarge):
		al.integrationError = err.Error()
		g.gatewayError(w, r, al, http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		al.integrationError = err.Error()
		g.gatewayError(w, r, al, http.StatusInternalServerError)
		return
	}
	resp, err := parseResponse(out)
	if err != nil {
		al.integrationError = err.Error()
		g.gatewayError(w, r, al, http.StatusInternalServerError)
		return
	}
	g.writeResponse(w, r, al, resp)
}

// rawPath is the request's path as the client sent it (still
// percent-encoded), without the query.
func rawPath(r *http.Request) string {
	if r.RequestURI != "" && strings.HasPrefix(r.RequestURI, "/") {
		p, _, _ := strings.Cut(r.RequestURI, "?")
		return p
	}
	return r.URL.EscapedPath()
}

// readBody reads the whole body, up to the payload limit; a non-zero
// status is the gateway's answer instead.
func (g *Gateway) readBody(r *http.Request) ([]byte, int) {
	if r.ContentLength > g.maxBody {
		return nil, http.StatusRequestEntityTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, g.maxBody+1))
	if err != nil {
		return nil, http.StatusBadRequest
	}
	if int64(len(body)) > g.maxBody {
		return nil, http.StatusRequestEntityTooLarge
	}
	return body, 0
}

var (
	errIntegrationTimeout = errors.New("integration timeout")
	errClientGone         = errors.New("the client went away")
)

// invoke runs the function, waiting at most the integration timeout. The
// invocation itself is not cancelled, neither at the timeout nor when the
// client goes away: in AWS the function runs on.
func (g *Gateway) invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("apigwlocal: invoker panicked: %v", p)}
			}
		}()
		out, err := g.invoker.Invoke(context.WithoutCancel(ctx), function, payload)
		done <- result{out, err}
	}()
	timer := time.NewTimer(g.timeout)
	defer timer.Stop()
	select {
	case res := <-done:
		return res.out, res.err
	case <-timer.C:
		return nil, fmt.Errorf("%w: %s did not answer within %s", errIntegrationTimeout, function, g.timeout)
	case <-ctx.Done():
		return nil, errClientGone
	}
}

// gatewayMessages are the bodies of API Gateway's own answers.
var gatewayMessages = map[int]string{
	http.StatusBadRequest:            "Bad Request",
	http.StatusUnauthorized:          "Unauthorized",
	http.StatusNotFound:              "Not Found",
	http.StatusRequestEntityTooLarge: "Request Entity Too Large",
	http.StatusInternalServerError:   "Internal Server Error",
	http.StatusServiceUnavailable:    "Service Unavailable",
}

// gatewayError answers with one of API Gateway's own responses. They carry
// the CORS headers like any other response.
func (g *Gateway) gatewayError(w http.ResponseWriter, r *http.Request, al *accessLog, status int) {
	body, _ := json.Marshal(map[string]string{"message": gatewayMessages[status]}) // a map of strings always marshals
	h := w.Header()
	if g.cfg.cors != nil {
		g.cfg.cors.actual(h, r)
	}
	h.Set("Content-Type", "application/json")
	al.status = status
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client went away: nothing left to tell it
}

// hopByHopResponse are response headers the gateway sets itself.
var hopByHopResponse = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Transfer-Encoding": true, "Upgrade": true,
	"Content-Length": true, "Trailer": true,
}

// writeResponse sends a function's response on: its headers (a cookie each
// as a Set-Cookie header), status and body, with the CORS headers of the
// API instead of any the function set.
func (g *Gateway) writeResponse(w http.ResponseWriter, r *http.Request, al *accessLog, resp *response) {
	h := w.Header()
	for name, value := range resp.headers {
		name = http.CanonicalHeaderKey(name)
		if hopByHopResponse[name] || name == "Apigw-Requestid" {
			continue
		}
		h.Set(name, value)
	}
	for _, c := range resp.cookies {
		h.Add("Set-Cookie", c)
	}
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = nil // no sniffed type: the function set none
	}
	if g.cfg.cors != nil {
		g.cfg.cors.actual(h, r)
	}
	al.status = resp.status
	w.WriteHeader(resp.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(resp.body) // the client went away: nothing left to tell it
	}
}

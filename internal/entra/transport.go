package entra

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// requestTrace records what the transport saw for one logical Graph
// request, so errors can be explained even when the SDK drops the status
// (e.g. an error body it cannot parse).
type requestTrace struct {
	host     string
	attempts int
	status   int   // status of the last response, 0 if none
	err      error // transport error of the last attempt, if any
}

type traceKey struct{}

func withTrace(ctx context.Context, t *requestTrace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

func traceFrom(ctx context.Context) *requestTrace {
	t, _ := ctx.Value(traceKey{}).(*requestTrace)
	return t
}

// retryTransport sits under the kiota middleware and owns every retry of a
// Graph request (kiota's own retry handler is switched off), so one budget
// bounds each request. It also re-authenticates once when Graph rejects an
// access token, which happens when a token is revoked before it expires.
type retryTransport struct {
	base   http.RoundTripper
	policy RetryPolicy
	tokens *tokenSource // nil: no re-authentication
	// jitter returns a factor in [0.5, 1) applied to each backoff.
	jitter func() float64
}

func newRetryTransport(base http.RoundTripper, policy RetryPolicy, tokens *tokenSource) *retryTransport {
	return &retryTransport{
		base:   base,
		policy: policy.withDefaults(),
		tokens: tokens,
		jitter: func() float64 { return 0.5 + rand.Float64()/2 },
	}
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	trace := traceFrom(ctx)
	if trace == nil {
		trace = &requestTrace{}
	}
	trace.host = req.URL.Host
	reauthenticated := false
	var waited time.Duration

	for attempt := 1; ; attempt++ {
		attemptReq, err := t.attemptRequest(req, attempt)
		if err != nil {
			return nil, err
		}
		resp, err := t.send(attemptReq)
		trace.attempts = attempt
		trace.err = err
		trace.status = 0
		if resp != nil {
			trace.status = resp.StatusCode
		}

		var delay time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil || !retryableError(err) || !idempotent(req.Method) {
				return nil, err
			}
			delay = t.backoff(attempt)
		case resp.StatusCode == http.StatusUnauthorized && !reauthenticated && t.tokens != nil:
			rejected, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
			if !ok {
				return resp, nil
			}
			drain(resp)
			fresh, err := t.tokens.replace(ctx, rejected)
			if err != nil {
				return nil, err
			}
			req = req.Clone(ctx)
			req.Header.Set("Authorization", "Bearer "+fresh)
			reauthenticated = true
			continue
		case retryableStatus(resp.StatusCode):
			delay = t.backoff(attempt)
			if after, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				delay = min(after, t.policy.MaxDelay)
			}
		default:
			return resp, nil
		}

		if attempt >= t.policy.MaxAttempts || waited+delay > t.policy.MaxWait {
			return resp, err
		}
		if resp != nil {
			drain(resp)
		}
		if err := sleep(ctx, delay); err != nil {
			return nil, err
		}
		waited += delay
	}
}

// attemptRequest returns the request to send as the given attempt, with a
// fresh body when the request has one.
func (t *retryTransport) attemptRequest(req *http.Request, attempt int) (*http.Request, error) {
	if attempt == 1 || req.Body == nil || req.Body == http.NoBody {
		return req, nil
	}
	if req.GetBody == nil {
		return nil, errors.New("entra: cannot resend a request whose body cannot be replayed")
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Body = body
	return r, nil
}

// send performs one attempt bounded by the policy's AttemptTimeout. It reads
// the whole body within the attempt, so a connection dropped halfway
// through a page is retried like any other dropped connection (the SDK
// buffers the whole body anyway). The body goes into a buffer the read
// recycles once the adapter has copied it out.
func (t *retryTransport) send(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.policy.AttemptTimeout)
	defer cancel()
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	buffers := bodyBuffersFrom(req.Context())
	buf := buffers.get()
	if resp.ContentLength > 0 && resp.ContentLength <= maxPooledBody {
		buf.Grow(int(resp.ContentLength))
	}
	_, err = buf.ReadFrom(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		buffers.put(buf)
		return nil, fmt.Errorf("read response body: %w", err)
	}
	resp.ContentLength = int64(buf.Len())
	resp.Body = &bufferedBody{buf: buf, owner: buffers}
	return resp, nil
}

func (t *retryTransport) backoff(attempt int) time.Duration {
	d := t.policy.BaseDelay
	for i := 1; i < attempt && d < t.policy.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, t.policy.MaxDelay)
	return time.Duration(float64(d) * t.jitter())
}

// drain discards a response that is being retried.
func drain(resp *http.Response) {
	_ = resp.Body.Close()
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

func retryableStatus(status int) bool {
	return status == http.StatusTooManyRequests ||
		status == http.StatusServiceUnavailable ||
		status == http.StatusGatewayTimeout
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

// retryableError reports whether a transport error may pass if tried again:
// dropped or refused connections and timed-out attempts do, certificate
// and name-resolution failures do not.
func retryableError(err error) bool {
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		verification     *tls.CertificateVerificationError
		dns              *net.DNSError
	)
	switch {
	case errors.As(err, &unknownAuthority), errors.As(err, &hostname),
		errors.As(err, &invalid), errors.As(err, &verification):
		return false
	case errors.As(err, &dns):
		return !dns.IsNotFound
	}
	return true
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 || secs > 1e6 {
			return 0, false
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

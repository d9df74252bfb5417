package iamlocal

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// authKind is why a request is not authenticated; each service spells
// them in its own wire format.
type authKind int

const (
	authMissing      authKind = iota + 1 // no SigV4 Authorization header
	authUnrecognized                     // unknown access key id or session token
	authSignature                        // the signature (or its scope or date) is wrong
)

type authError struct {
	kind    authKind
	message string
}

func (e *authError) Error() string { return e.message }

// AWS's messages for them.
const (
	msgUnrecognized = "The security token included in the request is invalid."
	msgSignature    = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

// maxSkew is how far a request's X-Amz-Date may be from now (SigV4's 15
// minutes).
const maxSkew = 15 * time.Minute

// authorization is a parsed SigV4 Authorization header.
type authorization struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

func parseAuthorization(h string) (authorization, bool) {
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return authorization{}, false
	}
	var a authorization
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return authorization{}, false
		}
		switch k {
		case "Credential":
			scope := strings.Split(v, "/")
			if len(scope) != 5 || scope[4] != "aws4_request" {
				return authorization{}, false
			}
			a.accessKey, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	return a, a.accessKey != "" && a.signature != "" && len(a.signedHeaders) > 0
}

// authenticate finds the principal a request is signed as and verifies its
// signature by signing a copy of it (its signed headers, its body) with the
// principal's secret at the request's X-Amz-Date, as the service would.
func (a *Authorizer) authenticate(ctx context.Context, r *http.Request, body []byte, signingName string) (*Principal, *authError) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, &authError{authMissing, "Request is missing Authentication Token"}
	}
	auth, ok := parseAuthorization(h)
	if !ok {
		return nil, &authError{authSignature, "Authorization header is not a valid AWS4-HMAC-SHA256 signature."}
	}
	p, ok := a.principals.ByAccessKey(auth.accessKey)
	if !ok {
		return nil, &authError{authUnrecognized, msgUnrecognized}
	}
	token := r.Header.Get("X-Amz-Security-Token")
	if subtle.ConstantTimeCompare([]byte(token), []byte(p.Credentials.SessionToken)) != 1 {
		return nil, &authError{authUnrecognized, msgUnrecognized}
	}
	switch {
	case auth.region != a.region:
		return nil, &authError{authSignature, fmt.Sprintf("Credential should be scoped to a valid region, not '%s'.", auth.region)}
	case auth.service != signingName:
		return nil, &authError{authSignature, fmt.Sprintf("Credential should be scoped to correct service: '%s'.", signingName)}
	}
	signed, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || !slices.Contains(auth.signedHeaders, "x-amz-date") {
		return nil, &authError{authSignature, "Authorization header requires existence of a signed X-Amz-Date header."}
	}
	if signed.Format("20060102") != auth.date {
		return nil, &authError{authSignature, fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s'", auth.date, signed.Format("20060102"))}
	}
	if now := a.now(); signed.Before(now.Add(-maxSkew)) || signed.After(now.Add(maxSkew)) {
		return nil, &authError{authSignature, fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)",
			signed.Format("20060102T150405Z"), now.Add(-maxSkew).UTC().Format("20060102T150405Z"), now.UTC().Format("20060102T150405Z"))}
	}
	want, err := resign(ctx, r, body, auth, p.Credentials, signed)
	if err != nil {
		return nil, &authError{authSignature, msgSignature}
	}
	ours, ok := parseAuthorization(want)
	if !ok || !slices.Equal(ours.signedHeaders, auth.signedHeaders) || subtle.ConstantTimeCompare([]byte(ours.signature), []byte(auth.signature)) != 1 {
		return nil, &authError{authSignature, msgSignature}
	}
	return p, nil
}

// resign signs a copy of r holding exactly the headers r signed and returns
// its Authorization header.
func resign(ctx context.Context, r *http.Request, body []byte, auth authorization, creds aws.Credentials, at time.Time) (string, error) {
	c := &http.Request{
		Method: r.Method,
		URL:    &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery},
		Host:   r.Host,
		Header: http.Header{},
	}
	for _, name := range auth.signedHeaders {
		switch name {
		case "host":
		case "content-length":
			c.ContentLength = int64(len(body))
		default:
			if vs := r.Header.Values(name); vs != nil {
				c.Header[http.CanonicalHeaderKey(name)] = slices.Clone(vs)
			}
		}
	}
	if !slices.Contains(auth.signedHeaders, "x-amz-security-token") {
		creds.SessionToken = "" // sent unsigned (or not at all): sign without it
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, c, hex.EncodeToString(sum[:]), auth.service, auth.region, at); err != nil {
		return "", fmt.Errorf("iamlocal: sign: %w", err)
	}
	return c.Header.Get("Authorization"), nil
}

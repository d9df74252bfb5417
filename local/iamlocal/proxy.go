package iamlocal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Proxy forwards requests to a stand-in serving its own port (DynamoDB
// Local, moto) unchanged, Host header included, so the stand-in can check
// the signature too.
func Proxy(endpoint string, logger *slog.Logger) (http.Handler, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("iamlocal: proxy endpoint %q is not a URL", endpoint)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host // signed
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			logger.Error("iamlocal: proxy", "endpoint", endpoint, "error", err)
			w.WriteHeader(http.StatusBadGateway)
		},
	}, nil
}

// ResigningProxy forwards requests to a stand-in signed anew with creds
// (for signingName in region), for one that keeps its data per access key:
// DynamoDB Local without -sharedDb has a database per access key id and
// region, so requests of every principal must reach it as one. Signing as
// dynamolocal.Client does ("local", sfnlocal.LocalRegion) shares the
// tables the stack creates with that client. Put it behind a middleware,
// which has checked the caller's own signature.
func ResigningProxy(endpoint string, creds aws.Credentials, signingName, region string, logger *slog.Logger) (http.Handler, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("iamlocal: proxy endpoint %q is not a URL", endpoint)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u) }, // Host = u.Host, as signed
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			logger.Error("iamlocal: proxy", "endpoint", endpoint, "error", err)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	signer := v4.NewSigner()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		r.Body.Close()
		if err != nil || len(body) > maxBody {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		out := r.Clone(r.Context())
		out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		out.URL = &url.URL{Scheme: u.Scheme, Host: u.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
		out.Host = u.Host
		for _, h := range []string{"Authorization", "X-Amz-Security-Token", "X-Amz-Date", "Connection", "Keep-Alive",
			"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
			out.Header.Del(h)
		}
		sum := sha256.Sum256(body)
		if err := signer.SignHTTP(r.Context(), creds, out, hex.EncodeToString(sum[:]), signingName, region, time.Now()); err != nil {
			logger.Error("iamlocal: proxy: sign", "endpoint", endpoint, "error", err)
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		rp.ServeHTTP(w, out)
	}), nil
}

// Server is an http.Server on a free loopback port, for a guarded
// stand-in whose clients need an endpoint of its own (the DynamoDB and
// Secrets Manager protocols post to "/").
type Server struct {
	URL string // http://127.0.0.1:PORT
	srv *http.Server
	err chan error
}

// Serve serves h on a free loopback port until Close.
func Serve(h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("iamlocal: listen: %w", err)
	}
	s := &Server{URL: "http://" + ln.Addr().String(), srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, err: make(chan error, 1)}
	go func() { s.err <- s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the server, letting requests in flight finish for 5 s.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if serr := <-s.err; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return fmt.Errorf("iamlocal: close server: %w", err)
	}
	return nil
}

package iamlocal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
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

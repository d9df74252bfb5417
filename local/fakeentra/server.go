package fakeentra

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// ErrUnknownTenant is returned by Update for a tenant id never added.
var ErrUnknownTenant = errors.New("fakeentra: unknown tenant")

// Option configures Start.
type Option func(*config)

type config struct {
	tokenTTL            time.Duration
	logger              *slog.Logger
	model               GraphModel
	deltaMembersPerPage int
}

// DefaultDeltaMembersPerPage is how many member references a page of a
// groups delta round carries at most, unless WithDeltaMembersPerPage says
// otherwise. Graph documents no figure; it does split a large group's
// members@delta over several pages of the round, repeating the group.
const DefaultDeltaMembersPerPage = 5000

// WithDeltaMembersPerPage sets how many member references a page of a
// groups delta round that selects members carries at most (non-positive
// values keep DefaultDeltaMembersPerPage).
func WithDeltaMembersPerPage(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.deltaMembersPerPage = n
		}
	}
}

// WithTokenTTL sets how long issued access tokens stay valid (default 1h;
// non-positive values keep the default).
func WithTokenTTL(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.tokenTTL = d
		}
	}
}

// WithLogger sets where the server logs served requests (at debug level)
// and connection errors. The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// Request is one request the server answered, as recorded by Requests.
type Request struct {
	Method string
	Path   string // URL path, decoded
	Query  string // raw query string
	// Status is the HTTP status sent; 0 when a FaultReset dropped the
	// connection instead.
	Status int
	// Page is the 1-based page of a paged listing derived from $skiptoken;
	// every request without a $skiptoken is page 1.
	Page int
	// Throttled is set on a 429 the Graph model's budget answered.
	Throttled bool
}

// maxLoggedRequests bounds the request log of a long-running server; the
// oldest half is dropped when it fills.
const maxLoggedRequests = 1 << 17

// Server is a running fake of Entra ID's token endpoint and the Microsoft
// Graph v1.0 directory subset. It is safe for concurrent use.
type Server struct {
	url      string
	caPEM    []byte
	pool     *x509.CertPool
	client   *http.Client
	srv      *http.Server
	logger   *slog.Logger
	tokenTTL time.Duration
	seed     maphash.Seed

	closeOnce sync.Once
	closed    chan struct{}
	served    chan struct{}

	mu      sync.RWMutex
	tenants map[string]*tenantState // by lower-case id and lower-case domain

	tokMu  sync.Mutex
	tokens map[string]grant

	faultMu   sync.Mutex
	faults    []*activeFault
	nextFault uint64

	logMu    sync.Mutex
	requests []Request

	modelMu sync.Mutex
	model   GraphModel
	budgets map[budgetKey]*rate.Limiter

	statsMu sync.Mutex
	stats   GraphStats

	deltaMembersPerPage atomic.Int64
}

// DeltaMembersPerPage is how many member references a page of a groups
// delta round carries at most.
func (s *Server) DeltaMembersPerPage() int { return int(s.deltaMembersPerPage.Load()) }

// Start serves on https://127.0.0.1:<free port> with a fresh self-signed CA
// (ECDSA, generated in memory) and a leaf certificate for 127.0.0.1, ::1 and
// localhost.
func Start(opts ...Option) (*Server, error) {
	cfg := config{tokenTTL: time.Hour, logger: slog.New(slog.DiscardHandler), deltaMembersPerPage: DefaultDeltaMembersPerPage}
	for _, o := range opts {
		o(&cfg)
	}
	caPEM, leaf, err := newCertificates()
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakeentra: listen: %w", err)
	}
	s := &Server{
		url:      "https://" + ln.Addr().String(),
		caPEM:    caPEM,
		pool:     pool,
		logger:   cfg.logger,
		tokenTTL: cfg.tokenTTL,
		seed:     maphash.MakeSeed(),
		closed:   make(chan struct{}),
		served:   make(chan struct{}),
		tenants:  make(map[string]*tenantState),
		tokens:   make(map[string]grant),
		model:    cfg.model,
		budgets:  make(map[budgetKey]*rate.Limiter),
	}
	s.deltaMembersPerPage.Store(int64(cfg.deltaMembersPerPage))
	transport := &http.Transport{
		Proxy:               nil, // loopback only, whatever the environment says
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	s.client = &http.Client{Transport: transport}

	// HTTP/1.1 only: a FaultReset needs to hijack the connection.
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	s.srv = &http.Server{
		Handler:           s,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{leaf}, MinVersion: tls.VersionTLS12},
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.logger.Handler(), slog.LevelDebug),
	}
	go func() {
		defer close(s.served)
		if err := s.srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("fakeentra: serve", "err", err)
		}
	}()
	return s, nil
}

// URL is "https://127.0.0.1:PORT", without a trailing slash. It is both the
// authority host and the Graph endpoint; the token scope is URL()+"/.default".
func (s *Server) URL() string { return s.url }

// CertPool returns a pool trusting the server's CA.
func (s *Server) CertPool() *x509.CertPool { return s.pool.Clone() }

// CACertPEM returns the CA certificate in PEM form, e.g. for SSL_CERT_FILE.
func (s *Server) CACertPEM() []byte { return append([]byte(nil), s.caPEM...) }

// HTTPClient returns a client that trusts the server's CA and never uses a
// proxy. It is shared: do not change its fields.
func (s *Server) HTTPClient() *http.Client { return s.client }

// Close stops the server, dropping open connections and waking requests
// held by a FaultSlow.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		_ = s.srv.Close()
		<-s.served
		s.client.CloseIdleConnections()
	})
}

// AddTenant adds t, replacing any tenant with the same ID. The server takes
// ownership of t: change it afterwards only through Update.
func (s *Server) AddTenant(t *Tenant) {
	st := newTenantState(t, s.seed)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.tenants[strings.ToLower(t.ID)]; ok {
		for k, v := range s.tenants {
			if v == old {
				delete(s.tenants, k)
			}
		}
	}
	s.tenants[strings.ToLower(t.ID)] = st
	if t.Domain != "" {
		s.tenants[strings.ToLower(t.Domain)] = st
	}
}

// HasTenant reports whether the server serves a tenant, by id or domain.
func (s *Server) HasTenant(idOrDomain string) bool { return s.tenant(idOrDomain) != nil }

// Update runs fn on the tenant's directory with every request to it held
// off, then records what fn changed so delta queries report it: changed and
// added objects get the new version, removed ones become tombstones (soft
// for those moved to the deleted items), and each group's membership
// changes are logged member by member. fn may change, add and remove
// users, groups and apps, and move users and groups to and from the
// deleted items (Tenant.SoftDeleteUser, RestoreUser and the like), but not
// change the tenant's ID or Domain.
func (s *Server) Update(tenantID string, fn func(t *Tenant)) error {
	st := s.tenant(tenantID)
	if st == nil {
		return fmt.Errorf("fakeentra: update %q: %w", tenantID, ErrUnknownTenant)
	}
	st.update(fn)
	return nil
}

// ExpireTokens makes every token issued so far answer 401
// InvalidAuthenticationToken. Tokens issued afterwards work normally.
func (s *Server) ExpireTokens() {
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	clear(s.tokens)
}

// ExpireDeltaTokens makes every delta token issued so far (deltaLinks and
// the nextLinks of rounds under way) answer 410 Gone syncStateNotFound, as
// Graph answers a token past its lifetime; tokens issued afterwards work
// normally. The fake also expires them by itself when its delta history
// outgrows its bound.
func (s *Server) ExpireDeltaTokens() {
	s.mu.RLock()
	tenants := make(map[*tenantState]bool, len(s.tenants))
	for _, st := range s.tenants {
		tenants[st] = true
	}
	s.mu.RUnlock()
	for st := range tenants {
		st.expireDeltaTokens()
	}
}

// Requests returns a copy of the log of requests served, oldest first.
func (s *Server) Requests() []Request {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.requests = nil
}

func (s *Server) logRequest(r *http.Request, status, page int, ex *exchange) {
	s.logMu.Lock()
	if len(s.requests) >= maxLoggedRequests {
		n := copy(s.requests, s.requests[len(s.requests)/2:])
		s.requests = s.requests[:n]
	}
	s.requests = append(s.requests, Request{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: status, Page: page,
		Throttled: ex != nil && ex.throttled,
	})
	s.logMu.Unlock()
	s.logger.Debug("fakeentra: request", "method", r.Method, "path", r.URL.Path, "query", r.URL.RawQuery, "status", status, "page", page)
}

// tenant finds a tenant by id or domain, case-insensitively.
func (s *Server) tenant(idOrDomain string) *tenantState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tenants[strings.ToLower(idOrDomain)]
}

// ServeHTTP applies matching faults, then answers the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := parseQuery(r.URL.RawQuery)
	page := requestPage(q)
	// altering is a fault the directory handlers apply to what they write.
	var altering *Fault
	if f, ok := s.matchFault(r.URL.Path, decodedQuery(r.URL.RawQuery), page); ok {
		switch {
		case f.Kind == FaultReset:
			// Logged first: once the connection drops, the client may look
			// at the log before this goroutine runs again.
			s.logRequest(r, 0, page, nil)
			s.resetConnection(w)
			return
		case f.Kind == FaultSlow:
			if !s.sleep(r.Context(), f.Delay) {
				s.logRequest(r, 0, page, nil)
				s.resetConnection(w)
				return
			}
		case f.Kind.answersItself():
			rec := &statusRecorder{ResponseWriter: w, onStatus: func(st int) { s.logRequest(r, st, page, nil) }}
			s.writeFault(rec, r, f)
			rec.finish()
			s.countGraph(r.URL.Path, &exchange{})
			return
		default:
			altering = &f
		}
	}
	ex := &exchange{}
	rec := &statusRecorder{ResponseWriter: w, onStatus: func(st int) { s.logRequest(r, st, page, ex) }}
	model := s.GraphModel()
	if !model.delays() || !isGraphPath(r.URL.Path) {
		s.route(rec, r, q, altering, ex)
		rec.finish()
		s.countGraph(r.URL.Path, ex)
		return
	}
	// The answer waits its latency once the handler is done with the
	// tenant, so a slow answer never holds off an Update.
	held := heldPool.Get().(*heldResponse)
	defer func() {
		held.reset()
		heldPool.Put(held)
	}()
	s.route(held, r, q, altering, ex)
	if !s.sleep(r.Context(), model.latency(ex.items)) {
		s.logRequest(r, 0, page, ex) // the client left, or the server is closing
		return
	}
	held.sendTo(rec)
	rec.finish()
	s.countGraph(r.URL.Path, ex)
}

// decodedQuery is the query string percent-decoded, for matching faults;
// one that does not decode is matched as sent.
func decodedQuery(raw string) string {
	if q, err := url.QueryUnescape(raw); err == nil {
		return q
	}
	return raw
}

func isGraphPath(path string) bool { return strings.HasPrefix(path, "/v1.0/") }

// sleep waits d unless the request or the server ends first.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closed:
		return false
	}
}

// resetConnection closes the client connection without a response. Linger 0
// turns the close into a TCP RST, which is what a dropped connection looks
// like to the client.
func (s *Server) resetConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		s.logger.Error("fakeentra: reset fault: connection cannot be hijacked")
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		s.logger.Error("fakeentra: reset fault: hijack", "err", err)
		return
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = raw.Close()
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, q query, fault *Fault, ex *exchange) {
	path := r.URL.Path
	if rest, ok := strings.CutPrefix(path, "/v1.0/"); ok {
		s.serveGraph(w, r, q, rest, fault, ex)
		return
	}
	if rest, ok := strings.CutPrefix(path, controlPrefix); ok {
		s.serveControl(w, r, rest)
		return
	}
	s.serveAuthority(w, r, strings.TrimPrefix(path, "/"))
}

// statusRecorder remembers the status sent for the request log.
// statusRecorder notes the status and calls onStatus before any of the
// response leaves: a request is in the log before its client can see the
// answer, so a client that read a page always finds it logged.
type statusRecorder struct {
	http.ResponseWriter
	status   int
	onStatus func(status int)
}

func (s *statusRecorder) WriteHeader(code int) {
	s.record(code)
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.record(http.StatusOK)
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) record(code int) {
	if s.status != 0 {
		return
	}
	s.status = code
	if s.onStatus != nil {
		s.onStatus(code)
	}
}

// finish logs a response that wrote nothing at all (an implicit 200).
func (s *statusRecorder) finish() {
	s.record(http.StatusOK)
}

func newCertificates() (caPEM []byte, leaf tls.Certificate, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("fakeentra: generate CA key: %w", err)
	}
	now := time.Now()
	caTemplate := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "fakeentra test CA", Organization: []string{"dirsync"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("fakeentra: create CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("fakeentra: parse CA certificate: %w", err)
	}

	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("fakeentra: generate leaf key: %w", err)
	}
	leafTemplate := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTemplate, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("fakeentra: create leaf certificate: %w", err)
	}
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	leaf = tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey}
	return caPEM, leaf, nil
}

func randomSerial() *big.Int {
	var b [16]byte
	_, _ = io.ReadFull(rand.Reader, b[:]) // crypto/rand.Reader never fails
	b[0] &= 0x7f
	return new(big.Int).SetBytes(b[:])
}

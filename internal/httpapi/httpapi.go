// Package httpapi serves the HTTP API v1 (DESIGN.md section 2). The same
// handler runs in every API Lambda (through lambdahttp) and in the local dev
// server; each serves the routes whose dependencies it is given.
//
// The caller's identity comes from auth claims in the request context, put
// there by lambdahttp from the claims API Gateway's JWT authorizer passes
// (locally, local/apigwlocal's). The tenant is always the token's.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"dirsync/internal/auth"
	"dirsync/internal/domain"
)

// DirectoryStore is the platform directory as the user and group routes
// read and write it.
type DirectoryStore interface {
	ListUsers(ctx context.Context, tenant string, f domain.UserFilter, p domain.Page) ([]domain.User, string, error)
	GetUser(ctx context.Context, tenant, id string) (*domain.User, error)
	CreateUser(ctx context.Context, tenant string, nu domain.NewUser) (*domain.User, error)
	UpdateUser(ctx context.Context, tenant, id string, p domain.UserPatch) (*domain.User, error)
	ListGroups(ctx context.Context, tenant string, p domain.Page) ([]domain.Group, string, error)
	ListGroupMembers(ctx context.Context, tenant, groupID string, p domain.Page) ([]domain.User, string, error)
}

// SyncStore reads syncs, their changes and their progress.
type SyncStore interface {
	GetSync(ctx context.Context, tenant, id string) (*domain.Sync, error)
	ListSyncs(ctx context.Context, tenant string, p domain.Page) ([]*domain.Sync, string, error)
	ListChanges(ctx context.Context, tenant, syncID string, f domain.ChangeFilter, p domain.Page) ([]domain.Change, string, error)
	GetProgress(ctx context.Context, tenant, syncID string) (*domain.Progress, error)
}

// ConnectionStore reads and writes a tenant's Entra ID connection.
type ConnectionStore interface {
	GetConnection(ctx context.Context, tenant string) (*domain.Connection, error)
	// EnsureIdle and PutConnection are conflicts while a sync is PREVIEWING
	// or APPLYING.
	EnsureIdle(ctx context.Context, tenant string) error
	// PutConnection replaces the ignored users only with replaceIgnored.
	PutConnection(ctx context.Context, c *domain.Connection, replaceIgnored bool) error
	// WriteIgnoredUsers replaces the ignored users if they are still at
	// version expect (domain.ErrRevisionChanged otherwise).
	WriteIgnoredUsers(ctx context.Context, tenant string, ids []string, expect int64) error
}

// SecretStore keeps a tenant's client secret (Secrets Manager in AWS);
// PutSecret returns the id of the new version.
type SecretStore interface {
	PutSecret(ctx context.Context, tenant, secret string) (version string, err error)
}

// PreviewStarter starts a preview for the calling admin (fullRead: read
// the tenant in full, not only what changed), or the undo of an applied
// sync (a preview of its inverse).
type PreviewStarter interface {
	Start(ctx context.Context, actor domain.Actor, fullRead bool) (*domain.Sync, error)
	StartUndo(ctx context.Context, actor domain.Actor, syncID string) (*domain.Sync, error)
}

// ApplyController confirms and cancels syncs.
type ApplyController interface {
	Confirm(ctx context.Context, actor domain.Actor, syncID string, allowDeactivations bool) (*domain.Sync, error)
	Cancel(ctx context.Context, actor domain.Actor, syncID string) (*domain.Sync, error)
}

// ChangeReviewer excludes changes of a ready preview from its plan, or
// includes them back, returning the sync and the changes as they then are.
type ChangeReviewer interface {
	SetExcluded(ctx context.Context, actor domain.Actor, syncID string, seqs []int, excluded bool) (*domain.Sync, []domain.Change, error)
}

// ConnectionTester tries a stored connection against Entra ID.
type ConnectionTester interface {
	Test(ctx context.Context, conn *domain.Connection) ([]domain.ConnectionCheck, error)
}

// EntraGroups finds the groups of a stored connection's Entra ID
// directory, for an admin choosing scope groups. Errors are domain errors
// (unprocessable when the connection cannot read groups, unavailable when
// Graph is down or throttling).
type EntraGroups interface {
	// SearchGroups finds groups whose display name starts with prefix.
	SearchGroups(ctx context.Context, conn *domain.Connection, prefix string) ([]domain.DirectoryGroup, error)
	// GroupNames names group ids, keyed by lower-case id; unknown ids are
	// absent.
	GroupNames(ctx context.Context, conn *domain.Connection, ids []string) (map[string]string, error)
}

// Deps are what the routes use. A function is given exactly those its
// routes (the Routes table) need; New refuses one that lacks any.
type Deps struct {
	Directory   DirectoryStore
	Syncs       SyncStore
	Connections ConnectionStore
	Secrets     SecretStore
	Previews    PreviewStarter
	Tester      ConnectionTester
	EntraGroups EntraGroups
	Applies     ApplyController
	Reviews     ChangeReviewer
}

// Options tune the handler.
type Options struct {
	// ClaimNames name the tenant and roles claims (for messages).
	ClaimNames auth.ClaimNames
	// AdminRole is the role every route requires; default "admin".
	AdminRole string
	// Logger receives the request log and failure details; default JSON to
	// stderr.
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Handler serves the API.
type Handler struct {
	mux    *http.ServeMux
	routes []string
	deps   Deps
	names  auth.ClaimNames
	admin  string
	log    *slog.Logger
	now    func() time.Time
	// How long a group search, and the naming of a connection's scope
	// groups, may wait on Graph (groupSearchTimeout, scopeNamesTimeout;
	// tests shorten them).
	searchTimeout time.Duration
	namesTimeout  time.Duration
	// The CSV export's bounds (MaxExportBytes, ExportTimeout; tests
	// shorten them).
	exportMaxBytes int
	exportTimeout  time.Duration
	exportPageSize int
}

// routeFunc handles one route for an authorised caller. A returned error is
// answered in the error shape (see writeError).
type routeFunc func(w http.ResponseWriter, r *http.Request, c auth.Claims) error

// New returns the handler of one function of the HTTP API (or of several,
// for a test or a single-process server): it serves exactly their rows of
// the Routes table, and is ErrMissingDependency when deps lack one they
// use.
func New(deps Deps, opts Options, functions ...Function) (*Handler, error) {
	h := &Handler{
		mux:   http.NewServeMux(),
		deps:  deps,
		names: auth.DefaultClaimNames(),
		admin: opts.AdminRole,
		log:   opts.Logger,
		now:   opts.Now,

		searchTimeout: groupSearchTimeout,
		namesTimeout:  scopeNamesTimeout,

		exportMaxBytes: MaxExportBytes,
		exportTimeout:  ExportTimeout,
		exportPageSize: exportPageSize,
	}
	if opts.ClaimNames.Tenant != "" {
		h.names.Tenant = opts.ClaimNames.Tenant
	}
	if opts.ClaimNames.Roles != "" {
		h.names.Roles = opts.ClaimNames.Roles
	}
	if h.admin == "" {
		h.admin = "admin"
	}
	if h.log == nil {
		h.log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if h.now == nil {
		h.now = time.Now
	}

	if err := h.register(functions); err != nil {
		return nil, err
	}
	h.registerFallbacks()
	return h, nil
}

// Routes lists the served routes ("GET /v1/syncs/{id}"), sorted.
func (h *Handler) Routes() []string {
	out := slices.Clone(h.routes)
	slices.Sort(out)
	return out
}

func (h *Handler) handle(pattern string, fn routeFunc) {
	h.routes = append(h.routes, pattern)
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		info := infoFrom(r.Context())
		info.route = pattern
		claims, err := h.authorize(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		info.tenantID = claims.TenantID
		if err := fn(w, r, claims); err != nil {
			h.writeError(w, r, err)
		}
	})
}

// registerFallbacks answers, in the error shape, a served path called with
// another method (405 with Allow) and any other path (404).
func (h *Handler) registerFallbacks() {
	allowed := map[string][]string{}
	var paths []string
	for _, rt := range h.routes {
		method, path, _ := strings.Cut(rt, " ")
		if _, ok := allowed[path]; !ok {
			paths = append(paths, path)
		}
		allowed[path] = append(allowed[path], method)
	}
	for _, path := range paths {
		methods := allowed[path]
		if slices.Contains(methods, http.MethodGet) {
			methods = append(methods, http.MethodHead)
		}
		slices.Sort(methods)
		allow := strings.Join(methods, ", ")
		h.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			infoFrom(r.Context()).route = path
			w.Header().Set("Allow", allow)
			h.writeError(w, r, domain.Errorf(CodeMethodNotAllowed, "method %s is not allowed on %s; allowed: %s", r.Method, path, allow))
		})
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, r, domain.Errorf(domain.ENotFound, "no route %s %s", r.Method, truncate(r.URL.EscapedPath(), 200)))
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// authorize requires claims with a tenant and the admin role.
func (h *Handler) authorize(r *http.Request) (auth.Claims, error) {
	c, ok := auth.FromContext(r.Context())
	if !ok || c.TenantID == "" {
		if refused := auth.RefusedFromContext(r.Context()); refused != nil {
			return auth.Claims{}, domain.Errorf(domain.EUnauthorized, "%s", refused.Error())
		}
		return auth.Claims{}, domain.Errorf(domain.EUnauthorized, "authentication required: send a bearer token carrying the %q claim", h.names.Tenant)
	}
	if !c.HasRole(h.admin) {
		return auth.Claims{}, domain.Errorf(domain.EForbidden, "the %q role is required (token claim %q)", h.admin, h.names.Roles)
	}
	return c, nil
}

// ServeHTTP serves one request: it assigns the request id, recovers a
// panic into a 500 and writes the request log line.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	ctx := r.Context()
	reqID := RequestID(ctx)
	if reqID == "" {
		reqID = newRequestID()
		ctx = WithRequestID(ctx, reqID)
	}
	info := &requestInfo{requestID: reqID}
	ctx = context.WithValue(ctx, infoKey{}, info)
	r = r.WithContext(ctx)
	rec := &statusRecorder{ResponseWriter: w}
	rec.Header().Set("X-Request-Id", reqID)

	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p) // the server's own signal to drop the connection
			}
			h.log.LogAttrs(ctx, slog.LevelError, "handler panic",
				append(info.logAttrs(), slog.Any("panic", p), slog.String("stack", string(debug.Stack())))...)
			if !rec.wroteHeader {
				writeJSON(rec, http.StatusInternalServerError, errorBody{errorDetail{Code: domain.EInternal, Message: internalMessage(reqID)}})
			}
		}
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		}
		route := info.route
		if route == "" {
			route = "unmatched"
		}
		attrs := append(info.logAttrs(),
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.Int("status", rec.statusCode()),
			slog.Float64("duration_ms", float64(h.now().Sub(start).Microseconds())/1000),
		)
		h.log.LogAttrs(ctx, level, "request", attrs...)
	}()
	h.mux.ServeHTTP(rec, r)
}

// requestInfo collects what the request log line and error logs carry.
type requestInfo struct {
	requestID string
	route     string
	tenantID  string
	syncID    string
}

type infoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	if info, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		return info
	}
	// Only reachable when a route handler is called outside ServeHTTP.
	return &requestInfo{requestID: RequestID(ctx)}
}

func (i *requestInfo) logAttrs() []slog.Attr {
	attrs := []slog.Attr{slog.String("request_id", i.requestID)}
	if i.tenantID != "" {
		attrs = append(attrs, slog.String("tenant_id", i.tenantID))
	}
	if i.syncID != "" {
		attrs = append(attrs, slog.String("sync_id", i.syncID))
	}
	return attrs
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request id (API Gateway's, in the
// Lambdas), which the handler logs and returns as X-Request-Id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// statusRecorder remembers the status written, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.status, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if !s.wroteHeader {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) statusCode() int {
	if !s.wroteHeader {
		return http.StatusOK
	}
	return s.status
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"dirsync/internal/auth"
	"dirsync/internal/domain"
	"dirsync/internal/store"
)

// brokenDirectory fails the way a broken dependency does.
type brokenDirectory struct {
	DirectoryStore
	err   error
	panic bool
}

func (b brokenDirectory) ListUsers(context.Context, string, store.UserFilter, store.Page) ([]domain.User, string, error) {
	if b.panic {
		panic("index out of range in a dependency")
	}
	return nil, "", b.err
}

func TestFailuresRevealNothing(t *testing.T) {
	tests := []struct {
		name       string
		dir        brokenDirectory
		status     int
		code       string
		logged     string
		notInReply string
	}{
		{"plain error", brokenDirectory{err: errors.New("store: list users: dial tcp 10.0.0.7:8000: connection refused")},
			500, domain.EInternal, "connection refused", "10.0.0.7"},
		{"internal domain error", brokenDirectory{err: domain.Errorf(domain.EInternal, "table acme-users is missing")},
			500, domain.EInternal, "table acme-users", "acme-users"},
		{"unknown code", brokenDirectory{err: domain.Errorf("teapot", "short and stout")},
			500, domain.EInternal, "short and stout", "stout"},
		{"wrapped domain error keeps its code", brokenDirectory{err: errors.Join(errors.New("ctx"), domain.Errorf(domain.ETooManyRequests, "slow down"))},
			429, domain.ETooManyRequests, "", ""},
		{"panic", brokenDirectory{panic: true}, 500, domain.EInternal, "index out of range", "index"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &lockedBuffer{}
			e := &env{logs: logs}
			e.h = New(Deps{Directory: tt.dir}, Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
			r := e.do(t, &acmeAdmin, http.MethodGet, "/v1/users", "").mustStatus(t, tt.status)
			if r.errorCode() != tt.code {
				t.Fatalf("code = %q", r.errorCode())
			}
			if tt.status != 500 {
				return
			}
			reqID := r.Header.Get("X-Request-Id")
			if r.errorMessage() != "internal error (request id "+reqID+")" || strings.Contains(r.Raw, tt.notInReply) {
				t.Fatalf("500 reveals details: %s", r.Raw)
			}
			var found bool
			for _, l := range logs.lines(t) {
				if l["level"] == "ERROR" && l["request_id"] == reqID && l["tenant_id"] == "acme" && strings.Contains(asString(l["error"])+asString(l["panic"]), tt.logged) {
					found = true
				}
			}
			if !found {
				t.Fatalf("details not logged with request and tenant id:\n%s", logs.String())
			}
		})
	}
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

func TestMissingDependenciesLeaveRoutesOut(t *testing.T) {
	st := store.New(nil, "", "")
	tests := []struct {
		name string
		deps Deps
		want []string
	}{
		{"nothing", Deps{}, nil},
		{"connection without secrets or tester", Deps{Connections: st}, []string{"GET /v1/connection"}},
		{"connection Lambda", Deps{Connections: st, Secrets: &fakeSecrets{}, Tester: fakeTester{}},
			[]string{"GET /v1/connection", "POST /v1/connection/test", "PUT /v1/connection"}},
		{"progress Lambda", Deps{Syncs: st},
			[]string{"GET /v1/syncs", "GET /v1/syncs/{id}", "GET /v1/syncs/{id}/changes", "GET /v1/syncs/{id}/progress"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := New(tt.deps, Options{Logger: slog.New(slog.DiscardHandler)}).Routes()
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("routes = %v, want %v", got, tt.want)
			}
		})
	}
	// A route another Lambda serves is unknown here.
	h := New(Deps{Syncs: st}, Options{Logger: slog.New(slog.DiscardHandler)})
	for path, want := range map[string]int{"/v1/users": http.StatusNotFound, "/v1/syncs": http.StatusMethodNotAllowed} {
		method := http.MethodGet
		if path == "/v1/syncs" {
			method = http.MethodPost
		}
		req := newRequest(method, path, "")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req.WithContext(auth.NewContext(req.Context(), acmeAdmin)))
		if rec.Code != want {
			t.Errorf("%s %s = %d, want %d", method, path, rec.Code, want)
		}
	}
}

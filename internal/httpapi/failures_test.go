package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"dirsync/internal/apply"
	"dirsync/internal/auth"
	"dirsync/internal/domain"
	"dirsync/internal/preview"
	"dirsync/internal/review"
	"dirsync/internal/store"
)

// brokenDirectory fails the way a broken dependency does.
type brokenDirectory struct {
	DirectoryStore
	err   error
	panic bool
}

func (b brokenDirectory) ListUsers(context.Context, string, domain.UserFilter, domain.Page) ([]domain.User, string, error) {
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
			e.h = mustNew(t, Deps{Directory: tt.dir}, Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))}, DirectoryFunction)
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

// Each function serves exactly its rows of the Routes table, and a
// function built without a dependency its routes use is refused.
func TestEachFunctionServesItsRoutes(t *testing.T) {
	st := store.New(nil, "", "")
	all := Deps{Directory: st, Syncs: st, Connections: st, Secrets: &fakeSecrets{}, Previews: &preview.Service{}, Tester: fakeTester{}, EntraGroups: newFakeEntraGroups(), Applies: &apply.Service{}, Reviews: &review.Service{}}
	tests := []struct {
		fn      Function
		deps    Deps
		want    []string
		missing string // the dependency New must name, "" = none
	}{
		{ConnectionFunction, Deps{Connections: st, Secrets: &fakeSecrets{}, Tester: fakeTester{}, EntraGroups: newFakeEntraGroups()},
			[]string{"GET /v1/connection", "GET /v1/connection/groups", "POST /v1/connection/ignored-users", "POST /v1/connection/test", "PUT /v1/connection"}, ""},
		{ConnectionFunction, Deps{Connections: st, Tester: fakeTester{}, EntraGroups: newFakeEntraGroups()}, nil, "Deps.Secrets"},
		{ConnectionFunction, Deps{Connections: st, Secrets: &fakeSecrets{}, Tester: fakeTester{}}, nil, "Deps.EntraGroups"},
		{PreviewFunction, Deps{Syncs: st, Previews: &preview.Service{}, Reviews: &review.Service{}},
			[]string{"GET /v1/syncs", "GET /v1/syncs/{id}", "GET /v1/syncs/{id}/changes", "PATCH /v1/syncs/{id}/changes/{seq}",
				"POST /v1/syncs", "POST /v1/syncs/{id}/exclusions", "POST /v1/syncs/{id}/undo"}, ""},
		{PreviewFunction, Deps{Syncs: st, Reviews: &review.Service{}}, nil, "Deps.Previews"},
		{PreviewFunction, Deps{Syncs: st, Previews: &preview.Service{}}, nil, "Deps.Reviews"},
		{ConfirmFunction, Deps{Applies: &apply.Service{}}, []string{"POST /v1/syncs/{id}/cancel", "POST /v1/syncs/{id}/confirm"}, ""},
		{ProgressFunction, Deps{Syncs: st}, []string{"GET /v1/syncs/{id}/progress"}, ""},
		{ProgressFunction, all, []string{"GET /v1/syncs/{id}/progress"}, ""}, // more deps serve no more routes
		{DirectoryFunction, Deps{}, nil, "Deps.Directory"},
	}
	for _, tt := range tests {
		t.Run(string(tt.fn)+" "+tt.missing, func(t *testing.T) {
			h, err := New(tt.deps, Options{Logger: slog.New(slog.DiscardHandler)}, tt.fn)
			if tt.missing != "" {
				if !errors.Is(err, domain.ErrMissingDependency) || !strings.Contains(err.Error(), tt.missing) {
					t.Fatalf("New = %v, want ErrMissingDependency naming %s", err, tt.missing)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := h.Routes(); strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("routes = %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := New(all, Options{}); err == nil {
		t.Error("New without a function succeeded")
	}
	// A route another function serves is unknown here.
	h := mustNew(t, Deps{Syncs: st}, Options{Logger: slog.New(slog.DiscardHandler)}, ProgressFunction)
	for path, want := range map[string]int{"/v1/users": http.StatusNotFound, "/v1/syncs": http.StatusNotFound, "/v1/syncs/s1/progress": http.StatusMethodNotAllowed} {
		method := http.MethodGet
		if path == "/v1/syncs/s1/progress" {
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

package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"dirsync/internal/domain"
)

// The groups of the fake directory dirTenantGUID, in the fake's "Graph"
// order (not by name).
const (
	engID     = "0a000000-0000-4000-8000-000000000001"
	leadsID   = "0a000000-0000-4000-8000-000000000002"
	opsID     = "0a000000-0000-4000-8000-000000000003"
	unknownID = "0a000000-0000-4000-8000-0000000000ff"
)

func count(n int) *int { return &n }

// fakeEntraGroups is one Entra directory's groups (dirTenantGUID; other
// directories hold none). A prefix naming a failure fails that way.
type fakeEntraGroups struct {
	mu       sync.Mutex
	groups   []domain.DirectoryGroup
	searches []string // "<tenant> <prefix>"
	lookups  []string // "<tenant> <ids>"
	namesErr error
	// namesBlock makes GroupNames wait for its context to end.
	namesBlock bool
}

func newFakeEntraGroups() *fakeEntraGroups {
	f := &fakeEntraGroups{groups: []domain.DirectoryGroup{
		{ID: leadsID, DisplayName: "engineering leads"},
		{ID: engID, DisplayName: "Engineering", MemberCount: count(12)},
		{ID: opsID, DisplayName: "Eng Ops", MemberCount: count(0)},
		{ID: "0a000000-0000-4000-8000-000000000004", DisplayName: "Sales", MemberCount: count(3)},
	}}
	for i := range 30 {
		f.groups = append(f.groups, domain.DirectoryGroup{ID: fmt.Sprintf("0b000000-0000-4000-8000-%012d", i), DisplayName: fmt.Sprintf("Team %02d", 30-i)})
	}
	return f
}

func (f *fakeEntraGroups) SearchGroups(ctx context.Context, conn *domain.Connection, prefix string) ([]domain.DirectoryGroup, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.searches = append(f.searches, conn.TenantID+" "+prefix)
	switch prefix {
	case "throttled":
		return nil, domain.Errorf(domain.EUnavailable, "Microsoft Graph kept throttling the requests (HTTP 429 TooManyRequests); try again in a moment")
	case "badsecret":
		return nil, domain.Errorf(domain.EUnprocessable, "the client secret is wrong or has expired")
	case "boom":
		return nil, errors.New("entra: search groups: something at 10.0.0.9 broke")
	case "slow":
		<-ctx.Done()
		return nil, domain.Errorf(domain.EUnavailable, "Microsoft Graph did not answer in time")
	}
	var out []domain.DirectoryGroup
	if conn.DirectoryTenantID != dirTenantGUID {
		return out, nil
	}
	for _, g := range f.groups {
		if strings.HasPrefix(strings.ToLower(g.DisplayName), strings.ToLower(prefix)) && len(out) < 25 {
			out = append(out, g)
		}
	}
	return out, nil
}

func (f *fakeEntraGroups) GroupNames(ctx context.Context, conn *domain.Connection, ids []string) (map[string]string, error) {
	f.mu.Lock()
	f.lookups = append(f.lookups, conn.TenantID+" "+strings.Join(ids, ","))
	err, block := f.namesErr, f.namesBlock
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, g := range f.groups {
		if slices.Contains(ids, g.ID) && conn.DirectoryTenantID == dirTenantGUID {
			names[g.ID] = g.DisplayName
		}
	}
	return names, nil
}

func (f *fakeEntraGroups) calls() (searches, lookups []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.searches), slices.Clone(f.lookups)
}

func TestSearchEntraGroups(t *testing.T) {
	e := newEnv(t)
	search := func(raw string) string { return "/v1/connection/groups" + raw }

	r := e.do(t, &acmeAdmin, http.MethodGet, search("?q=eng"), "").mustStatus(t, http.StatusUnprocessableEntity)
	if r.errorCode() != domain.EUnprocessable || !strings.Contains(r.errorMessage(), "PUT /v1/connection") {
		t.Fatalf("without a connection: %s", r.Raw)
	}
	e.putConnection(t, acmeAdmin)

	type item struct {
		id, name string
		count    *int // nil: absent
	}
	tests := []struct {
		name   string
		raw    string
		status int
		code   string
		says   string
		items  []item  // checked when status is 200
		prefix *string // the prefix the directory was searched with
	}{
		{name: "ordered by name, case-insensitively", raw: "?q=eng", status: 200, items: []item{
			{opsID, "Eng Ops", count(0)}, {engID, "Engineering", count(12)}, {leadsID, "engineering leads", nil}}},
		{name: "trimmed", raw: "?q=%20%20Eng%20", status: 200, prefix: ptr("Eng"), items: []item{
			{opsID, "Eng Ops", count(0)}, {engID, "Engineering", count(12)}, {leadsID, "engineering leads", nil}}},
		{name: "no match", raw: "?q=zz", status: 200, items: []item{}},
		{name: "a quote goes through as is", raw: "?q=" + url.QueryEscape("O'Brien"), status: 200, prefix: ptr("O'Brien"), items: []item{}},
		{name: "120 characters", raw: "?q=" + url.QueryEscape(strings.Repeat("é", 120)), status: 200, items: []item{}},
		{name: "121 characters", raw: "?q=" + url.QueryEscape(strings.Repeat("é", 121)), status: 400, code: domain.EInvalid, says: "q: must be at most 120 characters"},
		{name: "missing", raw: "", status: 400, code: domain.EInvalid, says: "q: required"},
		{name: "empty", raw: "?q=", status: 400, code: domain.EInvalid, says: "q: required"},
		{name: "blank", raw: "?q=%20%09%20", status: 400, code: domain.EInvalid, says: "q: required"},
		{name: "twice", raw: "?q=a&q=b", status: 400, code: domain.EInvalid, says: `"q": given more than once`},
		{name: "unknown parameter", raw: "?q=a&top=5", status: 400, code: domain.EInvalid, says: `"top": unknown`},
		{name: "control character", raw: "?q=a%07b", status: 400, code: domain.EInvalid, says: "control characters"},
		{name: "not UTF-8", raw: "?q=a%ff", status: 400, code: domain.EInvalid, says: "UTF-8"},
		{name: "Graph throttling", raw: "?q=throttled", status: 503, code: domain.EUnavailable, says: "throttling"},
		{name: "bad secret", raw: "?q=badsecret", status: 422, code: domain.EUnprocessable, says: "client secret is wrong"},
		{name: "unexpected failure", raw: "?q=boom", status: 500, code: domain.EInternal, says: "request id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := e.groups.calls()
			r := e.do(t, &acmeAdmin, http.MethodGet, search(tt.raw), "").mustStatus(t, tt.status)
			after, _ := e.groups.calls()
			if tt.status != 200 {
				if r.errorCode() != tt.code || !strings.Contains(r.errorMessage(), tt.says) {
					t.Fatalf("error %s: %s, want %s saying %q", r.errorCode(), r.errorMessage(), tt.code, tt.says)
				}
				if strings.Contains(r.Raw, "10.0.0.9") {
					t.Fatalf("the answer reveals internals: %s", r.Raw)
				}
				if tt.status == 400 && len(after) != len(before) {
					t.Fatal("a refused query reached Graph")
				}
				return
			}
			got := r.items()
			if len(got) != len(tt.items) {
				t.Fatalf("%d items, want %d: %s", len(got), len(tt.items), r.Raw)
			}
			for i, w := range tt.items {
				g := got[i]
				mc, has := g["memberCount"]
				if g["id"] != w.id || g["displayName"] != w.name || has != (w.count != nil) || (has && mc != float64(*w.count)) {
					t.Errorf("item %d = %v, want %+v", i, g, w)
				}
			}
			if tt.prefix != nil && after[len(after)-1] != "acme "+*tt.prefix {
				t.Fatalf("searched %q, want prefix %q", after[len(after)-1], *tt.prefix)
			}
		})
	}

	t.Run("at most 25", func(t *testing.T) {
		got := e.do(t, &acmeAdmin, http.MethodGet, search("?q=team"), "").mustStatus(t, http.StatusOK).items()
		if len(got) != 25 {
			t.Fatalf("%d items, want 25", len(got))
		}
		var names []string
		for _, g := range got {
			names = append(names, g["displayName"].(string))
		}
		if !slices.IsSorted(names) {
			t.Fatalf("not ordered by name: %q", names)
		}
	})
	t.Run("a search out of time is unavailable", func(t *testing.T) {
		e.h.searchTimeout = 50 * time.Millisecond
		defer func() { e.h.searchTimeout = groupSearchTimeout }()
		e.do(t, &acmeAdmin, http.MethodGet, search("?q=slow"), "").mustStatus(t, http.StatusServiceUnavailable)
	})
	t.Run("another tenant without a connection sees no groups", func(t *testing.T) {
		before, _ := e.groups.calls()
		r := e.do(t, &otherAdmin, http.MethodGet, search("?q=eng"), "").mustStatus(t, http.StatusUnprocessableEntity)
		if after, _ := e.groups.calls(); len(after) != len(before) || strings.Contains(r.Raw, "Engineering") {
			t.Fatalf("another tenant reached acme's directory: %v %s", after, r.Raw)
		}
	})
	t.Run("admins only", func(t *testing.T) {
		e.do(t, &acmeUser, http.MethodGet, search("?q=eng"), "").mustStatus(t, http.StatusForbidden)
		e.do(t, nil, http.MethodGet, search("?q=eng"), "").mustStatus(t, http.StatusUnauthorized)
		e.do(t, &acmeAdmin, http.MethodPost, search("?q=eng"), "").mustStatus(t, http.StatusMethodNotAllowed)
	})
}

func ptr(s string) *string { return &s }

func TestConnectionNamesItsScopeGroups(t *testing.T) {
	e := newEnv(t)
	withScope := fmt.Sprintf(`{"directoryTenantId":%q,"clientId":%q,"clientSecret":%q,"options":{"scope":{"groups":[%q,%q,%q]}}}`,
		dirTenantGUID, clientGUID, testSecret, strings.ToUpper(engID), unknownID, opsID)
	scopeOf := func(r *response) (ids []any, named []string) {
		t.Helper()
		ids = r.Body["options"].(map[string]any)["scope"].(map[string]any)["groups"].([]any)
		for _, g := range r.Body["scopeGroups"].([]any) {
			m := g.(map[string]any)
			name, _ := m["displayName"].(string)
			if m["displayName"] == nil {
				name = "<null>"
			}
			named = append(named, m["id"].(string)+"="+name)
		}
		return ids, named
	}
	wantIDs := fmt.Sprint([]any{engID, unknownID, opsID})
	wantNamed := []string{engID + "=Engineering", unknownID + "=<null>", opsID + "=Eng Ops"}

	put := e.do(t, &acmeAdmin, http.MethodPut, "/v1/connection", withScope).mustStatus(t, http.StatusCreated)
	if ids, named := scopeOf(put); fmt.Sprint(ids) != wantIDs || !slices.Equal(named, wantNamed) {
		t.Fatalf("PUT answered scope %v named %v", ids, named)
	}
	get := e.do(t, &acmeAdmin, http.MethodGet, "/v1/connection", "").mustStatus(t, http.StatusOK)
	if ids, named := scopeOf(get); fmt.Sprint(ids) != wantIDs || !slices.Equal(named, wantNamed) {
		t.Fatalf("GET answered scope %v named %v", ids, named)
	}
	stored, err := e.store.GetConnection(context.Background(), "acme")
	if err != nil || fmt.Sprint(stored.Options.Scope.Groups) != fmt.Sprint([]string{engID, unknownID, opsID}) {
		t.Fatalf("stored scope = %v, %v: the options keep the ids only", stored.Options.Scope.Groups, err)
	}
	if _, lookups := e.groups.calls(); len(lookups) != 2 || lookups[1] != "acme "+engID+","+unknownID+","+opsID {
		t.Fatalf("lookups = %q, want one per view, of the tenant's ids", lookups)
	}

	allNull := []string{engID + "=<null>", unknownID + "=<null>", opsID + "=<null>"}
	t.Run("Graph failing leaves the names null", func(t *testing.T) {
		e.groups.mu.Lock()
		e.groups.namesErr = domain.Errorf(domain.EUnavailable, "Microsoft Graph failed (HTTP 503)")
		e.groups.mu.Unlock()
		defer func() { e.groups.mu.Lock(); e.groups.namesErr = nil; e.groups.mu.Unlock() }()
		r := e.do(t, &acmeAdmin, http.MethodGet, "/v1/connection", "").mustStatus(t, http.StatusOK)
		if _, named := scopeOf(r); !slices.Equal(named, allNull) {
			t.Fatalf("named %v", named)
		}
		var logged bool
		for _, l := range e.logs.lines(t) {
			if l["msg"] == "scope group names unavailable" && l["level"] == "WARN" && l["tenant_id"] == "acme" && strings.Contains(asString(l["error"]), "HTTP 503") {
				logged = true
			}
		}
		if !logged {
			t.Fatalf("the failure is not logged:\n%s", e.logs.String())
		}
	})
	t.Run("Graph too slow leaves the names null, in time", func(t *testing.T) {
		e.h.namesTimeout = 50 * time.Millisecond
		e.groups.mu.Lock()
		e.groups.namesBlock = true
		e.groups.mu.Unlock()
		defer func() {
			e.h.namesTimeout = scopeNamesTimeout
			e.groups.mu.Lock()
			e.groups.namesBlock = false
			e.groups.mu.Unlock()
		}()
		start := time.Now()
		r := e.do(t, &acmeAdmin, http.MethodGet, "/v1/connection", "").mustStatus(t, http.StatusOK)
		if _, named := scopeOf(r); !slices.Equal(named, allNull) || time.Since(start) > 2*time.Second {
			t.Fatalf("named %v after %v", named, time.Since(start))
		}
	})
	t.Run("no scope groups, no lookup", func(t *testing.T) {
		_, before := e.groups.calls()
		r := e.do(t, &acmeAdmin, http.MethodPut, "/v1/connection", validConnection).mustStatus(t, http.StatusOK)
		if sg := r.Body["scopeGroups"].([]any); len(sg) != 0 {
			t.Fatalf("scopeGroups = %v", sg)
		}
		e.do(t, &acmeAdmin, http.MethodGet, "/v1/connection", "").mustStatus(t, http.StatusOK)
		if _, after := e.groups.calls(); len(after) != len(before) {
			t.Fatalf("looked names up for no groups: %v", after[len(before):])
		}
	})
}

package entra

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"dirsync/internal/domain"
	"dirsync/local/fakeentra"
)

// Extra groups of the search tests: names with a quote, and more than a
// search answers starting alike.
const (
	obrienID = "ffffffff-0000-4000-8000-0000000000b1"
	teams    = MaxGroupMatches + 5
)

func teamID(i int) string { return fmt.Sprintf("ffffffff-0000-4000-8000-%012d", 1000+i) }

func searchTenant(t *fakeentra.Tenant) {
	t.Groups = append(t.Groups,
		fakeentra.Group{ID: obrienID, DisplayName: "O'Brien Fans", MemberUserIDs: []string{t.Users[0].ID, t.Users[1].ID}},
		fakeentra.Group{ID: "ffffffff-0000-4000-8000-0000000000b2", DisplayName: "O Brien lookalike"},
	)
	for i := range teams {
		t.Groups = append(t.Groups, fakeentra.Group{ID: teamID(i), DisplayName: fmt.Sprintf("Team %02d", teams-i)})
	}
}

// groupQueries are the $filter, $top and $select of each /groups request
// the fake served.
func (f *fixture) groupQueries(t *testing.T) []url.Values {
	t.Helper()
	var out []url.Values
	for _, r := range f.fake.Requests() {
		if r.Path == "/v1.0/groups" {
			q, err := url.ParseQuery(r.Query)
			if err != nil {
				t.Fatalf("query %q: %v", r.Query, err)
			}
			out = append(out, q)
		}
	}
	return out
}

// transitiveUsers counts a group's transitive user members in the
// expectation copy.
func transitiveUsers(tn *fakeentra.Tenant, id string) int {
	byID := map[string]*fakeentra.Group{}
	for i := range tn.Groups {
		byID[tn.Groups[i].ID] = &tn.Groups[i]
	}
	users, seen := map[string]bool{}, map[string]bool{id: true}
	queue := []string{id}
	for len(queue) > 0 {
		g := byID[queue[0]]
		queue = queue[1:]
		for _, u := range g.MemberUserIDs {
			users[u] = true
		}
		for _, n := range g.MemberGroupIDs {
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	return len(users)
}

func TestSearchGroups(t *testing.T) {
	f := newFixture(t, 120, 40, searchTenant)
	r := f.reader(t)
	ctx := context.Background()

	tests := []struct {
		prefix string
		names  []string // in any order
		filter string   // the $filter Graph must receive
	}{
		{"eng", []string{"Engineering"}, "startswith(displayName,'eng')"},
		{"All ", []string{"All Corporate Functions", "All Go-To-Market", "All Product & Engineering", "All Staff"}, "startswith(displayName,'All ')"},
		{"Research & D", []string{"Research & Development"}, "startswith(displayName,'Research & D')"},
		{"O'Brien", []string{"O'Brien Fans"}, "startswith(displayName,'O''Brien')"},
		{"'", nil, "startswith(displayName,'''')"},
		{"no such group", nil, "startswith(displayName,'no such group')"},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			f.fake.ResetRequests()
			found, err := r.SearchGroups(ctx, tt.prefix)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, g := range found {
				names = append(names, g.DisplayName)
				if g.MemberCount == nil || *g.MemberCount != transitiveUsers(f.want, g.ID) {
					t.Errorf("%s: member count %v, want %d", g.DisplayName, g.MemberCount, transitiveUsers(f.want, g.ID))
				}
			}
			slices.Sort(names)
			if !slices.Equal(names, tt.names) {
				t.Fatalf("found %q, want %q", names, tt.names)
			}
			queries := f.groupQueries(t)
			if len(queries) != 1 {
				t.Fatalf("%d /groups requests, want 1", len(queries))
			}
			q := queries[0]
			if q.Get("$filter") != tt.filter || q.Get("$top") != "25" || q.Get("$select") != "id,displayName" {
				t.Fatalf("Graph was asked %v", q)
			}
		})
	}

	t.Run("at most 25, counted once each", func(t *testing.T) {
		f.fake.ResetRequests()
		found, err := r.SearchGroups(ctx, "team")
		if err != nil {
			t.Fatal(err)
		}
		if len(found) != MaxGroupMatches {
			t.Fatalf("found %d groups, want %d", len(found), MaxGroupMatches)
		}
		counts := 0
		for _, req := range f.fake.Requests() {
			if strings.HasSuffix(req.Path, "/transitiveMembers/graph.user/$count") {
				counts++
			}
		}
		if counts != MaxGroupMatches {
			t.Fatalf("%d count requests, want one per group (%d)", counts, MaxGroupMatches)
		}
	})
}

func TestSearchGroupsWithoutACount(t *testing.T) {
	f := newFixture(t, 60, 30, searchTenant)
	r := f.reader(t)
	i := slices.IndexFunc(f.want.Groups, func(g fakeentra.Group) bool { return g.DisplayName == "Engineering" })
	if i < 0 {
		t.Fatal("no Engineering group")
	}
	engineering := f.want.Groups[i]
	tests := []struct {
		name  string
		fault fakeentra.Fault
	}{
		{"count fails", fakeentra.Fault{Kind: fakeentra.FaultStatus, Status: http.StatusInternalServerError}},
		{"count throttled past its retries", fakeentra.Fault{Kind: fakeentra.FaultStatus, Status: http.StatusTooManyRequests}},
		{"count not a number", fakeentra.Fault{Kind: fakeentra.FaultBody, Body: "lots"}},
		{"count late", fakeentra.Fault{Kind: fakeentra.FaultSlow, Delay: memberCountWait + 2*time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fault.PathPrefix = "/v1.0/groups/" + engineering.ID + "/transitiveMembers"
			defer f.fake.InjectFault(tt.fault)()
			found, err := r.SearchGroups(context.Background(), "e")
			if err != nil {
				t.Fatalf("a failed count failed the search: %v", err)
			}
			var seen bool
			for _, g := range found {
				switch {
				case g.ID == engineering.ID:
					seen = true
					if g.MemberCount != nil {
						t.Fatalf("Engineering counted %d despite the fault", *g.MemberCount)
					}
				case g.MemberCount == nil:
					t.Fatalf("%s lost its count to another group's fault", g.DisplayName)
				}
			}
			if !seen {
				t.Fatalf("Engineering not found: %+v", found)
			}
		})
	}
}

func TestSearchGroupsFailures(t *testing.T) {
	f := newFixture(t, 20, 10, nil)
	ctx := context.Background()
	tests := []struct {
		name   string
		adjust func(*Config)
		fault  *fakeentra.Fault
		want   error
		says   string
	}{
		{"wrong secret", func(c *Config) { c.ClientSecret = "not-the-secret" }, nil, ErrBadCredentials, "client secret"},
		{"unknown directory", func(c *Config) { c.DirectoryTenantID = "99999999-9999-4999-8999-999999999999" }, nil, ErrTenantNotFound, "directory (tenant) ID"},
		{"no group permission", func(c *Config) { c.ClientID, c.ClientSecret = noGroupsClientID, limitedSecret }, nil, ErrPermissionDenied, "Group.Read.All"},
		{"throttled", nil, &fakeentra.Fault{PathPrefix: "/v1.0/groups", Kind: fakeentra.FaultStatus, Status: http.StatusTooManyRequests}, ErrThrottled, "throttling"},
		{"Graph down", nil, &fakeentra.Fault{PathPrefix: "/v1.0/groups", Kind: fakeentra.FaultStatus, Status: http.StatusServiceUnavailable}, ErrUnavailable, "503"},
		{"not a page", nil, &fakeentra.Fault{PathPrefix: "/v1.0/groups", Kind: fakeentra.FaultBody, Body: `{"value":null}`}, ErrMalformedResponse, "value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fault != nil {
				defer f.fake.InjectFault(*tt.fault)()
			}
			var adjust []func(*Config)
			if tt.adjust != nil {
				adjust = append(adjust, tt.adjust)
			}
			_, err := f.reader(t, adjust...).SearchGroups(ctx, "a")
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("err = %v, want %v saying %q", err, tt.want, tt.says)
			}
		})
	}
}

func TestGroupNames(t *testing.T) {
	f := newFixture(t, 40, 40, searchTenant)
	r := f.reader(t)
	ctx := context.Background()
	unknown := "00000000-0000-4000-8000-00000000dead"

	t.Run("known and unknown ids", func(t *testing.T) {
		f.fake.ResetRequests()
		a, b := f.want.Groups[2], f.want.Groups[5]
		names, err := r.GroupNames(ctx, []string{strings.ToUpper(a.ID), unknown, b.ID, a.ID, obrienID})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{strings.ToLower(a.ID): a.DisplayName, strings.ToLower(b.ID): b.DisplayName, obrienID: "O'Brien Fans"}
		if fmt.Sprint(names) != fmt.Sprint(want) {
			t.Fatalf("names = %v, want %v (the unknown id left out)", names, want)
		}
		queries := f.groupQueries(t)
		if len(queries) != 1 || !strings.HasPrefix(queries[0].Get("$filter"), "id in ('") || queries[0].Get("$select") != "id,displayName" {
			t.Fatalf("Graph was asked %v, want one id in (...) request", queries)
		}
	})
	t.Run("15 ids per request", func(t *testing.T) {
		f.fake.ResetRequests()
		var ids []string
		for i := range teams {
			ids = append(ids, teamID(i))
		}
		names, err := r.GroupNames(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(names) != teams {
			t.Fatalf("%d names for %d groups", len(names), teams)
		}
		if n := len(f.groupQueries(t)); n != (teams+idsPerFilter-1)/idsPerFilter {
			t.Fatalf("%d requests for %d ids", n, teams)
		}
	})
	t.Run("no ids, no request", func(t *testing.T) {
		f.fake.ResetRequests()
		names, err := r.GroupNames(ctx, nil)
		if err != nil || len(names) != 0 || len(f.groupQueries(t)) != 0 {
			t.Fatalf("names %v, err %v, %d requests", names, err, len(f.groupQueries(t)))
		}
	})
	t.Run("Graph down fails the lookup", func(t *testing.T) {
		defer f.fake.InjectFault(fakeentra.Fault{PathPrefix: "/v1.0/groups", Kind: fakeentra.FaultStatus, Status: http.StatusServiceUnavailable})()
		if _, err := r.GroupNames(ctx, []string{obrienID}); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})
}

// TestGroupsService runs the search and the lookup as the connection
// function does: the secret from the store, errors in the API's terms.
func TestGroupsService(t *testing.T) {
	f := newFixture(t, 20, 10, searchTenant)
	base := f.config(t)
	base.ClientSecret = "" // must come from the secret store
	conn := &domain.Connection{TenantID: "acme", DirectoryTenantID: testTenantID, ClientID: testClientID, Cloud: domain.CloudGlobal}
	service := func(secrets mapSecrets) *Groups {
		return &Groups{Secrets: secrets, Configure: func(c *domain.Connection, secret string) Config { return ConfigFor(c, secret, base) }}
	}
	ctx := context.Background()

	found, err := service(mapSecrets{"acme": testSecret}).SearchGroups(ctx, conn, "O'B")
	if err != nil || len(found) != 1 || found[0].ID != obrienID || found[0].MemberCount == nil || *found[0].MemberCount != 2 {
		t.Fatalf("search = %+v, %v", found, err)
	}
	names, err := service(mapSecrets{"acme": testSecret}).GroupNames(ctx, conn, []string{obrienID})
	if err != nil || names[obrienID] != "O'Brien Fans" {
		t.Fatalf("names = %v, %v", names, err)
	}

	tests := []struct {
		name    string
		secrets mapSecrets
		fault   *fakeentra.Fault
		code    string
		says    string
	}{
		{"wrong secret", mapSecrets{"acme": "not-the-secret-at-all"}, nil, domain.EUnprocessable, "client secret is wrong"},
		{"no secret stored", mapSecrets{}, nil, domain.EUnprocessable, "no client secret is stored"},
		{"throttled", mapSecrets{"acme": testSecret}, &fakeentra.Fault{PathPrefix: "/v1.0/groups", Kind: fakeentra.FaultStatus, Status: http.StatusTooManyRequests}, domain.EUnavailable, "try again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fault != nil {
				defer f.fake.InjectFault(*tt.fault)()
			}
			for what, call := range map[string]func() error{
				"search": func() error { _, err := service(tt.secrets).SearchGroups(ctx, conn, "a"); return err },
				"names":  func() error { _, err := service(tt.secrets).GroupNames(ctx, conn, []string{obrienID}); return err },
			} {
				err := call()
				if domain.ErrorCode(err) != tt.code || !strings.Contains(domain.ErrorMessage(err), tt.says) {
					t.Errorf("%s: %v, want %s saying %q", what, err, tt.code, tt.says)
				}
			}
		})
	}
}

func TestRequestError(t *testing.T) {
	tests := []struct {
		err  error
		code string
	}{
		{fmt.Errorf("entra: search groups: %w", &readError{Kind: ErrBadCredentials, Message: "the client secret is wrong"}), domain.EUnprocessable},
		{fmt.Errorf("entra: search groups: %w", &readError{Kind: ErrTenantNotFound, Message: "x"}), domain.EUnprocessable},
		{fmt.Errorf("entra: search groups: %w", &readError{Kind: ErrTokenExpired, Message: "x"}), domain.EUnprocessable},
		{fmt.Errorf("entra: search groups: %w", &readError{Kind: ErrPermissionDenied, Message: "x"}), domain.EUnprocessable},
		{fmt.Errorf("entra: search groups: %w", &readError{Kind: ErrThrottled, Message: "x"}), domain.EUnavailable},
		{fmt.Errorf("entra: search groups: %w", &readError{Kind: ErrUnavailable, Message: "x"}), domain.EUnavailable},
		{fmt.Errorf("entra: search groups: %w", malformed("not a page")), domain.EUnavailable},
		{fmt.Errorf("entra: search groups: %w", context.DeadlineExceeded), domain.EUnavailable},
		{fmt.Errorf("entra: search groups: %w", &readError{Status: 400, Message: "Graph refused the request"}), domain.EInternal},
		{context.Canceled, domain.EInternal},
	}
	for _, tt := range tests {
		got := RequestError(tt.err)
		if domain.ErrorCode(got) != tt.code {
			t.Errorf("RequestError(%v) = %v, want code %s", tt.err, got, tt.code)
		}
		if tt.code == domain.EUnprocessable && domain.ErrorMessage(got) != "the client secret is wrong" && domain.ErrorMessage(got) != "x" {
			t.Errorf("RequestError(%v) says %q, not the check's message", tt.err, domain.ErrorMessage(got))
		}
	}
}

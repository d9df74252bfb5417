package entra

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"dirsync/internal/domain"
	"dirsync/local/fakeentra"
)

// The tests in this file hold the reader to "complete read or nothing": a
// page Graph answered wrongly, a paging loop, a nextLink off the Graph
// host, a read short of Graph's own count and a missing scope group all
// fail the read, and no snapshot comes back.

// A paged tenant is small enough to read quickly in pages of pageSize, yet
// users, groups and All Staff's members span at least three pages each.
const (
	pagedUsers  = 300
	pagedGroups = 60
	pageSize    = 25
)

func withPageSize(n int) func(*Config) { return func(c *Config) { c.PageSize = n } }

// readWithin reads with a deadline, so a reader caught in a paging loop
// fails the test instead of hanging it.
func readWithin(t *testing.T, r *Reader, opts domain.Options) (*domain.Snapshot, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return r.Read(ctx, opts)
}

func groupByName(t *testing.T, tn *fakeentra.Tenant, name string) string {
	t.Helper()
	for _, g := range tn.Groups {
		if g.DisplayName == name {
			return g.ID
		}
	}
	t.Fatalf("the generated tenant has no group %q", name)
	return ""
}

func wantErrorText(t *testing.T, err error, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func TestReadRefusesMalformedPages(t *testing.T) {
	f := newFixture(t, pagedUsers, pagedGroups, nil)
	staff := groupByName(t, f.want, "All Staff")
	graph := f.fake.URL()
	host := strings.TrimPrefix(graph, "https://")

	// A collection is where the fault goes and how the error names it.
	type collection struct {
		name   string
		prefix string
		query  string // narrows the fault to one partition
		what   string
		opts   domain.Options
		adjust func(*Config)
	}
	// Pages of 10 give the largest partition ('j') several pages, and the
	// tenant 30: with 32 partitions at once too few to count and split
	// them, so 'j' is read as it is. Pages of 5 (60, 16 at once) split
	// 'j', and 'ja' has three pages of its own.
	partitioned := func(c *Config) { c.PageSize, c.UserPartitionConcurrency = 10, 32 }
	collections := []collection{
		{"users partition", "/v1.0/users", "startswith(userPrincipalName,'j')", "read users starting with 'j' page", domain.Options{}, partitioned},
		{"users sub-partition", "/v1.0/users", "startswith(userPrincipalName,'ja')", "read users starting with 'ja' page", domain.Options{}, withPageSize(5)},
		{"users sequentially", "/v1.0/users", "", "read users page", domain.Options{}, func(c *Config) { c.PageSize = pageSize; sequentialUsers(c) }},
		{"groups delta", "/v1.0/groups/delta", "", "read groups delta page", domain.Options{}, withPageSize(pageSize)},
		{"groups delta of a scoped read", "/v1.0/groups/delta", "", "read groups delta page", domain.Options{Scope: domain.Scope{Groups: []string{staff}}}, withPageSize(pageSize)},
	}
	const shape = `not a JSON object with a "value" array`
	modes := []struct {
		name  string
		fault fakeentra.Fault
		page  int    // the page that fails; 2 unless said
		text  string // what the error says about it
	}{
		{name: "200 with an empty body", fault: fakeentra.Fault{Kind: fakeentra.FaultEmptyBody}, text: shape},
		{name: "204", fault: fakeentra.Fault{Kind: fakeentra.FaultNoContent}, text: "HTTP 204"},
		{name: "null", fault: fakeentra.Fault{Kind: fakeentra.FaultBody, Body: "null"}, text: shape},
		{name: "empty object", fault: fakeentra.Fault{Kind: fakeentra.FaultBody, Body: "{}"}, text: shape},
		{name: "no value", fault: fakeentra.Fault{Kind: fakeentra.FaultNoValue}, text: shape},
		{name: "value null", fault: fakeentra.Fault{Kind: fakeentra.FaultBody, Body: `{"value":null}`}, text: `"value" is null`},
		{name: "value an object", fault: fakeentra.Fault{Kind: fakeentra.FaultBody, Body: `{"value":{"id":"x"}}`}, text: shape},
		{name: "an array", fault: fakeentra.Fault{Kind: fakeentra.FaultBody, Body: `[{"id":"x"}]`}, text: shape},
		{name: "truncated", fault: fakeentra.Fault{Kind: fakeentra.FaultTruncated}, text: shape},
		{name: "not JSON", fault: fakeentra.Fault{Kind: fakeentra.FaultBody, Body: "<html>Bad gateway</html>"}, text: shape},
		{
			// Page 3 points back at page 2, whose link page 1 gave.
			name: "nextLink back at an earlier page", page: 3,
			fault: fakeentra.Fault{Kind: fakeentra.FaultRepeatNextLink}, text: "already followed",
		},
		{name: "nextLink on another host", fault: fakeentra.Fault{Kind: fakeentra.FaultForeignNextLink}, text: "outside " + graph},
		{
			name:  "nextLink with the Graph host as userinfo",
			fault: fakeentra.Fault{Kind: fakeentra.FaultForeignNextLink, NextLinkBase: graph + "@evil.example"}, text: "outside " + graph,
		},
		{
			name:  "nextLink on plain http",
			fault: fakeentra.Fault{Kind: fakeentra.FaultForeignNextLink, NextLinkBase: "http://" + host}, text: "outside " + graph,
		},
	}
	for _, c := range collections {
		for _, m := range modes {
			t.Run(c.name+"/"+m.name, func(t *testing.T) {
				page := m.page
				if page == 0 {
					page = 2
				}
				fault := m.fault
				fault.PathPrefix, fault.Page, fault.Query = c.prefix, page, c.query
				defer f.fake.InjectFault(fault)()

				snap, err := readWithin(t, f.reader(t, c.adjust), c.opts)
				if snap != nil {
					t.Fatalf("Read returned a snapshot of %d users and %d groups", len(snap.Users), len(snap.Groups))
				}
				if !errors.Is(err, ErrMalformedResponse) {
					t.Fatalf("Read error = %v, want ErrMalformedResponse", err)
				}
				wantErrorText(t, err, c.what+" "+strconv.Itoa(page)+":", m.text)
				if got := SyncError(err).Code; got != domain.SyncErrSourceRead {
					t.Errorf("SyncError code %q, want %q", got, domain.SyncErrSourceRead)
				}
			})
		}
	}
}

func TestReadRefusesAShortRead(t *testing.T) {
	f := newFixture(t, pagedUsers, pagedGroups, nil)
	staff := groupByName(t, f.want, "All Staff")
	scope := domain.Options{Scope: domain.Scope{Groups: []string{staff}}}
	const size = 10
	tests := []struct {
		name   string
		prefix string
		opts   domain.Options
		want   string
	}{
		// Every partition and then the sequential listing are cut short.
		{"users", "/v1.0/users", domain.Options{}, "read 20 of the 300 users Graph counts"},
		// The delta round ends early, whatever the scope.
		{"groups", "/v1.0/groups/delta", domain.Options{}, "read 20 of the 60 groups Graph counts"},
		{"groups of a scoped read", "/v1.0/groups/delta", scope, "read 20 of the 60 groups Graph counts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Page 2 ends the listing although more pages follow: every
			// page is well formed, only the count can tell.
			defer f.fake.InjectFault(fakeentra.Fault{PathPrefix: tc.prefix, Page: 2, Kind: fakeentra.FaultDropNextLink})()
			snap, err := readWithin(t, f.reader(t, withPageSize(size)), tc.opts)
			if snap != nil {
				t.Fatalf("Read returned a snapshot of %d users and %d groups", len(snap.Users), len(snap.Groups))
			}
			if !errors.Is(err, ErrSourceIncomplete) {
				t.Fatalf("Read error = %v, want ErrSourceIncomplete", err)
			}
			wantErrorText(t, err, tc.want)
			if got := SyncError(err).Code; got != domain.SyncErrSourceIncomplete {
				t.Errorf("SyncError code %q, want %q", got, domain.SyncErrSourceIncomplete)
			}
		})
	}
}

func TestReadCountTolerance(t *testing.T) {
	f := newFixture(t, pagedUsers, pagedGroups, nil)
	staff := groupByName(t, f.want, "All Staff")
	staffSize := len(expectedMembers(f.want, staff))
	scope := domain.Options{Scope: domain.Scope{Groups: []string{staff}}}
	tests := []struct {
		name   string
		prefix string
		skew   int
		opts   domain.Options
		want   string // "" when the read passes
	}{
		{name: "users: 5 short is within the tolerance", prefix: "/v1.0/users/$count", skew: 5},
		{name: "users: 6 short is not", prefix: "/v1.0/users/$count", skew: 6, want: "read 300 of the 306 users Graph counts"},
		{name: "users: more than the count", prefix: "/v1.0/users/$count", skew: -100},
		{name: "groups: 5 short", prefix: "/v1.0/groups/$count", skew: 5},
		{name: "groups: 6 short", prefix: "/v1.0/groups/$count", skew: 6, want: "read 60 of the 66 groups Graph counts"},
		{name: "members: 5 short", prefix: "/v1.0/groups/" + staff, skew: 5, opts: scope},
		{
			name: "members: 6 short", prefix: "/v1.0/groups/" + staff, skew: 6, opts: scope,
			want: "read " + strconv.Itoa(staffSize) + " of the " + strconv.Itoa(staffSize+6) + " transitive user members of group " + staff,
		},
		{name: "members are not counted when every group is read", prefix: "/v1.0/groups/" + staff, skew: 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer f.fake.InjectFault(fakeentra.Fault{PathPrefix: tc.prefix, Kind: fakeentra.FaultCountSkew, CountSkew: tc.skew})()
			f.fake.ResetRequests()
			snap, err := readWithin(t, f.reader(t), tc.opts)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Read: %v", err)
				}
				if len(snap.Users) != pagedUsers {
					t.Errorf("read %d users, want %d", len(snap.Users), pagedUsers)
				}
				return
			}
			if snap != nil || !errors.Is(err, ErrSourceIncomplete) {
				t.Fatalf("Read = %v, %v; want ErrSourceIncomplete", snap, err)
			}
			wantErrorText(t, err, tc.want)
		})
	}
}

// TestReadCountsOncePerCollection pins the cost of the count check: one
// $count for users, one for groups when every group is read, and one per
// scope group, never one per group.
func TestReadCountsOncePerCollection(t *testing.T) {
	f := newFixture(t, pagedUsers, pagedGroups, nil)
	g := f.want.Groups
	tests := []struct {
		name string
		opts domain.Options
		want map[string]int
	}{
		{"all groups", domain.Options{}, map[string]int{"/v1.0/users/$count": 1, "/v1.0/groups/$count": 1}},
		{"scope groups", domain.Options{Scope: domain.Scope{Groups: []string{g[3].ID, g[7].ID, g[3].ID}}}, map[string]int{
			"/v1.0/users/$count":  1,
			"/v1.0/groups/$count": 1,
			"/v1.0/groups/" + g[3].ID + "/transitiveMembers/graph.user/$count": 1,
			"/v1.0/groups/" + g[7].ID + "/transitiveMembers/graph.user/$count": 1,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.fake.ResetRequests()
			if _, err := readWithin(t, f.reader(t), tc.opts); err != nil {
				t.Fatalf("Read: %v", err)
			}
			got := map[string]int{}
			for _, req := range f.fake.Requests() {
				if strings.HasSuffix(req.Path, "/$count") {
					got[req.Path]++
					if req.Status != http.StatusOK {
						t.Errorf("%s answered %d", req.Path, req.Status)
					}
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("count requests %v, want %v", got, tc.want)
			}
			for path, n := range tc.want {
				if got[path] != n {
					t.Errorf("%s asked %d times, want %d (all: %v)", path, got[path], n, got)
				}
			}
		})
	}
}

func TestReadFailsWhenTheCountFails(t *testing.T) {
	f := newFixture(t, pagedUsers, pagedGroups, nil)
	tests := []struct {
		name    string
		fault   fakeentra.Fault
		wantErr error
		text    []string
	}{
		{
			name:    "503 until the retries run out",
			fault:   fakeentra.Fault{Kind: fakeentra.FaultStatus, Status: http.StatusServiceUnavailable},
			wantErr: ErrUnavailable, text: []string{"count users", "after 6 attempts", "HTTP 503"},
		},
		{
			name:    "not an integer",
			fault:   fakeentra.Fault{Kind: fakeentra.FaultBody, Body: "many"},
			wantErr: ErrMalformedResponse, text: []string{"count users", `"many"`},
		},
		{
			name:    "a negative number",
			fault:   fakeentra.Fault{Kind: fakeentra.FaultBody, Body: "-3"},
			wantErr: ErrMalformedResponse, text: []string{"count users", `"-3"`},
		},
		{
			name:    "empty",
			fault:   fakeentra.Fault{Kind: fakeentra.FaultEmptyBody},
			wantErr: ErrMalformedResponse, text: []string{"count users"},
		},
		{
			name:    "204",
			fault:   fakeentra.Fault{Kind: fakeentra.FaultNoContent},
			wantErr: ErrMalformedResponse, text: []string{"count users", "HTTP 204"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fault := tc.fault
			fault.PathPrefix = "/v1.0/users/$count"
			defer f.fake.InjectFault(fault)()
			snap, err := readWithin(t, f.reader(t), domain.Options{})
			if snap != nil || !errors.Is(err, tc.wantErr) {
				t.Fatalf("Read = %v, %v; want %v", snap, err, tc.wantErr)
			}
			wantErrorText(t, err, tc.text...)
		})
	}

	t.Run("retried like a page", func(t *testing.T) {
		defer f.fake.InjectFault(fakeentra.Fault{PathPrefix: "/v1.0/groups/$count", Kind: fakeentra.FaultStatus, Status: http.StatusTooManyRequests, Times: 2})()
		f.fake.ResetRequests()
		if _, err := readWithin(t, f.reader(t), domain.Options{}); err != nil {
			t.Fatalf("Read: %v", err)
		}
		if total, byStatus := f.requests("/v1.0/groups/$count", 0); total != 3 || byStatus[http.StatusOK] != 1 {
			t.Errorf("groups count requested %d times %v, want two 429s then a 200", total, byStatus)
		}
	})
}

func TestReadScopeGroupNotFound(t *testing.T) {
	f := newFixture(t, pagedUsers, pagedGroups, nil)
	g := f.want.Groups
	missing := "deadbeef-0000-4000-8000-000000000000"
	other := "deadbeef-0000-4000-8000-000000000001"
	tests := []struct {
		name        string
		scope       []string
		wantMissing []string
	}{
		{"one of several", []string{g[5].ID, missing, g[0].ID}, []string{missing}},
		{"the only one", []string{missing}, []string{missing}},
		{"every missing one is named, in scope order", []string{other, g[2].ID, missing, other}, []string{other, missing}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap, err := readWithin(t, f.reader(t), domain.Options{Scope: domain.Scope{Groups: tc.scope}})
			if snap != nil || !errors.Is(err, ErrScopeGroupNotFound) {
				t.Fatalf("Read = %v, %v; want ErrScopeGroupNotFound", snap, err)
			}
			wantErrorText(t, err, tc.wantMissing...)
			if strings.Count(err.Error(), tc.wantMissing[0]) != 1 {
				t.Errorf("error %q names %s more than once", err, tc.wantMissing[0])
			}
			se := SyncError(err)
			if se.Code != domain.SyncErrOptions || !strings.Contains(se.Message, tc.wantMissing[0]) {
				t.Errorf("SyncError = %+v, want %s naming %s", se, domain.SyncErrOptions, tc.wantMissing[0])
			}
		})
	}
}

// TestReadRefusesAMalformedGroupRound holds the groups delta round to what
// its pages must carry beyond a page's shape.
func TestReadRefusesAMalformedGroupRound(t *testing.T) {
	f := newFixture(t, pagedUsers, pagedGroups, nil)
	graph := f.fake.URL()
	tests := []struct {
		name string
		body string
		text string
	}{
		{"a group without an id", `{"value":[{"displayName":"x"}],"@odata.deltaLink":"` + graph + `/v1.0/groups/delta()?$deltatoken=x"}`, "group without an id"},
		{"a member without an id", `{"value":[{"id":"g","members@delta":[{"@odata.type":"#microsoft.graph.user"}]}],"@odata.deltaLink":"` + graph + `/v1.0/groups/delta()?$deltatoken=x"}`, "member of group g without an id"},
		{"a member without a type", `{"value":[{"id":"g","members@delta":[{"id":"u"}]}],"@odata.deltaLink":"` + graph + `/v1.0/groups/delta()?$deltatoken=x"}`, "without an @odata.type"},
		{"no deltaLink at the end", `{"value":[]}`, "without an @odata.deltaLink"},
		{"a deltaLink on another host", `{"value":[],"@odata.deltaLink":"https://graph.evil.example/v1.0/groups/delta()?$deltatoken=x"}`, "@odata.deltaLink outside " + graph},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer f.fake.InjectFault(fakeentra.Fault{PathPrefix: "/v1.0/groups/delta", Kind: fakeentra.FaultBody, Body: tc.body})()
			snap, err := readWithin(t, f.reader(t), domain.Options{})
			if snap != nil || !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("Read = %v, %v; want ErrMalformedResponse", snap, err)
			}
			wantErrorText(t, err, "groups delta", tc.text)
		})
	}
}

package entra

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"dirsync/internal/domain"
	"dirsync/local/fakeentra"
	"dirsync/local/graphfloor"
)

// handmadeTenant is a tenant of the given users (UPN local parts) and
// groups, served under the test app.
func handmadeTenant(locals []string, groups []fakeentra.Group) *fakeentra.Tenant {
	tn := &fakeentra.Tenant{
		ID: testTenantID, Domain: testDomain,
		Apps:   []fakeentra.App{{ClientID: testClientID, Secret: testSecret, Roles: []string{"Directory.Read.All"}}},
		Groups: groups,
	}
	for i, local := range locals {
		tn.Users = append(tn.Users, fakeentra.User{
			ID:                fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1),
			DisplayName:       local,
			UserPrincipalName: local + "@" + testDomain,
			AccountEnabled:    true, UserType: "Member",
		})
	}
	return tn
}

// everyInitial is a UPN local part starting with each character a UPN may
// start with (A-Z a-z 0-9 ' . - _ ! # ^ ~), letters in both cases.
func everyInitial() []string {
	var locals []string
	for _, c := range strings.Split("abcdefghijklmnopqrstuvwxyz0123456789'.-_!#^~", "") {
		locals = append(locals, c+"x"+fmt.Sprint(len(locals)))
		if up := strings.ToUpper(c); up != c {
			locals = append(locals, up+"y"+fmt.Sprint(len(locals)))
		}
	}
	return locals
}

// unfilteredUserPages counts the requests for users without a filter: the
// sequential read the partitioned one falls back to.
func unfilteredUserPages(f *fixture) int {
	n := 0
	for _, r := range f.fake.Requests() {
		if r.Path == "/v1.0/users" && !strings.Contains(r.Query, "filter") {
			n++
		}
	}
	return n
}

func TestReadUserPartitions(t *testing.T) {
	every := everyInitial()
	// Six UPNs no partition lists: one more than the count's tolerance.
	outside := append(slices.Clone(every), "$a", "$b", "$c", "$d", "$e", "$f")
	tests := []struct {
		name  string
		users []string
		// fault, when set, is injected for the read; userOf names the user
		// (by position) whose id a fault body repeats.
		fault        func(tn *fakeentra.Tenant) fakeentra.Fault
		wantFallback bool
	}{
		{name: "every initial in either case", users: every},
		{name: "UPNs outside the partitions", users: outside, wantFallback: true},
		{
			name: "a count the partitions fall short of", users: every, wantFallback: true,
			fault: func(*fakeentra.Tenant) fakeentra.Fault {
				return fakeentra.Fault{PathPrefix: "/v1.0/users/$count", Kind: fakeentra.FaultCountSkew, CountSkew: 6, Times: 1}
			},
		},
		{
			// Partition 'b' answers with a user of partition 'a' beside its
			// own: the same id in two partitions.
			name: "a user in two partitions", users: every, wantFallback: true,
			fault: func(tn *fakeentra.Tenant) fakeentra.Fault {
				var value []map[string]any
				for _, u := range tn.Users {
					if l := strings.ToLower(u.UserPrincipalName); strings.HasPrefix(l, "a") || strings.HasPrefix(l, "b") {
						value = append(value, map[string]any{"id": u.ID, "userPrincipalName": u.UserPrincipalName, "accountEnabled": true})
					}
				}
				body, _ := json.Marshal(map[string]any{"value": value})
				return fakeentra.Fault{PathPrefix: "/v1.0/users", Query: "startswith(userPrincipalName,'b')", Kind: fakeentra.FaultBody, Body: string(body), Times: 1}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn := handmadeTenant(tc.users, nil)
			f := startFake(t, handmadeTenant(tc.users, nil))
			if tc.fault != nil {
				defer f.fake.InjectFault(tc.fault(tn))()
			}
			snap, err := readWithin(t, f.reader(t), domain.Options{})
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			var got, want []string
			for _, u := range snap.Users {
				got = append(got, u.UserPrincipalName)
			}
			for _, u := range tn.Users {
				want = append(want, u.UserPrincipalName)
			}
			slices.Sort(want)
			if slices.Sort(got); !slices.Equal(got, want) {
				t.Errorf("read %d users %q, want the %d %q", len(got), got, len(want), want)
			}
			if !slices.IsSortedFunc(snap.Users, func(a, b domain.SourceUser) int { return strings.Compare(a.ID, b.ID) }) {
				t.Error("users are not sorted by id")
			}
			filtered, _ := f.requests("/v1.0/users", 0)
			if filtered -= unfilteredUserPages(f); filtered != len(upnInitials) {
				t.Errorf("%d partition requests, want one for each of the %d partitions", filtered, len(upnInitials))
			}
			if fellBack := unfilteredUserPages(f) > 0; fellBack != tc.wantFallback {
				t.Errorf("fell back to the sequential read: %v, want %v", fellBack, tc.wantFallback)
			}
		})
	}
}

// nestedGroups nest three deep, in a cycle, in themselves, and one is
// larger than a delta page.
func nestedGroups(users []fakeentra.User) []fakeentra.Group {
	id := func(i int) string { return users[i].ID }
	all := make([]string, len(users))
	for i := range users {
		all[i] = id(i)
	}
	return []fakeentra.Group{
		{ID: "a0000000-0000-4000-8000-000000000001", DisplayName: "Top", MemberUserIDs: []string{id(0)}, MemberGroupIDs: []string{"a0000000-0000-4000-8000-000000000002"}},
		{ID: "a0000000-0000-4000-8000-000000000002", DisplayName: "Middle", MemberUserIDs: []string{id(1)}, MemberGroupIDs: []string{"a0000000-0000-4000-8000-000000000003"}},
		{ID: "a0000000-0000-4000-8000-000000000003", DisplayName: "Bottom", MemberUserIDs: []string{id(2), id(0)}},
		{ID: "a0000000-0000-4000-8000-000000000004", DisplayName: "Cycle A", MemberUserIDs: []string{id(3)}, MemberGroupIDs: []string{"a0000000-0000-4000-8000-000000000005"}},
		{ID: "a0000000-0000-4000-8000-000000000005", DisplayName: "Cycle B", MemberUserIDs: []string{id(4)}, MemberGroupIDs: []string{"a0000000-0000-4000-8000-000000000004", "a0000000-0000-4000-8000-000000000003"}},
		{ID: "a0000000-0000-4000-8000-000000000006", DisplayName: "Self", MemberUserIDs: []string{id(5)}, MemberGroupIDs: []string{"a0000000-0000-4000-8000-000000000006"}},
		{ID: "a0000000-0000-4000-8000-000000000007", DisplayName: "Everyone", MemberUserIDs: all},
	}
}

func TestReadGroupsFromDelta(t *testing.T) {
	locals := []string{"ana", "bo", "cy", "di", "ed", "flo", "gus", "hal", "ivy"}
	users := handmadeTenant(locals, nil).Users
	groups := nestedGroups(users)
	u := func(is ...int) []string {
		var ids []string
		for _, i := range is {
			ids = append(ids, users[i].ID)
		}
		slices.Sort(ids)
		return ids
	}
	closures := map[string][]string{
		"Top": u(0, 1, 2), "Middle": u(1, 2, 0), "Bottom": u(0, 2),
		"Cycle A": u(3, 4, 2, 0), "Cycle B": u(4, 3, 2, 0), "Self": u(5),
		"Everyone": u(0, 1, 2, 3, 4, 5, 6, 7, 8),
	}
	tests := []struct {
		name       string
		perPage    int // member references a delta page carries
		scope      []string
		wantGroups []string // in order
	}{
		{name: "every group", perPage: 1000, wantGroups: []string{"Top", "Middle", "Bottom", "Cycle A", "Cycle B", "Self", "Everyone"}},
		{name: "members over several delta pages", perPage: 2, wantGroups: []string{"Top", "Middle", "Bottom", "Cycle A", "Cycle B", "Self", "Everyone"}},
		{name: "scope groups through the closure", perPage: 2, scope: []string{groups[4].ID, groups[0].ID, groups[4].ID}, wantGroups: []string{"Cycle B", "Top"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, handmadeTenant(locals, nestedGroups(users)), fakeentra.WithDeltaMembersPerPage(tc.perPage))
			snap, err := readWithin(t, f.reader(t), domain.Options{Scope: domain.Scope{Groups: tc.scope}})
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			var names []string
			for _, g := range snap.Groups {
				names = append(names, g.DisplayName)
				if want := closures[g.DisplayName]; !slices.Equal(g.MemberIDs, want) {
					t.Errorf("%s: members %v, want %v", g.DisplayName, g.MemberIDs, want)
				}
			}
			slices.Sort(names)
			want := slices.Clone(tc.wantGroups)
			if len(tc.scope) == 0 {
				slices.Sort(want)
			} else {
				names = nil
				for _, g := range snap.Groups {
					names = append(names, g.DisplayName)
				}
			}
			if !slices.Equal(names, want) {
				t.Errorf("groups %v, want %v", names, want)
			}
			if rounds, _ := f.requests("/v1.0/groups/delta()", 0); tc.perPage < 9 && rounds < 5 {
				t.Errorf("the round took %d pages; the large group should span several", rounds)
			}
		})
	}
}

// changingTransport changes a user's name while the first users partition
// is being requested, once.
type changingTransport struct {
	base   http.RoundTripper
	once   sync.Once
	change func()
}

func (c *changingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path == "/v1.0/users" {
		c.once.Do(c.change)
	}
	return c.base.RoundTrip(req)
}

func TestReadReturnsDeltaLinks(t *testing.T) {
	locals := []string{"ana", "bo", "cy", "di", "ed", "flo"}
	tn := handmadeTenant(locals, nil)
	f := startFake(t, handmadeTenant(locals, nestedGroups(tn.Users)))
	renamed := tn.Users[1].ID
	r := f.reader(t, func(c *Config) {
		c.Transport = &changingTransport{base: c.Transport, change: func() {
			_ = f.fake.Update(testTenantID, func(t *fakeentra.Tenant) {
				for i := range t.Users {
					if t.Users[i].ID == renamed {
						t.Users[i].DisplayName = "Renamed during the read"
					}
				}
			})
		}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := r.ReadMirror(ctx, domain.Options{})
	if err != nil {
		t.Fatalf("ReadMirror: %v", err)
	}
	links := m.DeltaLinks
	for name, link := range map[string]string{"users": links.Users, "groups": links.Groups} {
		if !strings.HasPrefix(link, f.fake.URL()+"/v1.0/"+name+"/delta()?") || !strings.Contains(link, "$deltatoken=") {
			t.Errorf("%s deltaLink %q", name, link)
		}
	}
	if !strings.Contains(links.Users, "$select=id,userPrincipalName,") || !strings.Contains(links.Groups, "members") {
		t.Errorf("deltaLinks %+v do not keep the read's selection", links)
	}

	// The users link was taken before the users were read: the change
	// made during the read is in its next round.
	token := bearer(t, f)
	var page struct {
		Value []struct {
			ID          string `json:"id"`
			DisplayName string `json:"displayName"`
		} `json:"value"`
	}
	getJSON(t, f, token, links.Users, &page)
	if len(page.Value) != 1 || page.Value[0].ID != renamed || page.Value[0].DisplayName != "Renamed during the read" {
		t.Errorf("next users round %+v, want the user renamed during the read", page.Value)
	}
}

// bearer gets an access token for the test app from the fake.
func bearer(t *testing.T, f *fixture) string {
	t.Helper()
	form := "grant_type=client_credentials&client_id=" + testClientID + "&client_secret=" + testSecret + "&scope=" + f.fake.URL() + "/.default"
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, f.fake.URL()+"/"+testTenantID+"/oauth2/v2.0/token", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := graphfloor.DoJSON(f.fake.HTTPClient(), req, &tok); err != nil {
		t.Fatalf("token: %v", err)
	}
	return tok.AccessToken
}

func getJSON(t *testing.T, f *fixture, token, link string, v any) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, link, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if err := graphfloor.DoJSON(f.fake.HTTPClient(), req, v); err != nil {
		t.Fatalf("GET %s: %v", link, err)
	}
}

// The floor the benchmarks measure the reader against sends the reader's
// partitions: the two lists must stay the same.
func TestFloorPartitionsAreTheReaders(t *testing.T) {
	if !slices.Equal(graphfloor.UPNInitials, upnInitials) || graphfloor.PartitionConcurrency != DefaultUserPartitionConcurrency ||
		graphfloor.PageSize != DefaultPageSize {
		t.Fatalf("local/graphfloor partitions %v (%d at a time, pages of %d); the reader's %v (%d, %d)",
			graphfloor.UPNInitials, graphfloor.PartitionConcurrency, graphfloor.PageSize, upnInitials, DefaultUserPartitionConcurrency, DefaultPageSize)
	}
}

// largeInitial is a tenant of locals where 'j' holds most users: a 'j'
// followed by each character a local part may contain, in either case,
// and "j" alone (j@domain, a one-character local part), beside one user
// per initial (everyInitial).
func largeInitial() []string {
	locals := everyInitial()
	chars := strings.Split("abcdefghijklmnopqrstuvwxyz0123456789'.-_!#^~", "")
	for i := range 150 {
		c := chars[i%len(chars)]
		if i%3 == 1 {
			c = strings.ToUpper(c)
		}
		locals = append(locals, "j"+c+fmt.Sprint(i))
	}
	return append(locals, "j")
}

// partitionFilters lists the userPrincipalName prefixes of the fake's
// requests to path filtered by partition (first pages only), sorted.
func partitionFilters(f *fixture, path string) []string {
	var out []string
	for _, r := range f.fake.Requests() {
		q, _ := url.ParseQuery(r.Query)
		filter := q.Get("$filter")
		if r.Path != path || r.Page != 1 || filter == "" {
			continue
		}
		lit := strings.TrimSuffix(strings.TrimPrefix(filter, "startswith(userPrincipalName,'"), "')")
		out = append(out, strings.ReplaceAll(lit, "''", "'"))
	}
	slices.Sort(out)
	return out
}

// TestReadSplitPartitions reads a tenant whose 'j' holds most users in
// pages of 5: 44 pages, more than the 16 partitions read at once, so the
// reader counts each initial and reads 'j' in sub-partitions by its
// second character. The users are those of a sequential read, unless the
// sub-partitions miss some, when the reader falls back to it.
func TestReadSplitPartitions(t *testing.T) {
	const pageSize = 5
	sixOutside := append(largeInitial(), "j$1", "j$2", "j$3", "j$4", "j$5", "j$6")
	tests := []struct {
		name  string
		users []string
		fault func(tn *fakeentra.Tenant) fakeentra.Fault
		// wantSplit: 'j' is read in sub-partitions (else as it is).
		wantSplit, wantFallback bool
	}{
		{name: "one initial holding most users", users: largeInitial(), wantSplit: true},
		{
			// Six users (one more than the count's tolerance) whose second
			// character no sub-partition lists, as 'j' as a whole would.
			name: "second characters outside the sub-partitions", users: sixOutside,
			wantSplit: true, wantFallback: true,
		},
		{
			name: "a user in two sub-partitions", users: largeInitial(), wantSplit: true, wantFallback: true,
			fault: func(tn *fakeentra.Tenant) fakeentra.Fault {
				var value []map[string]any
				for _, u := range tn.Users {
					if strings.HasPrefix(strings.ToLower(u.UserPrincipalName), "ja") {
						value = append(value, map[string]any{"id": u.ID, "userPrincipalName": u.UserPrincipalName, "accountEnabled": true})
					}
				}
				body, _ := json.Marshal(map[string]any{"value": value})
				return fakeentra.Fault{PathPrefix: "/v1.0/users", Query: "startswith(userPrincipalName,'jb')", Kind: fakeentra.FaultBody, Body: string(body), Times: 1}
			},
		},
		{
			// The counts only shape the read: a count far below the
			// partition leaves it whole, and the read is still complete.
			name: "a partition count that trails its partition", users: largeInitial(),
			fault: func(*fakeentra.Tenant) fakeentra.Fault {
				return fakeentra.Fault{PathPrefix: "/v1.0/users/$count", Query: "startswith(userPrincipalName,'j')", Kind: fakeentra.FaultCountSkew, CountSkew: -1000}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn := handmadeTenant(tc.users, nil)
			f := startFake(t, handmadeTenant(tc.users, nil))
			sequential, err := readWithin(t, f.reader(t, withPageSize(pageSize), sequentialUsers), domain.Options{})
			if err != nil {
				t.Fatalf("sequential Read: %v", err)
			}
			if len(sequential.Users) != len(tn.Users) {
				t.Fatalf("the sequential read has %d users, want %d", len(sequential.Users), len(tn.Users))
			}
			if tc.fault != nil {
				defer f.fake.InjectFault(tc.fault(tn))()
			}
			f.fake.ResetRequests()
			snap, err := readWithin(t, f.reader(t, withPageSize(pageSize)), domain.Options{})
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if !reflect.DeepEqual(snap.Users, sequential.Users) {
				t.Errorf("read %d users, not the %d of the sequential read", len(snap.Users), len(sequential.Users))
			}
			if fellBack := unfilteredUserPages(f) > 0; fellBack != tc.wantFallback {
				t.Errorf("fell back to the sequential read: %v, want %v", fellBack, tc.wantFallback)
			}

			// One users $count, then one of each initial.
			counts := partitionFilters(f, "/v1.0/users/$count")
			if total, _ := f.requests("/v1.0/users/$count", 0); total-len(counts) != 1+btoi(tc.wantFallback) || !slices.Equal(counts, sorted(upnInitials)) {
				t.Errorf("%d users counts, by initial %q; want one, and one of each initial", total-len(counts), counts)
			}
			want := slices.DeleteFunc(slices.Clone(upnInitials), func(c string) bool { return tc.wantSplit && c == "j" })
			if tc.wantSplit {
				want = append(want, domain.SubPartitions("j")...)
			}
			if got := partitionFilters(f, "/v1.0/users"); !slices.Equal(got, sorted(want)) {
				t.Errorf("partitions read %q, want %q", got, sorted(want))
			}
		})
	}

	t.Run("a one-character local part", func(t *testing.T) {
		// "j@" lists j@domain, and only it: not jane@ nor j.doe@.
		f := startFake(t, handmadeTenant(append(largeInitial(), "jane", "j.doe"), nil))
		r := f.reader(t, withPageSize(pageSize))
		got, err := r.readUserList(context.Background(), mustPlan(t), "users starting with 'j@'", userPartitionFilter("j@"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].UserPrincipalName != "j@"+testDomain {
			t.Errorf("partition j@ lists %+v, want j@%s alone", got, testDomain)
		}
		f.fake.ResetRequests()
		snap, err := readWithin(t, r, domain.Options{})
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if !slices.ContainsFunc(snap.Users, func(u domain.SourceUser) bool { return u.UserPrincipalName == "j@"+testDomain }) {
			t.Error("the read lacks j@")
		}
		if !slices.Contains(partitionFilters(f, "/v1.0/users"), "j@") || unfilteredUserPages(f) > 0 {
			t.Errorf("partitions read %q, fell back: %v; want j@ among them and no fallback", partitionFilters(f, "/v1.0/users"), unfilteredUserPages(f) > 0)
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func mustPlan(t *testing.T) *userPlan {
	t.Helper()
	plan, err := newUserPlan(domain.UserProperties(domain.DefaultMapping()))
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// TestFloorSendsTheReadersRequests holds local/graphfloor to the reader's
// requests, the counts and split partitions of a large tenant included.
func TestFloorSendsTheReadersRequests(t *testing.T) {
	tests := []struct {
		name     string
		users    []string
		pageSize int
	}{
		{name: "initials as they are", users: everyInitial(), pageSize: DefaultPageSize},
		{name: "counted and split", users: largeInitial(), pageSize: 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, handmadeTenant(tc.users, nil))
			if _, err := readWithin(t, f.reader(t, withPageSize(tc.pageSize)), domain.Options{}); err != nil {
				t.Fatalf("Read: %v", err)
			}
			reader := graphRequests(f.fake.Requests())
			f.fake.ResetRequests()
			query := graphfloor.UserQuery(domain.DefaultMapping())
			query.Set("$top", fmt.Sprint(tc.pageSize))
			src := graphfloor.Source{BaseURL: f.fake.URL(), DirectoryTenantID: testTenantID, ClientID: testClientID, ClientSecret: testSecret}
			st, err := graphfloor.Read(context.Background(), f.fake.HTTPClient(), src, query)
			if err != nil {
				t.Fatalf("graphfloor.Read: %v", err)
			}
			floor := graphRequests(f.fake.Requests())
			if !slices.Equal(reader, floor) {
				t.Errorf("the floor sent %d requests, the reader %d:\nonly the reader: %q\nonly the floor: %q",
					len(floor), len(reader), without(reader, floor), without(floor, reader))
			}
			if st.Requests != len(floor) || st.Users != len(tc.users) {
				t.Errorf("floor stats %+v; it sent %d requests for %d users", st, len(floor), len(tc.users))
			}
		})
	}
}

// graphRequests lists the Graph requests as path and sorted, decoded
// query, sorted, so requests made concurrently compare in any order.
func graphRequests(reqs []fakeentra.Request) []string {
	var out []string
	for _, r := range reqs {
		if !strings.HasPrefix(r.Path, "/v1.0/") {
			continue
		}
		q, _ := url.ParseQuery(r.Query)
		var params []string
		for k, vs := range q {
			for _, v := range vs {
				params = append(params, k+"="+v)
			}
		}
		slices.Sort(params)
		out = append(out, r.Method+" "+r.Path+"?"+strings.Join(params, "&"))
	}
	slices.Sort(out)
	return out
}

// without lists the entries of a (sorted) missing from b (sorted), each
// entry counted.
func without(a, b []string) []string {
	var out []string
	for _, s := range a {
		if i, ok := slices.BinarySearch(b, s); ok {
			b = slices.Delete(slices.Clone(b), i, i+1)
			continue
		}
		out = append(out, s)
	}
	return out
}

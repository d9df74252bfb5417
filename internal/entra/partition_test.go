package entra

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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

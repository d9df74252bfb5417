package fakeentra

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// upnTenant holds users whose userPrincipalNames start with characters of
// either case, digits and the symbols a UPN allows.
func upnTenant() *Tenant {
	tn := &Tenant{
		ID: testTenantID, Domain: testDomain,
		Apps: []App{{ClientID: testClientID, Secret: testSecret, Roles: []string{"Directory.Read.All"}}},
	}
	for i, local := range []string{"anna", "Bob", "ANDY", "zoë", "7seas", "o'neil", "'quote", "_svc", "~tilde", "#hash", "b2"} {
		tn.Users = append(tn.Users, User{
			ID:                objectIDString(7, idKindUser, i),
			UserPrincipalName: local + "@" + testDomain, AccountEnabled: true, UserType: "Member",
		})
	}
	return tn
}

func usersPath(filter string, more ...string) string {
	q := url.Values{"$filter": {filter}}
	for i := 0; i+1 < len(more); i += 2 {
		q.Set(more[i], more[i+1])
	}
	return "/v1.0/users?" + q.Encode()
}

func TestUserFilter(t *testing.T) {
	s := startServer(t)
	tn := upnTenant()
	s.AddTenant(tn)
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	upns := func(pages []page) []string {
		var out []string
		for _, p := range pages {
			for _, v := range p.Value {
				out = append(out, strings.TrimSuffix(v["userPrincipalName"].(string), "@"+testDomain))
			}
		}
		slices.Sort(out)
		return out
	}

	tests := []struct {
		filter string
		want   []string
	}{
		{"startswith(userPrincipalName,'a')", []string{"ANDY", "anna"}},
		{"startswith(userPrincipalName,'B')", []string{"Bob", "b2"}},
		{"startsWith(UserPrincipalName, 'z')", []string{"zoë"}},
		{"startswith(userPrincipalName,'''')", []string{"'quote"}},
		{"startswith(userPrincipalName,'o''n')", []string{"o'neil"}},
		{"startswith(userPrincipalName,'#')", []string{"#hash"}},
		{"startswith(userPrincipalName,'7')", []string{"7seas"}},
		{"startswith(userPrincipalName,'q')", nil},
	}
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			if got := upns(getAll(t, s, tok, usersPath(tc.filter, "$select", "id,userPrincipalName"))); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}

	t.Run("nextLinks keep the filter", func(t *testing.T) {
		pages := getAll(t, s, tok, usersPath("startswith(userPrincipalName,'a')", "$top", "1"))
		if len(pages) != 2 {
			t.Fatalf("%d pages, want 2", len(pages))
		}
		if got := upns(pages); !slices.Equal(got, []string{"ANDY", "anna"}) {
			t.Errorf("got %q", got)
		}
	})

	t.Run("other filters are refused", func(t *testing.T) {
		for _, filter := range []string{"startswith(displayName,'a')", "userPrincipalName eq 'a'", "startswith(userPrincipalName,'a"} {
			status, _, body := get(t, s, tok, usersPath(filter))
			if status != http.StatusBadRequest || odataErrorCode(t, body) != "Request_UnsupportedQuery" {
				t.Errorf("%s: status %d %s", filter, status, body)
			}
		}
	})

	t.Run("charged as a GET users", func(t *testing.T) {
		s.SetGraphModel(GraphModel{Throttle: true})
		defer s.SetGraphModel(GraphModel{})
		before := s.GraphStats()
		getPage(t, s, tok, usersPath("startswith(userPrincipalName,'a')", "$select", "id"))
		after := s.GraphStats()
		if got := after.ResourceUnits - before.ResourceUnits; got != 1 {
			t.Errorf("debited %d units, want 1 (users 2, less 1 for $select)", got)
		}
	})

	t.Run("a filtered $count counts what the listing lists", func(t *testing.T) {
		for _, tc := range tests {
			if got := count(t, s, tok, "/v1.0/users/$count?"+url.Values{"$filter": {tc.filter}}.Encode()); got != len(tc.want) {
				t.Errorf("%s: $count %d, want %d", tc.filter, got, len(tc.want))
			}
		}
		if got := count(t, s, tok, "/v1.0/users/$count"); got != len(tn.Users) {
			t.Errorf("unfiltered $count %d, want %d", got, len(tn.Users))
		}
		for _, tc := range []struct {
			filter  string
			headers map[string]string
			code    string
		}{
			{"startswith(userPrincipalName,'a')", nil, "Request_BadRequest"},
			{"startswith(displayName,'a')", eventual, "Request_UnsupportedQuery"},
			{"userPrincipalName eq 'a'", eventual, "Request_UnsupportedQuery"},
		} {
			status, _, body := getHeaders(t, s, tok, "/v1.0/users/$count?"+url.Values{"$filter": {tc.filter}}.Encode(), tc.headers)
			if status != http.StatusBadRequest || odataErrorCode(t, body) != tc.code {
				t.Errorf("%s (headers %v): status %d %s, want 400 %s", tc.filter, tc.headers, status, body, tc.code)
			}
		}
		status, _, body := getHeaders(t, s, tok, "/v1.0/groups/$count?"+url.Values{"$filter": {"startswith(displayName,'a')"}}.Encode(), eventual)
		if status != http.StatusBadRequest || odataErrorCode(t, body) != "Request_UnsupportedQuery" {
			t.Errorf("a filtered groups $count: status %d %s, want 400 (the fake filters only the users count)", status, body)
		}
	})

	t.Run("a filtered $count is charged and timed as a $count", func(t *testing.T) {
		const fixed = 20 * time.Millisecond
		s.SetGraphModel(GraphModel{Throttle: true, Fixed: fixed, PerItem: 10 * time.Millisecond})
		defer s.SetGraphModel(GraphModel{})
		before := s.GraphStats()
		start := time.Now()
		count(t, s, tok, "/v1.0/users/$count?"+url.Values{"$filter": {"startswith(userPrincipalName,'a')"}}.Encode())
		elapsed := time.Since(start)
		got := s.GraphStats().Sub(before)
		if got.ResourceUnits != 1 || got.Requests != 1 || got.Items != 0 || got.ByKind[KindCount].Requests != 1 {
			t.Errorf("stats %+v, want 1 request of kind %s, 1 unit, no items", got, KindCount)
		}
		if elapsed < fixed {
			t.Errorf("answered after %v, want at least the fixed %v", elapsed, fixed)
		}
	})

	t.Run("a fault can target one partition", func(t *testing.T) {
		defer s.InjectFault(Fault{PathPrefix: "/v1.0/users", Query: "startswith(userPrincipalName,'b')", Kind: FaultStatus, Status: http.StatusServiceUnavailable})()
		if status, _, _ := get(t, s, tok, usersPath("startswith(userPrincipalName,'a')")); status != http.StatusOK {
			t.Errorf("partition a answered %d", status)
		}
		if status, _, _ := get(t, s, tok, usersPath("startswith(userPrincipalName,'b')")); status != http.StatusServiceUnavailable {
			t.Errorf("partition b answered %d, want the fault's 503", status)
		}
	})
}

// TestGroupDeltaSplitsLargeGroups holds the fake to Graph's way with large
// groups in a delta round: a group with more direct members than a page
// carries comes back on several pages, each time with the next part.
func TestGroupDeltaSplitsLargeGroups(t *testing.T) {
	s := startServer(t, WithDeltaMembersPerPage(3))
	tn := Generate(Spec{TenantID: testTenantID, Domain: testDomain, Seed: 42, Users: 40, Groups: 30, ClientID: testClientID, Secret: testSecret})
	s.AddTenant(tn)
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)

	entries, _ := deltaRound(t, s, tok, "/v1.0/groups/delta()?$select=id,displayName,members&$top=999")
	got := map[string][]string{}
	pieces := map[string]int{}
	for _, e := range entries {
		id := e["id"].(string)
		pieces[id]++
		members, ok := e["members@delta"].([]any)
		if !ok || len(members) > 3 {
			t.Fatalf("group %s: members@delta %v, want at most 3", id, e["members@delta"])
		}
		for _, m := range members {
			got[id] = append(got[id], m.(map[string]any)["id"].(string))
		}
	}
	split := 0
	for _, g := range tn.Groups {
		want := append(slices.Clone(g.MemberUserIDs), g.MemberGroupIDs...)
		slices.Sort(want)
		have := slices.Clone(got[g.ID])
		slices.Sort(have)
		if !slices.Equal(have, want) {
			t.Errorf("group %s: members %v, want %v", g.DisplayName, have, want)
		}
		if wantPieces := max(1, (len(want)+2)/3); pieces[g.ID] != wantPieces {
			t.Errorf("group %s came %d times, want %d", g.DisplayName, pieces[g.ID], wantPieces)
		}
		if pieces[g.ID] > 1 {
			split++
		}
	}
	if split == 0 {
		t.Fatal("no group was split; the test tenant is too small")
	}

	t.Run("a page carries at most the members of a page", func(t *testing.T) {
		for next := "/v1.0/groups/delta()?$select=id,members&$top=999"; next != ""; {
			p := getPage(t, s, tok, next)
			refs := 0
			for _, e := range p.Value {
				refs += len(e["members@delta"].([]any))
			}
			if refs > 3 && len(p.Value) > 1 {
				t.Errorf("a page of %d groups carries %d members", len(p.Value), refs)
			}
			next = p.NextLink
		}
	})
}

func TestDeltaPageFaults(t *testing.T) {
	s, _ := generatedServer(t, 50)
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	const round = "/v1.0/users/delta()?$select=id&$top=10"
	second := getPage(t, s, tok, round).NextLink

	t.Run("page numbers follow the round", func(t *testing.T) {
		s.ResetRequests()
		deltaRound(t, s, tok, round)
		var pages []int
		for _, r := range s.Requests() {
			pages = append(pages, r.Page)
		}
		if !slices.Equal(pages, []int{1, 2, 3, 4, 5}) {
			t.Errorf("pages %v", pages)
		}
	})
	t.Run("no value", func(t *testing.T) {
		defer s.InjectFault(Fault{PathPrefix: "/v1.0/users/delta", Page: 2, Kind: FaultNoValue})()
		_, _, body := get(t, s, tok, second)
		if _, ok := rawPage(t, body)["value"]; ok {
			t.Errorf("page 2 has a value: %s", body)
		}
	})
	t.Run("a dropped nextLink ends the round early", func(t *testing.T) {
		defer s.InjectFault(Fault{PathPrefix: "/v1.0/users/delta", Page: 2, Kind: FaultDropNextLink})()
		entries, _ := deltaRound(t, s, tok, round)
		if len(entries) != 20 {
			t.Errorf("round of %d users, want the 20 of two pages", len(entries))
		}
	})
	t.Run("a repeated nextLink is the page's own", func(t *testing.T) {
		defer s.InjectFault(Fault{PathPrefix: "/v1.0/users/delta", Page: 2, Kind: FaultRepeatNextLink})()
		if p := getPage(t, s, tok, second); p.NextLink != second {
			t.Errorf("nextLink %q, want %q", p.NextLink, second)
		}
	})
	t.Run("a foreign nextLink", func(t *testing.T) {
		defer s.InjectFault(Fault{PathPrefix: "/v1.0/users/delta", Page: 2, Kind: FaultForeignNextLink})()
		if p := getPage(t, s, tok, second); !strings.HasPrefix(p.NextLink, DefaultForeignNextLinkBase+"/v1.0/users/delta()?") {
			t.Errorf("nextLink %q", p.NextLink)
		}
	})
}

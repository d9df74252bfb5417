package fakeentra

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

const (
	usersRound  = "/v1.0/users/delta()?$select=displayName,accountEnabled&$top=999"
	groupsRound = "/v1.0/groups/delta()?$select=displayName,members&$top=999"
)

// userEntries summarises a users delta round: "id name=... enabled=..."
// for a listed user, "id @removed reason" for a removed one, sorted.
func userEntries(t *testing.T, entries []map[string]any) []string {
	t.Helper()
	out := []string{}
	for _, e := range entries {
		if s, ok := removedEntry(t, e); ok {
			out = append(out, s)
			continue
		}
		out = append(out, fmt.Sprintf("%v name=%v enabled=%v", e["id"], e["displayName"], e["accountEnabled"]))
	}
	slices.Sort(out)
	return out
}

// groupEntries summarises a groups delta round: "id name=... members=[+u1
// -g:g2]" for a listed group (rows of one group split over pages merged in
// order; + added, - removed, g: a group member), "id @removed reason" for a
// removed one, sorted.
func groupEntries(t *testing.T, entries []map[string]any) []string {
	t.Helper()
	var order []string
	names := map[string]any{}
	members := map[string][]string{}
	out := []string{}
	for _, e := range entries {
		if s, ok := removedEntry(t, e); ok {
			out = append(out, s)
			continue
		}
		id := e["id"].(string)
		if _, seen := names[id]; !seen {
			order = append(order, id)
		}
		names[id] = e["displayName"]
		list, ok := e["members@delta"].([]any)
		if !ok {
			t.Fatalf("group %s has no members@delta: %v", id, e)
		}
		for _, m := range list {
			m := m.(map[string]any)
			ref := m["id"].(string)
			switch m["@odata.type"] {
			case "#microsoft.graph.group":
				ref = "g:" + ref
			case "#microsoft.graph.user":
			default:
				t.Fatalf("member %v of %s: @odata.type %v", m["id"], id, m["@odata.type"])
			}
			sign := "+"
			if removed, ok := m["@removed"].(map[string]any); ok {
				if removed["reason"] != "deleted" || len(m) != 3 {
					t.Errorf("removed member %v of %s, want @odata.type, id and @removed reason deleted", m, id)
				}
				sign = "-"
			} else if len(m) != 2 {
				t.Errorf("added member %v of %s, want @odata.type and id", m, id)
			}
			members[id] = append(members[id], sign+ref)
		}
	}
	for _, id := range order {
		out = append(out, fmt.Sprintf("%s name=%v members=[%s]", id, names[id], strings.Join(members[id], " ")))
	}
	slices.Sort(out)
	return out
}

// removedEntry summarises an @removed entry, which must carry nothing but
// the id and the annotation.
func removedEntry(t *testing.T, e map[string]any) (string, bool) {
	t.Helper()
	removed, ok := e["@removed"].(map[string]any)
	if !ok {
		return "", false
	}
	if len(e) != 2 {
		t.Errorf("removed entry %v, want id and @removed only", e)
	}
	return fmt.Sprintf("%v @removed %v", e["id"], removed["reason"]), true
}

func setMembers(t *Tenant, groupID string, fn func(g *Group)) {
	for i := range t.Groups {
		if t.Groups[i].ID == groupID {
			fn(&t.Groups[i])
			return
		}
	}
	panic("no group " + groupID)
}

func mustUpdate(t *testing.T, s *Server, fn func(*Tenant)) {
	t.Helper()
	if err := s.Update(testTenantID, fn); err != nil {
		t.Fatal(err)
	}
}

// TestIncrementalDelta holds each kind of change between two rounds to
// what the next incremental users and groups rounds report.
func TestIncrementalDelta(t *testing.T) {
	softDelete := func(id string) func(*Tenant) { return func(t *Tenant) { t.SoftDeleteUser(id) } }
	tests := []struct {
		name       string
		before     func(*Tenant) // applied before the initial rounds
		changes    []func(*Tenant)
		wantUsers  []string
		wantGroups []string
	}{
		{name: "nothing changed"},
		{
			name: "user added",
			changes: []func(*Tenant){func(t *Tenant) {
				t.Users = append(t.Users, User{ID: "u7", DisplayName: "gus", AccountEnabled: true, UserType: "Member"})
			}},
			wantUsers: []string{"u7 name=gus enabled=true"},
		},
		{
			name:      "user updated",
			changes:   []func(*Tenant){func(t *Tenant) { t.Users[1].DisplayName = "Bob" }},
			wantUsers: []string{"u2 name=Bob enabled=true"},
		},
		{
			name:      "user disabled",
			changes:   []func(*Tenant){func(t *Tenant) { t.Users[2].AccountEnabled = false }},
			wantUsers: []string{"u3 name=cy enabled=false"},
		},
		{
			name:       "user soft-deleted",
			changes:    []func(*Tenant){softDelete("u2")},
			wantUsers:  []string{"u2 @removed changed"},
			wantGroups: []string{"g-middle name=Middle members=[-u2]"},
		},
		{
			name:       "user restored",
			before:     softDelete("u2"),
			changes:    []func(*Tenant){func(t *Tenant) { t.RestoreUser("u2") }},
			wantUsers:  []string{"u2 name=bo enabled=true"},
			wantGroups: []string{"g-middle name=Middle members=[+u2]"},
		},
		{
			name:       "user permanently deleted",
			changes:    []func(*Tenant){func(t *Tenant) { t.DeleteUserPermanently("u2") }},
			wantUsers:  []string{"u2 @removed deleted"},
			wantGroups: []string{"g-middle name=Middle members=[-u2]"},
		},
		{
			name:      "soft-deleted user purged",
			before:    softDelete("u2"),
			changes:   []func(*Tenant){func(t *Tenant) { t.DeleteUserPermanently("u2") }},
			wantUsers: []string{"u2 @removed deleted"},
		},
		{
			name:      "user soft-deleted then purged between rounds",
			changes:   []func(*Tenant){softDelete("u2"), func(t *Tenant) { t.DeleteUserPermanently("u2") }},
			wantUsers: []string{"u2 @removed deleted"},
			// Its membership went with the soft delete.
			wantGroups: []string{"g-middle name=Middle members=[-u2]"},
		},
		{
			name:       "user soft-deleted and restored between rounds",
			changes:    []func(*Tenant){softDelete("u2"), func(t *Tenant) { t.RestoreUser("u2") }},
			wantUsers:  []string{"u2 name=bo enabled=true"},
			wantGroups: nil,
		},
		{
			name: "group added",
			changes: []func(*Tenant){func(t *Tenant) {
				t.Groups = append(t.Groups, Group{ID: "g-new", DisplayName: "New", MemberUserIDs: []string{"u1"}, MemberGroupIDs: []string{"g-top"}})
			}},
			wantGroups: []string{"g-new name=New members=[+g:g-top +u1]"},
		},
		{
			name:       "group renamed",
			changes:    []func(*Tenant){func(t *Tenant) { setMembers(t, "g-top", func(g *Group) { g.DisplayName = "Summit" }) }},
			wantGroups: []string{"g-top name=Summit members=[]"},
		},
		{
			name:    "group removed",
			changes: []func(*Tenant){func(t *Tenant) { t.DeleteGroupPermanently("g-bottom") }},
			wantGroups: []string{
				"g-bottom @removed deleted",
				"g-cycle-b name=Cycle B members=[-g:g-bottom]",
				"g-middle name=Middle members=[-g:g-bottom]",
			},
		},
		{
			name:       "group soft-deleted",
			changes:    []func(*Tenant){func(t *Tenant) { t.SoftDeleteGroup("g-self") }},
			wantGroups: []string{"g-self @removed changed"},
		},
		{
			name:    "group restored",
			before:  func(t *Tenant) { t.SoftDeleteGroup("g-bottom") },
			changes: []func(*Tenant){func(t *Tenant) { t.RestoreGroup("g-bottom") }},
			wantGroups: []string{
				"g-bottom name=Bottom members=[+u1 +u3]",
				"g-cycle-b name=Cycle B members=[+g:g-bottom]",
				"g-middle name=Middle members=[+g:g-bottom]",
			},
		},
		{
			name: "member added",
			changes: []func(*Tenant){func(t *Tenant) {
				setMembers(t, "g-bottom", func(g *Group) { g.MemberUserIDs = append(g.MemberUserIDs, "u6") })
			}},
			wantGroups: []string{"g-bottom name=Bottom members=[+u6]"},
		},
		{
			name: "member removed",
			changes: []func(*Tenant){func(t *Tenant) {
				setMembers(t, "g-bottom", func(g *Group) {
					g.MemberUserIDs = slices.DeleteFunc(g.MemberUserIDs, func(id string) bool { return id == "u3" })
				})
			}},
			wantGroups: []string{"g-bottom name=Bottom members=[-u3]"},
		},
		{
			name: "nested group added",
			changes: []func(*Tenant){func(t *Tenant) {
				setMembers(t, "g-cycle-a", func(g *Group) { g.MemberGroupIDs = append(g.MemberGroupIDs, "g-self") })
			}},
			wantGroups: []string{"g-cycle-a name=Cycle A members=[+g:g-self]"},
		},
		{
			name:       "nested group removed",
			changes:    []func(*Tenant){func(t *Tenant) { setMembers(t, "g-top", func(g *Group) { g.MemberGroupIDs = nil }) }},
			wantGroups: []string{"g-top name=Top members=[-g:g-middle]"},
		},
		{
			name: "member added then removed",
			changes: []func(*Tenant){
				func(t *Tenant) {
					setMembers(t, "g-top", func(g *Group) { g.MemberUserIDs = append(g.MemberUserIDs, "u6") })
				},
				func(t *Tenant) { setMembers(t, "g-top", func(g *Group) { g.MemberUserIDs = []string{"u1"} }) },
			},
		},
		{
			name: "member removed then added back",
			changes: []func(*Tenant){
				func(t *Tenant) { setMembers(t, "g-top", func(g *Group) { g.MemberUserIDs = nil }) },
				func(t *Tenant) { setMembers(t, "g-top", func(g *Group) { g.MemberUserIDs = []string{"u1"} }) },
			},
		},
		{
			name: "members moved between groups",
			changes: []func(*Tenant){func(t *Tenant) {
				setMembers(t, "g-top", func(g *Group) { g.MemberUserIDs = []string{"u2"} })
				setMembers(t, "g-middle", func(g *Group) { g.MemberUserIDs = []string{"u1"} })
			}},
			wantGroups: []string{"g-middle name=Middle members=[+u1 -u2]", "g-top name=Top members=[-u1 +u2]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t)
			s.AddTenant(nestedTenant())
			tok := mustToken(t, s, testTenantID, testClientID, testSecret)
			if tt.before != nil {
				mustUpdate(t, s, tt.before)
			}
			_, usersLink := deltaRound(t, s, tok, usersRound)
			_, groupsLink := deltaRound(t, s, tok, groupsRound)
			for _, change := range tt.changes {
				mustUpdate(t, s, change)
			}
			users, nextUsersLink := deltaRound(t, s, tok, usersLink)
			if got, want := userEntries(t, users), append([]string{}, tt.wantUsers...); !slices.Equal(got, want) {
				t.Errorf("users round\n got %q\nwant %q", got, want)
			}
			groups, nextGroupsLink := deltaRound(t, s, tok, groupsLink)
			if got, want := groupEntries(t, groups), append([]string{}, tt.wantGroups...); !slices.Equal(got, want) {
				t.Errorf("groups round\n got %q\nwant %q", got, want)
			}
			// Caught up: the following rounds are empty.
			if users, _ := deltaRound(t, s, tok, nextUsersLink); len(users) != 0 {
				t.Errorf("users round after catching up: %v", users)
			}
			if groups, _ := deltaRound(t, s, tok, nextGroupsLink); len(groups) != 0 {
				t.Errorf("groups round after catching up: %v", groups)
			}
		})
	}
}

// TestGroupDeltaSplitsLargeMemberDiff holds a large group's membership
// changes to the page split of an initial round: no page carries more
// member references than the server's figure, and the parts, merged,
// are exactly the changes.
func TestGroupDeltaSplitsLargeMemberDiff(t *testing.T) {
	s := startServer(t, WithDeltaMembersPerPage(3))
	s.AddTenant(nestedTenant())
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	_, link := deltaRound(t, s, tok, groupsRound)
	mustUpdate(t, s, func(t *Tenant) {
		for i := 7; i <= 13; i++ {
			id := fmt.Sprintf("u%02d", i)
			t.Users = append(t.Users, User{ID: id, DisplayName: id, AccountEnabled: true})
			setMembers(t, "g-top", func(g *Group) { g.MemberUserIDs = append(g.MemberUserIDs, id) })
		}
		setMembers(t, "g-top", func(g *Group) {
			g.MemberUserIDs = slices.DeleteFunc(g.MemberUserIDs, func(id string) bool { return id == "u1" })
		})
	})
	var entries []map[string]any
	pages := 0
	for next := link; next != ""; pages++ {
		p := getPage(t, s, tok, next)
		refs := 0
		for _, e := range p.Value {
			refs += len(e["members@delta"].([]any))
		}
		if refs > 3 {
			t.Errorf("page %d carries %d member references, want at most 3", pages+1, refs)
		}
		entries = append(entries, p.Value...)
		next = p.NextLink
		if next == "" && p.DeltaLink == "" {
			t.Fatal("round ended without a deltaLink")
		}
	}
	if pages != 3 {
		t.Errorf("round of 8 member changes at 3 a page took %d pages, want 3", pages)
	}
	want := []string{"g-top name=Top members=[+u07 +u08 +u09 -u1 +u10 +u11 +u12 +u13]"}
	if got := groupEntries(t, entries); !slices.Equal(got, want) {
		t.Errorf("groups round\n got %q\nwant %q", got, want)
	}
}

// TestExpiredDeltaToken holds tokens the fake no longer honours to Graph's
// answer: 410 Gone, syncStateNotFound, and a Location restarting the round
// from scratch with the same options; tokens issued afterwards work.
func TestExpiredDeltaToken(t *testing.T) {
	s := startServer(t)
	s.AddTenant(nestedTenant())
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	_, usersLink := deltaRound(t, s, tok, usersRound)
	_, groupsLink := deltaRound(t, s, tok, groupsRound)
	midRound := getPage(t, s, tok, "/v1.0/users/delta()?$select=displayName&$top=2").NextLink
	s.ExpireDeltaTokens()

	for _, tc := range []struct{ link, wantLocation string }{
		{usersLink, s.URL() + "/v1.0/users/delta()?$select=displayName,accountEnabled&$top=999&$deltatoken="},
		{groupsLink, s.URL() + "/v1.0/groups/delta()?$select=displayName,members&$top=999&$deltatoken="},
		{midRound, s.URL() + "/v1.0/users/delta()?$select=displayName&$top=2&$deltatoken="},
	} {
		status, h, body := get(t, s, tok, tc.link)
		if status != http.StatusGone {
			t.Fatalf("expired token: status %d, want 410: %s", status, body)
		}
		if code := odataErrorCode(t, body); code != "syncStateNotFound" {
			t.Errorf("expired token: code %q, want syncStateNotFound", code)
		}
		if got := h.Get("Location"); got != tc.wantLocation {
			t.Errorf("Location %q, want %q", got, tc.wantLocation)
		}
	}

	// The Location restarts with a full round.
	_, h, _ := get(t, s, tok, usersLink)
	all, fresh := deltaRound(t, s, tok, h.Get("Location"))
	if len(all) != 6 {
		t.Errorf("round from Location lists %d users, want 6", len(all))
	}
	mustUpdate(t, s, func(t *Tenant) { t.Users[0].DisplayName = "Ana" })
	if entries, _ := deltaRound(t, s, tok, fresh); len(entries) != 1 || entries[0]["displayName"] != "Ana" {
		t.Errorf("round after the restart: %v, want the renamed user", entries)
	}
}

// TestDeltaHistoryBound holds the fake's bounded history to its promise:
// once it outgrows its bound, older tokens expire rather than answer short.
func TestDeltaHistoryBound(t *testing.T) {
	defer func(n int) { maxDeltaHistory = n }(maxDeltaHistory)
	maxDeltaHistory = 4
	s := startServer(t)
	s.AddTenant(nestedTenant())
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	_, link := deltaRound(t, s, tok, groupsRound)
	mustUpdate(t, s, func(t *Tenant) { setMembers(t, "g-top", func(g *Group) { g.MemberUserIDs = []string{"u2", "u3"} }) })
	_, kept := deltaRound(t, s, tok, link)
	mustUpdate(t, s, func(t *Tenant) { setMembers(t, "g-top", func(g *Group) { g.MemberUserIDs = []string{"u4", "u5"} }) })
	if status, _, body := get(t, s, tok, kept); status != http.StatusGone {
		t.Errorf("token older than the kept history: status %d, want 410: %s", status, body)
	}
}

// TestMalformedDeltaToken holds tokens the fake never issued to a 400 in
// Graph's error shape, not a round.
func TestMalformedDeltaToken(t *testing.T) {
	s := startServer(t)
	s.AddTenant(nestedTenant())
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	_, link := deltaRound(t, s, tok, usersRound)
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	issued := u.Query().Get("$deltatoken")
	future, err := decodePageToken(issued)
	if err != nil {
		t.Fatal(err)
	}
	future.snap += 100 // a version the directory has not reached
	for _, token := range []string{"garbage", issued[:len(issued)/2], "%00", future.encode()} {
		for _, path := range []string{"/v1.0/users/delta()", "/v1.0/groups/delta()"} {
			for _, name := range []string{"$deltatoken", "$skiptoken"} {
				status, _, body := get(t, s, tok, path+"?"+name+"="+url.QueryEscape(token))
				if status != http.StatusBadRequest {
					t.Errorf("%s %s=%q: status %d, want 400: %s", path, name, token, status, body)
					continue
				}
				if code := odataErrorCode(t, body); code != "Directory_ExpiredPageToken" {
					t.Errorf("%s %s=%q: code %q", path, name, token, code)
				}
			}
		}
	}
}

// TestDeltaLatestAfterChanges holds $deltatoken=latest to "from now":
// changes made before it are never reported, the next change is.
func TestDeltaLatestAfterChanges(t *testing.T) {
	s := startServer(t)
	s.AddTenant(nestedTenant())
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	mustUpdate(t, s, func(t *Tenant) {
		t.SoftDeleteUser("u2")
		t.Users[0].DisplayName = "Ana"
		setMembers(t, "g-top", func(g *Group) { g.MemberUserIDs = append(g.MemberUserIDs, "u6") })
	})
	mustUpdate(t, s, func(t *Tenant) { t.DeleteGroupPermanently("g-self") })
	latestUsers, usersLink := deltaRound(t, s, tok, "/v1.0/users/delta()?$select=displayName,accountEnabled&$deltatoken=latest")
	latestGroups, groupsLink := deltaRound(t, s, tok, "/v1.0/groups/delta()?$select=displayName,members&$deltatoken=latest")
	if len(latestUsers)+len(latestGroups) != 0 {
		t.Errorf("latest rounds list %v %v", latestUsers, latestGroups)
	}
	mustUpdate(t, s, func(t *Tenant) {
		t.Users[1].AccountEnabled = false // u3, u2 being deleted
		setMembers(t, "g-bottom", func(g *Group) { g.MemberUserIDs = append(g.MemberUserIDs, "u5") })
	})
	users, _ := deltaRound(t, s, tok, usersLink)
	if got, want := userEntries(t, users), []string{"u3 name=cy enabled=false"}; !slices.Equal(got, want) {
		t.Errorf("users round after latest\n got %q\nwant %q", got, want)
	}
	groups, _ := deltaRound(t, s, tok, groupsLink)
	if got, want := groupEntries(t, groups), []string{"g-bottom name=Bottom members=[+u5]"}; !slices.Equal(got, want) {
		t.Errorf("groups round after latest\n got %q\nwant %q", got, want)
	}
}

// TestSoftDeletedUserNotServed holds the listings to the deleted items'
// meaning: a soft-deleted user is neither listed nor found, nor a member.
func TestSoftDeletedUserNotServed(t *testing.T) {
	s := startServer(t)
	s.AddTenant(nestedTenant())
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	mustUpdate(t, s, func(t *Tenant) { t.SoftDeleteUser("u2") })
	if status, _, _ := get(t, s, tok, "/v1.0/users/u2"); status != http.StatusNotFound {
		t.Errorf("soft-deleted user served: status %d", status)
	}
	for _, e := range getPage(t, s, tok, "/v1.0/users").Value {
		if e["id"] == "u2" {
			t.Error("soft-deleted user listed")
		}
	}
	for _, e := range getPage(t, s, tok, "/v1.0/groups/g-middle/members").Value {
		if e["id"] == "u2" {
			t.Error("soft-deleted user listed as a member")
		}
	}
	mustUpdate(t, s, func(t *Tenant) { t.RestoreUser("u2") })
	if status, _, _ := get(t, s, tok, "/v1.0/users/u2"); status != http.StatusOK {
		t.Errorf("restored user: status %d", status)
	}
}

// TestGroupDeltaWithoutMembers holds a round that does not select members
// to Graph's rule: only selected properties are tracked, so a membership
// change alone lists nothing, and a rename lists the group without
// members@delta.
func TestGroupDeltaWithoutMembers(t *testing.T) {
	s := startServer(t)
	s.AddTenant(nestedTenant())
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	_, link := deltaRound(t, s, tok, "/v1.0/groups/delta()?$select=displayName")
	mustUpdate(t, s, func(t *Tenant) {
		setMembers(t, "g-top", func(g *Group) { g.MemberUserIDs = append(g.MemberUserIDs, "u6") })
	})
	entries, link := deltaRound(t, s, tok, link)
	if len(entries) != 0 {
		t.Errorf("membership change listed without members selected: %v", entries)
	}
	mustUpdate(t, s, func(t *Tenant) { setMembers(t, "g-middle", func(g *Group) { g.DisplayName = "Centre" }) })
	entries, _ = deltaRound(t, s, tok, link)
	if len(entries) != 1 || entries[0]["id"] != "g-middle" || entries[0]["displayName"] != "Centre" {
		t.Fatalf("rename round %v, want g-middle renamed", entries)
	}
	if _, ok := entries[0]["members@delta"]; ok {
		t.Errorf("members@delta without members selected: %v", entries[0])
	}
}

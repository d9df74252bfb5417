package fakeentra

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// deltaRound follows a delta round to its deltaLink, returning the entries.
func deltaRound(t *testing.T, s *Server, token, start string) (entries []map[string]any, deltaLink string) {
	t.Helper()
	for next := start; next != ""; {
		p := getPage(t, s, token, next)
		entries = append(entries, p.Value...)
		if p.NextLink != "" && p.DeltaLink != "" {
			t.Fatalf("page has both nextLink and deltaLink")
		}
		next, deltaLink = p.NextLink, p.DeltaLink
	}
	if deltaLink == "" {
		t.Fatal("delta round ended without a deltaLink")
	}
	return entries, deltaLink
}

func TestUserDelta(t *testing.T) {
	s, tn := generatedServer(t, 250)
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)

	initial, deltaLink := deltaRound(t, s, tok, "/v1.0/users/delta()?$select=displayName,jobTitle,mail&$top=100")
	if len(initial) != len(tn.Users) {
		t.Fatalf("initial round has %d users, want %d", len(initial), len(tn.Users))
	}
	if !strings.HasPrefix(deltaLink, s.URL()+"/v1.0/users/delta()?") || !strings.Contains(deltaLink, "$deltatoken=") {
		t.Errorf("deltaLink %q", deltaLink)
	}
	for _, e := range initial {
		if _, removed := e["@removed"]; removed {
			t.Errorf("initial round reports a removal: %v", e)
		}
	}

	// Nothing changed: the next round is empty.
	if entries, _ := deltaRound(t, s, tok, deltaLink); len(entries) != 0 {
		t.Errorf("round without changes has %d entries", len(entries))
	}

	changedID, deletedID := tn.Users[10].ID, tn.Users[20].ID
	addedID := "ffffffff-0000-4000-8000-000000000001"
	err := s.Update(testTenantID, func(t *Tenant) {
		t.Users[10].JobTitle = "Chief Tea Officer"
		t.Users = slices.Delete(t.Users, 20, 21)
		mail := "new.hire@" + testDomain
		t.Users = append(t.Users, User{ID: addedID, DisplayName: "New Hire", UserPrincipalName: "new.hire@" + testDomain,
			Mail: &mail, AccountEnabled: true, UserType: "Member"})
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}

	entries, nextDeltaLink := deltaRound(t, s, tok, deltaLink)
	if len(entries) != 3 {
		t.Fatalf("delta after update has %d entries, want 3: %v", len(entries), entries)
	}
	got := make(map[string]map[string]any)
	for _, e := range entries {
		got[e["id"].(string)] = e
	}
	if e := got[changedID]; e == nil || e["jobTitle"] != "Chief Tea Officer" || e["displayName"] != tn.Users[10].DisplayName {
		t.Errorf("changed user entry %v", e)
	}
	if e := got[addedID]; e == nil || e["displayName"] != "New Hire" || e["mail"] != "new.hire@"+testDomain {
		t.Errorf("added user entry %v", e)
	}
	if e := got[deletedID]; e == nil || len(e) != 2 {
		t.Errorf("deleted user entry %v, want id and @removed only", e)
	} else if removed, _ := e["@removed"].(map[string]any); removed["reason"] != "deleted" {
		t.Errorf("deleted user entry %v", e)
	}

	if entries, _ := deltaRound(t, s, tok, nextDeltaLink); len(entries) != 0 {
		t.Errorf("round after catching up has %d entries: %v", len(entries), entries)
	}

	// A fresh initial round sees the directory as it is now.
	now, _ := deltaRound(t, s, tok, "/v1.0/users/delta?$select=id&$top=999")
	if len(now) != len(tn.Users) {
		t.Errorf("fresh round has %d users, want %d", len(now), len(tn.Users))
	}
	if status, _, _ := get(t, s, tok, "/v1.0/users/"+deletedID); status != http.StatusNotFound {
		t.Errorf("deleted user still served: status %d", status)
	}
}

func TestDeltaAcrossUpdateMidRound(t *testing.T) {
	s, tn := generatedServer(t, 30)
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)

	first := getPage(t, s, tok, "/v1.0/users/delta()?$top=20")
	changedID := tn.Users[5].ID
	if err := s.Update(testTenantID, func(t *Tenant) { t.Users[5].DisplayName = "Renamed" }); err != nil {
		t.Fatal(err)
	}
	rest, deltaLink := deltaRound(t, s, tok, first.NextLink)
	if len(first.Value)+len(rest) != 30 {
		t.Errorf("initial round has %d users, want 30", len(first.Value)+len(rest))
	}
	// A change made during a round is reported by the next one.
	entries, _ := deltaRound(t, s, tok, deltaLink)
	if len(entries) != 1 || entries[0]["id"] != changedID || entries[0]["displayName"] != "Renamed" {
		t.Errorf("next round %v, want only the renamed user", entries)
	}
}

func TestGroupDelta(t *testing.T) {
	s := startServer(t)
	s.AddTenant(nestedTenant())
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)

	initial, deltaLink := deltaRound(t, s, tok, "/v1.0/groups/delta()?$select=displayName,members&$top=2")
	if len(initial) != 6 {
		t.Fatalf("initial round has %d groups, want 6", len(initial))
	}
	for _, g := range initial {
		if g["id"] == "g-top" {
			members, _ := g["members@delta"].([]any)
			if len(members) != 2 {
				t.Errorf("g-top members@delta %v, want u1 and g-middle", g["members@delta"])
			}
		}
	}
	err := s.Update(testTenantID, func(t *Tenant) {
		for i := range t.Groups {
			if t.Groups[i].ID == "g-bottom" {
				t.Groups[i].MemberUserIDs = append(t.Groups[i].MemberUserIDs, "u6")
			}
		}
		t.Groups = slices.DeleteFunc(t.Groups, func(g Group) bool { return g.ID == "g-self" })
	})
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := deltaRound(t, s, tok, deltaLink)
	var ids []string
	for _, e := range entries {
		id := e["id"].(string)
		if _, removed := e["@removed"]; removed {
			id += " removed"
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if want := []string{"g-bottom", "g-self removed"}; !slices.Equal(ids, want) {
		t.Errorf("group delta %v, want %v", ids, want)
	}
}

func TestDeltaLatest(t *testing.T) {
	s, _ := generatedServer(t, 40)
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	entries, deltaLink := deltaRound(t, s, tok, "/v1.0/users/delta()?$deltatoken=latest")
	if len(entries) != 0 {
		t.Errorf("latest round has %d entries", len(entries))
	}
	if err := s.Update(testTenantID, func(t *Tenant) { t.Users[0].City = "Springfield" }); err != nil {
		t.Fatal(err)
	}
	if entries, _ := deltaRound(t, s, tok, deltaLink); len(entries) != 1 {
		t.Errorf("after one change: %d entries", len(entries))
	}
}

package fakeentra

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestGenerateDeterministic(t *testing.T) {
	spec := Spec{Domain: testDomain, Seed: 7, Users: 3000}
	a, b := Generate(spec), Generate(spec)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same spec generated different tenants")
	}
	other := spec
	other.Seed = 8
	c := Generate(other)
	if c.ID == a.ID || c.Users[0].ID == a.Users[0].ID || reflect.DeepEqual(a.Users, c.Users) {
		t.Error("a different seed generated the same tenant")
	}
	if len(a.Apps) != 1 || a.Apps[0].ClientID == "" || a.Apps[0].Secret == "" ||
		!slices.Equal(a.Apps[0].Roles, []string{"User.Read.All", "Group.Read.All", "Directory.Read.All"}) {
		t.Errorf("app %+v", a.Apps)
	}
}

func TestGenerateShape(t *testing.T) {
	sizes := []int{0, 1, 13, 14, 100, 2500, 20011}
	for _, n := range sizes {
		tn := Generate(Spec{TenantID: testTenantID, Domain: testDomain, Seed: uint64(n) + 1, Users: n})
		if len(tn.Users) != n {
			t.Fatalf("n=%d: %d users", n, len(tn.Users))
		}
		if len(tn.Groups) != DefaultGroupCount(n) {
			t.Errorf("n=%d: %d groups, want %d", n, len(tn.Groups), DefaultGroupCount(n))
		}
		checkTenantConsistency(t, n, tn)
		checkPopulations(t, n, tn)
	}
}

func checkTenantConsistency(t *testing.T, n int, tn *Tenant) {
	t.Helper()
	ids := make(map[string]bool, n)
	upns := make(map[string]bool, n)
	for i, u := range tn.Users {
		if i > 0 && tn.Users[i-1].ID >= u.ID {
			t.Fatalf("n=%d: users not sorted by id at %d", n, i)
		}
		if len(u.ID) != 36 || u.ID[14] != '4' {
			t.Fatalf("n=%d: id %q is not GUID-shaped", n, u.ID)
		}
		ids[u.ID] = true
		lower := strings.ToLower(u.UserPrincipalName)
		if upns[lower] {
			t.Errorf("n=%d: duplicate UPN %s", n, u.UserPrincipalName)
		}
		upns[lower] = true
		if !utf8.ValidString(u.DisplayName) || u.DisplayName == "" {
			t.Errorf("n=%d: display name %q", n, u.DisplayName)
		}
	}
	for _, u := range tn.Users {
		if u.ManagerID != "" && !ids[u.ManagerID] {
			t.Errorf("n=%d: user %s has unknown manager %s", n, u.ID, u.ManagerID)
		}
		if u.ManagerID == u.ID {
			t.Errorf("n=%d: user %s manages itself", n, u.ID)
		}
	}
	groupIDs := make(map[string]bool)
	for i, g := range tn.Groups {
		if i > 0 && tn.Groups[i-1].ID >= g.ID {
			t.Fatalf("n=%d: groups not sorted by id at %d", n, i)
		}
		groupIDs[g.ID] = true
	}
	for _, g := range tn.Groups {
		for _, m := range g.MemberUserIDs {
			if !ids[m] {
				t.Errorf("n=%d: group %s has unknown member %s", n, g.DisplayName, m)
			}
		}
		for _, m := range g.MemberGroupIDs {
			if !groupIDs[m] {
				t.Errorf("n=%d: group %s nests unknown group %s", n, g.DisplayName, m)
			}
		}
	}
}

func checkPopulations(t *testing.T, n int, tn *Tenant) {
	t.Helper()
	var guests, disabled, noMail, unicode int
	byMail := make(map[string][]string)
	for _, u := range tn.Users {
		if u.UserType == "Guest" {
			guests++
			if !strings.Contains(u.UserPrincipalName, "#EXT#@"+testDomain) || u.Mail == nil || strings.HasSuffix(*u.Mail, testDomain) {
				t.Errorf("n=%d: guest UPN %q mail %v", n, u.UserPrincipalName, u.Mail)
			}
		} else if u.UserType != "Member" {
			t.Errorf("n=%d: userType %q", n, u.UserType)
		}
		if !u.AccountEnabled {
			disabled++
		}
		if u.Mail == nil {
			noMail++
		} else {
			byMail[strings.ToLower(*u.Mail)] = append(byMail[strings.ToLower(*u.Mail)], *u.Mail)
		}
		for _, r := range u.DisplayName {
			if r >= utf8.RuneSelf {
				unicode++
				break
			}
		}
	}
	var pairs int
	for _, mails := range byMail {
		switch {
		case len(mails) == 2:
			pairs++
			if mails[0] == mails[1] {
				t.Errorf("n=%d: duplicate mails %v do not differ in case", n, mails)
			}
		case len(mails) > 2:
			t.Errorf("n=%d: %d users share mail %s", n, len(mails), mails[0])
		}
	}
	checks := []struct {
		name      string
		got, want int
	}{
		{"guests", guests, PopulationCount(Guests, n)},
		{"disabled", disabled, PopulationCount(DisabledAccounts, n)},
		{"without mail", noMail, PopulationCount(UsersWithoutMail, n)},
		{"duplicate-mail pairs", pairs, PopulationCount(DuplicateMailPairs, n)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("n=%d: %d %s, want %d", n, c.got, c.name, c.want)
		}
	}
	if n >= 100 {
		for _, c := range checks {
			if c.got == 0 {
				t.Errorf("n=%d: no %s", n, c.name)
			}
		}
		if unicode == 0 {
			t.Errorf("n=%d: no non-ASCII display names", n)
		}
	}
}

func TestGenerateSpecialPopulations(t *testing.T) {
	tn := Generate(Spec{Domain: testDomain, Seed: 99, Users: 2500})
	want := map[Population]int{Guests: 50, DisabledAccounts: 100, UsersWithoutMail: 124, DuplicateMailPairs: 25}
	for p, n := range want {
		if got := PopulationCount(p, 2500); got != n {
			t.Errorf("PopulationCount(%d, 2500) = %d, want %d", p, got, n)
		}
	}
	names := make(map[string]bool)
	for _, u := range tn.Users {
		names[u.DisplayName] = true
	}
	// Names from several scripts and with punctuation are all present.
	for _, sub := range []string{"ü", "ł", "ø", "é", "'", "-"} {
		found := false
		for name := range names {
			if strings.Contains(name, sub) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no display name contains %q", sub)
		}
	}
	var cjk bool
	for name := range names {
		for _, r := range name {
			if r >= 0x4e00 && r <= 0x9fff {
				cjk = true
			}
		}
	}
	if !cjk {
		t.Error("no CJK display name")
	}
}

func TestGenerateNesting(t *testing.T) {
	tn := Generate(Spec{Domain: testDomain, Seed: 3, Users: 500})
	byID := make(map[string]*Group)
	byName := make(map[string]*Group)
	for i := range tn.Groups {
		byID[tn.Groups[i].ID] = &tn.Groups[i]
		byName[tn.Groups[i].DisplayName] = &tn.Groups[i]
	}
	var depth func(g *Group, seen map[string]bool) int
	depth = func(g *Group, seen map[string]bool) int {
		if seen[g.ID] {
			return 0
		}
		seen[g.ID] = true
		d := 1
		for _, id := range g.MemberGroupIDs {
			d = max(d, 1+depth(byID[id], seen))
		}
		return d
	}
	allStaff := byName["All Staff"]
	if allStaff == nil {
		t.Fatal("no All Staff group")
	}
	if d := depth(allStaff, map[string]bool{}); d < 3 {
		t.Errorf("All Staff nests %d levels, want at least 3", d)
	}

	// All Staff reaches every member (non-guest) user.
	s := startServer(t)
	tn.Apps[0].ClientID, tn.Apps[0].Secret = testClientID, testSecret
	tn.ID = testTenantID
	s.AddTenant(tn)
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	var members int
	for _, p := range getAll(t, s, tok, "/v1.0/groups/"+allStaff.ID+"/transitiveMembers/graph.user?$select=id&$top=999") {
		members += len(p.Value)
	}
	want := len(tn.Users) - PopulationCount(Guests, len(tn.Users))
	if members != want {
		t.Errorf("All Staff has %d transitive users, want %d", members, want)
	}
}

func TestGenerateGroupCount(t *testing.T) {
	for _, count := range []int{1, 5, 20, 40, 300} {
		tn := Generate(Spec{Seed: 1, Users: 1000, Groups: count})
		if len(tn.Groups) != count {
			t.Errorf("Groups=%d: got %d", count, len(tn.Groups))
		}
		checkTenantConsistency(t, 1000, tn)
	}
}

func TestSwapCase(t *testing.T) {
	for _, in := range []string{"jose.alvarez@contoso.com", "Jose.Alvarez@Contoso.Com", "a-b.c@d.e", "x2@y.z"} {
		out := swapCase(in)
		if out == in || !strings.EqualFold(out, in) {
			t.Errorf("swapCase(%q) = %q, want a case-only variant", in, out)
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run("users="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Generate(Spec{Seed: 1, Users: n})
			}
		})
	}
}

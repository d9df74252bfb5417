package entra

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"dirsync/internal/domain"
	"dirsync/internal/plan"
	"dirsync/local/fakeentra"
)

// deltaTenant is a small tenant with nested groups, a cycle, a guest and a
// disabled user; its users span several partitions.
func deltaTenant() *fakeentra.Tenant {
	locals := []string{"ana", "bo", "cy", "di", "ed", "flo", "gus", "hal", "ivy", "jo"}
	tn := handmadeTenant(locals, nil)
	tn.Users[6].UserType = "Guest"
	tn.Users[7].AccountEnabled = false
	for i := range tn.Users {
		mail := tn.Users[i].UserPrincipalName
		tn.Users[i].Mail = &mail
		tn.Users[i].Department = "Dept " + string(rune('A'+i%3))
	}
	for i := 1; i < 8; i++ {
		tn.Users[i].ManagerID = tn.Users[(i-1)/4].ID // ana manages bo..ed, bo manages flo..hal
	}
	tn.Groups = nestedGroups(tn.Users)
	return tn
}

func userIndex(t *fakeentra.Tenant, id string) int {
	return slices.IndexFunc(t.Users, func(u fakeentra.User) bool { return u.ID == id })
}

func groupIndex(t *fakeentra.Tenant, id string) int {
	return slices.IndexFunc(t.Groups, func(g fakeentra.Group) bool { return g.ID == id })
}

const (
	groupTop      = "a0000000-0000-4000-8000-000000000001"
	groupMiddle   = "a0000000-0000-4000-8000-000000000002"
	groupBottom   = "a0000000-0000-4000-8000-000000000003"
	groupCycleA   = "a0000000-0000-4000-8000-000000000004"
	groupEveryone = "a0000000-0000-4000-8000-000000000007"
)

// deltaOptions map a property, so attribute changes reach the plan.
var deltaOptions = domain.Options{
	DeactivateMissing: true, IncludeGuests: true,
	Mapping: []domain.Mapping{{Attribute: "department", Source: "department"}},
}

// managerOptions map the manager, which a users round lists only for the
// user whose manager changed.
var managerOptions = domain.Options{
	DeactivateMissing: true,
	Mapping:           []domain.Mapping{{Attribute: "manager", Source: domain.ManagerProperty}, {Attribute: "department", Source: "department"}},
}

// Each kind of change, read as a delta from the mirror of the tenant
// before it, gives the mirror, snapshot and plan of a full read of the
// tenant after it.
func TestReadChangesEqualsFullRead(t *testing.T) {
	tests := []struct {
		name   string
		opts   domain.Options
		change func(t *fakeentra.Tenant)
	}{
		{"nothing changed", deltaOptions, func(*fakeentra.Tenant) {}},
		{"user added", deltaOptions, func(t *fakeentra.Tenant) {
			mail := "kim@" + testDomain
			t.Users = append(t.Users, fakeentra.User{ID: "0000000b-0000-4000-8000-00000000000b", DisplayName: "kim",
				UserPrincipalName: "kim@" + testDomain, Mail: &mail, AccountEnabled: true, UserType: "Member"})
		}},
		{"user added to a nested group", deltaOptions, func(t *fakeentra.Tenant) {
			t.Users = append(t.Users, fakeentra.User{ID: "0000000c-0000-4000-8000-00000000000c", DisplayName: "lou",
				UserPrincipalName: "lou@" + testDomain, AccountEnabled: true, UserType: "Member"})
			g := &t.Groups[groupIndex(t, groupBottom)]
			g.MemberUserIDs = append(g.MemberUserIDs, "0000000c-0000-4000-8000-00000000000c")
		}},
		{"user updated", deltaOptions, func(t *fakeentra.Tenant) {
			u := &t.Users[1]
			u.DisplayName, u.Department = "Bo Renamed", "Dept Z"
			mail := "bo.new@" + testDomain
			u.Mail = &mail
		}},
		{"user disabled", deltaOptions, func(t *fakeentra.Tenant) { t.Users[2].AccountEnabled = false }},
		{"user enabled again", deltaOptions, func(t *fakeentra.Tenant) { t.Users[7].AccountEnabled = true }},
		{"user soft-deleted", deltaOptions, func(t *fakeentra.Tenant) { t.SoftDeleteUser(t.Users[0].ID) }},
		{"user deleted permanently", deltaOptions, func(t *fakeentra.Tenant) { t.DeleteUserPermanently(t.Users[4].ID) }},
		{"membership added", deltaOptions, func(t *fakeentra.Tenant) {
			g := &t.Groups[groupIndex(t, groupTop)]
			g.MemberUserIDs = append(g.MemberUserIDs, t.Users[9].ID)
		}},
		{"membership removed", deltaOptions, func(t *fakeentra.Tenant) {
			g := &t.Groups[groupIndex(t, groupBottom)]
			g.MemberUserIDs = slices.DeleteFunc(g.MemberUserIDs, func(id string) bool { return id == t.Users[2].ID })
		}},
		{"nested group unlinked", deltaOptions, func(t *fakeentra.Tenant) {
			t.Groups[groupIndex(t, groupMiddle)].MemberGroupIDs = nil
		}},
		{"nested group linked", deltaOptions, func(t *fakeentra.Tenant) {
			g := &t.Groups[groupIndex(t, groupCycleA)]
			g.MemberGroupIDs = append(g.MemberGroupIDs, groupTop)
		}},
		{"group renamed", deltaOptions, func(t *fakeentra.Tenant) {
			g := &t.Groups[groupIndex(t, groupMiddle)]
			g.DisplayName, g.Description = "Middle (renamed)", "now described"
		}},
		{"group added", deltaOptions, func(t *fakeentra.Tenant) {
			t.Groups = append(t.Groups, fakeentra.Group{ID: "a0000000-0000-4000-8000-000000000009", DisplayName: "New",
				MemberUserIDs: []string{t.Users[3].ID}, MemberGroupIDs: []string{groupBottom}})
		}},
		{"group deleted", deltaOptions, func(t *fakeentra.Tenant) { t.DeleteGroupPermanently(groupMiddle) }},
		{"group soft-deleted", deltaOptions, func(t *fakeentra.Tenant) { t.SoftDeleteGroup(groupBottom) }},
		{"scope group's nested member changes", domain.Options{Scope: domain.Scope{Groups: []string{groupTop}}, DeactivateMissing: true},
			func(t *fakeentra.Tenant) {
				g := &t.Groups[groupIndex(t, groupBottom)]
				g.MemberUserIDs = append(g.MemberUserIDs, t.Users[8].ID)
			}},
		{"manager assigned", managerOptions, func(t *fakeentra.Tenant) { t.Users[9].ManagerID = t.Users[2].ID }},
		{"manager's mail changed", managerOptions, func(t *fakeentra.Tenant) {
			mail := "bo.renamed@" + testDomain
			t.Users[1].Mail = &mail
		}},
		{"manager soft-deleted", managerOptions, func(t *fakeentra.Tenant) { t.SoftDeleteUser(t.Users[0].ID) }},
		{"manager deleted permanently", managerOptions, func(t *fakeentra.Tenant) { t.DeleteUserPermanently(t.Users[1].ID) }},
		{"many changes at once", deltaOptions, func(t *fakeentra.Tenant) {
			t.Users[1].JobTitle = "Lead"
			t.Users[3].AccountEnabled = false
			t.SoftDeleteUser(t.Users[5].ID)
			g := &t.Groups[groupIndex(t, groupEveryone)]
			g.MemberUserIDs = g.MemberUserIDs[:5]
			t.DeleteGroupPermanently(groupCycleA)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, deltaTenant())
			r := f.reader(t, withPageSize(3))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			before, err := r.ReadMirror(ctx, tt.opts)
			if err != nil {
				t.Fatalf("first full read: %v", err)
			}
			kept := cloneMirror(before)
			if err := f.fake.Update(testTenantID, tt.change); err != nil {
				t.Fatal(err)
			}
			got, err := r.ReadChanges(ctx, tt.opts, before)
			if err != nil {
				t.Fatalf("ReadChanges: %v", err)
			}
			if !reflect.DeepEqual(before, kept) {
				t.Fatal("ReadChanges modified the mirror it was given")
			}
			want, err := r.ReadMirror(ctx, tt.opts)
			if err != nil {
				t.Fatalf("second full read: %v", err)
			}
			if got.FullReadAt != before.FullReadAt || got.Basis != want.Basis {
				t.Errorf("FullReadAt %v, basis %q; want the first read's %v and %q", got.FullReadAt, got.Basis, before.FullReadAt, want.Basis)
			}
			if a, b := canonicalMirror(got), canonicalMirror(want); !reflect.DeepEqual(a, b) {
				t.Fatalf("the mirror brought up to date differs from a full read:\ndelta %+v\nfull  %+v", a, b)
			}
			gotSnap, wantSnap := got.Snapshot(tt.opts.Scope.Groups), want.Snapshot(tt.opts.Scope.Groups)
			sortGroups(gotSnap)
			sortGroups(wantSnap)
			if !reflect.DeepEqual(gotSnap, wantSnap) {
				t.Fatalf("snapshots differ:\ndelta %+v\nfull  %+v", gotSnap, wantSnap)
			}
			// The plan against the platform as the first read left it.
			dir := platformOf(before.Snapshot(tt.opts.Scope.Groups))
			for _, d := range []*domain.Directory{nil, dir} {
				gotPlan, err := plan.Compute(domain.PlanInput{Snapshot: got.Snapshot(tt.opts.Scope.Groups), Directory: d, Options: tt.opts})
				if err != nil {
					t.Fatalf("plan from the delta: %v", err)
				}
				wantPlan, err := plan.Compute(domain.PlanInput{Snapshot: want.Snapshot(tt.opts.Scope.Groups), Directory: d, Options: tt.opts})
				if err != nil {
					t.Fatalf("plan from the full read: %v", err)
				}
				if !reflect.DeepEqual(planOutline(gotPlan), planOutline(wantPlan)) {
					t.Fatalf("plans differ:\ndelta %v\nfull  %v", planOutline(gotPlan), planOutline(wantPlan))
				}
			}
		})
	}
}

// A user removed and restored comes back with its memberships, and a
// second round continues from the first's deltaLinks.
func TestReadChangesTwice(t *testing.T) {
	f := startFake(t, deltaTenant())
	r := f.reader(t)
	ctx := context.Background()
	m, err := r.ReadMirror(ctx, deltaOptions)
	if err != nil {
		t.Fatal(err)
	}
	gone := m.Users[0].ID
	steps := []func(t *fakeentra.Tenant){
		func(t *fakeentra.Tenant) { t.SoftDeleteUser(gone) },
		func(t *fakeentra.Tenant) { t.RestoreUser(gone) },
		func(t *fakeentra.Tenant) { t.Users[userIndex(t, gone)].DisplayName = "back" },
	}
	for i, step := range steps {
		if err := f.fake.Update(testTenantID, step); err != nil {
			t.Fatal(err)
		}
		if m, err = r.ReadChanges(ctx, deltaOptions, m); err != nil {
			t.Fatalf("round %d: %v", i+1, err)
		}
		want, err := r.ReadMirror(ctx, deltaOptions)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(canonicalMirror(m), canonicalMirror(want)) {
			t.Fatalf("round %d: the mirror differs from a full read:\ndelta %+v\nfull  %+v", i+1, canonicalMirror(m), canonicalMirror(want))
		}
	}
}

// What only a full read can fix is refused with the error that says so.
func TestReadChangesRefuses(t *testing.T) {
	f := startFake(t, deltaTenant())
	r := f.reader(t, func(c *Config) { c.Retry.MaxAttempts = 1 })
	ctx := context.Background()
	m, err := r.ReadMirror(ctx, deltaOptions)
	if err != nil {
		t.Fatal(err)
	}
	otherProps := domain.Options{Mapping: []domain.Mapping{{Attribute: "title", Source: "jobTitle"}}}
	noLinks := cloneMirror(m)
	noLinks.DeltaLinks = domain.DeltaLinks{}
	offGraph := cloneMirror(m)
	offGraph.DeltaLinks.Users = "https://evil.example/v1.0/users/delta()?$deltatoken=x"
	// Users the mirror holds that Graph no longer has, as if removals had
	// been missed: more than countTolerance's 5.
	drifted := cloneMirror(m)
	for i := range 6 {
		drifted.Users = append(drifted.Users, domain.SourceUser{ID: fmt.Sprintf("ffffffff-0000-4000-8000-%012x", i), AccountEnabled: true, Values: []string{""}})
	}
	tests := []struct {
		name   string
		opts   domain.Options
		mirror *domain.SourceMirror
		before func()
		want   error
	}{
		{"no mirror", deltaOptions, nil, nil, domain.ErrNoMirror},
		{"no deltaLinks", deltaOptions, noLinks, nil, domain.ErrNoMirror},
		{"other user properties", otherProps, m, nil, domain.ErrNoMirror},
		{"a deltaLink off Graph", deltaOptions, offGraph, nil, ErrMalformedResponse},
		{"counts that do not add up", deltaOptions, drifted, nil, ErrMirrorDrift},
		{"expired tokens", deltaOptions, m, f.fake.ExpireDeltaTokens, ErrDeltaExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				tt.before()
			}
			_, err := r.ReadChanges(ctx, tt.opts, tt.mirror)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ReadChanges: %v, want %v", err, tt.want)
			}
			if domain.FallbackReason(err) == "" && tt.want != ErrMalformedResponse {
				t.Errorf("FallbackReason(%v) is empty: the worker would not read in full", err)
			}
		})
	}
	// A token unknown to Graph (400) is refused as expired too.
	bad := cloneMirror(m)
	bad.DeltaLinks.Groups = strings.Replace(bad.DeltaLinks.Groups, "$deltatoken=", "$deltatoken=0", 1)
	if _, err := r.ReadChanges(ctx, deltaOptions, bad); !errors.Is(err, ErrDeltaExpired) {
		t.Fatalf("an unknown token: %v, want ErrDeltaExpired", err)
	}
}

// A re-sync after one change costs a few requests, where a full read
// costs one or more per partition.
func TestReadChangesRequests(t *testing.T) {
	f := startFake(t, deltaTenant())
	r := f.reader(t)
	ctx := context.Background()
	f.fake.ResetRequests()
	m, err := r.ReadMirror(ctx, deltaOptions)
	if err != nil {
		t.Fatal(err)
	}
	full := len(f.fake.Requests())
	if err := f.fake.Update(testTenantID, func(t *fakeentra.Tenant) { t.Users[3].JobTitle = "Changed" }); err != nil {
		t.Fatal(err)
	}
	f.fake.ResetRequests()
	if _, err := r.ReadChanges(ctx, deltaOptions, m); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, req := range f.fake.Requests() {
		if !strings.Contains(req.Path, "/token") {
			paths = append(paths, req.Path)
		}
	}
	// The users and groups deltas and their two counts.
	if len(paths) != 4 || full < 40 {
		t.Fatalf("a delta sent %d Graph requests %v (a full read %d); want 4, against at least 40", len(paths), paths, full)
	}
}

// cloneMirror copies m deeply enough that changing the copy's slices
// leaves m alone.
func cloneMirror(m *domain.SourceMirror) *domain.SourceMirror {
	c := *m
	c.Users = slices.Clone(m.Users)
	c.Groups = make([]domain.DirectGroup, len(m.Groups))
	for i, g := range m.Groups {
		g.UserIDs, g.GroupIDs = slices.Clone(g.UserIDs), slices.Clone(g.GroupIDs)
		c.Groups[i] = g
	}
	return &c
}

// canonicalMirror is what a mirror says, in an order that does not depend
// on how it was read: groups by id, their members sorted, and neither the
// deltaLinks nor when it was read in full.
func canonicalMirror(m *domain.SourceMirror) domain.SourceMirror {
	c := *cloneMirror(m)
	c.DeltaLinks, c.FullReadAt = domain.DeltaLinks{}, time.Time{}
	slices.SortFunc(c.Groups, func(a, b domain.DirectGroup) int { return cmp.Compare(a.ID, b.ID) })
	for i := range c.Groups {
		slices.Sort(c.Groups[i].UserIDs)
		slices.Sort(c.Groups[i].GroupIDs)
		if len(c.Groups[i].UserIDs) == 0 {
			c.Groups[i].UserIDs = nil
		}
		if len(c.Groups[i].GroupIDs) == 0 {
			c.Groups[i].GroupIDs = nil
		}
	}
	return c
}

func sortGroups(s *domain.Snapshot) {
	slices.SortFunc(s.Groups, func(a, b domain.SourceGroup) int { return cmp.Compare(a.ID, b.ID) })
}

// platformOf is a platform directory linked to every user and group of s,
// with no attributes, so a plan against it updates, deactivates and
// reactivates as the source differs.
func platformOf(s *domain.Snapshot) *domain.Directory {
	d := &domain.Directory{}
	byEntra := map[string]string{}
	for i, u := range s.Users {
		id := fmt.Sprintf("p-%04d", i)
		byEntra[u.ID] = id
		email := u.Mail
		if email == "" {
			email = u.UserPrincipalName
		}
		status := domain.StatusActive
		if !u.AccountEnabled {
			status = domain.StatusInactive
		}
		d.Users = append(d.Users, domain.PlatformUser{ID: id, Email: email, Status: status, Source: domain.SourceEntra,
			ExternalID: u.ID, ExternalTenantID: s.DirectoryTenantID, DeactivatedBySync: !u.AccountEnabled, Revision: 1})
	}
	for i, g := range s.Groups {
		var members []string
		for _, m := range g.MemberIDs {
			if id, ok := byEntra[m]; ok {
				members = append(members, id)
			}
		}
		slices.Sort(members)
		d.Groups = append(d.Groups, domain.PlatformGroup{ID: fmt.Sprintf("pg-%04d", i), DisplayName: g.DisplayName, Source: domain.SourceEntra,
			ExternalID: g.ID, ExternalTenantID: s.DirectoryTenantID, MemberIDs: members, Revision: 1})
	}
	return d
}

// planOutline is a plan's changes and counts, in an order that does not
// depend on the order the source listed its groups: each change without
// its seq, and a user's group changes by count (they name group seqs).
func planOutline(p *domain.Plan) []string {
	out := []string{fmt.Sprintf("counts %+v", p.Counts), fmt.Sprintf("safeguards %+v", p.Safeguards)}
	for _, c := range p.Changes {
		memberOf := len(c.MemberOf)
		c.Seq, c.MemberOf = 0, nil
		out = append(out, fmt.Sprintf("%+v in %d groups", c, memberOf))
	}
	slices.Sort(out[2:])
	return out
}

// Applying a groups round: what Graph listed changes, what it did not
// keeps its memory, and a user removed by the users round leaves every
// group even where the groups round did not say so.
func TestGroupChangesApply(t *testing.T) {
	groups := []domain.DirectGroup{
		{ID: "g1", DisplayName: "One", Description: "the first", Mail: "one@contoso.com", UserIDs: []string{"u1", "u2", "u3"}, GroupIDs: []string{"g2"}},
		{ID: "g2", DisplayName: "Two", UserIDs: []string{"u2"}},
		{ID: "g3", DisplayName: "Three", UserIDs: []string{"u4"}},
	}
	c := &groupChanges{byID: map[string]*groupChange{}, removed: map[string]struct{}{"g3": {}}}
	str := func(s string) *string { return &s }
	// g1's entry renames it, clears its mail (null) and leaves its
	// description out, which it keeps.
	g1 := &groupChange{props: deltaGroupJSON{ID: "g1", DisplayName: str("One renamed"), Mail: str("")}}
	g1.users.set("u1", false)
	g1.users.set("u5", true)
	g1.users.set("u6", true)
	g1.users.set("u6", false) // added and removed again within the round
	g1.groups.set("g4", true)
	g4 := &groupChange{props: deltaGroupJSON{ID: "g4", DisplayName: str("Four")}}
	g4.users.set("u3", true)
	c.byID["g1"], c.byID["g4"] = g1, g4
	c.order = []string{"g1", "g4"}

	got := c.apply(groups, map[string]struct{}{"u2": {}})
	want := []domain.DirectGroup{
		{ID: "g1", DisplayName: "One renamed", Description: "the first", UserIDs: []string{"u3", "u5"}, GroupIDs: []string{"g2", "g4"}},
		{ID: "g2", DisplayName: "Two", UserIDs: []string{}},
		{ID: "g4", DisplayName: "Four", UserIDs: []string{"u3"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("apply:\n got %+v\nwant %+v", got, want)
	}
	if !reflect.DeepEqual(groups[0].UserIDs, []string{"u1", "u2", "u3"}) || !reflect.DeepEqual(groups[1].UserIDs, []string{"u2"}) {
		t.Fatalf("apply changed the groups it was given: %+v", groups)
	}
	// Without removed users, an unchanged group is the same slice.
	again := c.apply(groups, nil)
	if &again[1].UserIDs[0] != &groups[1].UserIDs[0] {
		t.Error("an unchanged group's members were copied")
	}
}

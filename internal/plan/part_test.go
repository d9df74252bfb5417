package plan

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"dirsync/internal/domain"
)

// settledDirectory drops the memberships of platform users that do not
// exist: a directory a sync applied cleanly holds none, and a part loads
// memberships through their users.
func settledDirectory(dir *domain.Directory) {
	ids := make(map[string]bool, len(dir.Users))
	for _, u := range dir.Users {
		ids[u.ID] = true
	}
	for i := range dir.Groups {
		dir.Groups[i].MemberIDs = slices.DeleteFunc(slices.Clone(dir.Groups[i].MemberIDs), func(id string) bool { return !ids[id] })
	}
}

// touchedBetween lists the source users whose record or groups differ
// between two snapshots, or that only one of them has.
func touchedBetween(before, after *domain.Snapshot) []string {
	groupsOf := func(s *domain.Snapshot) map[string][]string {
		m := map[string][]string{}
		for _, g := range s.Groups {
			for _, id := range g.MemberIDs {
				m[id] = append(m[id], g.ID)
			}
		}
		for id := range m {
			slices.Sort(m[id])
		}
		return m
	}
	bg, ag := groupsOf(before), groupsOf(after)
	users := map[string]*domain.SourceUser{}
	for i := range before.Users {
		users[before.Users[i].ID] = &before.Users[i]
	}
	var touched []string
	seen := map[string]bool{}
	for i := range after.Users {
		u := &after.Users[i]
		seen[u.ID] = true
		if b, ok := users[u.ID]; !ok || !reflect.DeepEqual(b, u) || !slices.Equal(bg[u.ID], ag[u.ID]) {
			touched = append(touched, u.ID)
		}
	}
	for id := range users {
		if !seen[id] {
			touched = append(touched, id)
		}
	}
	return touched
}

// directoryPart is what the store's part of a directory holds: the
// platform users linked to one of the source ids, holding one of their
// emails or with one of the platform ids; every group, with its members
// among them (every member for the full groups).
func directoryPart(dir *domain.Directory, dirTenant string, sources, withEmails, platform, full []string) *domain.Directory {
	emails := map[string]bool{}
	wanted := map[string]bool{}
	for _, id := range sources {
		wanted[id] = true
	}
	for _, e := range withEmails {
		emails[domain.NormalizeEmail(e)] = true
	}
	byID := map[string]bool{}
	for _, id := range platform {
		byID[id] = true
	}
	part := &domain.Directory{}
	kept := map[string]bool{}
	for _, u := range dir.Users {
		if (linkedTo(&u, dirTenant) && wanted[u.ExternalID]) || emails[domain.NormalizeEmail(u.Email)] || byID[u.ID] {
			part.Users = append(part.Users, u)
			kept[u.ID] = true
		}
	}
	slices.SortFunc(part.Users, func(a, b domain.PlatformUser) int { return strings.Compare(a.ID, b.ID) })
	for _, g := range dir.Groups {
		if !slices.Contains(full, g.ID) { // a handful
			g.MemberIDs = slices.DeleteFunc(slices.Clone(g.MemberIDs), func(id string) bool { return !kept[id] })
		}
		part.Groups = append(part.Groups, g)
	}
	return part
}

// mutateSource changes the source as Entra ID might between two reads.
func mutateSource(s *domain.Snapshot, r *fuzzReader) *domain.Snapshot {
	next := &domain.Snapshot{DirectoryTenantID: s.DirectoryTenantID, UserProperties: s.UserProperties}
	for _, u := range s.Users {
		u.Values = slices.Clone(u.Values)
		next.Users = append(next.Users, u)
	}
	for _, g := range s.Groups {
		g.MemberIDs = slices.Clone(g.MemberIDs)
		next.Groups = append(next.Groups, g)
	}
	for step := range 1 + r.intn(3) {
		if len(next.Users) == 0 {
			break
		}
		i := r.intn(len(next.Users))
		u := &next.Users[i]
		switch r.intn(11) {
		case 9, 10:
			// Take another user's email: both are duplicates now.
			u.Mail = next.Users[r.intn(len(next.Users))].Mail
		case 0:
			u.AccountEnabled = !u.AccountEnabled
		case 1:
			u.Values[r.intn(len(u.Values))] = r.pick(fuzzValues)
		case 2:
			u.Mail = r.pick(fuzzEmails)
		case 3:
			next.Users = slices.Delete(next.Users, i, i+1)
		case 4:
			nu := *u
			nu.ID, nu.Mail, nu.Values = "s-new"+strconv.Itoa(step), r.pick(fuzzEmails), slices.Clone(u.Values)
			next.Users = append(next.Users, nu)
		case 5:
			u.Guest = !u.Guest
		case 6, 7:
			if len(next.Groups) > 0 {
				g := &next.Groups[r.intn(len(next.Groups))]
				if j := slices.Index(g.MemberIDs, u.ID); j >= 0 {
					g.MemberIDs = slices.Delete(g.MemberIDs, j, j+1)
				} else {
					g.MemberIDs = append(g.MemberIDs, u.ID)
				}
			}
		case 8:
			if len(next.Groups) > 0 && r.bool() {
				j := r.intn(len(next.Groups))
				next.Groups = slices.Delete(next.Groups, j, j+1)
			} else {
				next.Groups = append(next.Groups, domain.SourceGroup{ID: "g-new" + strconv.Itoa(len(next.Groups)), DisplayName: "New", MemberIDs: []string{u.ID}})
			}
		}
	}
	return next
}

// planPart plans part of in the way a re-sync does: from the touched
// users and what the last plan left pending, loading what the part needs
// until it needs nothing more.
func planPart(t testing.TB, in domain.PlanInput, sources, platform []string, bases domain.SafeguardBases) (*domain.Plan, error) {
	t.Helper()
	var emails, full []string
	for range 20 {
		part := directoryPart(in.Directory, in.Snapshot.DirectoryTenantID, sources, emails, platform, full)
		p, needs, err := ComputePart(domain.PartInput{
			PlanInput: domain.PlanInput{Snapshot: in.Snapshot, Directory: part, Options: in.Options, ActorEmail: in.ActorEmail},
			Users:     sources, Emails: emails, FullGroups: full, Bases: bases,
		})
		if err != nil || needs.Empty() {
			return p, err
		}
		sources = append(sources, needs.Users...)
		emails = append(emails, needs.Emails...)
		full = append(full, needs.Groups...)
	}
	t.Fatal("the part kept needing more")
	return nil, nil
}

// checkPartEqualsWhole plans the source after a change from the part a
// re-sync would cover, and compares it with the full plan.
func checkPartEqualsWhole(t *testing.T, data []byte) {
	in := fuzzInput(data)
	settledDirectory(in.Directory)
	before, err := Compute(in)
	if err != nil {
		return
	}
	// What the last plan listed, and the linked users it left active (no
	// change lists them; the basis does).
	sources, platform := domain.Unsettled(before.Changes)
	sources = append(sources, before.LeftActive...)
	r := &fuzzReader{data: data, pos: len(data) / 2}
	after := in
	after.Snapshot = mutateSource(in.Snapshot, r)
	sources = append(sources, touchedBetween(in.Snapshot, after.Snapshot)...)

	want, wantErr := Compute(after)
	got, err := planPart(t, after, sources, platform, before.Bases)
	switch {
	case errors.Is(err, domain.ErrPartOfEmptySource):
		if len(after.Snapshot.Users) != 0 {
			t.Fatalf("ErrPartOfEmptySource with %d users", len(after.Snapshot.Users))
		}
		return
	case wantErr != nil || err != nil:
		if !errors.Is(err, wantErr) && (err == nil || wantErr == nil || err.Error() != wantErr.Error()) {
			t.Fatalf("part: %v, whole: %v", err, wantErr)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the plan of the part differs from the whole plan\npart:  %+v %+v after %+v left active %v\n%s\nwhole: %+v %+v after %+v left active %v\n%s",
			got.Counts, got.Bases, got.BasesAfter, got.LeftActive, strings.Join(summaries(got), "\n"),
			want.Counts, want.Bases, want.BasesAfter, want.LeftActive, strings.Join(summaries(want), "\n"))
	}
}

func TestComputePartEqualsCompute(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 7))
	for n := range 3000 {
		data := make([]byte, 40+rng.IntN(120))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		t.Run(strconv.Itoa(n), func(t *testing.T) { checkPartEqualsWhole(t, data) })
	}
}

func FuzzComputePart(f *testing.F) {
	f.Add([]byte("\x05\x00\x01\x01\x00\x02\x03\x00\x01\x04\x02\x01\x01\x01\x03\x00\x01\x02\x03\x04\x05\x06\x07\x08"))
	f.Fuzz(checkPartEqualsWhole)
}

// TestComputePartOfASettledDirectory plans parts of synthetic tenants
// whose directories mirror their sources but for a little drift: most
// users are settled, so the part is a small share of the tenant and every
// user it leaves out must indeed be unchanged.
func TestComputePartOfASettledDirectory(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 3))
	for n := range 300 {
		in := generate(genConfig{users: 80, groups: 6, membersPerGroup: 20, resync: true,
			changedPct: 3, deletedPct: 3, addedPct: 3, seed: uint64(n)})
		settledDirectory(in.Directory)
		if n%3 == 1 {
			in.Options.Scope.Groups = []string{in.Snapshot.Groups[0].ID, in.Snapshot.Groups[1].ID}
		}
		in.Options.IncludeGuests = n%2 == 0
		before, err := Compute(in)
		if err != nil {
			t.Fatal(err)
		}
		sources, platform := domain.Unsettled(before.Changes)
		sources = append(sources, before.LeftActive...)
		data := make([]byte, 64)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		after := in
		after.Snapshot = mutateSource(in.Snapshot, &fuzzReader{data: data})
		sources = append(sources, touchedBetween(in.Snapshot, after.Snapshot)...)
		want, err := Compute(after)
		if err != nil {
			t.Fatal(err)
		}
		got, err := planPart(t, after, sources, platform, before.Bases)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("tenant %d: the plan of the part differs from the whole plan\npart:  %+v %+v after %+v\n%s\nwhole: %+v %+v after %+v\n%s", n,
				got.Counts, got.Bases, got.BasesAfter, strings.Join(summaries(got), "\n"),
				want.Counts, want.Bases, want.BasesAfter, strings.Join(summaries(want), "\n"))
		}
	}
}

func TestComputePartNeeds(t *testing.T) {
	user := func(id, mail string) domain.SourceUser {
		return domain.SourceUser{ID: id, Mail: mail, AccountEnabled: true, Values: values("displayName", id, "jobTitle", "")}
	}
	linked := func(id, externalID, email string) domain.PlatformUser {
		return domain.PlatformUser{ID: id, Email: email, Status: domain.StatusActive, Source: domain.SourceEntra,
			ExternalID: externalID, ExternalTenantID: tenant, Attributes: attrsOf("displayName", externalID)}
	}
	snap := &domain.Snapshot{DirectoryTenantID: tenant, UserProperties: testProps, Users: []domain.SourceUser{
		user("s1", "a@x.com"), user("s2", "A@x.com"), user("s3", "c@x.com"), user("s4", ""), user("s5", "e@x.com"),
	}, Groups: []domain.SourceGroup{{ID: "g1", DisplayName: "New", MemberIDs: []string{"s3", "s5"}}}}
	cases := []struct {
		name     string
		users    []string
		dir      domain.Directory
		options  domain.Options
		noGroups bool
		want     domain.PartNeeds
		wantNext domain.PartNeeds // once the first needs are met
	}{
		{name: "a user sharing the email, one without email, a new group's members",
			users: []string{"s1"},
			want:  domain.PartNeeds{Users: []string{"s2", "s4"}},
			// g1 is new: its members join.
			wantNext: domain.PartNeeds{Users: []string{"s3", "s5"}}},
		{name: "the user linked to the platform user holding the email",
			users:    []string{"s3", "s4", "s1", "s2"},
			dir:      domain.Directory{Users: []domain.PlatformUser{linked("p9", "s5", "c@x.com")}},
			noGroups: true,
			want:     domain.PartNeeds{Users: []string{"s5"}}},
		{name: "an ignored user",
			users: []string{"s3", "s5", "s4"}, options: domain.Options{IgnoredUsers: []string{"s1"}},
			// s2 shares s1's email; an ignored user takes no part in the
			// matching, so that is more than needed, which costs nothing.
			want: domain.PartNeeds{Users: []string{"s1", "s2"}}},
		{name: "a removed group",
			users: []string{"s3", "s5", "s4", "s1", "s2"},
			dir: domain.Directory{Groups: []domain.PlatformGroup{
				{ID: "pg1", DisplayName: "Old", Source: domain.SourceEntra, ExternalID: "g-gone", ExternalTenantID: tenant},
			}},
			want: domain.PartNeeds{Users: []string{}, Groups: []string{"pg1"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := domain.PartInput{PlanInput: domain.PlanInput{Snapshot: snap, Directory: &tc.dir, Options: tc.options}, Users: tc.users}
			if tc.noGroups {
				in.Snapshot = &domain.Snapshot{DirectoryTenantID: tenant, UserProperties: testProps, Users: snap.Users}
			}
			// needs plans until the part needs users or groups, giving it
			// every email holder it asks for (the directory holds them).
			needs := func() domain.PartNeeds {
				for {
					_, n, err := ComputePart(in)
					if err != nil {
						t.Fatal(err)
					}
					if len(n.Users) > 0 || len(n.Groups) > 0 || n.Empty() {
						return n
					}
					in.Emails = append(in.Emails, n.Emails...)
				}
			}
			first := needs()
			if !slices.Equal(first.Users, tc.want.Users) || !slices.Equal(first.Groups, tc.want.Groups) {
				t.Fatalf("needs %+v, want %+v", first, tc.want)
			}
			in.Users = append(slices.Clone(in.Users), first.Users...)
			in.Emails = append(in.Emails, first.Emails...)
			in.FullGroups = first.Groups
			if next := needs(); !slices.Equal(next.Users, tc.wantNext.Users) || !slices.Equal(next.Groups, tc.wantNext.Groups) {
				t.Fatalf("then needs %+v, want %+v", next, tc.wantNext)
			}
		})
	}
}

// BenchmarkComputePart plans the re-sync tenants of BenchmarkCompute from
// their part, as a re-sync after the plan before them does: the users
// that plan listed (its drift) and what they pull in, over the rounds a
// re-sync loads. The directory part is filtered in memory beforehand for
// every round, so only the engine is timed; beside BenchmarkCompute's
// resync figures.
func BenchmarkComputePart(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  genConfig
	}{
		{"resync-100k", resyncConfig(100_000)},
		{"resync-1M", resyncConfig(1_000_000)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := cachedInput(bc.cfg)
			whole, err := Compute(in)
			if err != nil {
				b.Fatal(err)
			}
			sources, platform := domain.Unsettled(whole.Changes)
			sources = append(sources, whole.LeftActive...)
			// The rounds a re-sync makes, each with the part it loaded.
			type round struct {
				in domain.PartInput
			}
			var rounds []round
			var emails, full []string
			var plan *domain.Plan
			for plan == nil {
				part := directoryPart(in.Directory, in.Snapshot.DirectoryTenantID, sources, emails, platform, full)
				pin := domain.PartInput{PlanInput: domain.PlanInput{Snapshot: in.Snapshot, Directory: part, Options: in.Options, ActorEmail: in.ActorEmail},
					Users: slices.Clone(sources), Emails: slices.Clone(emails), FullGroups: slices.Clone(full), Bases: whole.Bases}
				rounds = append(rounds, round{pin})
				p, needs, err := ComputePart(pin)
				if err != nil {
					b.Fatal(err)
				}
				plan = p
				sources, emails, full = append(sources, needs.Users...), append(emails, needs.Emails...), append(full, needs.Groups...)
			}
			if !reflect.DeepEqual(plan, whole) {
				b.Fatal("the part's plan differs from the whole plan")
			}
			measure(b, len(in.Snapshot.Users), func() {
				for _, r := range rounds {
					if _, _, err := ComputePart(r.in); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.ReportMetric(float64(len(rounds)), "rounds")
			b.ReportMetric(float64(len(rounds[len(rounds)-1].in.Users)), "part-users")
		})
	}
}

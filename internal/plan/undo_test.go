package plan

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"dirsync/internal/domain"
)

// undoSummary renders an undo change on one line: summary's, then the base
// revision, unlink, a group's display name, the attributes and the group
// changes naming a user in their memberships.
func undoSummary(ch domain.Change) string {
	var b strings.Builder
	b.WriteString(summary(ch))
	fmt.Fprintf(&b, " r%d", ch.BaseRevision)
	if ch.Unlink {
		b.WriteString(" unlink")
	}
	if ch.ObjectType == domain.ObjectGroup {
		fmt.Fprintf(&b, " %q", ch.Subject.DisplayName)
	}
	for _, a := range ch.Attributes {
		fmt.Fprintf(&b, " %s=%s", a.Name, a.Value)
	}
	for _, m := range ch.MemberOf {
		sign := "+"
		if m.Remove {
			sign = "-"
		}
		fmt.Fprintf(&b, " %sg%d", sign, m.Group)
	}
	return b.String()
}

func TestInvert(t *testing.T) {
	const target = "1m8tsyncundone000000000000"
	added, addedGroup := domain.DerivedID(target, 1), domain.DerivedID(target, 7)
	active := func(id, email string, rev int64) domain.PlatformUser {
		return domain.PlatformUser{ID: id, Email: email, Revision: rev, Status: domain.StatusActive}
	}
	inactive := func(id, email string, rev int64) domain.PlatformUser {
		u := active(id, email, rev)
		u.Status, u.DeactivatedBySync = domain.StatusInactive, true
		return u
	}
	removal := func(seq int, members ...string) domain.Change {
		c := domain.Change{Seq: seq, ObjectType: domain.ObjectGroup, Kind: domain.KindRemove, TargetID: "g9", BaseRevision: 2,
			Subject: domain.Subject{ExternalID: "g9x", DisplayName: "Removed"}}
		for _, m := range members {
			c.MembersRemoved = append(c.MembersRemoved, domain.MemberRef{UserID: m})
		}
		return c
	}
	many := make([]string, 5000) // a removal's list spans chunks
	manyUsers := make([]domain.PlatformUser, len(many))
	for i := range many {
		many[i] = fmt.Sprintf("m%05d", i)
		manyUsers[i] = active(many[i], many[i]+"@x.example", 3)
	}

	tests := []struct {
		name    string
		applied []domain.Change
		dir     domain.Directory
		want    []string // undoSummary of each change, in plan order
		counts  domain.Counts
		bases   domain.SafeguardBases
	}{
		{
			name: "every kind of change is inverted; what was edited since is marked",
			applied: []domain.Change{
				{Seq: 1, ObjectType: domain.ObjectUser, Kind: domain.KindAdd, Subject: domain.Subject{ExternalID: "e1", Email: "new@x.example"}},
				{Seq: 2, ObjectType: domain.ObjectUser, Kind: domain.KindUpdate, TargetID: "u2", BaseRevision: 4, Link: true,
					Subject: domain.Subject{ExternalID: "e2"}, Fields: []domain.FieldChange{{Name: "jobTitle", Before: "Temp", After: "Engineer"}}},
				{Seq: 3, ObjectType: domain.ObjectUser, Kind: domain.KindUpdate, TargetID: "u3", BaseRevision: 2,
					Fields: []domain.FieldChange{{Name: "department", Before: "", After: "Sales"}}},
				{Seq: 4, ObjectType: domain.ObjectUser, Kind: domain.KindReactivate, TargetID: "u4", BaseRevision: 9},
				{Seq: 5, ObjectType: domain.ObjectUser, Kind: domain.KindDeactivate, TargetID: "u5", BaseRevision: 1},
				{Seq: 6, ObjectType: domain.ObjectUser, Kind: domain.KindUpdate, TargetID: "gone", BaseRevision: 1},
				{Seq: 7, ObjectType: domain.ObjectGroup, Kind: domain.KindAdd, Subject: domain.Subject{ExternalID: "g7", DisplayName: "New group"},
					MembersAdded: []domain.MemberRef{{ExternalID: "e1"}}},
				{Seq: 8, ObjectType: domain.ObjectGroup, Kind: domain.KindUpdate, TargetID: "g8", BaseRevision: 3,
					Fields:       []domain.FieldChange{{Name: "displayName", Before: "Old", After: "Renamed"}},
					MembersAdded: []domain.MemberRef{{UserID: "u3"}}, MembersRemoved: []domain.MemberRef{{UserID: "u5"}}},
				{Seq: 9, ObjectType: domain.ObjectGroup, Kind: domain.KindRemove, TargetID: "g9", Subject: domain.Subject{ExternalID: "g9x", DisplayName: "Removed"}},
			},
			dir: domain.Directory{
				Users: []domain.PlatformUser{
					{ID: added, Email: "new@x.example", Revision: 1, Status: domain.StatusActive, ExternalID: "e1", ExternalTenantID: "d"},
					{ID: "u2", Email: "linked@x.example", Revision: 5, Status: domain.StatusActive, ExternalID: "e2", ExternalTenantID: "d"},
					active("u3", "edited@x.example", 4), // 3 after the sync, edited since
					active("u4", "back@x.example", 10),
					{ID: "u5", Email: "left@x.example", Revision: 2, Status: domain.StatusInactive},
				},
				Groups: []domain.PlatformGroup{
					{ID: addedGroup, DisplayName: "New group", Revision: 1, ExternalID: "g7", ExternalTenantID: "d", MemberIDs: []string{added}},
					{ID: "g8", DisplayName: "Renamed", Revision: 4, ExternalID: "g8x", ExternalTenantID: "d"},
				},
			},
			want: []string{
				"user update e2 <linked@x.example> @u2 (undo) {jobTitle:Engineer>Temp} r5 unlink",
				"user update  <edited@x.example> @u3 (changed_since_sync) {department:Sales>} r3 -g7",
				"user reactivate  <left@x.example> @u5 (undo) r2 +g7",
				"user deactivate e1 <new@x.example> @" + added + " (undo) r1",
				"user deactivate  <back@x.example> @u4 (undo) r10",
				`group add g9x (undo) r0 "Removed"`,
				`group update  @g8 (undo) {displayName:Renamed>Old} +[u:u5] -[u:u3] r4 "Renamed"`,
				`group remove g7 @` + addedGroup + ` (undo) -[u:` + added + `] r1 "New group"`,
			},
			counts: domain.Counts{
				Users:       domain.UserCounts{Update: 2, Reactivate: 1, Deactivate: 2},
				Groups:      domain.GroupCounts{Add: 1, Update: 1, Remove: 1},
				Memberships: domain.MembershipCounts{Add: 1, Remove: 2},
			},
			bases: domain.SafeguardBases{ActiveLinked: 2, OwnedGroups: 2, HeldMemberships: 1},
		},
		{
			name: "a removed group is added back with its description and the memberships it held, inactive members too",
			applied: []domain.Change{
				{Seq: 1, ObjectType: domain.ObjectUser, Kind: domain.KindDeactivate, TargetID: "u2", BaseRevision: 6,
					Fields: []domain.FieldChange{{Name: "status", Before: "active", After: "inactive"}}},
				func() domain.Change {
					c := removal(2, "u1", "u2", "u3", "u4")
					c.Attributes = domain.Attrs{{Name: "description", Value: "The old team"}}
					return c
				}(),
			},
			dir: domain.Directory{Users: []domain.PlatformUser{
				active("u1", "one@x.example", 3),
				inactive("u2", "two@x.example", 7),   // the sync deactivated it: the undo reactivates it
				inactive("u4", "four@x.example", 12), // deactivated by hand since: still held the membership
			}},
			want: []string{
				"user reactivate  <two@x.example> @u2 (undo) {status:inactive>active} r7 +g2",
				`group add g9x (undo) +[u:u1 u:u2 u:u4] r0 "Removed" description=The old team`,
			},
			counts: domain.Counts{
				Users:       domain.UserCounts{Reactivate: 1},
				Groups:      domain.GroupCounts{Add: 1},
				Memberships: domain.MembershipCounts{Add: 3},
			},
		},
		{
			name:    "a removed group whose members are all gone is added back empty",
			applied: []domain.Change{removal(4, "u1", "u2")},
			want:    []string{`group add g9x (undo) r0 "Removed"`},
			counts:  domain.Counts{Groups: domain.GroupCounts{Add: 1}},
		},
		{
			name:    "a removed group of thousands gets every member back",
			applied: []domain.Change{removal(1, many...)},
			dir:     domain.Directory{Users: manyUsers},
			want: []string{"group add g9x (undo) +[" + strings.Join(func() []string {
				refs := make([]string, len(many))
				for i, m := range many {
					refs[i] = "u:" + m
				}
				return refs
			}(), " ") + `] r0 "Removed"`},
			counts: domain.Counts{Groups: domain.GroupCounts{Add: 1}, Memberships: domain.MembershipCounts{Add: len(many)}},
		},
		{
			name: "a group update's removed memberships come back only for users still there",
			applied: []domain.Change{{Seq: 3, ObjectType: domain.ObjectGroup, Kind: domain.KindUpdate, TargetID: "g8", BaseRevision: 3,
				Subject:        domain.Subject{ExternalID: "g8x", DisplayName: "Team"},
				MembersRemoved: []domain.MemberRef{{UserID: "u1"}, {UserID: "u-gone"}}}},
			dir: domain.Directory{
				Users:  []domain.PlatformUser{active("u1", "one@x.example", 3)},
				Groups: []domain.PlatformGroup{{ID: "g8", DisplayName: "Team", Revision: 4, ExternalID: "g8x", ExternalTenantID: "d"}},
			},
			want:   []string{`group update g8x @g8 (undo) +[u:u1] r4 "Team"`},
			counts: domain.Counts{Groups: domain.GroupCounts{Update: 1}, Memberships: domain.MembershipCounts{Add: 1}},
			bases:  domain.SafeguardBases{OwnedGroups: 1},
		},
		{
			name: "a reactivation that changed fields is undone by a deactivation restoring their befores",
			applied: []domain.Change{{Seq: 2, ObjectType: domain.ObjectUser, Kind: domain.KindReactivate, TargetID: "u1", BaseRevision: 8,
				Reason: domain.ReasonBackInScope, Subject: domain.Subject{ExternalID: "e1", Email: "grace@x.example"},
				Fields: []domain.FieldChange{
					{Name: domain.EmailAttribute, Before: "g.old@x.example", After: "grace@x.example"},
					{Name: "jobTitle", Before: "Intern", After: "Engineer"},
					{Name: "department", Before: "", After: "Research"},
					{Name: "status", Before: "inactive", After: "active"},
				}}},
			dir: domain.Directory{Users: []domain.PlatformUser{{ID: "u1", Email: "grace@x.example", Revision: 9, Status: domain.StatusActive,
				Source: domain.SourceEntra, ExternalID: "e1", ExternalTenantID: "d"}}},
			want: []string{"user deactivate e1 <grace@x.example> @u1 (undo) " +
				"{email:grace@x.example>g.old@x.example, jobTitle:Engineer>Intern, department:Research>, status:active>inactive} r9"},
			counts: domain.Counts{Users: domain.UserCounts{Deactivate: 1}},
			bases:  domain.SafeguardBases{ActiveLinked: 1},
		},
		{
			name: "a reactivation of the status alone is undone by a deactivation of it alone",
			applied: []domain.Change{{Seq: 2, ObjectType: domain.ObjectUser, Kind: domain.KindReactivate, TargetID: "u1", BaseRevision: 8,
				Fields: []domain.FieldChange{{Name: "status", Before: "inactive", After: "active"}}}},
			dir:    domain.Directory{Users: []domain.PlatformUser{active("u1", "grace@x.example", 9)}},
			want:   []string{"user deactivate  <grace@x.example> @u1 (undo) {status:active>inactive} r9"},
			counts: domain.Counts{Users: domain.UserCounts{Deactivate: 1}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir
			p := Invert(domain.UndoInput{Target: &domain.Sync{ID: target, DirectoryTenantID: "d"}, Applied: tc.applied, Directory: &dir})
			var got []string
			for i, c := range p.Changes {
				if c.Seq != i+1 {
					t.Fatalf("change %d has seq %d", i, c.Seq)
				}
				got = append(got, undoSummary(c))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("undo plan\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(tc.want, "\n      "))
			}
			if p.Counts != tc.counts {
				t.Errorf("counts %+v, want %+v", p.Counts, tc.counts)
			}
			if p.Bases != tc.bases {
				t.Errorf("bases %+v, want %+v", p.Bases, tc.bases)
			}
		})
	}
}

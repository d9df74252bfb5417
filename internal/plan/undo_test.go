package plan

import (
	"reflect"
	"testing"

	"dirsync/internal/domain"
)

func TestInvert(t *testing.T) {
	const target = "1m8tsyncundone000000000000"
	added, addedGroup := domain.DerivedID(target, 1), domain.DerivedID(target, 7)
	applied := []domain.Change{
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
	}
	dir := &domain.Directory{
		Users: []domain.PlatformUser{
			{ID: added, Email: "new@x.example", Revision: 1, Status: domain.StatusActive, ExternalID: "e1", ExternalTenantID: "d"},
			{ID: "u2", Email: "linked@x.example", Revision: 5, Status: domain.StatusActive, ExternalID: "e2", ExternalTenantID: "d"},
			{ID: "u3", Email: "edited@x.example", Revision: 4, Status: domain.StatusActive}, // 3 after the sync, edited since
			{ID: "u4", Email: "back@x.example", Revision: 10, Status: domain.StatusActive},
			{ID: "u5", Email: "left@x.example", Revision: 2, Status: domain.StatusInactive},
		},
		Groups: []domain.PlatformGroup{
			{ID: addedGroup, DisplayName: "New group", Revision: 1, ExternalID: "g7", ExternalTenantID: "d", MemberIDs: []string{added}},
			{ID: "g8", DisplayName: "Renamed", Revision: 4, ExternalID: "g8x", ExternalTenantID: "d"},
		},
	}
	p := Invert(domain.UndoInput{Target: &domain.Sync{ID: target, DirectoryTenantID: "d"}, Applied: applied, Directory: dir})
	type row struct {
		ot     domain.ObjectType
		kind   domain.ChangeKind
		target string
		base   int64
		reason string
	}
	var got []row
	for i, c := range p.Changes {
		if c.Seq != i+1 {
			t.Fatalf("change %d has seq %d", i, c.Seq)
		}
		got = append(got, row{c.ObjectType, c.Kind, c.TargetID, c.BaseRevision, c.Reason})
	}
	want := []row{
		{domain.ObjectUser, domain.KindUpdate, "u2", 5, domain.ReasonUndo},
		{domain.ObjectUser, domain.KindUpdate, "u3", 3, domain.ReasonChangedSinceSync},
		{domain.ObjectUser, domain.KindReactivate, "u5", 2, domain.ReasonUndo},
		{domain.ObjectUser, domain.KindDeactivate, added, 1, domain.ReasonUndo},
		{domain.ObjectUser, domain.KindDeactivate, "u4", 10, domain.ReasonUndo},
		{domain.ObjectGroup, domain.KindAdd, "", 0, domain.ReasonUndo},
		{domain.ObjectGroup, domain.KindUpdate, "g8", 4, domain.ReasonUndo},
		{domain.ObjectGroup, domain.KindRemove, addedGroup, 1, domain.ReasonUndo},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("undo plan\n%v\nwant\n%v", got, want)
	}
	link := p.Changes[0]
	if !link.Unlink || link.Link || !reflect.DeepEqual(link.Fields, []domain.FieldChange{{Name: "jobTitle", Before: "Engineer", After: "Temp"}}) {
		t.Fatalf("the undo of a link by email: %+v, want the fields restored and the link undone", link)
	}
	group := p.Changes[6]
	if !reflect.DeepEqual(group.MembersAdded, []domain.MemberRef{{UserID: "u5"}}) || !reflect.DeepEqual(group.MembersRemoved, []domain.MemberRef{{UserID: "u3"}}) ||
		group.Fields[0] != (domain.FieldChange{Name: "displayName", Before: "Renamed", After: "Old"}) {
		t.Fatalf("the undo of a group update: %+v", group)
	}
	if readded := p.Changes[5]; readded.Subject.ExternalID != "g9x" || readded.Subject.DisplayName != "Removed" {
		t.Fatalf("the undo of a group removal: %+v", readded)
	}
	wantCounts := domain.Counts{
		Users:       domain.UserCounts{Update: 2, Reactivate: 1, Deactivate: 2},
		Groups:      domain.GroupCounts{Add: 1, Update: 1, Remove: 1},
		Memberships: domain.MembershipCounts{Add: 1, Remove: 1},
	}
	if p.Counts != wantCounts {
		t.Fatalf("counts %+v, want %+v", p.Counts, wantCounts)
	}
	if p.Bases != (domain.SafeguardBases{ActiveLinked: 2, OwnedGroups: 2, HeldMemberships: 1}) {
		t.Fatalf("bases %+v", p.Bases)
	}
}

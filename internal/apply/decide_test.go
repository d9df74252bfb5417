package apply

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"testing"

	"dirsync/internal/domain"
)

// The rules of applying one change, each table-tested on the pure
// decisions; apply_test.go and email_test.go run them against DynamoDB
// Local.

var testContext = applyContext{Tenant: "acme", SyncID: "01hxsync0000000000000000a", Directory: "dir-1", ConfirmedBy: "Admin@Example.com"}

// linkedUser is a platform user as the store reads it: linked, at
// revision 3, with an attribute the mapping does not own.
func linkedUser() *domain.User {
	return &domain.User{PlatformUser: domain.PlatformUser{
		ID: "u-1", Email: "grace@example.com", Status: domain.StatusActive, Source: domain.SourceEntra,
		ExternalID: "x-grace", ExternalTenantID: "dir-1", Revision: 3,
		Attributes: domain.Attrs{{Name: "costCenter", Value: "CC-7"}, {Name: "displayName", Value: "Grace"}, {Name: "jobTitle", Value: "Captain"}},
	}}
}

func userChange(kind domain.ChangeKind, fields ...domain.FieldChange) *domain.Change {
	return &domain.Change{Seq: 7, ObjectType: domain.ObjectUser, Kind: kind, TargetID: "u-1", BaseRevision: 3,
		Subject: domain.Subject{ExternalID: "x-grace", Email: "grace@example.com", DisplayName: "Grace"}, Fields: fields}
}

func field(name, before, after string) domain.FieldChange {
	return domain.FieldChange{Name: name, Before: before, After: after}
}

// edited is linkedUser after edit, as the replace a change decides.
func edited(edit func(u *domain.User), claimLink bool) *domain.UserWrite {
	u := linkedUser()
	edit(u)
	return &domain.UserWrite{User: *u, Marker: testContext.marker(&domain.Change{Seq: 7}), ExpectedRevision: 3, PreviousEmail: "grace@example.com", ClaimLink: claimLink}
}

func TestDecideUser(t *testing.T) {
	mine := testContext.marker(&domain.Change{Seq: 7})
	withAttrs := func(attrs ...domain.Attr) func(u *domain.User) {
		return func(u *domain.User) { u.Attributes = attrs }
	}
	tests := []struct {
		name        string
		change      *domain.Change
		cur         *domain.User
		marker      string
		confirmedBy string
		wantWrite   *domain.UserWrite
		want        domain.Outcome // when nothing is written
	}{
		{
			name: "an add creates the user under its derived id, linked, email out of the attributes",
			change: &domain.Change{Seq: 7, ObjectType: domain.ObjectUser, Kind: domain.KindAdd,
				Subject:    domain.Subject{ExternalID: "x-new", Email: "subject@example.com"},
				Attributes: domain.Attrs{{Name: "displayName", Value: "New"}, {Name: domain.EmailAttribute, Value: "New@Example.com"}}},
			wantWrite: &domain.UserWrite{User: domain.User{PlatformUser: domain.PlatformUser{
				ID: domain.DerivedID(testContext.SyncID, 7), Email: "New@Example.com", Status: domain.StatusActive, Source: domain.SourceEntra,
				ExternalID: "x-new", ExternalTenantID: "dir-1", Attributes: domain.Attrs{{Name: "displayName", Value: "New"}},
			}}, Marker: mine, Create: true, ClaimLink: true},
		},
		{
			name:   "an add without an email attribute takes the subject's",
			change: &domain.Change{Seq: 7, ObjectType: domain.ObjectUser, Kind: domain.KindAdd, Subject: domain.Subject{ExternalID: "x-new", Email: "subject@example.com"}},
			wantWrite: &domain.UserWrite{User: domain.User{PlatformUser: domain.PlatformUser{
				ID: domain.DerivedID(testContext.SyncID, 7), Email: "subject@example.com", Status: domain.StatusActive, Source: domain.SourceEntra,
				ExternalID: "x-new", ExternalTenantID: "dir-1", Attributes: domain.Attrs{},
			}}, Marker: mine, Create: true, ClaimLink: true},
		},
		{
			name:      "an update patches the mapped fields at the revision seen, keeping the others",
			change:    userChange(domain.KindUpdate, field("jobTitle", "Captain", "Rear Admiral"), field("displayName", "Grace", "")),
			cur:       linkedUser(),
			wantWrite: edited(withAttrs(domain.Attr{Name: "costCenter", Value: "CC-7"}, domain.Attr{Name: "jobTitle", Value: "Rear Admiral"}), false),
		},
		{
			name:      "email, status and source fields are not attributes",
			change:    userChange(domain.KindUpdate, field("status", "", "x"), field("source", "", "x"), field(domain.EmailAttribute, "", "")),
			cur:       linkedUser(),
			wantWrite: edited(func(*domain.User) {}, false),
		},
		{
			name:      "an update moves the email",
			change:    userChange(domain.KindUpdate, field(domain.EmailAttribute, "grace@example.com", "g.hopper@example.com")),
			cur:       linkedUser(),
			wantWrite: edited(func(u *domain.User) { u.Email = "g.hopper@example.com" }, false),
		},
		{
			name: "an update that links makes the user Entra's",
			change: func() *domain.Change {
				c := userChange(domain.KindUpdate)
				c.Link, c.Subject.ExternalID = true, "x-other"
				return c
			}(),
			cur: func() *domain.User {
				u := linkedUser()
				u.Source, u.ExternalID, u.ExternalTenantID = domain.SourceManual, "", ""
				return u
			}(),
			wantWrite: &domain.UserWrite{User: func() domain.User { u := linkedUser(); u.ExternalID = "x-other"; return *u }(),
				Marker: mine, ExpectedRevision: 3, PreviousEmail: "grace@example.com", ClaimLink: true},
		},
		{
			name:   "a user deleted since the preview is a conflict",
			change: userChange(domain.KindUpdate, field("jobTitle", "Captain", "Admiral")),
			want:   domain.Outcome{Seq: 7, Result: domain.OutcomeConflict, Reason: "the platform user was deleted since the preview"},
		},
		{
			name:   "a user changed since the preview is a conflict, left untouched",
			change: userChange(domain.KindUpdate, field("jobTitle", "Captain", "Admiral")),
			cur:    func() *domain.User { u := linkedUser(); u.Revision = 4; return u }(),
			want: domain.Outcome{Seq: 7, Result: domain.OutcomeConflict,
				Reason: "the platform user was changed since the preview (revision 3, now 4); left untouched"},
		},
		{
			name:   "a retry finds its own earlier write applied, whatever the revision now",
			change: userChange(domain.KindUpdate, field("jobTitle", "Captain", "Admiral")),
			cur:    func() *domain.User { u := linkedUser(); u.Revision = 5; return u }(),
			marker: mine,
			want:   domain.Outcome{Seq: 7, Result: domain.OutcomeApplied},
		},
		{
			name:   "another change's marker is no earlier write of this one",
			change: userChange(domain.KindUpdate, field("jobTitle", "Captain", "Admiral")),
			cur:    func() *domain.User { u := linkedUser(); u.Revision = 5; return u }(),
			marker: testContext.SyncID + "#8",
			want: domain.Outcome{Seq: 7, Result: domain.OutcomeConflict,
				Reason: "the platform user was changed since the preview (revision 3, now 5); left untouched"},
		},
		{
			name:      "a deactivation sets the status and marks it the sync's, leaving the attributes",
			change:    userChange(domain.KindDeactivate, field("status", "active", "inactive")),
			cur:       linkedUser(),
			wantWrite: edited(func(u *domain.User) { u.Status, u.DeactivatedBySync = domain.StatusInactive, true }, false),
		},
		{
			name: "an undo's deactivation of a reactivation also restores the fields it changed",
			change: userChange(domain.KindDeactivate, field(domain.EmailAttribute, "grace@example.com", "g.old@example.com"),
				field("jobTitle", "Captain", "Lieutenant"), field("displayName", "Grace", ""), field("status", "active", "inactive")),
			cur: linkedUser(),
			wantWrite: edited(func(u *domain.User) {
				u.Email, u.Status, u.DeactivatedBySync = "g.old@example.com", domain.StatusInactive, true
				u.Attributes = domain.Attrs{{Name: "costCenter", Value: "CC-7"}, {Name: "jobTitle", Value: "Lieutenant"}}
			}, false),
		},
		{
			name:   "the confirming admin is never deactivated, however the email is spelt",
			change: userChange(domain.KindDeactivate),
			cur:    func() *domain.User { u := linkedUser(); u.Email = " admin@EXAMPLE.com"; return u }(),
			want:   domain.Outcome{Seq: 7, Result: domain.OutcomeConflict, Reason: "the admin who confirmed the sync is never deactivated"},
		},
		{
			name:        "without a confirming admin's email no one is the admin",
			change:      userChange(domain.KindDeactivate),
			cur:         func() *domain.User { u := linkedUser(); u.Email = ""; return u }(),
			confirmedBy: " ",
			wantWrite: func() *domain.UserWrite {
				w := edited(func(u *domain.User) { u.Email, u.Status, u.DeactivatedBySync = "", domain.StatusInactive, true }, false)
				w.PreviousEmail = ""
				return w
			}(),
		},
		{
			name:   "a protected user is never deactivated",
			change: userChange(domain.KindDeactivate),
			cur:    func() *domain.User { u := linkedUser(); u.Protected = true; return u }(),
			want:   domain.Outcome{Seq: 7, Result: domain.OutcomeConflict, Reason: "the user is protected"},
		},
		{
			name:   "a protected user is updated",
			change: userChange(domain.KindUpdate, field("jobTitle", "Captain", "Admiral")),
			cur:    func() *domain.User { u := linkedUser(); u.Protected = true; return u }(),
			wantWrite: edited(func(u *domain.User) {
				u.Protected = true
				u.Attributes = domain.Attrs{{Name: "costCenter", Value: "CC-7"}, {Name: "displayName", Value: "Grace"}, {Name: "jobTitle", Value: "Admiral"}}
			}, false),
		},
		{
			name:   "a reactivation sets the status, clears the sync's mark and applies the fields",
			change: userChange(domain.KindReactivate, field("status", "inactive", "active"), field("jobTitle", "Captain", "Admiral")),
			cur: func() *domain.User {
				u := linkedUser()
				u.Status, u.DeactivatedBySync = domain.StatusInactive, true
				return u
			}(),
			wantWrite: edited(func(u *domain.User) {
				u.Attributes = domain.Attrs{{Name: "costCenter", Value: "CC-7"}, {Name: "displayName", Value: "Grace"}, {Name: "jobTitle", Value: "Admiral"}}
			}, false),
		},
		{
			name:   "a skip is not applicable",
			change: userChange(domain.KindSkip),
			cur:    linkedUser(),
			want:   domain.Outcome{Seq: 7, Result: domain.OutcomeFailed, Reason: "not an applicable user change: skip"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ac := testContext
			if tc.confirmedBy != "" {
				ac.ConfirmedBy = tc.confirmedBy
			}
			w, o := decideUser(tc.change, tc.cur, tc.marker, &ac)
			if !reflect.DeepEqual(w, tc.wantWrite) {
				t.Fatalf("write =\n%+v\nwant\n%+v", w, tc.wantWrite)
			}
			if o != tc.want {
				t.Fatalf("outcome = %+v, want %+v", o, tc.want)
			}
		})
	}
}

func TestReadsUser(t *testing.T) {
	for kind, want := range map[domain.ChangeKind]bool{
		domain.KindAdd: false, domain.KindUpdate: true, domain.KindReactivate: true, domain.KindDeactivate: true,
		domain.KindSkip: false, domain.KindRemove: false,
	} {
		if got := readsUser(kind); got != want {
			t.Errorf("readsUser(%s) = %v, want %v", kind, got, want)
		}
	}
}

func TestDecideAdd(t *testing.T) {
	c := &domain.Change{Seq: 7, ObjectType: domain.ObjectUser, Kind: domain.KindAdd,
		Subject: domain.Subject{ExternalID: "x-new", Email: "new@example.com"}}
	w := newUserWrite(c, &testContext)
	id := w.User.ID
	tests := []struct {
		name      string
		holders   domain.UserKeyHolders
		wantWrite bool
		want      domain.Outcome
	}{
		{"free keys are written", domain.UserKeyHolders{}, true, domain.Outcome{}},
		{"claims it holds already are no obstacle", domain.UserKeyHolders{EmailHolder: id, LinkHolder: id}, true, domain.Outcome{}},
		{"its own earlier write is applied", domain.UserKeyHolders{UserExists: true, Marker: w.Marker, EmailHolder: id, LinkHolder: id}, false,
			domain.Outcome{Seq: 7, Result: domain.OutcomeApplied}},
		{"someone else's user under the id is a conflict", domain.UserKeyHolders{UserExists: true, Marker: "other#1"}, false,
			domain.Outcome{Seq: 7, Result: domain.OutcomeConflict, Reason: "a user with the id this change derives already exists"}},
		{"an email another user holds is a conflict", domain.UserKeyHolders{EmailHolder: "u-9", LinkHolder: "u-8"}, false,
			domain.Outcome{Seq: 7, Result: domain.OutcomeConflict, Reason: "the email new@example.com is now used by another platform user"}},
		{"an Entra user linked to another user is a conflict", domain.UserKeyHolders{LinkHolder: "u-8"}, false,
			domain.Outcome{Seq: 7, Result: domain.OutcomeConflict, Reason: "the Entra user is now linked to another platform user"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			write, o := decideAdd(c, w, tc.holders)
			if write != tc.wantWrite || o != tc.want {
				t.Fatalf("decideAdd = %v, %+v; want %v, %+v", write, o, tc.wantWrite, tc.want)
			}
		})
	}
}

func TestExistingAddOutcome(t *testing.T) {
	c := &domain.Change{Seq: 7, ObjectType: domain.ObjectUser, Kind: domain.KindAdd}
	w := newUserWrite(c, &testContext)
	tests := []struct {
		marker string
		want   domain.Outcome
	}{
		{w.Marker, domain.Outcome{Seq: 7, Result: domain.OutcomeApplied}},
		{"", domain.Outcome{Seq: 7, Result: domain.OutcomeConflict, Reason: "a user with the id this change derives already exists"}},
		{testContext.SyncID + "#70", domain.Outcome{Seq: 7, Result: domain.OutcomeConflict, Reason: "a user with the id this change derives already exists"}},
	}
	for _, tc := range tests {
		if got := existingAddOutcome(c, w, tc.marker); got != tc.want {
			t.Errorf("existingAddOutcome(marker %q) = %+v, want %+v", tc.marker, got, tc.want)
		}
	}
}

func TestUserWriteOutcome(t *testing.T) {
	c := userChange(domain.KindUpdate)
	w := edited(func(u *domain.User) { u.Email = "g.hopper@example.com" }, true)
	wrapped := func(errs ...error) error { return fmt.Errorf("store: put user u-1: %w", errors.Join(errs...)) }
	unavailable := errors.New("service unavailable")
	tests := []struct {
		name    string
		err     error
		want    domain.Outcome
		wantErr error
	}{
		{"written is applied", nil, domain.Outcome{Seq: 7, Result: domain.OutcomeApplied}, nil},
		{"a revision changed while applying", wrapped(domain.ErrRevisionChanged),
			domain.Outcome{Seq: 7, Result: domain.OutcomeConflict, Reason: "the platform user was changed while applying; left untouched"}, nil},
		{"the new email claimed meanwhile", wrapped(domain.ErrEmailClaimed),
			domain.Outcome{Seq: 7, Result: domain.OutcomeConflict, Reason: "the email g.hopper@example.com is now used by another platform user"}, nil},
		{"the link claimed meanwhile", wrapped(domain.ErrLinkClaimed),
			domain.Outcome{Seq: 7, Result: domain.OutcomeConflict, Reason: "the Entra user is now linked to another platform user"}, nil},
		{"the revision says more than the email", wrapped(domain.ErrEmailClaimed, domain.ErrRevisionChanged),
			domain.Outcome{Seq: 7, Result: domain.OutcomeConflict, Reason: "the platform user was changed while applying; left untouched"}, nil},
		{"the email says more than the link", wrapped(domain.ErrLinkClaimed, domain.ErrEmailClaimed),
			domain.Outcome{Seq: 7, Result: domain.OutcomeConflict, Reason: "the email g.hopper@example.com is now used by another platform user"}, nil},
		{"a storage failure is an error", unavailable, domain.Outcome{}, unavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := userWriteOutcome(c, w, tc.err)
			if o != tc.want || !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("userWriteOutcome = %+v, %v; want %+v, %v", o, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestDecideGroup(t *testing.T) {
	mine := testContext.marker(&domain.Change{Seq: 9})
	staff := func() *domain.Group {
		return &domain.Group{ID: "g-1", DisplayName: "Staff", Description: "everyone", Source: domain.SourceEntra,
			ExternalID: "x-staff", ExternalTenantID: "dir-1", MemberCount: 4, Revision: 2}
	}
	added := []domain.MemberRef{{UserID: "u-1"}, {ExternalID: "x-new"}}
	removed := []domain.MemberRef{{UserID: "u-2"}}
	groupChange := func(kind domain.ChangeKind, name string, fields ...domain.FieldChange) *domain.Change {
		return &domain.Change{Seq: 9, ObjectType: domain.ObjectGroup, Kind: kind, TargetID: "g-1", BaseRevision: 2,
			Subject: domain.Subject{ExternalID: "x-staff", DisplayName: name}, Fields: fields,
			MembersAdded: added, MembersRemoved: removed, MembersDone: 1, MembersMissed: 1}
	}
	members := func(gid, name string) domain.MembershipWrite {
		return domain.MembershipWrite{SyncID: testContext.SyncID, Seq: 9, GroupID: gid, GroupName: name, Directory: "dir-1",
			Added: added, Removed: removed, Done: 1, Missed: 1}
	}
	replaced := func(edit func(g *domain.Group)) *domain.GroupWrite {
		g := staff()
		edit(g)
		return &domain.GroupWrite{Group: *g, Marker: mine, ExpectedRevision: 2}
	}
	newID := domain.DerivedID(testContext.SyncID, 9)
	tests := []struct {
		name   string
		change *domain.Change
		cur    *domain.Group
		marker string
		steps  *groupSteps
		want   domain.Outcome // when there are no steps
	}{
		{
			name: "an add creates the group under its derived id, then its members",
			change: func() *domain.Change {
				c := groupChange(domain.KindAdd, "Staff")
				c.TargetID, c.BaseRevision = "", 0
				c.Attributes = domain.Attrs{{Name: "description", Value: "everyone"}}
				return c
			}(),
			steps: &groupSteps{
				write: &domain.GroupWrite{Group: domain.Group{ID: newID, DisplayName: "Staff", Description: "everyone", Source: domain.SourceEntra,
					ExternalID: "x-staff", ExternalTenantID: "dir-1"}, Marker: mine, Create: true},
				members: members(newID, "Staff"),
			},
		},
		{
			name:   "a rename replaces the group at the revision seen and renames its members",
			change: groupChange(domain.KindUpdate, "Staff", field("displayName", "Staff", "All staff")),
			cur:    staff(),
			steps: &groupSteps{
				write:   replaced(func(g *domain.Group) { g.DisplayName = "All staff" }),
				renamed: true,
				members: members("g-1", "All staff"),
			},
		},
		{
			name:   "a new description is no rename",
			change: groupChange(domain.KindUpdate, "", field("description", "everyone", "all of us")),
			cur:    staff(),
			steps: &groupSteps{
				write:   replaced(func(g *domain.Group) { g.Description = "all of us" }),
				members: members("g-1", "Staff"), // the name read, the subject naming none
			},
		},
		{
			name:   "a retry after its own write writes only the memberships and the rename",
			change: groupChange(domain.KindUpdate, "Staff", field("displayName", "Staff", "All staff")),
			cur:    func() *domain.Group { g := staff(); g.DisplayName, g.Revision = "All staff", 3; return g }(),
			marker: mine,
			steps:  &groupSteps{renamed: true, members: members("g-1", "All staff")},
		},
		{
			name:   "a group deleted since the preview is a conflict",
			change: groupChange(domain.KindUpdate, "Staff", field("displayName", "Staff", "All staff")),
			want:   domain.Outcome{Seq: 9, Result: domain.OutcomeConflict, Reason: "the platform group was deleted since the preview"},
		},
		{
			name:   "a group changed since the preview is a conflict, left untouched",
			change: groupChange(domain.KindUpdate, "Staff", field("displayName", "Staff", "All staff")),
			cur:    func() *domain.Group { g := staff(); g.Revision = 5; return g }(),
			marker: testContext.SyncID + "#10",
			want: domain.Outcome{Seq: 9, Result: domain.OutcomeConflict,
				Reason: "the platform group was changed since the preview (revision 2, now 5); left untouched"},
		},
		{
			name:   "a removal deletes the group as read",
			change: groupChange(domain.KindRemove, "Staff"),
			cur:    staff(),
			steps:  &groupSteps{remove: staff()},
		},
		{
			name:   "a group gone already is removed",
			change: groupChange(domain.KindRemove, "Staff"),
			want:   domain.Outcome{Seq: 9, Result: domain.OutcomeApplied},
		},
		{
			name:   "a group changed since the preview is not removed",
			change: groupChange(domain.KindRemove, "Staff"),
			cur:    func() *domain.Group { g := staff(); g.Revision = 3; return g }(),
			want: domain.Outcome{Seq: 9, Result: domain.OutcomeConflict,
				Reason: "the platform group was changed since the preview (revision 2, now 3); left untouched"},
		},
		{
			name:   "a deactivation is not applicable to a group",
			change: groupChange(domain.KindDeactivate, "Staff"),
			cur:    staff(),
			want:   domain.Outcome{Seq: 9, Result: domain.OutcomeFailed, Reason: "not an applicable group change: deactivate"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			steps, o := decideGroup(tc.change, tc.cur, tc.marker, &testContext)
			if !reflect.DeepEqual(steps, tc.steps) {
				t.Fatalf("steps =\n%+v\nwant\n%+v", steps, tc.steps)
			}
			if o != tc.want {
				t.Fatalf("outcome = %+v, want %+v", o, tc.want)
			}
		})
	}
}

func TestGroupWriteConflict(t *testing.T) {
	c := &domain.Change{Seq: 9, ObjectType: domain.ObjectGroup, Kind: domain.KindAdd}
	wrapped := func(errs ...error) error { return fmt.Errorf("store: put group g-1: %w", errors.Join(errs...)) }
	tests := []struct {
		name     string
		err      error
		conflict bool
		reason   string
	}{
		{"the Entra group mirrored by another", wrapped(domain.ErrLinkClaimed), true, "the Entra group is now mirrored by another platform group"},
		{"the derived id taken", wrapped(domain.ErrExists), true, "a group with the id this change derives already exists"},
		{"the link says more than the id", wrapped(domain.ErrExists, domain.ErrLinkClaimed), true, "the Entra group is now mirrored by another platform group"},
		{"a revision changed while applying", wrapped(domain.ErrRevisionChanged), true, "the platform group was changed while applying; left untouched"},
		{"a storage failure is no conflict", errors.New("throttled"), false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, conflict := groupWriteConflict(c, tc.err)
			want := domain.Outcome{}
			if tc.conflict {
				want = domain.Outcome{Seq: 9, Result: domain.OutcomeConflict, Reason: tc.reason}
			}
			if conflict != tc.conflict || o != want {
				t.Fatalf("groupWriteConflict = %+v, %v; want %+v, %v", o, conflict, want, tc.conflict)
			}
		})
	}
}

func TestMembershipsOutcome(t *testing.T) {
	c := &domain.Change{Seq: 9, ObjectType: domain.ObjectGroup, Kind: domain.KindUpdate}
	tests := []struct {
		missed int
		want   domain.Outcome
	}{
		{0, domain.Outcome{Seq: 9, Result: domain.OutcomeApplied}},
		{3, domain.Outcome{Seq: 9, Result: domain.OutcomeApplied, Reason: "3 members were not added: their user changes did not apply"}},
	}
	for _, tc := range tests {
		if got := membershipsOutcome(c, tc.missed); got != tc.want {
			t.Errorf("membershipsOutcome(%d) = %+v, want %+v", tc.missed, got, tc.want)
		}
	}
}

func TestWasWritten(t *testing.T) {
	change := func(ot domain.ObjectType, kind domain.ChangeKind) *domain.Change {
		return &domain.Change{Seq: 4, ObjectType: ot, Kind: kind, TargetID: "t-1"}
	}
	mine := testContext.marker(&domain.Change{Seq: 4})
	tests := []struct {
		name   string
		change *domain.Change
		object domain.ObjectRef
		exists bool
		marker string
		want   bool
	}{
		{"a user carrying the change's marker", change(domain.ObjectUser, domain.KindUpdate), domain.ObjectRef{Type: domain.ObjectUser, ID: "t-1"}, true, mine, true},
		{"a user another change wrote last", change(domain.ObjectUser, domain.KindUpdate), domain.ObjectRef{Type: domain.ObjectUser, ID: "t-1"}, true, testContext.SyncID + "#5", false},
		{"a user never written by a sync", change(domain.ObjectUser, domain.KindDeactivate), domain.ObjectRef{Type: domain.ObjectUser, ID: "t-1"}, true, "", false},
		{"an add is looked for under its derived id", change(domain.ObjectUser, domain.KindAdd), domain.ObjectRef{Type: domain.ObjectUser, ID: domain.DerivedID(testContext.SyncID, 4)}, true, mine, true},
		{"an add that created nothing", change(domain.ObjectUser, domain.KindAdd), domain.ObjectRef{Type: domain.ObjectUser, ID: domain.DerivedID(testContext.SyncID, 4)}, false, "", false},
		{"a group update carrying the marker", change(domain.ObjectGroup, domain.KindUpdate), domain.ObjectRef{Type: domain.ObjectGroup, ID: "t-1"}, true, mine, true},
		{"a removed group is gone", change(domain.ObjectGroup, domain.KindRemove), domain.ObjectRef{Type: domain.ObjectGroup, ID: "t-1"}, false, "", true},
		{"a group still there is not removed", change(domain.ObjectGroup, domain.KindRemove), domain.ObjectRef{Type: domain.ObjectGroup, ID: "t-1"}, true, mine, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := changeObject(tc.change, &testContext); got != tc.object {
				t.Fatalf("changeObject = %+v, want %+v", got, tc.object)
			}
			if got := wasWritten(tc.change, tc.exists, tc.marker, &testContext); got != tc.want {
				t.Fatalf("wasWritten = %v, want %v", got, tc.want)
			}
		})
	}
}

// An add's id must not change between releases: a batch retried across a
// deploy finds the user its first attempt created by it.
func TestDerivedID(t *testing.T) {
	id := domain.DerivedID("01hxsync0000000000000000a", 7)
	if id != domain.DerivedID("01hxsync0000000000000000a", 7) || id == domain.DerivedID("01hxsync0000000000000000a", 8) {
		t.Fatalf("derivedID is not a function of the sync and the seq: %s", id)
	}
	if !regexp.MustCompile(`^01hxsync0[0-9a-hjkmnp-tv-z]{16}$`).MatchString(id) {
		t.Fatalf("derivedID = %q, want the sync's 9-character time prefix and 16 base-32 characters", id)
	}
	if want := "01hxsync0wgxge6r33d06b1te"; id != want { // as the store derived it before apply did
		t.Fatalf("derivedID = %q, want %q", id, want)
	}
}

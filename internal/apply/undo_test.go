package apply

import (
	"context"
	"reflect"
	"testing"

	"dirsync/internal/domain"
	"dirsync/internal/plan"
)

// A sync removes a group of thousands (its memberships stored in several
// chunks) and reactivates a user with changed fields; the undo, planned
// from what the store kept of it and applied, adds the group back with
// its description and every member under the id the undo derives, and
// deactivates the user with its fields as they were.
func TestUndoRestoresARemovedGroupAndAReactivatedUser(t *testing.T) {
	ctx := context.Background()
	const added = 2100 // members past one chunk of references (2,000) and two slices (1,000)
	opts := domain.Options{DeactivationThreshold: domain.Threshold{Percent: 100, Count: 1_000_000}}
	sc := newScenario(t, added, 1000, opts)
	if _, err := sc.svc.Confirm(ctx, admin, sc.sync.ID, true); err != nil {
		t.Fatal(err)
	}
	sc.runAll(t, sc.st)
	sc.finalize(t)
	groups, _, err := sc.st.ListGroups(ctx, tenant, domain.Page{Limit: 10})
	if err != nil || len(groups) != 1 || groups[0].MemberCount != added+2 {
		t.Fatalf("groups after the import %+v, %v", groups, err)
	}
	removedID := groups[0].ID
	before := sc.userByEmail(t, "gone1@example.com")
	if before.Status != domain.StatusInactive || !before.DeactivatedBySync {
		t.Fatalf("gone1 after the import %+v, want deactivated by it", before)
	}

	// The next sync: the group is gone from Entra ID, gone1 is back with a
	// name and a job title.
	snap := scenarioSource(added)
	snap.Groups = nil
	snap.Users = append(snap.Users, sourceUser("x-gone1", "gone1@example.com", "Gone Once", "Returner"))
	dirState, err := sc.st.LoadDirectory(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	opts.DeactivateMissing = true
	p, err := plan.Compute(domain.PlanInput{Snapshot: snap, Directory: dirState, Options: opts, ActorEmail: "someone-else@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if c := p.Counts; c.Groups.Remove != 1 || c.Memberships.Remove != added+2 || c.Users.Reactivate != 1 {
		t.Fatalf("the sync's counts %+v, want the group's %d memberships removed with it and one reactivation", c, added+2)
	}
	sc.preview(t, p, &domain.Sync{Options: opts}, 1000)
	sync2 := sc.sync
	if _, err := sc.svc.Confirm(ctx, admin, sync2.ID, true); err != nil {
		t.Fatal(err)
	}
	sc.runAll(t, sc.st)
	sc.finalize(t)
	if groups, _, _ := sc.st.ListGroups(ctx, tenant, domain.Page{Limit: 10}); len(groups) != 0 {
		t.Fatalf("groups after the removal %+v", groups)
	}
	back := sc.userByEmail(t, "gone1@example.com")
	if title, _ := back.Attributes.Get("jobTitle"); back.Status != domain.StatusActive || title != "Returner" {
		t.Fatalf("gone1 after the reactivation %+v", back)
	}

	// The undo, planned as the preview worker plans it.
	target, err := sc.st.GetSync(ctx, tenant, sync2.ID)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := sc.st.AppliedChanges(ctx, tenant, sync2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if dirState, err = sc.st.LoadDirectory(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	undo := plan.Invert(domain.UndoInput{Target: target, Applied: applied, Directory: dirState})
	if c := undo.Counts; c.Groups.Add != 1 || c.Memberships.Add != added+2 || c.Users.Deactivate != 1 {
		t.Fatalf("the undo's counts %+v, want the group back with its %d members and one deactivation", c, added+2)
	}
	sc.preview(t, undo, &domain.Sync{Kind: domain.SyncKindUndo, Undoes: sync2.ID, Options: opts}, 1000)
	if _, err := sc.svc.Confirm(ctx, admin, sc.sync.ID, true); err != nil {
		t.Fatal(err)
	}
	sc.runAll(t, sc.st)
	if st := sc.finalize(t); st != domain.SyncCompleted {
		t.Fatalf("the undo ended %s, want COMPLETED", st)
	}

	var readd *domain.Change
	for i := range undo.Changes {
		if c := &undo.Changes[i]; c.ObjectType == domain.ObjectGroup && c.Kind == domain.KindAdd {
			readd = c
		}
	}
	groups, _, err = sc.st.ListGroups(ctx, tenant, domain.Page{Limit: 10})
	if err != nil || len(groups) != 1 {
		t.Fatalf("groups after the undo %+v, %v", groups, err)
	}
	g := groups[0]
	if g.ID != domain.DerivedID(sc.sync.ID, readd.Seq) || g.ID == removedID || g.DisplayName != "Everyone" ||
		g.Description != "all staff" || g.MemberCount != added+2 || g.ExternalID != "g-all" {
		t.Fatalf("the group added back %+v, want Everyone (all staff) with %d members under the undo's id", g, added+2)
	}
	for _, email := range []string{"new2099@example.com", "manual@example.com"} {
		if u := sc.userByEmail(t, email); len(u.Groups) != 1 || u.Groups[0].ID != g.ID || u.Groups[0].DisplayName != "Everyone" {
			t.Fatalf("%s's groups after the undo %+v, want the group added back", email, u.Groups)
		}
	}
	after := sc.userByEmail(t, "gone1@example.com")
	if after.Status != domain.StatusInactive || !after.DeactivatedBySync || after.Email != before.Email ||
		!reflect.DeepEqual(after.Attributes, before.Attributes) || len(after.Groups) != 0 {
		t.Fatalf("gone1 after the undo %+v, want it as the import left it %+v", after, before)
	}
}

package apply

import (
	"context"
	"log/slog"
	"testing"

	"dirsync/internal/domain"
	"dirsync/internal/review"
)

// An excluded change is not applied, and an excluded user's membership
// changes go with it, also for a user the platform already has (whose
// membership change names it by platform id, so nothing else would stop
// it).
func TestExcludedChangesAndTheirMembershipsAreNotApplied(t *testing.T) {
	ctx := context.Background()
	sc := newScenario(t, 3, 10, domain.Options{})
	seqOf := map[string]int{}
	for _, c := range sc.plan.Changes {
		seqOf[string(c.Kind)+" "+c.Subject.Email] = c.Seq
	}
	linked, added := seqOf["update linked@example.com"], seqOf["add new000@example.com"]
	if linked == 0 || added == 0 {
		t.Fatalf("the scenario has no update of linked@ or add of new000@: %v", seqOf)
	}
	reviews, err := review.New(sc.st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	sy, _, err := reviews.SetExcluded(ctx, admin, sc.sync.ID, []int{linked, added}, true)
	if err != nil {
		t.Fatal(err)
	}
	before := sc.sync.Counts
	if sy.Counts.Users.Add != before.Users.Add-1 || sy.Counts.Users.Update != before.Users.Update-1 ||
		sy.Counts.Memberships.Add != before.Memberships.Add-2 || sy.Counts.Users.Excluded != 2 {
		t.Fatalf("counts after excluding %+v, before %+v", sy.Counts, before)
	}
	sc.sync = sy
	if _, err := sc.svc.Confirm(ctx, admin, sy.ID, true); err != nil {
		t.Fatal(err)
	}
	sc.runAll(t, sc.st)
	// The scenario's one conflict is the confirming admin's own
	// deactivation, which apply refuses.
	if st := sc.finalize(t); st != domain.SyncCompletedWithErrors {
		t.Fatalf("final status %s, want COMPLETED_WITH_ERRORS", st)
	}
	if p := sc.progress(t); p.Total != sy.ApplyTotal || p.Processed != p.Total || p.Succeeded != p.Total-1 || p.Conflicts != 1 {
		t.Fatalf("progress %+v, want the %d included changes processed, one conflict", p, sy.ApplyTotal)
	}
	u, err := sc.st.GetUser(ctx, tenant, sc.ids["linked@example.com"])
	if err != nil {
		t.Fatal(err)
	}
	if title, _ := u.Attributes.Get("jobTitle"); title != "Intern" || len(u.Groups) != 0 {
		t.Fatalf("excluded update was applied: jobTitle %q, groups %+v", title, u.Groups)
	}
	users, _, err := sc.st.ListUsers(ctx, tenant, domain.UserFilter{Q: "new000@example.com"}, domain.Page{Limit: 10})
	if err != nil || len(users) != 0 {
		t.Fatalf("excluded add was created: %+v, %v", users, err)
	}
	groups, _, err := sc.st.ListGroups(ctx, tenant, domain.Page{Limit: 10})
	if err != nil || len(groups) != 1 || groups[0].MemberCount != sy.Counts.Memberships.Add {
		t.Fatalf("groups %+v, %v; want one holding the %d memberships the preview counted", groups, err, sy.Counts.Memberships.Add)
	}
}

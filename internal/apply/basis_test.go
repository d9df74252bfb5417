package apply

import (
	"context"
	"reflect"
	"testing"

	"dirsync/internal/domain"
	"dirsync/internal/plan"
)

// someoneElse confirms where the plan's deactivations must all apply (the
// scenario deactivates admin@example.com).
var someoneElse = domain.Actor{TenantID: tenant, Subject: "s-2", Email: "other@example.com"}

// A confirm holds the plan basis the preview left; a clean end releases
// it with the bases the directory has after the apply, anything else
// drops it.
func TestApplyLeavesAPlanBasis(t *testing.T) {
	cases := []struct {
		name string
		// basisOf names the sync whose basis is kept when the confirm comes
		// ("": the scenario's).
		basisOf string
		by      domain.Actor
		during  func(t *testing.T, sc *scenario)
		kept    bool
	}{
		{name: "a clean apply", by: someoneElse, kept: true},
		{name: "a conflict (the confirming admin is never deactivated)", by: admin},
		{name: "a directory written outside the sync meanwhile", by: someoneElse, during: func(t *testing.T, sc *scenario) {
			if _, err := sc.st.UpdateUser(context.Background(), tenant, sc.ids["manual@example.com"], domain.UserPatch{Attributes: map[string]string{"jobTitle": "x"}}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "the basis of another sync", basisOf: "an-older-sync", by: someoneElse},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			sc := newScenario(t, 12, 5, domain.Options{})
			held := domain.PlanBasis{SyncID: sc.sync.ID, DirectoryVersion: sc.sync.NextBasis.DirectoryVersion, OptionsHash: sc.sync.NextBasis.OptionsHash,
				Bases: sc.plan.Bases, LeftActive: []string{"x-left-active"}}
			if tc.basisOf != "" {
				held.SyncID = tc.basisOf
			}
			if err := sc.st.SavePlanBasis(ctx, tenant, held); err != nil {
				t.Fatal(err)
			}
			if _, err := sc.svc.Confirm(ctx, tc.by, sc.sync.ID, true); err != nil {
				t.Fatal(err)
			}
			b, err := sc.st.LoadPlanBasis(ctx, tenant)
			switch {
			case tc.basisOf != "":
				if domain.ErrorCode(err) != domain.ENotFound {
					t.Fatalf("after the confirm: basis %+v, %v; want another sync's basis dropped", b, err)
				}
			case err != nil || !b.Applying:
				t.Fatalf("after the confirm: basis %+v, %v; want it held", b, err)
			}
			if tc.during != nil {
				tc.during(t, sc)
			}
			sc.runAll(t, sc.st)
			sc.finalize(t)

			b, err = sc.st.LoadPlanBasis(ctx, tenant)
			if !tc.kept {
				if domain.ErrorCode(err) != domain.ENotFound {
					t.Fatalf("after the apply: basis %+v, %v; want none", b, err)
				}
				return
			}
			if err != nil || b.Applying || b.SyncID != sc.sync.ID || !reflect.DeepEqual(b.LeftActive, held.LeftActive) {
				t.Fatalf("after the apply: basis %+v, %v; want this sync's, released", b, err)
			}
			// The bases it carries are those of the directory the apply left.
			dir, err := sc.st.LoadDirectory(ctx, tenant)
			if err != nil {
				t.Fatal(err)
			}
			again, err := plan.Compute(domain.PlanInput{Snapshot: scenarioSource(12), Directory: dir, Options: sc.sync.Options, ActorEmail: someoneElse.Email})
			if err != nil {
				t.Fatal(err)
			}
			if again.Bases != b.Bases || b.Bases == sc.plan.Bases {
				t.Fatalf("the basis carries bases %+v; the directory after the apply has %+v (before: %+v)", b.Bases, again.Bases, sc.plan.Bases)
			}
		})
	}
}

package store

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"dirsync/internal/domain"
)

// An undo is planned from a sync's applied changes. A group removal lists
// every membership it drops, thousands for a large group: stored in member
// chunks of at most memberChunkSize, they come back whole and in order,
// and only with the changes that applied.
func TestAppliedChangesCarryARemovalsMembers(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	now := time.Now()
	sy := newSync("acme", now)
	if err := s.CreateSync(ctx, sy, time.Hour); err != nil {
		t.Fatal(err)
	}
	const members = 2*memberChunkSize + 500
	removal := domain.Change{Seq: 3, ObjectType: domain.ObjectGroup, Kind: domain.KindRemove, TargetID: "g1", BaseRevision: 2,
		Subject: domain.Subject{ExternalID: "x-g1", DisplayName: "Everyone"}, Attributes: domain.Attrs{{Name: "description", Value: "all staff"}}}
	for i := range members {
		removal.MembersRemoved = append(removal.MembersRemoved, domain.MemberRef{UserID: fmt.Sprintf("u%05d", i)})
	}
	small := domain.Change{Seq: 4, ObjectType: domain.ObjectGroup, Kind: domain.KindRemove, TargetID: "g2", BaseRevision: 1,
		Subject: domain.Subject{ExternalID: "x-g2", DisplayName: "Small"}, MembersRemoved: []domain.MemberRef{{UserID: "u00001"}}}
	plan := &domain.Plan{Changes: []domain.Change{
		{Seq: 1, ObjectType: domain.ObjectUser, Kind: domain.KindReactivate, TargetID: "u00001", BaseRevision: 4,
			Fields: []domain.FieldChange{{Name: "jobTitle", Before: "Intern", After: "Engineer"}, {Name: "status", Before: "inactive", After: "active"}}},
		{Seq: 2, ObjectType: domain.ObjectUser, Kind: domain.KindDeactivate, TargetID: "u00002", BaseRevision: 1},
		removal, small,
	}, Counts: domain.Counts{
		Users:       domain.UserCounts{Reactivate: 1, Deactivate: 1},
		Groups:      domain.GroupCounts{Remove: 2},
		Memberships: domain.MembershipCounts{Remove: members + 1},
	}}
	next := &domain.PlanBasis{DirectoryVersion: 7, OptionsHash: "h", Bases: domain.SafeguardBases{ActiveLinked: 5, OwnedGroups: 2, HeldMemberships: 9}}
	if err := s.SavePlan(ctx, domain.Lease{Tenant: "acme", SyncID: sy.ID}, plan, withBatches(plan, domain.PlanWrite{
		ExpiresAt: now.Add(time.Hour), RetainUntil: now.Add(48 * time.Hour), PlannedUsers: 12, NextBasis: next})); err != nil {
		t.Fatal(err)
	}
	ready, err := s.GetSync(ctx, "acme", sy.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ready.PlannedUsers != 12 || ready.NextBasis == nil || !reflect.DeepEqual(*ready.NextBasis, *next) {
		t.Fatalf("the sync keeps planned users %d and next basis %+v, want 12 and %+v", ready.PlannedUsers, ready.NextBasis, next)
	}
	if err := s.RecordOutcomes(ctx, "acme", sy.ID, []domain.Outcome{
		{Seq: 1, Result: domain.OutcomeApplied}, {Seq: 2, Result: domain.OutcomeConflict, Reason: "edited"},
		{Seq: 3, Result: domain.OutcomeApplied}, {Seq: 4, Result: domain.OutcomeFailed},
	}); err != nil {
		t.Fatal(err)
	}

	var chunks []int
	if err := s.queryAll(ctx, s.syncTable, planLayout{tenant: "acme", syncID: sy.ID, perShard: s.planShardSize()}.pk(removal.Seq), fmt.Sprintf("CM#%010d#", removal.Seq), func(it item) {
		n := 0
		for _, k := range []string{"add", "rem"} {
			var refs []domain.MemberRef
			if err := getJSON(it, k, &refs); err != nil {
				t.Fatal(err)
			}
			n += len(refs)
		}
		chunks = append(chunks, n)
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(chunks, []int{memberChunkSize, memberChunkSize, 500}) {
		t.Fatalf("the removal's member chunks hold %v references, want at most %d each", chunks, memberChunkSize)
	}

	applied, err := s.AppliedChanges(ctx, "acme", sy.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 2 || applied[0].Seq != 1 || applied[1].Seq != 3 {
		t.Fatalf("applied changes %+v, want seqs 1 and 3", applied)
	}
	all, err := s.PlanChanges(ctx, "acme", sy.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 || all[0].Seq != 1 || all[3].Seq != 4 || len(all[2].MembersRemoved) != members {
		t.Fatalf("plan changes %d (want the 4, in order, the removal with its %d members)", len(all), members)
	}
	if got := applied[0].Fields; !slices.Equal(got, plan.Changes[0].Fields) {
		t.Fatalf("the reactivation's fields %+v, want %+v", got, plan.Changes[0].Fields)
	}
	got := applied[1]
	if !slices.Equal(got.MembersRemoved, removal.MembersRemoved) || len(got.MembersAdded) != 0 ||
		!slices.Equal(got.Attributes, removal.Attributes) || got.Subject != removal.Subject {
		t.Fatalf("the removal came back with %d members (want %d in order), attributes %v, subject %+v",
			len(got.MembersRemoved), members, got.Attributes, got.Subject)
	}
}

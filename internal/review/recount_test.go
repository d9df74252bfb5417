package review

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"dirsync/internal/domain"
)

// A plan of four user changes and one group change, whose membership
// changes name two of the users (one the plan adds, one it deactivates)
// and one user outside the plan.
func samplePlan() (*domain.Sync, map[int]domain.Change) {
	changes := []domain.Change{
		{Seq: 1, ObjectType: domain.ObjectUser, Kind: domain.KindAdd, Subject: domain.Subject{ExternalID: "e1"},
			MemberOf: []domain.MembershipOf{{Group: 5}}},
		{Seq: 2, ObjectType: domain.ObjectUser, Kind: domain.KindDeactivate, TargetID: "u2",
			MemberOf: []domain.MembershipOf{{Group: 5, Remove: true}}},
		{Seq: 3, ObjectType: domain.ObjectUser, Kind: domain.KindUpdate, TargetID: "u3"},
		{Seq: 4, ObjectType: domain.ObjectUser, Kind: domain.KindSkip},
		{Seq: 5, ObjectType: domain.ObjectGroup, Kind: domain.KindUpdate, TargetID: "g5",
			MembersAdded:   []domain.MemberRef{{ExternalID: "e1"}, {UserID: "u9"}},
			MembersRemoved: []domain.MemberRef{{UserID: "u2"}}},
	}
	sy := &domain.Sync{
		Counts: domain.Counts{
			Users:       domain.UserCounts{Add: 1, Deactivate: 1, Update: 1, Skip: 1},
			Groups:      domain.GroupCounts{Update: 1},
			Memberships: domain.MembershipCounts{Add: 2, Remove: 1},
		},
		Bases:   domain.SafeguardBases{ActiveLinked: 2, OwnedGroups: 1, HeldMemberships: 4},
		Options: domain.Options{DeactivationThreshold: domain.Threshold{Percent: 20, Count: 500}},
	}
	bySeq := map[int]domain.Change{}
	for _, c := range changes {
		bySeq[c.Seq] = c
	}
	return sy, bySeq
}

func TestDecideRecountsOverTheIncludedChanges(t *testing.T) {
	type step struct {
		seqs     []int
		excluded bool
	}
	tests := []struct {
		name  string
		steps []step
		want  domain.Counts
	}{
		{"a user the plan adds takes its membership with it", []step{{[]int{1}, true}}, domain.Counts{
			Users:       domain.UserCounts{Deactivate: 1, Update: 1, Skip: 1, Excluded: 1},
			Groups:      domain.GroupCounts{Update: 1},
			Memberships: domain.MembershipCounts{Add: 1, Remove: 1},
		}},
		{"a deactivation takes its membership removal with it", []step{{[]int{2}, true}}, domain.Counts{
			Users:       domain.UserCounts{Add: 1, Update: 1, Skip: 1, Excluded: 1},
			Groups:      domain.GroupCounts{Update: 1},
			Memberships: domain.MembershipCounts{Add: 2},
		}},
		{"a group takes its memberships with it", []step{{[]int{5}, true}}, domain.Counts{
			Users:  domain.UserCounts{Add: 1, Deactivate: 1, Update: 1, Skip: 1},
			Groups: domain.GroupCounts{Excluded: 1},
		}},
		{"user then group counts each membership once", []step{{[]int{1}, true}, {[]int{5}, true}}, domain.Counts{
			Users:  domain.UserCounts{Deactivate: 1, Update: 1, Skip: 1, Excluded: 1},
			Groups: domain.GroupCounts{Excluded: 1},
		}},
		{"group then user counts each membership once", []step{{[]int{5}, true}, {[]int{1}, true}}, domain.Counts{
			Users:  domain.UserCounts{Deactivate: 1, Update: 1, Skip: 1, Excluded: 1},
			Groups: domain.GroupCounts{Excluded: 1},
		}},
		{"user and group in one request", []step{{[]int{1, 5}, true}}, domain.Counts{
			Users:  domain.UserCounts{Deactivate: 1, Update: 1, Skip: 1, Excluded: 1},
			Groups: domain.GroupCounts{Excluded: 1},
		}},
		{"including the group back counts only the memberships of included users", []step{{[]int{1, 5}, true}, {[]int{5}, false}}, domain.Counts{
			Users:       domain.UserCounts{Deactivate: 1, Update: 1, Skip: 1, Excluded: 1},
			Groups:      domain.GroupCounts{Update: 1},
			Memberships: domain.MembershipCounts{Add: 1, Remove: 1},
		}},
		{"excluding twice counts once", []step{{[]int{3}, true}, {[]int{3}, true}}, domain.Counts{
			Users:       domain.UserCounts{Add: 1, Deactivate: 1, Skip: 1, Excluded: 1},
			Groups:      domain.GroupCounts{Update: 1},
			Memberships: domain.MembershipCounts{Add: 2, Remove: 1},
		}},
		{"everything out and back in is the plan again", []step{{[]int{1, 2, 3, 5}, true}, {[]int{3, 1, 5, 2}, false}}, domain.Counts{
			Users:       domain.UserCounts{Add: 1, Deactivate: 1, Update: 1, Skip: 1},
			Groups:      domain.GroupCounts{Update: 1},
			Memberships: domain.MembershipCounts{Add: 2, Remove: 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sy, bySeq := samplePlan()
			var current []domain.Exclusion
			total := 4
			for _, st := range tt.steps {
				var targets []domain.Change
				for _, seq := range slices.Compact(slices.Sorted(slices.Values(st.seqs))) {
					targets = append(targets, bySeq[seq])
				}
				for _, w := range Decide(sy, targets, current, st.excluded) {
					sy.Counts = w.Counts
					total += w.ApplyTotalDelta
					current = applyWrite(current, w)
				}
			}
			if !reflect.DeepEqual(sy.Counts, tt.want) {
				t.Fatalf("counts = %+v\nwant      %+v", sy.Counts, tt.want)
			}
			included := tt.want.Users.Add + tt.want.Users.Update + tt.want.Users.Deactivate + tt.want.Users.Reactivate +
				tt.want.Groups.Add + tt.want.Groups.Update + tt.want.Groups.Remove
			if total != included {
				t.Fatalf("apply total = %d, want %d (the included changes)", total, included)
			}
		})
	}
}

// A group removal lists the memberships it drops; they go with the group
// whatever becomes of their users, so excluding a user leaves them
// counted, and excluding or including the removal moves all of them.
func TestDecideCountsARemovalsMembershipsWithTheGroup(t *testing.T) {
	deactivation := domain.Change{Seq: 1, ObjectType: domain.ObjectUser, Kind: domain.KindDeactivate, TargetID: "u1"}
	removal := domain.Change{Seq: 2, ObjectType: domain.ObjectGroup, Kind: domain.KindRemove, TargetID: "g2",
		MembersRemoved: []domain.MemberRef{{UserID: "u1"}, {UserID: "u2"}, {UserID: "u3"}}}
	planned := domain.Counts{
		Users:       domain.UserCounts{Deactivate: 1},
		Groups:      domain.GroupCounts{Remove: 1},
		Memberships: domain.MembershipCounts{Remove: 3},
	}
	type step struct {
		targets  []domain.Change
		excluded bool
	}
	tests := []struct {
		name  string
		steps []step
		want  domain.Counts
	}{
		{"excluding a member's user leaves the removal's memberships", []step{{[]domain.Change{deactivation}, true}}, domain.Counts{
			Users:       domain.UserCounts{Excluded: 1},
			Groups:      domain.GroupCounts{Remove: 1},
			Memberships: domain.MembershipCounts{Remove: 3},
		}},
		{"excluding the removal takes every membership, an excluded user's too", []step{
			{[]domain.Change{deactivation}, true}, {[]domain.Change{removal}, true},
		}, domain.Counts{
			Users:  domain.UserCounts{Excluded: 1},
			Groups: domain.GroupCounts{Excluded: 1},
		}},
		{"including the removal back counts every membership again", []step{
			{[]domain.Change{removal}, true}, {[]domain.Change{deactivation}, true}, {[]domain.Change{removal}, false},
		}, domain.Counts{
			Users:       domain.UserCounts{Excluded: 1},
			Groups:      domain.GroupCounts{Remove: 1},
			Memberships: domain.MembershipCounts{Remove: 3},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sy := &domain.Sync{Counts: planned, Bases: domain.SafeguardBases{ActiveLinked: 1, OwnedGroups: 1, HeldMemberships: 3}}
			var current []domain.Exclusion
			for _, st := range tt.steps {
				for _, w := range Decide(sy, st.targets, current, st.excluded) {
					sy.Counts = w.Counts
					current = applyWrite(current, w)
				}
			}
			if sy.Counts != tt.want {
				t.Fatalf("counts = %+v\nwant      %+v", sy.Counts, tt.want)
			}
		})
	}
}

func TestExcludingDeactivationsClearsTheSafeguard(t *testing.T) {
	sy, bySeq := samplePlan()
	sy.Safeguards = domain.EvaluateSafeguards(sy.Counts, sy.Bases, sy.Options.DeactivationThreshold)
	if !tripped(sy.Safeguards, domain.SafeguardDeactivationPercent) {
		t.Fatal("1 deactivation of 2 active linked users should trip the 20% safeguard")
	}
	ws := Decide(sy, []domain.Change{bySeq[2]}, nil, true)
	if len(ws) != 1 || tripped(ws[0].Safeguards, domain.SafeguardDeactivationPercent) {
		t.Fatalf("after excluding the deactivation: %+v, want the safeguard clear", ws)
	}
	ws = Decide(sy, []domain.Change{bySeq[2]}, ws[0].Exclude, false)
	if len(ws) != 1 || !tripped(ws[0].Safeguards, domain.SafeguardDeactivationPercent) {
		t.Fatalf("after including it back: %+v, want the safeguard tripped again", ws)
	}
}

// Each write holds at most MaxExclusionsPerWrite changes and the counts as
// they stand after it, so a write lost halfway leaves exact counts.
func TestDecideSplitsLargeRequests(t *testing.T) {
	const n = 120
	sy := &domain.Sync{Counts: domain.Counts{Users: domain.UserCounts{Update: n}}}
	var targets []domain.Change
	for i := 1; i <= n; i++ {
		targets = append(targets, domain.Change{Seq: i, ObjectType: domain.ObjectUser, Kind: domain.KindUpdate, TargetID: fmt.Sprint("u", i)})
	}
	ws := Decide(sy, targets, nil, true)
	want := []int{49, 49, 22}
	if len(ws) != len(want) {
		t.Fatalf("%d writes, want %d", len(ws), len(want))
	}
	done := 0
	for i, w := range ws {
		if len(w.Exclude) != want[i] || w.ApplyTotalDelta != -want[i] {
			t.Fatalf("write %d flips %d (total %d), want %d", i, len(w.Exclude), w.ApplyTotalDelta, want[i])
		}
		done += want[i]
		if w.Counts.Users.Update != n-done || w.Counts.Users.Excluded != done {
			t.Fatalf("write %d counts %+v, want %d updates and %d excluded", i, w.Counts.Users, n-done, done)
		}
	}
}

func tripped(sgs []domain.Safeguard, name string) bool {
	for _, s := range sgs {
		if s.Name == name {
			return s.Tripped
		}
	}
	return false
}

// applyWrite is the excluded set after w, as the store keeps it.
func applyWrite(current []domain.Exclusion, w domain.ExclusionWrite) []domain.Exclusion {
	out := append([]domain.Exclusion(nil), current...)
	out = append(out, w.Exclude...)
	for _, seq := range w.Include {
		for i := range out {
			if out[i].Seq == seq {
				out = append(out[:i], out[i+1:]...)
				break
			}
		}
	}
	return out
}

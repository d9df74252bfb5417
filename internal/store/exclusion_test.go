package store

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"dirsync/internal/domain"
)

func TestWriteExclusions(t *testing.T) {
	ctx := context.Background()
	s, sy, _ := readyWithClock(t, "acme")
	changes, err := s.GetChanges(ctx, "acme", sy.ID, []int{1, 99})
	if err != nil || len(changes) != 1 || changes[0].Seq != 1 || changes[0].Excluded {
		t.Fatalf("GetChanges(1, 99) = %+v, %v; want change 1 only, included", changes, err)
	}
	counts := sy.Counts
	counts.Users.Add--
	counts.Users.Excluded++
	exclude := domain.ExclusionWrite{Tenant: "acme", SyncID: sy.ID, Version: sy.Version, RetainUntil: sy.RetainUntil,
		Exclude: []domain.Exclusion{domain.ExclusionOf(&changes[0])}, Counts: counts,
		Safeguards: []domain.Safeguard{{Name: "x", Tripped: true}}, ApplyTotalDelta: -1}
	if err := s.WriteExclusions(ctx, exclude); err != nil {
		t.Fatal(err)
	}

	after, err := s.GetSync(ctx, "acme", sy.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Version != sy.Version+1 || after.Counts != counts || after.ApplyTotal != sy.ApplyTotal-1 || len(after.Safeguards) != 1 {
		t.Fatalf("sync after the exclusion: version %d counts %+v total %d safeguards %+v", after.Version, after.Counts, after.ApplyTotal, after.Safeguards)
	}
	if p, err := s.GetProgress(ctx, "acme", sy.ID); err != nil || p.Total != sy.ApplyTotal-1 {
		t.Fatalf("progress total = %+v, %v; want %d", p, err, sy.ApplyTotal-1)
	}
	excluded, err := s.Exclusions(ctx, "acme", sy.ID)
	want := []domain.Exclusion{{Seq: 1, ObjectType: domain.ObjectUser, User: []domain.MemberRef{{ExternalID: "x0"}}}}
	if err != nil || !reflect.DeepEqual(excluded, want) {
		t.Fatalf("Exclusions = %+v, %v; want %+v", excluded, err, want)
	}
	listed := func(excluded bool) []int {
		t.Helper()
		changes, _, err := s.ListChanges(ctx, "acme", sy.ID, domain.ChangeFilter{Excluded: &excluded}, domain.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var seqs []int
		for _, c := range changes {
			if c.Excluded != excluded {
				t.Fatalf("change %d listed as excluded=%v has Excluded %v", c.Seq, excluded, c.Excluded)
			}
			seqs = append(seqs, c.Seq)
		}
		return seqs
	}
	if got := listed(true); !reflect.DeepEqual(got, []int{1}) {
		t.Fatalf("excluded changes = %v, want [1]", got)
	}
	if got := listed(false); !reflect.DeepEqual(got, []int{2, 3, 4, 5}) {
		t.Fatalf("included changes = %v, want [2 3 4 5]", got)
	}

	// A write decided from the version before is refused and writes nothing.
	stale := exclude
	stale.Exclude = []domain.Exclusion{{Seq: 2, ObjectType: domain.ObjectUser}}
	if err := s.WriteExclusions(ctx, stale); !errors.Is(err, domain.ErrConditionFailed) {
		t.Fatalf("a write at a stale version: %v, want ErrConditionFailed", err)
	}
	if got := listed(true); !reflect.DeepEqual(got, []int{1}) {
		t.Fatalf("after the refused write, excluded changes = %v, want [1]", got)
	}
	// So is a confirm decided from it.
	if err := s.BeginApply(ctx, "acme", sy.ID, "admin@example.com", sy.Version); !errors.Is(err, domain.ErrConditionFailed) {
		t.Fatalf("a confirm decided before the exclusion: %v, want ErrConditionFailed", err)
	}

	include := domain.ExclusionWrite{Tenant: "acme", SyncID: sy.ID, Version: after.Version, RetainUntil: sy.RetainUntil,
		Include: []int{1}, Counts: sy.Counts, Safeguards: sy.Safeguards, ApplyTotalDelta: 1}
	if err := s.WriteExclusions(ctx, include); err != nil {
		t.Fatal(err)
	}
	if excluded, err := s.Exclusions(ctx, "acme", sy.ID); err != nil || len(excluded) != 0 {
		t.Fatalf("after including it back: %+v, %v; want none", excluded, err)
	}
	back, err := s.GetSync(ctx, "acme", sy.ID)
	if err != nil || back.ApplyTotal != sy.ApplyTotal || back.Counts != sy.Counts {
		t.Fatalf("after including it back: %+v, %v", back, err)
	}
	if err := s.BeginApply(ctx, "acme", sy.ID, "admin@example.com", back.Version); err != nil {
		t.Fatal(err)
	}
	late := include
	late.Version = back.Version
	if err := s.WriteExclusions(ctx, late); !errors.Is(err, domain.ErrConditionFailed) {
		t.Fatalf("an exclusion once applying: %v, want ErrConditionFailed", err)
	}
}

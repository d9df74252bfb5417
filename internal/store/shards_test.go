package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dirsync/internal/domain"
	"dirsync/local/dynamolocal/dynamotest"
)

// testShardSize is small, so that a plan of 17 changes lies in five shards
// and every kind, batch and filter below crosses a boundary.
const testShardSize = 4

func TestPlanLayoutSpans(t *testing.T) {
	sharded := planLayout{tenant: "acme", syncID: "s1", perShard: 4}
	tests := []struct {
		name     string
		layout   planLayout
		from, to int
		want     []seqSpan
	}{
		{"inside one shard", sharded, 2, 3, []seqSpan{{"Y#acme#s1#0", 2, 3}}},
		{"a whole shard", sharded, 5, 8, []seqSpan{{"Y#acme#s1#1", 5, 8}}},
		{"across two boundaries", sharded, 3, 10, []seqSpan{{"Y#acme#s1#0", 3, 4}, {"Y#acme#s1#1", 5, 8}, {"Y#acme#s1#2", 9, 10}}},
		{"one seq each side", sharded, 4, 5, []seqSpan{{"Y#acme#s1#0", 4, 4}, {"Y#acme#s1#1", 5, 5}}},
		{"empty", sharded, 6, 5, nil},
		{"a plan stored before shards", planLayout{tenant: "acme", syncID: "s1"}, 3, 10, []seqSpan{{"Y#acme#s1", 3, 10}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.layout.spans(tt.from, tt.to); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("spans(%d, %d) = %v, want %v", tt.from, tt.to, got, tt.want)
			}
		})
	}
}

func memberRefs(prefix string, n int) []domain.MemberRef {
	refs := make([]domain.MemberRef, n)
	for i := range refs {
		refs[i] = domain.MemberRef{ExternalID: fmt.Sprintf("%s%05d", prefix, i)}
	}
	return refs
}

// shardedPlan is 17 changes in shards of 4 (1-4, 5-8, 9-12, 13-16, 17):
// user adds 1-5, updates 6-7, reactivations 8-9, a deactivation 10,
// skips 11-12, group adds 13-14, an update 15, removals 16-17. The group
// changes at 13 and 16, at a shard's start and end, have two member
// chunks each.
func shardedPlan() *domain.Plan {
	p := &domain.Plan{}
	user := func(kind domain.ChangeKind, n int) {
		for range n {
			seq := len(p.Changes) + 1
			c := domain.Change{Seq: seq, ObjectType: domain.ObjectUser, Kind: kind,
				Subject:    domain.Subject{ExternalID: fmt.Sprintf("x%d", seq), Email: fmt.Sprintf("p%d@example.com", seq), DisplayName: fmt.Sprintf("Person %d", seq)},
				Attributes: domain.Attrs{{Name: "displayName", Value: fmt.Sprintf("Person %d", seq)}}}
			if kind != domain.KindAdd {
				c.TargetID, c.BaseRevision = fmt.Sprintf("u%d", seq), 2
			}
			p.Changes = append(p.Changes, c)
		}
	}
	group := func(kind domain.ChangeKind, added, removed int) {
		seq := len(p.Changes) + 1
		c := domain.Change{Seq: seq, ObjectType: domain.ObjectGroup, Kind: kind,
			Subject:      domain.Subject{ExternalID: fmt.Sprintf("g%d", seq), DisplayName: fmt.Sprintf("Team %d", seq)},
			MembersAdded: memberRefs(fmt.Sprintf("a%d-", seq), added), MembersRemoved: memberRefs(fmt.Sprintf("r%d-", seq), removed)}
		if kind != domain.KindAdd {
			c.TargetID, c.BaseRevision = fmt.Sprintf("g%d", seq), 1
		}
		p.Changes = append(p.Changes, c)
	}
	user(domain.KindAdd, 5)
	user(domain.KindUpdate, 2)
	user(domain.KindReactivate, 2)
	user(domain.KindDeactivate, 1)
	user(domain.KindSkip, 2)
	group(domain.KindAdd, memberChunkSize+500, 0)
	group(domain.KindAdd, 3, 0)
	group(domain.KindUpdate, 1, 1)
	group(domain.KindRemove, 0, memberChunkSize+100)
	group(domain.KindRemove, 0, 1)
	p.Counts = domain.Counts{
		Users:  domain.UserCounts{Add: 5, Update: 2, Reactivate: 2, Deactivate: 1, Skip: 2},
		Groups: domain.GroupCounts{Add: 2, Update: 1, Remove: 2},
	}
	return p
}

// Outcomes and exclusions of the sharded plan, each on both sides of a
// boundary.
var (
	shardedOutcomes = []domain.Outcome{
		{Seq: 1, Result: domain.OutcomeApplied}, {Seq: 2, Result: domain.OutcomeConflict, Reason: "edited"},
		{Seq: 4, Result: domain.OutcomeApplied}, {Seq: 5, Result: domain.OutcomeApplied},
		{Seq: 8, Result: domain.OutcomeFailed, Reason: "boom"}, {Seq: 9, Result: domain.OutcomeApplied},
		{Seq: 13, Result: domain.OutcomeApplied}, {Seq: 16, Result: domain.OutcomeApplied}, {Seq: 17, Result: domain.OutcomeApplied},
	}
	shardedExcluded = []int{4, 5, 12}
)

// readyShardedPlan stores shardedPlan with testShardSize and, unless bare,
// its exclusions and outcomes.
func readyShardedPlan(t *testing.T, s *Store, tenant string, bare bool) (*domain.Sync, *domain.Plan) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	sy := newSync(tenant, now)
	if err := s.CreateSync(ctx, sy, time.Hour); err != nil {
		t.Fatal(err)
	}
	plan := shardedPlan()
	w := domain.PlanWrite{Batches: domain.CutBatches(plan.Changes, domain.BatchSizes{Users: 3, Groups: 2}), ExpiresAt: now.Add(time.Hour), RetainUntil: now.Add(48 * time.Hour)}
	if err := s.SavePlan(ctx, domain.Lease{Tenant: tenant, SyncID: sy.ID}, plan, w); err != nil {
		t.Fatal(err)
	}
	if bare {
		return sy, plan
	}
	ready, err := s.GetSync(ctx, tenant, sy.ID)
	if err != nil {
		t.Fatal(err)
	}
	var exclude []domain.Exclusion
	for _, seq := range shardedExcluded {
		exclude = append(exclude, domain.ExclusionOf(&plan.Changes[seq-1]))
	}
	if err := s.WriteExclusions(ctx, domain.ExclusionWrite{Tenant: tenant, SyncID: sy.ID, Version: ready.Version, RetainUntil: ready.RetainUntil,
		Exclude: exclude, Counts: ready.Counts, Safeguards: ready.Safeguards, ApplyTotalDelta: -len(exclude)}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordOutcomes(ctx, tenant, sy.ID, shardedOutcomes); err != nil {
		t.Fatal(err)
	}
	return sy, plan
}

func newShardedStore(t *testing.T) *Store {
	t.Helper()
	s := newTestStore(t)
	s.PlanShardSize = testShardSize
	return s
}

func seqsOf(changes []domain.Change) []int {
	out := make([]int, len(changes))
	for i, c := range changes {
		out[i] = c.Seq
	}
	return out
}

func TestShardedPlanListing(t *testing.T) {
	ctx := context.Background()
	s := newShardedStore(t)
	sy, plan := readyShardedPlan(t, s, "acme", false)
	outcome := map[int]string{}
	for _, o := range shardedOutcomes {
		outcome[o.Seq] = o.Result
	}
	// want is the listing the filter gives, computed from the plan.
	want := func(f domain.ChangeFilter) []int {
		var out []int
		for _, c := range plan.Changes {
			excluded := slices.Contains(shardedExcluded, c.Seq)
			switch {
			case f.ObjectType != "" && c.ObjectType != f.ObjectType, f.Kind != "" && c.Kind != f.Kind,
				f.Outcome != "" && outcome[c.Seq] != f.Outcome,
				f.Q != "" && !strings.Contains(searchText(c.Subject.Email, c.Subject.DisplayName), strings.ToLower(f.Q)),
				f.Excluded != nil && *f.Excluded != excluded:
				continue
			}
			out = append(out, c.Seq)
		}
		return out
	}
	yes, no := true, false
	filters := []struct {
		name   string
		filter domain.ChangeFilter
	}{
		{"all", domain.ChangeFilter{}},
		{"user adds, across a boundary", domain.ChangeFilter{ObjectType: domain.ObjectUser, Kind: domain.KindAdd}},
		{"reactivations, one each side", domain.ChangeFilter{Kind: domain.KindReactivate}},
		{"adds of both types", domain.ChangeFilter{Kind: domain.KindAdd}},
		{"groups", domain.ChangeFilter{ObjectType: domain.ObjectGroup}},
		{"removals, across a boundary", domain.ChangeFilter{Kind: domain.KindRemove}},
		{"text", domain.ChangeFilter{Q: "PERSON 1"}},
		{"applied", domain.ChangeFilter{Outcome: domain.OutcomeApplied}},
		{"excluded", domain.ChangeFilter{Excluded: &yes}},
		{"excluded user adds", domain.ChangeFilter{Kind: domain.KindAdd, Excluded: &yes}},
		{"included", domain.ChangeFilter{Excluded: &no}},
		{"included applied users", domain.ChangeFilter{ObjectType: domain.ObjectUser, Outcome: domain.OutcomeApplied, Excluded: &no}},
	}
	for _, tt := range filters {
		for _, limit := range []int{1, 2, 3, 5, 100} {
			t.Run(fmt.Sprintf("%s/limit=%d", tt.name, limit), func(t *testing.T) {
				var got []int
				cursor := ""
				for page := 0; ; page++ {
					changes, next, err := s.ListChanges(ctx, "acme", sy.ID, tt.filter, domain.Page{Limit: limit, Cursor: cursor})
					if err != nil {
						t.Fatal(err)
					}
					if len(changes) > limit || (next != "" && len(changes) != limit) {
						t.Fatalf("page %d: %d changes, next %q, limit %d", page, len(changes), next, limit)
					}
					for _, c := range changes {
						if c.Excluded != slices.Contains(shardedExcluded, c.Seq) || c.Outcome != outcome[c.Seq] {
							t.Fatalf("change %d listed with excluded %v outcome %q", c.Seq, c.Excluded, c.Outcome)
						}
					}
					got = append(got, seqsOf(changes)...)
					if next == "" {
						break
					}
					cursor = next
				}
				if w := want(tt.filter); !slices.Equal(got, w) {
					t.Fatalf("listed %v, want %v", got, w)
				}
			})
		}
	}
	t.Run("a cursor from another shard's change resumes after it", func(t *testing.T) {
		changes, _, err := s.ListChanges(ctx, "acme", sy.ID, domain.ChangeFilter{}, domain.Page{Limit: 3, Cursor: encodeCursor(changeSK(8))})
		if err != nil || !slices.Equal(seqsOf(changes), []int{9, 10, 11}) {
			t.Fatalf("after seq 8: %v, %v; want [9 10 11]", seqsOf(changes), err)
		}
	})
	t.Run("a cursor past the plan lists nothing", func(t *testing.T) {
		changes, next, err := s.ListChanges(ctx, "acme", sy.ID, domain.ChangeFilter{}, domain.Page{Limit: 3, Cursor: encodeCursor(changeSK(1 << 30))})
		if err != nil || len(changes) != 0 || next != "" {
			t.Fatalf("past the plan: %v, %q, %v", seqsOf(changes), next, err)
		}
	})
	t.Run("another tenant's cursor reads only the caller's plan", func(t *testing.T) {
		_, _, err := s.ListChanges(ctx, "other", sy.ID, domain.ChangeFilter{}, domain.Page{Limit: 3, Cursor: encodeCursor(changeSK(8))})
		wantCode(t, err, domain.ENotFound)
	})
}

func TestShardedChangesBySeq(t *testing.T) {
	ctx := context.Background()
	s := newShardedStore(t)
	sy, plan := readyShardedPlan(t, s, "acme", false)

	excluded, err := s.Exclusions(ctx, "acme", sy.ID)
	if err != nil {
		t.Fatal(err)
	}
	var exclusionSeqs []int
	for _, e := range excluded {
		exclusionSeqs = append(exclusionSeqs, e.Seq)
	}
	if !slices.Equal(exclusionSeqs, shardedExcluded) {
		t.Fatalf("exclusions %v, want %v", exclusionSeqs, shardedExcluded)
	}

	tests := []struct {
		name string
		seqs []int
		want []int
	}{
		{"both sides of a boundary", []int{4, 5}, []int{4, 5}},
		{"every shard, out of order, with a seq the plan lacks", []int{17, 1, 99, 9, 13, 6}, []int{17, 1, 9, 13, 6}},
		{"member chunks at a shard's end and the next one's start", []int{16, 17, 13}, []int{16, 17, 13}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changes, err := s.GetChanges(ctx, "acme", sy.ID, tt.seqs)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(seqsOf(changes), tt.want) {
				t.Fatalf("GetChanges(%v) = %v, want %v", tt.seqs, seqsOf(changes), tt.want)
			}
			for _, c := range changes {
				p := plan.Changes[c.Seq-1]
				if c.Excluded != slices.Contains(shardedExcluded, c.Seq) || c.Subject != p.Subject ||
					!slices.Equal(c.MembersAdded, p.MembersAdded) || !slices.Equal(c.MembersRemoved, p.MembersRemoved) {
					t.Fatalf("change %d: excluded %v, subject %+v, %d/%d members added, %d/%d removed", c.Seq, c.Excluded, c.Subject,
						len(c.MembersAdded), len(p.MembersAdded), len(c.MembersRemoved), len(p.MembersRemoved))
				}
			}
		})
	}

	t.Run("including back on both sides of a boundary", func(t *testing.T) {
		ready, err := s.GetSync(ctx, "acme", sy.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.WriteExclusions(ctx, domain.ExclusionWrite{Tenant: "acme", SyncID: sy.ID, Version: ready.Version, RetainUntil: ready.RetainUntil,
			Include: []int{4, 5}, Counts: ready.Counts, Safeguards: ready.Safeguards, ApplyTotalDelta: 2}); err != nil {
			t.Fatal(err)
		}
		changes, err := s.GetChanges(ctx, "acme", sy.ID, []int{4, 5, 12})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range changes {
			if c.Excluded != (c.Seq == 12) {
				t.Fatalf("change %d excluded %v after including 4 and 5 back", c.Seq, c.Excluded)
			}
		}
	})
}

func TestShardedBatchChanges(t *testing.T) {
	ctx := context.Background()
	s := newShardedStore(t)
	sy, plan := readyShardedPlan(t, s, "acme", false)
	stored, err := s.GetSync(ctx, "acme", sy.ID)
	if err != nil {
		t.Fatal(err)
	}
	batches := []domain.Batch{{Index: -1, From: 3, To: 14}} // spans four shards
	for i := range stored.Batches {
		b, _, err := s.GetBatch(ctx, "acme", sy.ID, i)
		if err != nil {
			t.Fatal(err)
		}
		batches = append(batches, *b)
	}
	crossing := 0
	for _, b := range batches {
		t.Run(fmt.Sprintf("batch %d: seqs %d-%d", b.Index, b.From, b.To), func(t *testing.T) {
			if (b.From-1)/testShardSize != (b.To-1)/testShardSize {
				crossing++
			}
			changes, err := s.BatchChanges(ctx, "acme", sy.ID, &b)
			if err != nil {
				t.Fatal(err)
			}
			var want []int
			for seq := b.From; seq <= b.To; seq++ {
				want = append(want, seq)
			}
			if !slices.Equal(seqsOf(changes), want) {
				t.Fatalf("batch changes %v, want %v", seqsOf(changes), want)
			}
			for _, c := range changes {
				p := plan.Changes[c.Seq-1]
				if !slices.Equal(c.MembersAdded, p.MembersAdded) || !slices.Equal(c.MembersRemoved, p.MembersRemoved) {
					t.Fatalf("change %d came with %d members added and %d removed, want %d and %d",
						c.Seq, len(c.MembersAdded), len(c.MembersRemoved), len(p.MembersAdded), len(p.MembersRemoved))
				}
			}
		})
	}
	if crossing < 3 {
		t.Fatalf("only %d batches cross a shard boundary; the plan no longer tests it", crossing)
	}

	t.Run("a membership checkpoint lands on its change", func(t *testing.T) {
		// Change 13 (the first of shard 3) adds two chunks of members no
		// user holds the link of: the write only counts them and
		// checkpoints.
		refs := plan.Changes[12].MembersAdded
		if _, err := s.WriteMemberships(ctx, "acme", domain.MembershipWrite{SyncID: sy.ID, Seq: 13, GroupID: "g13", Directory: "dir-1", Added: refs}); err != nil {
			t.Fatal(err)
		}
		changes, err := s.GetChanges(ctx, "acme", sy.ID, []int{13})
		if err != nil || len(changes) != 1 || changes[0].MembersDone != len(refs) || changes[0].MembersMissed != len(refs) {
			t.Fatalf("change 13 after its memberships: done %d missed %d, %v; want %d of each", changes[0].MembersDone, changes[0].MembersMissed, err, len(refs))
		}
	})
}

func TestShardedAppliedChanges(t *testing.T) {
	ctx := context.Background()
	s := newShardedStore(t)
	sy, plan := readyShardedPlan(t, s, "acme", false)
	applied, err := s.AppliedChanges(ctx, "acme", sy.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 4, 5, 9, 13, 16, 17}; !slices.Equal(seqsOf(applied), want) {
		t.Fatalf("applied changes %v, want %v", seqsOf(applied), want)
	}
	for _, c := range applied {
		p := plan.Changes[c.Seq-1]
		if !slices.Equal(c.MembersAdded, p.MembersAdded) || !slices.Equal(c.MembersRemoved, p.MembersRemoved) || c.Subject != p.Subject {
			t.Fatalf("applied change %d does not come back whole", c.Seq)
		}
	}
	if none, err := s.AppliedChanges(ctx, "other", sy.ID); err != nil || len(none) != 0 {
		t.Fatalf("another tenant's applied changes: %v, %v", seqsOf(none), err)
	}
}

// failingWrites fails BatchWriteItem once calls have succeeded.
type failingWrites struct {
	DynamoAPI
	calls, after atomic.Int64
}

var errInjected = errors.New("injected write failure")

func (f *failingWrites) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	if f.calls.Add(1) > f.after.Load() {
		return nil, errInjected
	}
	return f.DynamoAPI.BatchWriteItem(ctx, in, opts...)
}

// A plan write that fails part way leaves the sync PREVIEWING; the worker's
// retry writes every item again under the same keys, so the plan reads
// whole and each change once.
func TestShardedPlanWriteRetry(t *testing.T) {
	ctx := context.Background()
	names := dynamotest.Tables(t)
	db := &failingWrites{DynamoAPI: dynamotest.Client}
	s := New(db, names["DirectoryTable"], names["SyncTable"])
	s.PlanShardSize = testShardSize
	now := time.Now()
	sy := newSync("acme", now)
	if err := s.CreateSync(ctx, sy, time.Hour); err != nil {
		t.Fatal(err)
	}
	plan := shardedPlan()
	w := domain.PlanWrite{Batches: domain.CutBatches(plan.Changes, domain.BatchSizes{Users: 3, Groups: 2}), ExpiresAt: now.Add(time.Hour), RetainUntil: now.Add(48 * time.Hour)}
	lease := domain.Lease{Tenant: "acme", SyncID: sy.ID}

	db.after.Store(3)
	if err := s.SavePlan(ctx, lease, plan, w); !errors.Is(err, errInjected) {
		t.Fatalf("SavePlan with failing writes: %v, want the injected failure", err)
	}
	if got, err := s.GetSync(ctx, "acme", sy.ID); err != nil || got.Status != domain.SyncPreviewing {
		t.Fatalf("after the failed write: %+v, %v; want PREVIEWING", got, err)
	}
	db.after.Store(1 << 40)
	if err := s.SavePlan(ctx, lease, plan, w); err != nil {
		t.Fatal(err)
	}
	all, _, err := s.ListChanges(ctx, "acme", sy.ID, domain.ChangeFilter{}, domain.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var want []int
	for _, c := range plan.Changes {
		want = append(want, c.Seq)
	}
	if !slices.Equal(seqsOf(all), want) {
		t.Fatalf("after the retry, listed %v, want %v", seqsOf(all), want)
	}
	// Each shard holds exactly its seqs, and nothing of the plan is left on
	// the sync's unsharded key but the counter and the batches.
	for shard := 0; shard*testShardSize < len(plan.Changes); shard++ {
		var seqs []int
		pk := changeShardPK("acme", sy.ID, shard)
		if err := s.queryAll(ctx, s.syncTable, pk, "C#", func(it item) {
			c, _ := changeFromItem(it)
			seqs = append(seqs, c.Seq)
		}); err != nil {
			t.Fatal(err)
		}
		var wantSeqs []int
		for seq := shard*testShardSize + 1; seq <= min((shard+1)*testShardSize, len(plan.Changes)); seq++ {
			wantSeqs = append(wantSeqs, seq)
		}
		if !slices.Equal(seqs, wantSeqs) {
			t.Fatalf("shard %d holds changes %v, want %v", shard, seqs, wantSeqs)
		}
	}
	for _, it := range itemsOf(t, s, syncDataPK("acme", sy.ID)) {
		if sk := getS(it, "sk"); sk != progressSK && !strings.HasPrefix(sk, "B#") {
			t.Fatalf("the sync's unsharded key holds %s", sk)
		}
	}
	if err := s.SavePlan(ctx, lease, plan, w); domain.ErrorCode(err) != domain.EConflict {
		t.Fatalf("a third SavePlan on the ready sync: %v, want conflict", err)
	}
}

// A plan stored before plans were sharded (no shs on its sync, every item
// on the sync's data key) reads as it always did.
func TestPlanStoredBeforeShards(t *testing.T) {
	ctx := context.Background()
	s := newShardedStore(t)
	sy, plan := readyShardedPlan(t, s, "acme", false)
	// Move it to the old layout.
	base := syncDataPK("acme", sy.ID)
	for shard := 0; shard*testShardSize < len(plan.Changes); shard++ {
		items := itemsOf(t, s, changeShardPK("acme", sy.ID, shard))
		var keys []item
		for _, it := range items {
			keys = append(keys, key(getS(it, "pk"), getS(it, "sk")))
			it["pk"] = avS(base)
		}
		if err := s.putAll(ctx, s.syncTable, items); err != nil {
			t.Fatal(err)
		}
		for reqs := range slices.Chunk(deleteRequests(keys), batchWriteLimit) {
			if err := s.writeRequests(ctx, s.syncTable, reqs); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := dynamotest.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(s.syncTable),
		Key: key(tenantPK("acme"), syncSK(sy.ID)), UpdateExpression: aws.String("REMOVE shs")}); err != nil {
		t.Fatal(err)
	}

	all, _, err := s.ListChanges(ctx, "acme", sy.ID, domain.ChangeFilter{}, domain.Page{Limit: 100})
	if err != nil || len(all) != len(plan.Changes) {
		t.Fatalf("listed %v, %v; want all %d", seqsOf(all), err, len(plan.Changes))
	}
	got, err := s.GetChanges(ctx, "acme", sy.ID, []int{4, 5, 16})
	if err != nil || !slices.Equal(seqsOf(got), []int{4, 5, 16}) || len(got[2].MembersRemoved) != len(plan.Changes[15].MembersRemoved) {
		t.Fatalf("GetChanges = %v, %v", seqsOf(got), err)
	}
	b := domain.Batch{From: 3, To: 10}
	if got, err := s.BatchChanges(ctx, "acme", sy.ID, &b); err != nil || len(got) != 8 {
		t.Fatalf("BatchChanges = %v, %v", seqsOf(got), err)
	}
	if applied, err := s.AppliedChanges(ctx, "acme", sy.ID); err != nil || !slices.Equal(seqsOf(applied), []int{1, 4, 5, 9, 13, 16, 17}) {
		t.Fatalf("AppliedChanges = %v, %v", seqsOf(applied), err)
	}
	if err := s.RecordOutcomes(ctx, "acme", sy.ID, []domain.Outcome{{Seq: 3, Result: domain.OutcomeFailed}}); err != nil {
		t.Fatal(err)
	}
}

// itemsOf reads every item of a partition key of the sync table.
func itemsOf(t *testing.T, s *Store, pk string) []item { return tableItemsOf(t, s.syncTable, pk) }

// tableItemsOf reads every item of a partition key of table.
func tableItemsOf(t *testing.T, table, pk string) []item {
	t.Helper()
	in := &dynamodb.QueryInput{TableName: aws.String(table), KeyConditionExpression: aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(pk)}}
	var out []item
	for {
		qo, err := dynamotest.Client.Query(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, qo.Items...)
		if len(qo.LastEvaluatedKey) == 0 {
			return out
		}
		in.ExclusiveStartKey = qo.LastEvaluatedKey
	}
}

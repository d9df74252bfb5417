package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"dirsync/internal/domain"
)

// memberChunkSize bounds the member references per chunk item (~50 bytes
// each as JSON), keeping chunks near 100 KB, far under the 400 KB item limit.
const memberChunkSize = 2000

// rangeKey names the seq range of one object type and kind.
func rangeKey(ot domain.ObjectType, k domain.ChangeKind) string { return string(ot) + "/" + string(k) }

// SavePlan stores a computed plan for a PREVIEWING sync: its changes (with
// large membership lists split into chunk items) and the apply batches it
// is given (w.Batches; a plan with changes to apply and none is refused),
// then, in one transaction, a zeroed progress counter and the sync marked
// PREVIEW_READY with counts,
// safeguards and warnings and releases the tenant's lock. Marking it ready
// is fenced: it happens only while l still holds the preview's lease, so a
// worker whose lease lapsed never makes its plan confirmable.
func (s *Store) SavePlan(ctx context.Context, l domain.Lease, plan *domain.Plan, w domain.PlanWrite) error {
	tenant, syncID := l.Tenant, l.SyncID
	ttl := avN(w.RetainUntil.Unix())
	ranges := map[string][2]int{}
	toApply := 0
	for i := range plan.Changes {
		c := &plan.Changes[i]
		if c.Kind != domain.KindSkip {
			toApply++
		}
		if c.Seq != i+1 {
			return fmt.Errorf("store: save plan: change %d has seq %d; seqs must be 1..n in order", i, c.Seq)
		}
		rk := rangeKey(c.ObjectType, c.Kind)
		r, seen := ranges[rk]
		switch {
		case !seen:
			ranges[rk] = [2]int{c.Seq, c.Seq}
		case r[1] == c.Seq-1:
			ranges[rk] = [2]int{r[0], c.Seq}
		default:
			return fmt.Errorf("store: save plan: %s changes are not contiguous (seq %d)", rk, c.Seq)
		}
	}
	// The batches are the caller's to cut: a plan stored without them
	// could never be applied.
	batches := w.Batches
	if len(batches) == 0 && toApply > 0 {
		return fmt.Errorf("store: save plan %s: %d changes to apply and no batches; cut them with domain.CutBatches", syncID, toApply)
	}
	total := 0
	userBatches := 0
	for i, b := range batches {
		// The sync records how many batches hold users: apply finds a batch
		// by its index and the groups after the users.
		switch {
		case b.Index != i:
			return fmt.Errorf("store: save plan: batch %d has index %d; indexes must be 0..n-1 in order", i, b.Index)
		case b.ObjectType == domain.ObjectUser && userBatches < i:
			return fmt.Errorf("store: save plan: user batch %d follows a group batch", i)
		case b.ObjectType == domain.ObjectUser:
			userBatches++
		}
		total += b.Size
	}
	layout := planLayout{tenant: tenant, syncID: syncID, perShard: s.planShardSize()}
	err := s.writePlanItems(ctx, layout, plan.Changes, batches, ttl)
	if err != nil {
		return fmt.Errorf("store: save plan %s: %w", syncID, err)
	}

	values := map[string]types.AttributeValue{
		":ready": avS(string(domain.SyncPreviewReady)), ":previewing": avS(string(domain.SyncPreviewing)),
		":exp": avTime(w.ExpiresAt), ":now": avTime(s.now().UTC()),
		":batches": avN(int64(len(batches))), ":ub": avN(int64(userBatches)), ":total": avN(int64(total)),
		":n": avN(int64(len(plan.Changes))), ":zero": avN(0), ":rt": ttl, ":shs": avN(int64(layout.perShard)),
		":rk": avS(string(w.ReadKind)), ":rr": avS(w.ReadReason), ":ppu": avN(int64(w.PlannedUsers)),
	}
	set := ""
	if w.NextBasis != nil {
		av, err := avJSON(w.NextBasis)
		if err != nil {
			return fmt.Errorf("store: save plan: %w", err)
		}
		values[":nb"], set = av, ", nb = :nb"
	}
	for name, v := range map[string]any{":counts": plan.Counts, ":sg": plan.Safeguards, ":sgb": plan.Bases, ":warn": nonNil(plan.Warnings), ":ranges": ranges} {
		av, err := avJSON(v)
		if err != nil {
			return fmt.Errorf("store: save plan: %w", err)
		}
		values[name] = av
	}
	// The counter is written with the fenced status change, so a worker
	// fenced out leaves nothing readable: its change and batch items are
	// reachable only through the ranges and counts of a ready sync.
	progress := key(syncDataPK(tenant, syncID), progressSK)
	progress["st"] = avS(string(domain.SyncPreviewReady))
	progress["total"] = avN(int64(total))
	for _, f := range []string{"processed", "succeeded", "failed", "conflicts"} {
		progress[f] = avN(0)
	}
	progress["ttl"] = ttl
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.syncTable), Item: progress}},
		{Update: &types.Update{
			TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), syncSK(syncID)),
			UpdateExpression: aws.String("SET st = :ready, counts = :counts, sg = :sg, warn = :warn, #ranges = :ranges, " +
				"exp = :exp, uat = :now, batches = :batches, ub = :ub, #total = :total, nchanges = :n, sgb = :sgb, ver = :zero, rt = :rt, shs = :shs, rk = :rk, rr = :rr, ppu = :ppu" + set),
			ConditionExpression:       aws.String("st = :previewing"),
			ExpressionAttributeNames:  map[string]string{"#ranges": "ranges", "#total": "total"},
			ExpressionAttributeValues: values,
		}},
		releaseLease(s.syncTable, l, s.now().UTC()),
	}})
	if conditionFailed(err, -1) {
		return leaseLost("save plan", syncID)
	}
	if err != nil {
		return fmt.Errorf("store: save plan %s: mark ready: %w", syncID, err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// writePlanItems puts the change items of each shard and the batch items,
// up to s.WriteConcurrency shards at a time, each shard's items in seq
// order one BatchWriteItem after another: the writes in flight go to as
// many partition keys as there are writers, and none holds one key with
// more than one request. Every item's key follows from its seq or index,
// so a retried write puts the same items again.
func (s *Store) writePlanItems(ctx context.Context, layout planLayout, changes []domain.Change, batches []domain.Batch, ttl types.AttributeValue) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, s.WriteConcurrency))
	g.Go(func() error {
		// The batches share the sync's data key with the progress counter.
		pk := syncDataPK(layout.tenant, layout.syncID)
		return s.putInOrder(gctx, s.syncTable, func(emit func(item) error) error {
			for _, b := range batches {
				it := key(pk, batchSK(b.Index))
				it["ot"] = avS(string(b.ObjectType))
				it["from"] = avN(int64(b.From))
				it["to"] = avN(int64(b.To))
				it["n"] = avN(int64(b.Size))
				it["ttl"] = ttl
				if err := emit(it); err != nil {
					return err
				}
			}
			return nil
		})
	})
	for _, span := range layout.spans(1, len(changes)) {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			err := s.putInOrder(gctx, s.syncTable, func(emit func(item) error) error {
				for i := span.from - 1; i < span.to; i++ {
					its, err := changeItems(span.pk, &changes[i], ttl)
					if err != nil {
						return err
					}
					for _, it := range its {
						if err := emit(it); err != nil {
							return err
						}
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("changes %d..%d: %w", span.from, span.to, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// changeItems returns the item of a change and, for group changes with
// members, its member chunk items.
func changeItems(pk string, c *domain.Change, ttl types.AttributeValue) ([]item, error) {
	body := *c
	body.MembersAdded, body.MembersRemoved = nil, nil
	d, err := json.Marshal(&body)
	if err != nil {
		return nil, fmt.Errorf("encode change %d: %w", c.Seq, err)
	}
	it := key(pk, changeSK(c.Seq))
	it["ot"] = avS(string(c.ObjectType))
	it["kind"] = avS(string(c.Kind))
	it["q"] = avS(searchText(c.Subject.Email, c.Subject.DisplayName))
	it["d"] = avS(string(d))
	it["ttl"] = ttl
	out := []item{it}
	if len(c.MembersAdded) == 0 && len(c.MembersRemoved) == 0 {
		return out, nil
	}
	it["ma"] = avN(int64(len(c.MembersAdded)))
	it["mr"] = avN(int64(len(c.MembersRemoved)))
	chunks := 0
	for a, r := 0, 0; a < len(c.MembersAdded) || r < len(c.MembersRemoved); chunks++ {
		ch := key(pk, memberChunkSK(c.Seq, chunks))
		na := min(memberChunkSize, len(c.MembersAdded)-a)
		nr := min(memberChunkSize-na, len(c.MembersRemoved)-r)
		add, err := json.Marshal(c.MembersAdded[a : a+na])
		if err != nil {
			return nil, err
		}
		rem, err := json.Marshal(c.MembersRemoved[r : r+nr])
		if err != nil {
			return nil, err
		}
		ch["add"], ch["rem"], ch["ttl"] = avS(string(add)), avS(string(rem)), ttl
		a, r = a+na, r+nr
		out = append(out, ch)
	}
	it["mch"] = avN(int64(chunks))
	return out, nil
}

// ListChanges pages through a sync's changes in seq order. Filters by object
// type and kind read only the matching seq ranges.
func (s *Store) ListChanges(ctx context.Context, tenant, syncID string, f domain.ChangeFilter, p domain.Page) ([]domain.Change, string, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), syncSK(syncID)),
		ProjectionExpression: aws.String("st, #ranges, nchanges, shs"), ExpressionAttributeNames: map[string]string{"#ranges": "ranges"},
	})
	if err != nil {
		return nil, "", fmt.Errorf("store: list changes: %w", err)
	}
	if out.Item == nil {
		return nil, "", domain.Errorf(domain.ENotFound, "sync %q not found", syncID)
	}
	var ranges map[string][2]int
	if err := getJSON(out.Item, "ranges", &ranges); err != nil {
		return nil, "", fmt.Errorf("store: list changes: %w", err)
	}
	after, err := decodeCursor(p.Cursor, "C#")
	if err != nil {
		return nil, "", err
	}
	afterSeq := 0
	if after != "" {
		if afterSeq, err = strconv.Atoi(strings.TrimPrefix(after, "C#")); err != nil {
			return nil, "", domain.Errorf(domain.EInvalid, "cursor: malformed")
		}
	}
	layout := layoutFromItem(tenant, syncID, out.Item)
	if f.Excluded != nil && *f.Excluded {
		return s.listExcluded(ctx, layout, ranges, f, p, afterSeq)
	}
	var fe filterExpr
	if f.Outcome != "" {
		fe.and("oc = :oc", ":oc", avS(f.Outcome))
	}
	if q := strings.ToLower(strings.TrimSpace(f.Q)); q != "" {
		fe.and("contains(q, :q)", ":q", avS(q))
	}
	if f.Excluded != nil {
		fe.and("attribute_not_exists(x)", "", nil)
	}
	// A kind's range may span shards: each shard is one query, in seq order.
	var spans []seqSpan
	for _, r := range selectRanges(ranges, int(getN(out.Item, "nchanges")), f) {
		spans = append(spans, layout.spans(max(r[0], afterSeq+1), r[1])...)
	}
	var changes []domain.Change
	for _, span := range spans {
		in := &dynamodb.QueryInput{
			TableName:              aws.String(s.syncTable),
			KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :from AND :to"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": avS(span.pk), ":from": avS(changeSK(span.from)), ":to": avS(changeSK(span.to)),
			},
			Limit: aws.Int32(int32(min(p.Limit+1, 1000))),
		}
		if fe.expr != "" {
			in.FilterExpression = aws.String(fe.expr)
			for k, v := range fe.values {
				in.ExpressionAttributeValues[k] = v
			}
		}
		for {
			qo, err := s.db.Query(ctx, in)
			if err != nil {
				return nil, "", fmt.Errorf("store: list changes %d..%d: %w", span.from, span.to, err)
			}
			for _, it := range qo.Items {
				c, err := changeFromItem(it)
				if err != nil {
					return nil, "", fmt.Errorf("store: list changes: %w", err)
				}
				changes = append(changes, c)
				if len(changes) > p.Limit {
					return changes[:p.Limit], encodeCursor(changeSK(changes[p.Limit-1].Seq)), nil
				}
			}
			if len(qo.LastEvaluatedKey) == 0 {
				break
			}
			in.ExclusiveStartKey = qo.LastEvaluatedKey
		}
	}
	return changes, "", nil
}

// listExcluded pages through the excluded changes matching f, read
// through the exclusion items rather than by scanning the plan.
func (s *Store) listExcluded(ctx context.Context, layout planLayout, ranges map[string][2]int, f domain.ChangeFilter, p domain.Page, afterSeq int) ([]domain.Change, string, error) {
	excluded, err := s.Exclusions(ctx, layout.tenant, layout.syncID)
	if err != nil {
		return nil, "", err
	}
	inRange := selectRanges(ranges, math.MaxInt, f)
	q := strings.ToLower(strings.TrimSpace(f.Q))
	var out []domain.Change
	for start := 0; start < len(excluded) && len(out) <= p.Limit; {
		var seqs []int
		for ; start < len(excluded) && len(seqs) < 100; start++ {
			if seq := excluded[start].Seq; seq > afterSeq && inRanges(inRange, seq) {
				seqs = append(seqs, seq)
			}
		}
		changes, err := s.getChanges(ctx, layout, seqs, false)
		if err != nil {
			return nil, "", err
		}
		for _, c := range changes {
			if (f.Outcome == "" || c.Outcome == f.Outcome) && (q == "" || strings.Contains(searchText(c.Subject.Email, c.Subject.DisplayName), q)) {
				out = append(out, c)
			}
		}
	}
	if len(out) > p.Limit {
		return out[:p.Limit], encodeCursor(changeSK(out[p.Limit-1].Seq)), nil
	}
	return out, "", nil
}

func inRanges(ranges [][2]int, seq int) bool {
	for _, r := range ranges {
		if r[0] <= seq && seq <= r[1] {
			return true
		}
	}
	return false
}

// selectRanges returns the seq ranges, in order, holding the changes of the
// filter's object type and kind.
func selectRanges(ranges map[string][2]int, n int, f domain.ChangeFilter) [][2]int {
	if f.ObjectType == "" && f.Kind == "" {
		if n == 0 {
			return nil
		}
		return [][2]int{{1, n}}
	}
	var out [][2]int
	for k, r := range ranges {
		ot, kind, _ := strings.Cut(k, "/")
		if (f.ObjectType == "" || string(f.ObjectType) == ot) && (f.Kind == "" || string(f.Kind) == kind) {
			out = append(out, r)
		}
	}
	// Ranges never overlap, so ordering by start orders by seq.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j][0] < out[j-1][0]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func changeFromItem(it item) (domain.Change, error) {
	var c domain.Change
	if err := json.Unmarshal([]byte(getS(it, "d")), &c); err != nil {
		return c, fmt.Errorf("decode change %s: %w", getS(it, "sk"), err)
	}
	c.Outcome = getS(it, "oc")
	c.OutcomeReason = getS(it, "ocr")
	c.MembersDone = int(getN(it, "mdone"))
	c.MembersMissed = int(getN(it, "mmiss"))
	c.Excluded = getBool(it, "x")
	return c, nil
}

// GetProgress reads the progress counter of a sync: one GetItem.
func (s *Store) GetProgress(ctx context.Context, tenant, syncID string) (*domain.Progress, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.syncTable), Key: key(syncDataPK(tenant, syncID), progressSK),
		// Not the set of counted batches: it grows with the plan.
		ProjectionExpression: aws.String("st, #total, #p, #s, #f, #c, sat, uat, fat"),
		ExpressionAttributeNames: map[string]string{
			"#total": "total", "#p": "processed", "#s": "succeeded", "#f": "failed", "#c": "conflicts",
		},
	})
	if err != nil {
		return nil, fmt.Errorf("store: get progress: %w", err)
	}
	if out.Item == nil {
		return nil, domain.Errorf(domain.ENotFound, "no progress for sync %q", syncID)
	}
	p := &domain.Progress{
		Status:     domain.SyncStatus(getS(out.Item, "st")),
		Total:      int(getN(out.Item, "total")),
		Processed:  int(getN(out.Item, "processed")),
		Succeeded:  int(getN(out.Item, "succeeded")),
		Failed:     int(getN(out.Item, "failed")),
		Conflicts:  int(getN(out.Item, "conflicts")),
		StartedAt:  getTimePtr(out.Item, "sat"),
		UpdatedAt:  getTimePtr(out.Item, "uat"),
		FinishedAt: getTimePtr(out.Item, "fat"),
	}
	if p.Total > 0 {
		p.Percent = float64(int(float64(p.Processed)*1000/float64(p.Total))) / 10
	} else if p.Status.Final() {
		p.Percent = 100
	}
	return p, nil
}

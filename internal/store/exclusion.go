package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dirsync/internal/domain"
)

// An excluded change is marked on its change item (x) and indexed by an
// exclusion item X#<seq> in the sync's partition, so that apply and the
// excluded-only listing read the excluded set without scanning the plan.
func exclusionSK(seq int) string { return fmt.Sprintf("X#%010d", seq) }

// GetChanges reads the changes of a sync with the given seqs, with their
// membership references; seqs the plan does not have are left out.
func (s *Store) GetChanges(ctx context.Context, tenant, syncID string, seqs []int) ([]domain.Change, error) {
	layout, _, err := s.planLayout(ctx, tenant, syncID)
	if err != nil {
		return nil, err
	}
	return s.getChanges(ctx, layout, seqs, true)
}

func (s *Store) getChanges(ctx context.Context, layout planLayout, seqs []int, members bool) ([]domain.Change, error) {
	syncID := layout.syncID
	keys := make([]item, len(seqs))
	for i, seq := range seqs {
		keys[i] = key(layout.pk(seq), changeSK(seq))
	}
	// Sort keys stay unique across shards: found is keyed by them.
	found, err := s.batchGet(ctx, s.syncTable, keys)
	if err != nil {
		return nil, fmt.Errorf("store: get changes of %s: %w", syncID, err)
	}
	out := make([]domain.Change, 0, len(found))
	withMembers := map[int]int{}
	for _, seq := range seqs {
		it, ok := found[changeSK(seq)]
		if !ok {
			continue
		}
		c, err := changeFromItem(it)
		if err != nil {
			return nil, fmt.Errorf("store: get changes of %s: %w", syncID, err)
		}
		if members && getN(it, "mch") > 0 {
			withMembers[c.Seq] = len(out)
		}
		out = append(out, c)
	}
	if err := s.loadMembers(ctx, layout, out, withMembers); err != nil {
		return nil, err
	}
	return out, nil
}

// Exclusions lists the excluded changes of a sync in seq order.
func (s *Store) Exclusions(ctx context.Context, tenant, syncID string) ([]domain.Exclusion, error) {
	var out []domain.Exclusion
	var decodeErr error
	err := s.queryAll(ctx, s.syncTable, syncDataPK(tenant, syncID), "X#", func(it item) {
		e := domain.Exclusion{ObjectType: domain.ObjectType(getS(it, "ot"))}
		e.Seq, _ = strconv.Atoi(strings.TrimPrefix(getS(it, "sk"), "X#"))
		if err := getJSON(it, "refs", &e.User); err != nil && decodeErr == nil {
			decodeErr = err
		}
		out = append(out, e)
	})
	if err == nil {
		err = decodeErr
	}
	if err != nil {
		return nil, fmt.Errorf("store: exclusions of %s: %w", syncID, err)
	}
	return out, nil
}

// WriteExclusions makes one exclusion step in one transaction: the
// sync's counts, safeguards, apply total and version, the progress
// counter's total, and each flipped change's mark and exclusion item. It
// writes nothing and returns domain.ErrConditionFailed (wrapped) unless
// the sync is PREVIEW_READY at w.Version.
func (s *Store) WriteExclusions(ctx context.Context, w domain.ExclusionWrite) error {
	if n := len(w.Exclude) + len(w.Include); n > domain.MaxExclusionsPerWrite {
		return fmt.Errorf("store: write exclusions of %s: %d changes, at most %d per write", w.SyncID, n, domain.MaxExclusionsPerWrite)
	}
	counts, err := avJSON(w.Counts)
	if err != nil {
		return fmt.Errorf("store: write exclusions: %w", err)
	}
	sg, err := avJSON(w.Safeguards)
	if err != nil {
		return fmt.Errorf("store: write exclusions: %w", err)
	}
	layout, _, err := s.planLayout(ctx, w.Tenant, w.SyncID)
	if err != nil {
		return err
	}
	pk := syncDataPK(w.Tenant, w.SyncID)
	now := avTime(s.now().UTC())
	items := []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: aws.String(s.syncTable), Key: key(tenantPK(w.Tenant), syncSK(w.SyncID)),
			UpdateExpression:         aws.String("SET counts = :counts, sg = :sg, ver = :next, uat = :now ADD #total :delta"),
			ConditionExpression:      aws.String("st = :ready AND " + versionCondition(w.Version)),
			ExpressionAttributeNames: map[string]string{"#total": "total"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":counts": counts, ":sg": sg, ":next": avN(w.Version + 1), ":ver": avN(w.Version), ":now": now,
				":ready": avS(string(domain.SyncPreviewReady)), ":delta": avN(int64(w.ApplyTotalDelta)),
			},
		}},
		{Update: &types.Update{
			TableName: aws.String(s.syncTable), Key: key(pk, progressSK),
			UpdateExpression:          aws.String("SET uat = :now ADD #total :delta"),
			ConditionExpression:       aws.String("attribute_exists(pk)"),
			ExpressionAttributeNames:  map[string]string{"#total": "total"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": now, ":delta": avN(int64(w.ApplyTotalDelta))},
		}},
	}
	for _, e := range w.Exclude {
		refs, err := avJSON(e.User)
		if err != nil {
			return fmt.Errorf("store: write exclusions: %w", err)
		}
		x := key(pk, exclusionSK(e.Seq))
		x["ot"], x["refs"], x["ttl"] = avS(string(e.ObjectType)), refs, avN(w.RetainUntil.Unix())
		items = append(items, markChange(s.syncTable, layout.pk(e.Seq), e.Seq, true), types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.syncTable), Item: x}})
	}
	for _, seq := range w.Include {
		items = append(items, markChange(s.syncTable, layout.pk(seq), seq, false),
			types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(s.syncTable), Key: key(pk, exclusionSK(seq))}})
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if conditionFailed(err, 0) {
		return fmt.Errorf("store: write exclusions of %s: %w: the sync is not PREVIEW_READY at version %d", w.SyncID, domain.ErrConditionFailed, w.Version)
	}
	if err != nil {
		return fmt.Errorf("store: write exclusions of %s: %w", w.SyncID, err)
	}
	return nil
}

// markChange sets or clears a change item's exclusion mark.
func markChange(table, pk string, seq int, excluded bool) types.TransactWriteItem {
	u := &types.Update{
		TableName: aws.String(table), Key: key(pk, changeSK(seq)),
		UpdateExpression:    aws.String("REMOVE x"),
		ConditionExpression: aws.String("attribute_exists(pk)"),
	}
	if excluded {
		u.UpdateExpression = aws.String("SET x = :x")
		u.ExpressionAttributeValues = map[string]types.AttributeValue{":x": avBool(true)}
	}
	return types.TransactWriteItem{Update: u}
}

// loadMembers reads the membership chunks of the changes at the indexes
// of withMembers (seq -> index in out), each in its change's shard.
func (s *Store) loadMembers(ctx context.Context, layout planLayout, out []domain.Change, withMembers map[int]int) error {
	for seq, i := range withMembers {
		err := s.queryAll(ctx, s.syncTable, layout.pk(seq), fmt.Sprintf("CM#%010d#", seq), func(it item) {
			var add, rem []domain.MemberRef
			_ = json.Unmarshal([]byte(getS(it, "add")), &add)
			_ = json.Unmarshal([]byte(getS(it, "rem")), &rem)
			out[i].MembersAdded = append(out[i].MembersAdded, add...)
			out[i].MembersRemoved = append(out[i].MembersRemoved, rem...)
		})
		if err != nil {
			return fmt.Errorf("store: member chunks of change %d: %w", seq, err)
		}
	}
	return nil
}

// AppliedChanges reads every change of a sync whose outcome is applied,
// in seq order, with the membership references of its group changes: one
// query per shard, the shards in order.
func (s *Store) AppliedChanges(ctx context.Context, tenant, syncID string) ([]domain.Change, error) {
	return s.syncChanges(ctx, tenant, syncID, true)
}

// PlanChanges reads every change of a sync's plan (skipped, excluded and
// not applied ones too) as AppliedChanges does.
func (s *Store) PlanChanges(ctx context.Context, tenant, syncID string) ([]domain.Change, error) {
	return s.syncChanges(ctx, tenant, syncID, false)
}

func (s *Store) syncChanges(ctx context.Context, tenant, syncID string, onlyApplied bool) ([]domain.Change, error) {
	layout, n, err := s.planLayout(ctx, tenant, syncID)
	if err != nil {
		return nil, err
	}
	spans := []seqSpan{{pk: syncDataPK(tenant, syncID)}} // a plan stored before shards: every change on one key
	if layout.perShard > 0 {
		spans = layout.spans(1, n)
	}
	var out []domain.Change
	for _, span := range spans {
		in := &dynamodb.QueryInput{
			TableName:                 aws.String(s.syncTable),
			KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :c)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(span.pk), ":c": avS("C#")},
			ConsistentRead:            aws.Bool(true),
		}
		if onlyApplied {
			in.FilterExpression = aws.String("oc = :applied")
			in.ExpressionAttributeValues[":applied"] = avS(domain.OutcomeApplied)
		}
		changes, err := s.queryChanges(ctx, layout, in)
		if err != nil {
			return nil, fmt.Errorf("store: changes of %s, shard %d: %w", syncID, layout.shard(span.from), err)
		}
		out = append(out, changes...)
	}
	return out, nil
}

package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dirsync/internal/domain"
)

// BeginApply moves a sync from PREVIEW_READY to APPLYING, takes the
// tenant's lock and starts the progress counter, all in one transaction,
// on condition that the sync is still PREVIEW_READY within its expiry, at
// the plan version the caller decided from (no exclusion since):
// otherwise it writes nothing and returns domain.ErrConditionFailed
// (wrapped). The lock never lapses: finalize releases it (or a cancel,
// after its drain period). Whether the sync should be confirmed is the
// caller's to decide.
func (s *Store) BeginApply(ctx context.Context, tenant, syncID, confirmedBy string, version int64) error {
	return s.takingLock(ctx, tenant, func(now time.Time) error {
		lock := key(tenantPK(tenant), lockSK)
		lock["sid"] = avS(syncID)
		lock["st"] = avS(string(domain.SyncApplying))
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: &types.Update{
				TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), syncSK(syncID)),
				UpdateExpression:    aws.String("SET st = :applying, confat = :now, confby = :by, uat = :now"),
				ConditionExpression: aws.String("st = :ready AND exp > :now AND " + versionCondition(version)),
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":applying": avS(string(domain.SyncApplying)), ":ready": avS(string(domain.SyncPreviewReady)),
					":now": avTime(now), ":by": avS(confirmedBy), ":ver": avN(version),
				},
			}},
			{Put: &types.Put{
				TableName: aws.String(s.syncTable), Item: lock,
				ConditionExpression:       aws.String(takeLockCondition + " OR sid = :sid"),
				ExpressionAttributeNames:  map[string]string{"#until": "until"},
				ExpressionAttributeValues: lockValues(now, map[string]types.AttributeValue{":sid": avS(syncID)}),
			}},
			{Update: &types.Update{
				TableName: aws.String(s.syncTable), Key: key(syncDataPK(tenant, syncID), progressSK),
				UpdateExpression:          aws.String("SET st = :applying, sat = :now, uat = :now"),
				ConditionExpression:       aws.String("attribute_exists(pk)"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":applying": avS(string(domain.SyncApplying)), ":now": avTime(now)},
			}},
		}})
		switch {
		case conditionFailed(err, 0): // the sync's own status, whatever the lock
			return fmt.Errorf("store: begin apply %s: %w: the sync is not PREVIEW_READY within its expiry at version %d", syncID, domain.ErrConditionFailed, version)
		case conditionFailed(err, 1):
			return errLockBusy
		case err != nil:
			return fmt.Errorf("store: begin apply %s: %w", syncID, err)
		}
		return nil
	})
}

// ExpirePreview stores EXPIRED on a sync still PREVIEW_READY (reads only
// derive it); domain.ErrConditionFailed (wrapped) when it is not.
func (s *Store) ExpirePreview(ctx context.Context, tenant, syncID string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), syncSK(syncID)),
		UpdateExpression:    aws.String("SET st = :expired, uat = :now"),
		ConditionExpression: aws.String("st = :ready"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":expired": avS(string(domain.SyncExpired)), ":ready": avS(string(domain.SyncPreviewReady)), ":now": avTime(s.now().UTC()),
		},
	})
	if conditionFailed(err, 0) {
		return fmt.Errorf("store: expire %s: %w: the sync is not PREVIEW_READY", syncID, domain.ErrConditionFailed)
	}
	if err != nil {
		return fmt.Errorf("store: expire %s: %w", syncID, err)
	}
	return nil
}

// CancelSync marks sy CANCELLED, on condition that it is still in the
// status it was read with (domain.ErrConditionFailed, wrapped, when it is
// not). What else the transaction does depends on that status: a
// previewing sync releases the tenant's lock (its worker stops when it
// next renews its lease); a running apply marks its counter cancelled and
// keeps the lock for drain, as long as a batch already running may still
// write, so no new sync overlaps it. Whether sy should be cancelled is the
// caller's to decide.
func (s *Store) CancelSync(ctx context.Context, sy *domain.Sync, drain time.Duration) error {
	tenant, syncID := sy.TenantID, sy.ID
	now := s.now().UTC()
	values := map[string]types.AttributeValue{
		":cancelled": avS(string(domain.SyncCancelled)), ":from": avS(string(sy.Status)), ":now": avTime(now),
	}
	syncUpdate := types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), syncSK(syncID)),
		UpdateExpression:          aws.String("SET st = :cancelled, uat = :now"),
		ConditionExpression:       aws.String("st = :from"),
		ExpressionAttributeValues: values,
	}}
	var err error
	switch sy.Status {
	case domain.SyncPreviewReady:
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{syncUpdate}})
	case domain.SyncPreviewing:
		err = s.transactReleasingLock(ctx, tenant, syncID, []types.TransactWriteItem{syncUpdate})
	case domain.SyncApplying:
		items := []types.TransactWriteItem{syncUpdate, {Update: &types.Update{
			TableName: aws.String(s.syncTable), Key: key(syncDataPK(tenant, syncID), progressSK),
			UpdateExpression:          aws.String("SET st = :cancelled, uat = :now, fat = :now"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":cancelled": avS(string(domain.SyncCancelled)), ":now": avTime(now)},
		}}}
		drainLock := types.TransactWriteItem{Update: &types.Update{
			TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), lockSK),
			UpdateExpression:          aws.String("SET #until = :until"),
			ConditionExpression:       aws.String("sid = :sid"),
			ExpressionAttributeNames:  map[string]string{"#until": "until"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":sid": avS(syncID), ":until": avN(now.Add(drain).Unix())},
		}}
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: append(items, drainLock)})
		if onlyConditionFailedAt(err, len(items)) { // the lock is not this sync's (a stale one was taken over)
			_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		}
	default:
		return fmt.Errorf("store: cancel %s: no cancel transaction for a %s sync", syncID, sy.Status)
	}
	if conditionFailed(err, 0) {
		return fmt.Errorf("store: cancel %s: %w: the sync is no longer %s", syncID, domain.ErrConditionFailed, sy.Status)
	}
	if err != nil {
		return fmt.Errorf("store: cancel %s: %w", syncID, err)
	}
	return nil
}

// FinishApply sets the final status of a sync, as the caller decided it,
// with failure's reason when it is not nil, marks the counter finished and
// releases the tenant's lock, on condition that the sync is still APPLYING:
// otherwise it writes nothing and returns domain.ErrConditionFailed
// (wrapped).
func (s *Store) FinishApply(ctx context.Context, tenant, syncID string, status domain.SyncStatus, failure *domain.SyncError) error {
	now := s.now().UTC()
	values := map[string]types.AttributeValue{":st": avS(string(status)), ":applying": avS(string(domain.SyncApplying)), ":now": avTime(now)}
	expr := "SET st = :st, uat = :now"
	if failure != nil {
		errAV, err := avJSON(failure)
		if err != nil {
			return fmt.Errorf("store: finish apply %s: %w", syncID, err)
		}
		values[":err"] = errAV
		expr += ", #err = :err"
	}
	syncUpdate := &types.Update{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), syncSK(syncID)),
		UpdateExpression: aws.String(expr), ConditionExpression: aws.String("st = :applying"),
		ExpressionAttributeValues: values,
	}
	if failure != nil {
		syncUpdate.ExpressionAttributeNames = map[string]string{"#err": "err"}
	}
	err := s.transactReleasingLock(ctx, tenant, syncID, []types.TransactWriteItem{{Update: syncUpdate}, {Update: &types.Update{
		TableName: aws.String(s.syncTable), Key: key(syncDataPK(tenant, syncID), progressSK),
		UpdateExpression:          aws.String("SET st = :st, uat = :now, fat = :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":st": avS(string(status)), ":now": avTime(now)},
	}}})
	if conditionFailed(err, 0) {
		return fmt.Errorf("store: finish apply %s: %w: the sync is not APPLYING", syncID, domain.ErrConditionFailed)
	}
	if err != nil {
		return fmt.Errorf("store: finish apply %s: %w", syncID, err)
	}
	return nil
}

// GetBatch reads one apply batch.
func (s *Store) GetBatch(ctx context.Context, tenant, syncID string, index int) (*domain.Batch, bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.syncTable), Key: key(syncDataPK(tenant, syncID), batchSK(index)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, false, fmt.Errorf("store: get batch %d: %w", index, err)
	}
	if out.Item == nil {
		return nil, false, domain.Errorf(domain.ENotFound, "sync %q has no batch %d", syncID, index)
	}
	b := &domain.Batch{
		Index: index, ObjectType: domain.ObjectType(getS(out.Item, "ot")),
		From: int(getN(out.Item, "from")), To: int(getN(out.Item, "to")), Size: int(getN(out.Item, "n")),
	}
	return b, getBool(out.Item, "done"), nil
}

// BatchChanges reads the changes of a batch with their member chunks and
// any outcome already recorded: one query per shard the batch's seq range
// lies in.
func (s *Store) BatchChanges(ctx context.Context, tenant, syncID string, b *domain.Batch) ([]domain.Change, error) {
	layout, _, err := s.planLayout(ctx, tenant, syncID)
	if err != nil {
		return nil, err
	}
	var out []domain.Change
	for _, span := range layout.spans(b.From, b.To) {
		in := &dynamodb.QueryInput{
			TableName:              aws.String(s.syncTable),
			KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :from AND :to"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": avS(span.pk), ":from": avS(changeSK(span.from)), ":to": avS(changeSK(span.to)),
			},
			ConsistentRead: aws.Bool(true),
		}
		changes, err := s.queryChanges(ctx, layout, in)
		if err != nil {
			return nil, fmt.Errorf("store: batch changes %d..%d: %w", span.from, span.to, err)
		}
		out = append(out, changes...)
	}
	return out, nil
}

// queryChanges runs a query of change items to its end and returns the
// changes with the member references of their group changes.
func (s *Store) queryChanges(ctx context.Context, layout planLayout, in *dynamodb.QueryInput) ([]domain.Change, error) {
	var out []domain.Change
	withMembers := map[int]int{} // seq -> index in out
	for {
		qo, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, it := range qo.Items {
			c, err := changeFromItem(it)
			if err != nil {
				return nil, err
			}
			if getN(it, "mch") > 0 {
				withMembers[c.Seq] = len(out)
			}
			out = append(out, c)
		}
		if len(qo.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = qo.LastEvaluatedKey
	}
	if err := s.loadMembers(ctx, layout, out, withMembers); err != nil {
		return nil, err
	}
	return out, nil
}

// RecordOutcomes writes each change's outcome onto its change item: the
// items are read in one BatchGetItem per 100 and put back with the outcome
// by BatchWriteItem, a handful of requests per batch instead of one each.
func (s *Store) RecordOutcomes(ctx context.Context, tenant, syncID string, outcomes []domain.Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	layout, _, err := s.planLayout(ctx, tenant, syncID)
	if err != nil {
		return err
	}
	keys := make([]item, len(outcomes))
	for i, o := range outcomes {
		keys[i] = key(layout.pk(o.Seq), changeSK(o.Seq))
	}
	current, err := s.batchGet(ctx, s.syncTable, keys)
	if err != nil {
		return fmt.Errorf("store: record outcomes: %w", err)
	}
	items := make([]item, 0, len(outcomes))
	for _, o := range outcomes {
		it := current[changeSK(o.Seq)]
		if it == nil {
			return fmt.Errorf("store: record outcome: change %d of sync %s not found", o.Seq, syncID)
		}
		it["oc"] = avS(o.Result)
		delete(it, "ocr")
		if o.Reason != "" {
			it["ocr"] = avS(o.Reason)
		}
		items = append(items, it)
	}
	if err := s.putAll(ctx, s.syncTable, items); err != nil {
		return fmt.Errorf("store: record outcomes: %w", err)
	}
	return nil
}

// CompleteBatch adds a batch's tally to the progress counter exactly once:
// one conditional UpdateItem adds the counts and the batch's index to the
// counter's set of counted batches, unless the index is already there. (A
// single-item condition rather than a transaction: DynamoDB Local runs
// transactions one at a time, and one per batch would cost a tenth of the
// apply.) The batch item's done flag is set afterwards as a hint that lets
// a redelivered batch skip its work; the counter's set is what counts. It
// reports false when the batch was already counted.
func (s *Store) CompleteBatch(ctx context.Context, tenant, syncID string, index int, t domain.Tally) (bool, error) {
	pk := syncDataPK(tenant, syncID)
	now := s.now().UTC()
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.syncTable), Key: key(pk, progressSK),
		UpdateExpression:    aws.String("ADD #p :p, #s :s, #f :f, #c :c, #db :idx SET uat = :now"),
		ConditionExpression: aws.String("attribute_exists(pk) AND NOT contains(#db, :i)"),
		ExpressionAttributeNames: map[string]string{
			"#p": "processed", "#s": "succeeded", "#f": "failed", "#c": "conflicts", "#db": "doneBatches",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":p": avN(int64(t.Applied + t.Conflicts + t.Failed)), ":s": avN(int64(t.Applied)),
			":f": avN(int64(t.Failed)), ":c": avN(int64(t.Conflicts)), ":now": avTime(now),
			":idx": &types.AttributeValueMemberNS{Value: []string{strconv.Itoa(index)}}, ":i": avN(int64(index)),
		},
	})
	counted := true
	if conditionFailed(err, 0) {
		counted, err = false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: count batch %d: %w", index, err)
	}
	if _, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.syncTable), Key: key(pk, batchSK(index)),
		UpdateExpression:          aws.String("SET #done = :t, dat = :now"),
		ExpressionAttributeNames:  map[string]string{"#done": "done"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": avBool(true), ":now": avTime(now)},
	}); err != nil {
		return counted, fmt.Errorf("store: mark batch %d done: %w", index, err)
	}
	return counted, nil
}

// ReleaseLock deletes the tenant's lock if sync id holds it (and does
// nothing otherwise).
func (s *Store) ReleaseLock(ctx context.Context, tenant, id string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), lockSK),
		ConditionExpression:       aws.String("sid = :sid"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":sid": avS(id)},
	})
	if err != nil && !conditionFailed(err, 0) {
		return fmt.Errorf("store: release lock of %s: %w", id, err)
	}
	return nil
}

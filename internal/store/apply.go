package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dirsync/internal/domain"
)

// BeginApply moves a PREVIEW_READY sync (as the caller just read it) to
// APPLYING, takes the tenant's lock and starts the progress counter, all in
// one transaction. The lock never lapses: finalize releases it (or a
// cancel, after its drain period). A sync already APPLYING is returned as
// is (a repeated confirm); an expired preview becomes EXPIRED (410); any
// other status is a conflict.
func (s *Store) BeginApply(ctx context.Context, sy *domain.Sync, confirmedBy string) (*domain.Sync, error) {
	tenant, syncID := sy.TenantID, sy.ID
	now := s.now().UTC()
	switch {
	case sy.Status == domain.SyncApplying:
		return sy, nil
	case sy.Status == domain.SyncExpired:
		// Reads only derive EXPIRED; the refused confirm stores it.
		_ = s.expire(ctx, tenant, syncID)
		return nil, domain.Errorf(domain.EGone, "the preview expired at %s; start a new one", sy.ExpiresAt.Format(time.RFC3339))
	case sy.Status != domain.SyncPreviewReady:
		return nil, domain.Errorf(domain.EConflict, "sync %q is %s; only a PREVIEW_READY sync can be confirmed", syncID, sy.Status)
	case sy.ExpiresAt != nil && !now.Before(*sy.ExpiresAt):
		_ = s.expire(ctx, tenant, syncID)
		return nil, domain.Errorf(domain.EGone, "the preview expired at %s; start a new one", sy.ExpiresAt.Format(time.RFC3339))
	}
	var lost bool // the sync lost the race for its own status
	err := s.takingLock(ctx, tenant, func(now time.Time) error {
		lock := key(tenantPK(tenant), lockSK)
		lock["sid"] = avS(syncID)
		lock["st"] = avS(string(domain.SyncApplying))
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: &types.Update{
				TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), syncSK(syncID)),
				UpdateExpression:    aws.String("SET st = :applying, confat = :now, confby = :by, uat = :now"),
				ConditionExpression: aws.String("st = :ready AND exp > :now"),
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":applying": avS(string(domain.SyncApplying)), ":ready": avS(string(domain.SyncPreviewReady)),
					":now": avTime(now), ":by": avS(confirmedBy),
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
		case conditionFailed(err, 0):
			lost = true
			return nil
		case conditionFailed(err, 1):
			return errLockBusy
		case err != nil:
			return fmt.Errorf("store: begin apply %s: %w", syncID, err)
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case lost:
		// Raced with another confirm, a cancel or the expiry: report what won.
		return s.beginApplyOutcome(ctx, tenant, syncID)
	}
	return s.GetSync(ctx, tenant, syncID)
}

// beginApplyOutcome re-reads a sync after a lost race in BeginApply.
func (s *Store) beginApplyOutcome(ctx context.Context, tenant, syncID string) (*domain.Sync, error) {
	sy, err := s.GetSync(ctx, tenant, syncID)
	if err != nil {
		return nil, err
	}
	switch sy.Status {
	case domain.SyncApplying:
		return sy, nil
	case domain.SyncExpired, domain.SyncPreviewReady: // ready but past expiry
		_ = s.expire(ctx, tenant, syncID)
		return nil, domain.Errorf(domain.EGone, "the preview expired; start a new one")
	default:
		return nil, domain.Errorf(domain.EConflict, "sync %q is %s; only a PREVIEW_READY sync can be confirmed", syncID, sy.Status)
	}
}

// expire marks a ready preview EXPIRED.
func (s *Store) expire(ctx context.Context, tenant, syncID string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), syncSK(syncID)),
		UpdateExpression:    aws.String("SET st = :expired, uat = :now"),
		ConditionExpression: aws.String("st = :ready"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":expired": avS(string(domain.SyncExpired)), ":ready": avS(string(domain.SyncPreviewReady)), ":now": avTime(s.now().UTC()),
		},
	})
	if conditionFailed(err, 0) {
		return nil
	}
	return err
}

// CancelSync cancels a previewing sync (its worker stops when it next
// renews its lease), a ready preview, or a running apply (what was applied
// stays applied and is reported by the counters). A cancelled apply keeps
// the tenant's lock for drain, as long as a batch already running may
// still write, so no new sync overlaps it. It returns the sync as it was
// before the cancel, so the caller knows whether to stop an execution.
func (s *Store) CancelSync(ctx context.Context, tenant, syncID string, drain time.Duration) (before *domain.Sync, err error) {
	sy, err := s.GetSync(ctx, tenant, syncID)
	if err != nil {
		return nil, err
	}
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
	case domain.SyncCancelled:
		return sy, nil
	default:
		return nil, domain.Errorf(domain.EConflict, "sync %q is %s; only a preview or a running apply can be cancelled", syncID, sy.Status)
	}
	if conditionFailed(err, 0) {
		return nil, domain.Errorf(domain.EConflict, "sync %q changed while cancelling; look again", syncID)
	}
	if err != nil {
		return nil, fmt.Errorf("store: cancel %s: %w", syncID, err)
	}
	return sy, nil
}

// FinishApply sets the final status of an APPLYING sync from its counters
// (COMPLETED, or COMPLETED_WITH_ERRORS when anything failed or conflicted),
// or FAILED with reason when failure is non-nil, and releases the lock. A
// sync no longer APPLYING (cancelled meanwhile, or finished by an earlier
// attempt) is left as it is.
func (s *Store) FinishApply(ctx context.Context, tenant, syncID string, failure *domain.SyncError) (domain.SyncStatus, error) {
	p, err := s.GetProgress(ctx, tenant, syncID)
	if err != nil {
		return "", err
	}
	status := domain.SyncCompleted
	switch {
	case failure != nil:
		status = domain.SyncFailed
	case p.Failed > 0 || p.Conflicts > 0 || p.Processed < p.Total:
		status = domain.SyncCompletedWithErrors
	}
	now := s.now().UTC()
	values := map[string]types.AttributeValue{":st": avS(string(status)), ":applying": avS(string(domain.SyncApplying)), ":now": avTime(now)}
	expr := "SET st = :st, uat = :now"
	if failure != nil {
		errAV, err := avJSON(failure)
		if err != nil {
			return "", err
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
	err = s.transactReleasingLock(ctx, tenant, syncID, []types.TransactWriteItem{{Update: syncUpdate}, {Update: &types.Update{
		TableName: aws.String(s.syncTable), Key: key(syncDataPK(tenant, syncID), progressSK),
		UpdateExpression:          aws.String("SET st = :st, uat = :now, fat = :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":st": avS(string(status)), ":now": avTime(now)},
	}}})
	if conditionFailed(err, 0) {
		sy, gerr := s.GetSync(ctx, tenant, syncID)
		if gerr != nil {
			return "", gerr
		}
		if sy.Status == domain.SyncCancelled {
			// The execution ran to its end after a cancel: no batch of it
			// is running any more, so its drain can end now.
			if err := s.releaseLock(ctx, tenant, syncID); err != nil {
				return "", err
			}
		}
		return sy.Status, nil
	}
	if err != nil {
		return "", fmt.Errorf("store: finish apply %s: %w", syncID, err)
	}
	return status, nil
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
// any outcome already recorded.
func (s *Store) BatchChanges(ctx context.Context, tenant, syncID string, b *domain.Batch) ([]domain.Change, error) {
	pk := syncDataPK(tenant, syncID)
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.syncTable),
		KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :from AND :to"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(pk), ":from": avS(changeSK(b.From)), ":to": avS(changeSK(b.To)),
		},
		ConsistentRead: aws.Bool(true),
	}
	var out []domain.Change
	withMembers := map[int]int{} // seq -> index in out
	for {
		qo, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("store: batch changes: %w", err)
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
	for seq, i := range withMembers {
		err := s.queryAll(ctx, s.syncTable, pk, fmt.Sprintf("CM#%010d#", seq), func(it item) {
			var add, rem []domain.MemberRef
			_ = json.Unmarshal([]byte(getS(it, "add")), &add)
			_ = json.Unmarshal([]byte(getS(it, "rem")), &rem)
			out[i].MembersAdded = append(out[i].MembersAdded, add...)
			out[i].MembersRemoved = append(out[i].MembersRemoved, rem...)
		})
		if err != nil {
			return nil, fmt.Errorf("store: member chunks of change %d: %w", seq, err)
		}
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
	pk := syncDataPK(tenant, syncID)
	keys := make([]item, len(outcomes))
	for i, o := range outcomes {
		keys[i] = key(pk, changeSK(o.Seq))
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

// releaseLock deletes the tenant's lock if sync id holds it.
func (s *Store) releaseLock(ctx context.Context, tenant, id string) error {
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

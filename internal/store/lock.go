package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dirsync/internal/domain"
)

// The tenant lock (pk T#<tenant>, sk LOCK) lets one sync at a time preview
// or apply. Its attributes:
//
//	sid    the sync holding it
//	st     PREVIEWING or APPLYING
//	until  unix seconds after which it has lapsed; absent = never lapses
//	owner  the preview worker invocation holding the preview's lease
//
// A PREVIEWING lock is a lease: its worker renews it while it runs, and
// every write that ends the preview (SavePlan, FailPreview) is conditional
// on the worker still holding it. A lapsed PREVIEWING lock is taken over
// only by first failing its sync as worker_lost, so a preview whose worker
// is gone never stays PREVIEWING and its worker can no longer store a plan.
// An APPLYING lock never lapses: it lives until finalize releases it, or
// until a cancel's drain period (in which batches already running finish)
// is over.

// leaseLost is the error of a fenced write refused because the worker no
// longer holds the preview's lease: ErrLeaseLost, and a conflict for callers
// that map domain errors.
func leaseLost(op, syncID string) error {
	return fmt.Errorf("store: %s %s: %w", op, syncID, errors.Join(domain.ErrLeaseLost,
		domain.Errorf(domain.EConflict, "sync %q is no longer previewing under this worker's lease", syncID)))
}

type lockState struct {
	exists     bool
	sid, st    string
	owner      string
	until      int64 // 0 = never lapses
	untilFound bool
}

func (s *Store) readLock(ctx context.Context, tenant string) (lockState, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), lockSK), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return lockState{}, fmt.Errorf("store: read lock: %w", err)
	}
	if out.Item == nil {
		return lockState{}, nil
	}
	_, hasUntil := out.Item["until"]
	return lockState{
		exists: true, sid: getS(out.Item, "sid"), st: getS(out.Item, "st"), owner: getS(out.Item, "owner"),
		until: getN(out.Item, "until"), untilFound: hasUntil,
	}, nil
}

func (l lockState) lapsed(now time.Time) bool { return l.untilFound && l.until < now.Unix() }

// ClaimPreview makes owner the holder of the preview's lease for d: a
// worker takes a lease nobody holds yet (or that it holds); it is
// ErrLeaseHeld while another worker's lease runs, and ErrLeaseLost once the
// lease lapsed (the sync then reads as worker_lost) or the sync no longer
// holds the tenant's lock (cancelled, failed, taken over).
func (s *Store) ClaimPreview(ctx context.Context, tenant, syncID, owner string, d time.Duration) (domain.Lease, error) {
	now := s.now().UTC()
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), lockSK),
		UpdateExpression: aws.String("SET #owner = :owner, #until = :until"),
		ConditionExpression: aws.String("sid = :sid AND st = :previewing AND #until >= :now AND " +
			"(attribute_not_exists(#owner) OR #owner = :owner)"),
		ExpressionAttributeNames: map[string]string{"#owner": "owner", "#until": "until"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":owner": avS(owner), ":until": avN(now.Add(d).Unix()), ":now": avN(now.Unix()),
			":sid": avS(syncID), ":previewing": avS(string(domain.SyncPreviewing)),
		},
	})
	if conditionFailed(err, 0) {
		lock, rerr := s.readLock(ctx, tenant)
		if rerr != nil {
			return domain.Lease{}, rerr
		}
		if lock.sid == syncID && lock.st == string(domain.SyncPreviewing) && lock.owner != owner && !lock.lapsed(now) {
			return domain.Lease{}, domain.ErrLeaseHeld
		}
		return domain.Lease{}, leaseLost("claim preview", syncID)
	}
	if err != nil {
		return domain.Lease{}, fmt.Errorf("store: claim preview %s: %w", syncID, err)
	}
	return domain.Lease{Tenant: tenant, SyncID: syncID, Owner: owner}, nil
}

// RenewPreview extends the lease by d from now; ErrLeaseLost when the
// worker no longer holds it or it lapsed (a lapsed lease is never revived:
// its sync already reads as worker_lost).
func (s *Store) RenewPreview(ctx context.Context, l domain.Lease, d time.Duration) error {
	now := s.now().UTC()
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(l.Tenant), lockSK),
		UpdateExpression:         aws.String("SET #until = :until"),
		ConditionExpression:      aws.String("sid = :sid AND #owner = :owner AND #until >= :now"),
		ExpressionAttributeNames: map[string]string{"#owner": "owner", "#until": "until"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":until": avN(now.Add(d).Unix()), ":sid": avS(l.SyncID), ":owner": avS(l.Owner), ":now": avN(now.Unix()),
		},
	})
	if conditionFailed(err, 0) {
		return leaseLost("renew preview", l.SyncID)
	}
	if err != nil {
		return fmt.Errorf("store: renew preview %s: %w", l.SyncID, err)
	}
	return nil
}

// HandBackPreview gives up a worker's lease without ending the preview: its
// owner goes, the term stays. The invocation failed (Lambda will retry the
// job, or give up and fail it through the OnFailure destination), and a
// retry must be able to claim the lease at once instead of waiting for it
// to lapse, which would leave it nothing to do but a worker_lost. If no
// retry comes, the lease lapses as it would have.
func (s *Store) HandBackPreview(ctx context.Context, l domain.Lease) error {
	now := s.now().UTC()
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(l.Tenant), lockSK),
		UpdateExpression:          aws.String("REMOVE #owner"),
		ConditionExpression:       aws.String("sid = :sid AND #owner = :owner AND #until >= :now"),
		ExpressionAttributeNames:  map[string]string{"#owner": "owner", "#until": "until"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":sid": avS(l.SyncID), ":owner": avS(l.Owner), ":now": avN(now.Unix())},
	})
	if conditionFailed(err, 0) {
		return leaseLost("hand back preview", l.SyncID)
	}
	if err != nil {
		return fmt.Errorf("store: hand back preview %s: %w", l.SyncID, err)
	}
	return nil
}

// releaseLease deletes the lock in the transaction that ends a preview,
// only while l still holds it and it has not lapsed at now: the fence that
// keeps a worker whose lease lapsed from storing anything.
func releaseLease(table string, l domain.Lease, now time.Time) types.TransactWriteItem {
	del := &types.Delete{
		TableName: aws.String(table), Key: key(tenantPK(l.Tenant), lockSK),
		ExpressionAttributeNames:  map[string]string{"#owner": "owner", "#until": "until"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":sid": avS(l.SyncID), ":now": avN(now.Unix())},
	}
	if l.Owner == "" {
		del.ConditionExpression = aws.String("sid = :sid AND attribute_not_exists(#owner) AND #until >= :now")
	} else {
		del.ConditionExpression = aws.String("sid = :sid AND #owner = :owner AND #until >= :now")
		del.ExpressionAttributeValues[":owner"] = avS(l.Owner)
	}
	return types.TransactWriteItem{Delete: del}
}

// takeLockCondition is how a new sync takes the tenant's lock: when nobody
// holds it, or the holder's lock lapsed and it is not a preview (a lapsed
// preview is first failed as worker_lost by reapLapsedPreview).
const takeLockCondition = "attribute_not_exists(pk) OR (#until < :now AND st <> :previewing)"

// takingLock runs take, which writes the lock with takeLockCondition and
// reports errLockBusy when that condition failed. If a lapsed preview holds
// the lock, it is failed as worker_lost and take runs once more.
func (s *Store) takingLock(ctx context.Context, tenant string, take func(now time.Time) error) error {
	err := take(s.now().UTC())
	if !errors.Is(err, errLockBusy) {
		return err
	}
	reaped, rerr := s.reapLapsedPreview(ctx, tenant)
	if rerr != nil {
		return rerr
	}
	if reaped {
		err = take(s.now().UTC())
	}
	if errors.Is(err, errLockBusy) {
		other, status := s.lockHolder(ctx, tenant)
		return domain.Errorf(domain.EConflict, "another sync (%s) is %s; wait for it to finish", other, status)
	}
	return err
}

var errLockBusy = errors.New("store: the tenant's lock is held")

func lockValues(now time.Time, more map[string]types.AttributeValue) map[string]types.AttributeValue {
	v := map[string]types.AttributeValue{":now": avN(now.Unix()), ":previewing": avS(string(domain.SyncPreviewing))}
	for k, x := range more {
		v[k] = x
	}
	return v
}

// reapLapsedPreview fails the PREVIEWING sync holding the tenant's lock as
// worker_lost when its lease lapsed, releasing the lock.
func (s *Store) reapLapsedPreview(ctx context.Context, tenant string) (bool, error) {
	lock, err := s.readLock(ctx, tenant)
	if err != nil || !lock.exists || lock.st != string(domain.SyncPreviewing) || !lock.lapsed(s.now()) {
		return false, err
	}
	return s.failLost(ctx, tenant, lock.sid, lock)
}

// failLost marks sync id PREVIEW_FAILED worker_lost and, when lock is the
// sync's own lapsed lock as read, deletes it in the same transaction
// (conditional on it being unchanged, so a renewal that raced wins).
func (s *Store) failLost(ctx context.Context, tenant, id string, lock lockState) (bool, error) {
	fail, err := s.previewFailed(tenant, id, domain.WorkerLostError())
	if err != nil {
		return false, err
	}
	items := []types.TransactWriteItem{fail}
	if lock.exists {
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{
			TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), lockSK),
			ConditionExpression:       aws.String("sid = :sid AND #until = :until"),
			ExpressionAttributeNames:  map[string]string{"#until": "until"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":sid": avS(id), ":until": avN(lock.until)},
		}})
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if conditionFailed(err, -1) {
		return false, nil // it moved on meanwhile (renewed, finished, reaped): nothing to do
	}
	if err != nil {
		return false, fmt.Errorf("store: fail lost preview %s: %w", id, err)
	}
	return true, nil
}

// FailLostPreview ends a PREVIEWING sync whose worker is known to be gone
// (Lambda gave up on its invocation) as PREVIEW_FAILED with reason, and
// releases its lock, whoever last held the lease. A sync no longer
// previewing is left as it is; ended says whether this call ended it.
func (s *Store) FailLostPreview(ctx context.Context, tenant, id string, reason domain.SyncError) (ended bool, err error) {
	fail, err := s.previewFailed(tenant, id, reason)
	if err != nil {
		return false, err
	}
	err = s.transactReleasingLock(ctx, tenant, id, []types.TransactWriteItem{fail})
	if conditionFailed(err, 0) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: fail lost preview %s: %w", id, err)
	}
	return true, nil
}

// previewFailed is the write that ends a PREVIEWING sync as
// PREVIEW_FAILED with reason (conditional on it still previewing).
func (s *Store) previewFailed(tenant, id string, reason domain.SyncError) (types.TransactWriteItem, error) {
	errAV, err := avJSON(reason)
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("store: encode failure of %s: %w", id, err)
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), syncSK(id)),
		UpdateExpression:         aws.String("SET st = :failed, #err = :err, uat = :now"),
		ConditionExpression:      aws.String("st = :previewing"),
		ExpressionAttributeNames: map[string]string{"#err": "err"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":failed": avS(string(domain.SyncPreviewFailed)), ":err": errAV, ":now": avTime(s.now().UTC()),
			":previewing": avS(string(domain.SyncPreviewing)),
		},
	}}, nil
}

// EnsureIdle is a conflict while a sync of the tenant is PREVIEWING or
// APPLYING (a lapsed lock does not count).
func (s *Store) EnsureIdle(ctx context.Context, tenant string) error {
	lock, err := s.readLock(ctx, tenant)
	if err != nil {
		return err
	}
	if lock.exists && !lock.lapsed(s.now()) {
		return busyError(lock.sid, lock.st)
	}
	return nil
}

func busyError(sid, st string) error {
	return domain.Errorf(domain.EConflict, "sync %s is %s: the connection cannot change until it ends (wait, or cancel it)", sid, st)
}

package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dirsync/internal/domain"
)

// Sync keys (SyncTable):
//
//	pk T#<tenant>         sk CONN            the Entra connection
//	                      sk IGNORED         its ignored users, packed (ignore.go)
//	                      sk S#<syncId>      a sync (ids sort by creation time)
//	                      sk LOCK            the one-active-sync lock
//	                      sk VERSION         the directory's version (basis.go)
//	                      sk BASIS           the plan basis for re-syncs (basis.go)
//	pk Y#<tenant>#<sync>  sk P               the progress counter (one GetItem)
//	                      sk B#<index>       an apply batch (seq range, done marker)
//	                      sk X#<seq>         an excluded change (exclusion.go)
//	pk Y#<tenant>#<sync>#<shard>
//	                      sk C#<seq>         a change (seq zero-padded)
//	                      sk CM#<seq>#<n>    chunk n of a group change's members
//
// A plan's changes are sharded by seq range (shard = (seq-1) / seqs per
// shard, planlayout.go): one partition key per shard, so the plan write
// and apply's outcome writes are spread over many keys instead of holding
// one key at its throughput limit.
const (
	connectionSK = "CONN"
	lockSK       = "LOCK"
	progressSK   = "P"
)

func syncSK(id string) string             { return "S#" + id }
func syncDataPK(tenant, id string) string { return "Y#" + tenant + "#" + id }
func changeSK(seq int) string             { return fmt.Sprintf("C#%010d", seq) }
func memberChunkSK(seq, n int) string     { return fmt.Sprintf("CM#%010d#%05d", seq, n) }
func batchSK(index int) string            { return fmt.Sprintf("B#%06d", index) }

// changeShardPK is the partition key of one shard of a plan's changes.
func changeShardPK(tenant, id string, shard int) string {
	return syncDataPK(tenant, id) + "#" + strconv.Itoa(shard)
}

// GetConnection returns the tenant's Entra connection with its ignored
// users (one query reads both items: no other key sorts between them).
func (s *Store) GetConnection(ctx context.Context, tenant string) (*domain.Connection, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(s.syncTable),
		KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :conn AND :ignored"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(tenantPK(tenant)), ":conn": avS(connectionSK), ":ignored": avS(ignoredSK),
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("store: get connection: %w", err)
	}
	var connItem, ignoredItem item
	for _, it := range out.Items {
		switch getS(it, "sk") {
		case connectionSK:
			connItem = it
		case ignoredSK:
			ignoredItem = it
		}
	}
	if connItem == nil {
		return nil, domain.Errorf(domain.ENotFound, "no Entra ID connection is configured")
	}
	c := &domain.Connection{
		TenantID:          tenant,
		DirectoryTenantID: getS(connItem, "dtid"),
		ClientID:          getS(connItem, "cid"),
		Cloud:             domain.Cloud(getS(connItem, "cloud")),
		SecretHint:        getS(connItem, "hint"),
		SecretSetAt:       getTime(connItem, "sat"),
		SecretVersion:     getS(connItem, "sver"),
		UpdatedAt:         getTime(connItem, "uat"),
	}
	if err := getJSON(connItem, "opts", &c.Options); err != nil {
		return nil, fmt.Errorf("store: get connection: %w", err)
	}
	if ignoredItem != nil {
		// Connections saved before the list had its own item carry it in
		// their options; once written, the item is the list.
		if c.Options.IgnoredUsers, c.IgnoreVersion, err = ignoredFromItem(ignoredItem); err != nil {
			return nil, fmt.Errorf("store: get connection: %w", err)
		}
	}
	return c, nil
}

// PutConnection creates or replaces the tenant's connection (never the
// secret itself, which lives in the secret store), and with replaceIgnored
// its ignored users too, in one transaction; without, the stored ignored
// users stay as they are. It is a conflict while a sync of the tenant is
// PREVIEWING or APPLYING: the connection changes only between syncs.
func (s *Store) PutConnection(ctx context.Context, c *domain.Connection, replaceIgnored bool) error {
	it := key(tenantPK(c.TenantID), connectionSK)
	it["sver"] = avS(c.SecretVersion)
	it["dtid"] = avS(c.DirectoryTenantID)
	it["cid"] = avS(c.ClientID)
	it["cloud"] = avS(string(c.Cloud))
	it["hint"] = avS(c.SecretHint)
	it["sat"] = avTime(c.SecretSetAt)
	it["uat"] = avTime(c.UpdatedAt)
	opts := c.Options
	opts.IgnoredUsers = nil // in their own item
	av, err := avJSON(opts)
	if err != nil {
		return fmt.Errorf("store: put connection: %w", err)
	}
	it["opts"] = av
	writes := []types.TransactWriteItem{
		{ConditionCheck: s.idleCheck(c.TenantID)},
		{Put: &types.Put{TableName: aws.String(s.syncTable), Item: it}},
	}
	if replaceIgnored {
		up, err := s.ignoredUpdate(c.TenantID, c.Options.IgnoredUsers)
		if err != nil {
			return fmt.Errorf("store: put connection: %w", err)
		}
		writes = append(writes, types.TransactWriteItem{Update: up})
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: writes})
	if conditionFailed(err, 0) {
		sid, st := s.lockHolder(ctx, c.TenantID)
		return busyError(sid, st)
	}
	if err != nil {
		return fmt.Errorf("store: put connection: %w", err)
	}
	return nil
}

func syncItem(sy *domain.Sync) (item, error) {
	it := key(tenantPK(sy.TenantID), syncSK(sy.ID))
	it["st"] = avS(string(sy.Status))
	it["dtid"] = avS(sy.DirectoryTenantID)
	it["cid"] = avS(sy.ClientID)
	it["cloud"] = avS(string(sy.Cloud))
	it["sver"] = avS(sy.SecretVersion)
	it["cat"] = avTime(sy.CreatedAt)
	it["cby"] = avS(sy.CreatedBy)
	it["uat"] = avTime(sy.UpdatedAt)
	if sy.Kind != "" {
		it["kind"] = avS(string(sy.Kind))
	}
	if sy.Undoes != "" {
		it["undoes"] = avS(sy.Undoes)
	}
	if sy.IgnoreVersion > 0 || sy.IgnoredUserCount > 0 {
		it["ignv"], it["ignn"] = avN(sy.IgnoreVersion), avN(int64(sy.IgnoredUserCount))
	}
	if sy.FullRead {
		it["frd"] = &types.AttributeValueMemberBOOL{Value: true}
	}
	for name, v := range map[string]any{"opts": sy.Options, "counts": sy.Counts, "sg": sy.Safeguards, "warn": sy.Warnings} {
		av, err := avJSON(v)
		if err != nil {
			return nil, err
		}
		it[name] = av
	}
	return it, nil
}

func syncFromItem(tenant string, it item) (*domain.Sync, error) {
	sy := &domain.Sync{
		ID:                strings.TrimPrefix(getS(it, "sk"), "S#"),
		TenantID:          tenant,
		DirectoryTenantID: getS(it, "dtid"),
		ClientID:          getS(it, "cid"),
		Cloud:             domain.Cloud(getS(it, "cloud")),
		SecretVersion:     getS(it, "sver"),
		Status:            domain.SyncStatus(getS(it, "st")),
		CreatedAt:         getTime(it, "cat"),
		CreatedBy:         getS(it, "cby"),
		ConfirmedAt:       getTimePtr(it, "confat"),
		ConfirmedBy:       getS(it, "confby"),
		ExpiresAt:         getTimePtr(it, "exp"),
		UpdatedAt:         getTime(it, "uat"),
		Batches:           int(getN(it, "batches")),
		UserBatches:       int(getN(it, "ub")),
		ChangeTotal:       int(getN(it, "nchanges")),
		ApplyTotal:        int(getN(it, "total")),
		ExecutionID:       getS(it, "xid"),
		Version:           getN(it, "ver"),
		Kind:              domain.SyncKind(getS(it, "kind")),
		Undoes:            getS(it, "undoes"),
		Events:            eventsFromItem(it),
		IgnoreVersion:     getN(it, "ignv"),
		IgnoredUserCount:  int(getN(it, "ignn")),
		FullRead:          getBool(it, "frd"),
		ReadKind:          domain.ReadKind(getS(it, "rk")),
		ReadReason:        getS(it, "rr"),
		PlannedUsers:      int(getN(it, "ppu")),
	}
	if _, ok := it["nb"]; ok {
		sy.NextBasis = &domain.PlanBasis{}
		if err := getJSON(it, "nb", sy.NextBasis); err != nil {
			return nil, err
		}
	}
	if rt := getN(it, "rt"); rt > 0 {
		sy.RetainUntil = time.Unix(rt, 0).UTC()
	}
	for name, v := range map[string]any{"opts": &sy.Options, "counts": &sy.Counts, "sg": &sy.Safeguards, "sgb": &sy.Bases, "warn": &sy.Warnings, "err": &sy.Error} {
		if err := getJSON(it, name, v); err != nil {
			return nil, err
		}
	}
	if n := len(sy.Options.IgnoredUsers); n > 0 {
		// A sync started before syncs pinned the list's version carries
		// the list itself.
		sy.IgnoredUserCount = n
	}
	if sy.Warnings == nil {
		sy.Warnings = []string{}
	}
	if sy.Safeguards == nil {
		sy.Safeguards = []domain.Safeguard{}
	}
	return sy, nil
}

// CreateSync records a new PREVIEWING sync and takes the tenant's
// one-active-sync lock in the same transaction, as a lease of lockFor that
// the sync's worker claims and renews (ClaimPreview, RenewPreview).
func (s *Store) CreateSync(ctx context.Context, sy *domain.Sync, lockFor time.Duration) error {
	it, err := syncItem(sy)
	if err != nil {
		return fmt.Errorf("store: create sync: %w", err)
	}
	return s.takingLock(ctx, sy.TenantID, func(now time.Time) error {
		lock := key(tenantPK(sy.TenantID), lockSK)
		lock["sid"] = avS(sy.ID)
		lock["st"] = avS(string(sy.Status))
		lock["until"] = avN(now.Add(lockFor).Unix())
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{
				TableName: aws.String(s.syncTable), Item: lock,
				ConditionExpression:       aws.String(takeLockCondition),
				ExpressionAttributeNames:  map[string]string{"#until": "until"},
				ExpressionAttributeValues: lockValues(now, nil),
			}},
			{Put: &types.Put{
				TableName: aws.String(s.syncTable), Item: it,
				ConditionExpression: aws.String("attribute_not_exists(pk)"),
			}},
		}})
		switch {
		case conditionFailed(err, 0):
			return errLockBusy
		case err != nil:
			return fmt.Errorf("store: create sync: %w", err)
		}
		return nil
	})
}

func (s *Store) lockHolder(ctx context.Context, tenant string) (id, status string) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), lockSK), ConsistentRead: aws.Bool(true),
	})
	if err != nil || out.Item == nil {
		return "unknown", "running"
	}
	return getS(out.Item, "sid"), getS(out.Item, "st")
}

// GetSync returns one sync of the tenant as time has left it: a ready
// preview past its expiry reads EXPIRED, a preview whose worker lost its
// lease reads PREVIEW_FAILED worker_lost. A read never writes (the progress
// function may only read); the write that depends on such a state stores
// it (a confirm stores EXPIRED, the next preview stores worker_lost).
func (s *Store) GetSync(ctx context.Context, tenant, id string) (*domain.Sync, error) {
	sy, err := s.readSync(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	return s.derive(ctx, sy)
}

func (s *Store) readSync(ctx context.Context, tenant, id string) (*domain.Sync, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), syncSK(id)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("store: get sync: %w", err)
	}
	if out.Item == nil {
		return nil, domain.Errorf(domain.ENotFound, "sync %q not found", id)
	}
	sy, err := syncFromItem(tenant, out.Item)
	if err != nil {
		return nil, fmt.Errorf("store: get sync %s: %w", id, err)
	}
	return sy, nil
}

// derive returns a sync just read as time has left it (domain.Sync.AsOf).
// Only a PREVIEWING sync needs its lease, from the lock item.
func (s *Store) derive(ctx context.Context, sy *domain.Sync) (*domain.Sync, error) {
	held := true
	if sy.Status == domain.SyncPreviewing {
		lock, err := s.readLock(ctx, sy.TenantID)
		if err != nil {
			return nil, err
		}
		held = lock.exists && lock.sid == sy.ID && !lock.lapsed(s.now())
	}
	if !held {
		// The preview may have ended between the two reads (the plan
		// stored, the lock released): only a sync still PREVIEWING once
		// its lock was seen gone or lapsed is lost. A lost lock never
		// comes back, so a second read settles it.
		again, err := s.readSync(ctx, sy.TenantID, sy.ID)
		if err != nil {
			return nil, err
		}
		if again.Status != domain.SyncPreviewing {
			return s.derive(ctx, again)
		}
		sy = again
	}
	d := sy.AsOf(s.now(), held)
	return &d, nil
}

// SetExecution records the apply execution of a sync, so cancel can stop it.
func (s *Store) SetExecution(ctx context.Context, tenant, id, executionID string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), syncSK(id)),
		UpdateExpression:          aws.String("SET xid = :x"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":x": avS(executionID)},
	})
	if err != nil {
		return fmt.Errorf("store: set execution of %s: %w", id, err)
	}
	return nil
}

// ListSyncs pages through the tenant's syncs, newest first.
func (s *Store) ListSyncs(ctx context.Context, tenant string, p domain.Page) ([]*domain.Sync, string, error) {
	items, next, err := s.queryPage(ctx, s.syncTable, []string{tenantPK(tenant)}, "S#", p, false, nil, nil)
	if err != nil {
		return nil, "", fmt.Errorf("store: list syncs: %w", err)
	}
	out := make([]*domain.Sync, 0, len(items))
	for _, it := range items {
		sy, err := syncFromItem(tenant, it)
		if err != nil {
			return nil, "", fmt.Errorf("store: list syncs: %w", err)
		}
		if sy, err = s.derive(ctx, sy); err != nil {
			return nil, "", err
		}
		out = append(out, sy)
	}
	return out, next, nil
}

// FailPreview ends a PREVIEWING sync as PREVIEW_FAILED with its reason and
// releases the lock, only while l still holds it (ErrLeaseLost otherwise).
func (s *Store) FailPreview(ctx context.Context, l domain.Lease, reason domain.SyncError) error {
	fail, err := s.previewFailed(l.Tenant, l.SyncID, reason)
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		fail, releaseLease(s.syncTable, l, s.now().UTC()),
	}})
	if conditionFailed(err, -1) {
		return leaseLost("fail preview", l.SyncID)
	}
	if err != nil {
		return fmt.Errorf("store: fail preview: %w", err)
	}
	return nil
}

// transactReleasingLock runs items and, in the same transaction, deletes
// the tenant's lock when this sync holds it. If the lock lapsed and another
// sync took it, the items are written without touching that lock.
func (s *Store) transactReleasingLock(ctx context.Context, tenant, id string, items []types.TransactWriteItem) error {
	release := types.TransactWriteItem{Delete: &types.Delete{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), lockSK),
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR sid = :sid"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":sid": avS(id)},
	}}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: append(items, release)})
	if onlyConditionFailedAt(err, len(items)) {
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	}
	return err
}

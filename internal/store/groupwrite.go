package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"dirsync/internal/domain"
)

// ReadGroup reads a group as a conditional write needs it: consistently,
// with the marker of the last write a sync change made to it ("" if none).
// An absent group is nil, without an error.
func (s *Store) ReadGroup(ctx context.Context, tenant, id string) (g *domain.Group, marker string, err error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.dirTable), Key: s.dirKey(tenant, groupSK(id)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, "", fmt.Errorf("store: read group %s: %w", id, err)
	}
	if out.Item == nil {
		return nil, "", nil
	}
	cur := groupFromItem(out.Item)
	return &cur, getS(out.Item, "ls"), nil
}

// WriteGroup makes one group write: a create with its Entra link's claim
// in one transaction, or a replace. When a condition fails nothing is
// written and each failed condition is returned, joined: ErrExists or
// ErrRevisionChanged, ErrLinkClaimed.
func (s *Store) WriteGroup(ctx context.Context, tenant string, w domain.GroupWrite) error {
	g := w.Group
	g.UpdatedAt = s.now().UTC()
	var err error
	var conds []error
	if w.Create {
		g.Revision = 1
		it := s.groupItem(tenant, &g)
		it["ls"] = avS(w.Marker)
		claim := s.dirKey(tenant, groupLinkSK(g.ExternalTenantID, g.ExternalID))
		claim["gid"] = avS(g.ID)
		// Its own earlier write is no obstacle: a retried create rewrites it.
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String(s.dirTable), Item: it,
				ConditionExpression: aws.String("attribute_not_exists(pk) OR ls = :ls"), ExpressionAttributeValues: map[string]types.AttributeValue{":ls": avS(w.Marker)}}},
			{Put: &types.Put{TableName: aws.String(s.dirTable), Item: claim,
				ConditionExpression: aws.String("attribute_not_exists(pk) OR gid = :gid"), ExpressionAttributeValues: map[string]types.AttributeValue{":gid": avS(g.ID)}}},
		}})
		conds = []error{domain.ErrExists, domain.ErrLinkClaimed}
	} else {
		g.Revision = w.ExpectedRevision + 1
		it := s.groupItem(tenant, &g)
		it["ls"] = avS(w.Marker)
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(s.dirTable), Item: it, ConditionExpression: aws.String("rev = :rev"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":rev": avN(w.ExpectedRevision)},
		})
		conds = []error{domain.ErrRevisionChanged}
	}
	if err == nil {
		return nil
	}
	if failed := failedConditions(err, conds); failed != nil {
		err = failed
	}
	return fmt.Errorf("store: put group %s: %w", g.ID, err)
}

// DeleteGroup deletes a group (as ReadGroup read it): its memberships, a
// page at a time, then the group and its Entra link's claim. When the
// deadline nears it stops with ErrOutOfTime; a retry finds only the
// members that are left.
func (s *Store) DeleteGroup(ctx context.Context, tenant string, g *domain.Group) error {
	if err := s.removeAllMembers(ctx, tenant, g.ID); err != nil {
		return err
	}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: aws.String(s.dirTable), Key: s.dirKey(tenant, groupSK(g.ID))}},
		{Delete: &types.Delete{TableName: aws.String(s.dirTable), Key: s.dirKey(tenant, groupLinkSK(g.ExternalTenantID, g.ExternalID))}},
	}})
	if err != nil {
		return fmt.Errorf("store: remove group %s: %w", g.ID, err)
	}
	return nil
}

// membershipSlice is how many member references are written between two
// checkpoints.
const membershipSlice = 1000

// nearDeadline reports whether ctx ends within margin.
func nearDeadline(ctx context.Context, margin time.Duration) bool {
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < margin
}

// WriteMemberships adds and removes a group change's members (idempotent
// puts and deletes of both membership items), one slice at a time, saving
// on the change item how far it got; a retry starts there. At least one
// slice is written per call, so every attempt makes progress; when the
// deadline nears it stops with ErrOutOfTime. It returns how many member
// references named no user (an Entra id no link claim holds), counting
// those of earlier attempts, and refreshes the group's member count.
func (s *Store) WriteMemberships(ctx context.Context, tenant string, w domain.MembershipWrite) (missed int, err error) {
	added, removed := w.Added, w.Removed
	total := len(added) + len(removed)
	missed = w.Missed
	var layout *planLayout // read once, before the first checkpoint
	for start, first := w.Done, true; start < total; first = false {
		if !first && nearDeadline(ctx, s.ApplyMargin) {
			return missed, domain.ErrOutOfTime
		}
		end := min(start+membershipSlice, total)
		addIDs, miss, err := s.resolveMembers(ctx, tenant, w.Directory, added[min(start, len(added)):min(end, len(added))])
		if err != nil {
			return 0, err
		}
		remIDs, _, err := s.resolveMembers(ctx, tenant, w.Directory, removed[max(start-len(added), 0):max(end-len(added), 0)])
		if err != nil {
			return 0, err
		}
		puts := make([]item, 0, 2*len(addIDs))
		for _, uid := range addIDs {
			ug := s.dirKey(tenant, userGroupSK(uid, w.GroupID))
			ug["dn"] = avS(w.GroupName)
			puts = append(puts, s.dirKey(tenant, memberSK(w.GroupID, uid)), ug)
		}
		if err := s.writeDirectoryByKey(ctx, putRequests(puts)); err != nil {
			return 0, fmt.Errorf("store: add members of %s: %w", w.GroupID, err)
		}
		if err := s.deleteMemberships(ctx, tenant, w.GroupID, remIDs); err != nil {
			return 0, err
		}
		missed += miss
		if layout == nil {
			l, _, err := s.planLayout(ctx, tenant, w.SyncID)
			if err != nil {
				return 0, err
			}
			layout = &l
		}
		if _, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(s.syncTable), Key: key(layout.pk(w.Seq), changeSK(w.Seq)),
			UpdateExpression:          aws.String("SET mdone = :d, mmiss = :m"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":d": avN(int64(end)), ":m": avN(int64(missed))},
		}); err != nil {
			return 0, fmt.Errorf("store: checkpoint members of change %d: %w", w.Seq, err)
		}
		start = end
	}
	return missed, s.refreshMemberCount(ctx, tenant, w.GroupID)
}

// resolveMembers turns member references into platform user ids: by id, or
// by the Entra link claim for users this plan added.
func (s *Store) resolveMembers(ctx context.Context, tenant, directory string, refs []domain.MemberRef) ([]string, int, error) {
	ids := make([]string, 0, len(refs))
	var lookups []string
	for _, r := range refs {
		if r.UserID != "" {
			ids = append(ids, r.UserID)
		} else if r.ExternalID != "" {
			lookups = append(lookups, r.ExternalID)
		}
	}
	keys := make([]item, len(lookups))
	for i, x := range lookups {
		keys[i] = s.dirKey(tenant, linkSK(directory, x))
	}
	claims, err := s.batchGet(ctx, s.dirTable, keys)
	if err != nil {
		return nil, 0, fmt.Errorf("store: resolve members: %w", err)
	}
	for _, it := range claims {
		ids = append(ids, getS(it, "uid"))
	}
	missing := len(lookups) - len(claims)
	return ids, missing, nil
}

// deleteMemberships deletes both items of each membership of gid.
func (s *Store) deleteMemberships(ctx context.Context, tenant, gid string, uids []string) error {
	keys := make([]item, 0, 2*len(uids))
	for _, uid := range uids {
		keys = append(keys, s.dirKey(tenant, memberSK(gid, uid)), s.dirKey(tenant, userGroupSK(uid, gid)))
	}
	if err := s.writeDirectoryByKey(ctx, deleteRequests(keys)); err != nil {
		return fmt.Errorf("store: remove members of %s: %w", gid, err)
	}
	return nil
}

// RenameMemberships puts a group's new name on each member's UG# item.
func (s *Store) RenameMemberships(ctx context.Context, tenant, gid, name string) error {
	prefix := "M#" + gid + "#"
	var mu sync.Mutex
	var puts []item
	err := s.queryEveryShard(ctx, tenant, prefix, func(_ int, it item) {
		ug := s.dirKey(tenant, userGroupSK(strings.TrimPrefix(getS(it, "sk"), prefix), gid))
		ug["dn"] = avS(name)
		mu.Lock()
		puts = append(puts, ug)
		mu.Unlock()
	})
	if err != nil {
		return fmt.Errorf("store: members of %s: %w", gid, err)
	}
	if err := s.writeDirectoryByKey(ctx, putRequests(puts)); err != nil {
		return fmt.Errorf("store: rename memberships of %s: %w", gid, err)
	}
	return nil
}

// removeAllMembers deletes every membership of gid, a slice at a time
// (its share of a slice from each shard); when the deadline nears it stops
// with ErrOutOfTime and the retry finds only the members that are left.
func (s *Store) removeAllMembers(ctx context.Context, tenant, gid string) error {
	prefix := "M#" + gid + "#"
	pks := s.dirShardPKs(tenant)
	perShard := max(1, (membershipSlice+len(pks)-1)/len(pks))
	for first := true; ; first = false {
		if !first && nearDeadline(ctx, s.ApplyMargin) {
			return domain.ErrOutOfTime
		}
		found := make([][]string, len(pks))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(s.readConcurrency())
		for d, pk := range pks {
			g.Go(func() error {
				out, err := s.db.Query(gctx, &dynamodb.QueryInput{
					TableName:              aws.String(s.dirTable),
					KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
					ExpressionAttributeValues: map[string]types.AttributeValue{
						":pk": avS(pk), ":p": avS(prefix),
					},
					Limit:          aws.Int32(int32(perShard)),
					ConsistentRead: aws.Bool(true),
				})
				if err != nil {
					return err
				}
				for _, it := range out.Items {
					found[d] = append(found[d], strings.TrimPrefix(getS(it, "sk"), prefix))
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return fmt.Errorf("store: members of %s: %w", gid, err)
		}
		uids := slices.Concat(found...)
		if len(uids) == 0 {
			return nil
		}
		if err := s.deleteMemberships(ctx, tenant, gid, uids); err != nil {
			return err
		}
	}
}

// refreshMemberCount sets the group's mc to its memberships, counted in
// every shard.
func (s *Store) refreshMemberCount(ctx context.Context, tenant, gid string) error {
	var n atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.readConcurrency())
	for _, pk := range s.dirShardPKs(tenant) {
		g.Go(func() error {
			in := &dynamodb.QueryInput{
				TableName:              aws.String(s.dirTable),
				KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":pk": avS(pk), ":p": avS("M#" + gid + "#"),
				},
				Select:         types.SelectCount,
				ConsistentRead: aws.Bool(true),
			}
			for {
				out, err := s.db.Query(gctx, in)
				if err != nil {
					return err
				}
				n.Add(int64(out.Count))
				if len(out.LastEvaluatedKey) == 0 {
					return nil
				}
				in.ExclusiveStartKey = out.LastEvaluatedKey
			}
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("store: count members of %s: %w", gid, err)
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.dirTable), Key: s.dirKey(tenant, groupSK(gid)),
		UpdateExpression: aws.String("SET mc = :n"), ConditionExpression: aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": avN(n.Load())},
	})
	if conditionFailed(err, 0) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: member count of %s: %w", gid, err)
	}
	return nil
}

package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dirsync/internal/domain"
)

// ApplyGroupChange applies one group change and its memberships. Members
// named by Entra id are resolved through the link claims the user batches
// wrote; a member that cannot be resolved (its add conflicted) is left out
// and reported in the outcome's reason.
func (s *Store) ApplyGroupChange(ctx context.Context, a *ApplyContext, c *domain.Change) (Outcome, error) {
	marker := appliedMarker(a.SyncID, c.Seq)
	now := s.now().UTC()
	gid := c.TargetID
	var cur item
	if c.Kind != domain.KindAdd {
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(s.dirTable), Key: key(tenantPK(a.Tenant), groupSK(gid)), ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return Outcome{}, fmt.Errorf("store: read group %s: %w", gid, err)
		}
		cur = out.Item
		if cur == nil {
			if c.Kind == domain.KindRemove {
				return a.outcome(c, domain.OutcomeApplied, ""), nil // gone already
			}
			return a.outcome(c, domain.OutcomeConflict, "the platform group was deleted since the preview"), nil
		}
		if getS(cur, "ls") != marker && getN(cur, "rev") != c.BaseRevision {
			return a.outcome(c, domain.OutcomeConflict, fmt.Sprintf("the platform group was changed since the preview (revision %d, now %d); left untouched", c.BaseRevision, getN(cur, "rev"))), nil
		}
	}
	switch c.Kind {
	case domain.KindAdd:
		gid = DerivedID(a.SyncID, c.Seq)
		g := &domain.Group{ID: gid, DisplayName: c.Subject.DisplayName, Source: domain.SourceEntra,
			ExternalID: c.Subject.ExternalID, ExternalTenantID: a.Directory, Revision: 1, UpdatedAt: now}
		g.Description, _ = c.Attributes.Get("description")
		it := groupItem(a.Tenant, g)
		it["ls"] = avS(marker)
		claim := key(tenantPK(a.Tenant), groupLinkSK(a.Directory, c.Subject.ExternalID))
		claim["gid"] = avS(gid)
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String(s.dirTable), Item: it,
				ConditionExpression: aws.String("attribute_not_exists(pk) OR ls = :ls"), ExpressionAttributeValues: map[string]types.AttributeValue{":ls": avS(marker)}}},
			{Put: &types.Put{TableName: aws.String(s.dirTable), Item: claim,
				ConditionExpression: aws.String("attribute_not_exists(pk) OR gid = :gid"), ExpressionAttributeValues: map[string]types.AttributeValue{":gid": avS(gid)}}},
		}})
		if conditionFailed(err, 1) {
			return a.outcome(c, domain.OutcomeConflict, "the Entra group is now mirrored by another platform group"), nil
		}
		if conditionFailed(err, 0) {
			return a.outcome(c, domain.OutcomeConflict, "a group with the id this change derives already exists"), nil
		}
		if err != nil {
			return Outcome{}, fmt.Errorf("store: add group (change %d): %w", c.Seq, err)
		}
	case domain.KindUpdate:
		if getS(cur, "ls") != marker {
			g := groupFromItem(cur)
			for _, f := range c.Fields {
				switch f.Name {
				case "displayName":
					g.DisplayName = f.After
				case "description":
					g.Description = f.After
				}
			}
			g.Revision++
			g.UpdatedAt = now
			it := groupItem(a.Tenant, &g)
			it["ls"] = avS(marker)
			_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
				TableName: aws.String(s.dirTable), Item: it, ConditionExpression: aws.String("rev = :rev"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":rev": avN(c.BaseRevision)},
			})
			if conditionFailed(err, 0) {
				return a.outcome(c, domain.OutcomeConflict, "the platform group was changed while applying; left untouched"), nil
			}
			if err != nil {
				return Outcome{}, fmt.Errorf("store: update group %s: %w", gid, err)
			}
		}
		if n, renamed := fieldAfter(c, "displayName"); renamed {
			if err := s.renameMemberships(ctx, a.Tenant, gid, n); err != nil {
				return Outcome{}, err
			}
		}
	case domain.KindRemove:
		if err := s.removeAllMembers(ctx, a.Tenant, gid); err != nil {
			return Outcome{}, err
		}
		g := groupFromItem(cur)
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Delete: &types.Delete{TableName: aws.String(s.dirTable), Key: key(tenantPK(a.Tenant), groupSK(gid))}},
			{Delete: &types.Delete{TableName: aws.String(s.dirTable), Key: key(tenantPK(a.Tenant), groupLinkSK(g.ExternalTenantID, g.ExternalID))}},
		}})
		if err != nil {
			return Outcome{}, fmt.Errorf("store: remove group %s: %w", gid, err)
		}
		return a.outcome(c, domain.OutcomeApplied, ""), nil
	default:
		return a.outcome(c, domain.OutcomeFailed, "not an applicable group change: "+string(c.Kind)), nil
	}

	name := c.Subject.DisplayName
	if cur != nil && name == "" {
		name = getS(cur, "dn")
	}
	if n, ok := fieldAfter(c, "displayName"); ok {
		name = n
	}
	missing, err := s.applyMemberships(ctx, a, c, gid, name)
	if err != nil {
		return Outcome{}, err
	}
	if missing > 0 {
		return a.outcome(c, domain.OutcomeApplied, fmt.Sprintf("%d members were not added: their user changes did not apply", missing)), nil
	}
	return a.outcome(c, domain.OutcomeApplied, ""), nil
}

// membershipSlice is how many member references are written between two
// checkpoints.
const membershipSlice = 1000

// ErrOutOfTime says the invocation's deadline is near. The work done so far
// is checkpointed, so the retry the state machine makes continues from it:
// a group of any size is applied over as many invocations as it needs.
var ErrOutOfTime = errors.New("store: the invocation is running out of time; a retry continues from the checkpoint")

// nearDeadline reports whether ctx ends within margin.
func nearDeadline(ctx context.Context, margin time.Duration) bool {
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < margin
}

// applyMemberships adds and removes a group change's members (idempotent
// puts and deletes of both membership items), one slice at a time, saving
// on the change item how far it got; a retry starts there. At least one
// slice is written per call, so every attempt makes progress.
func (s *Store) applyMemberships(ctx context.Context, a *ApplyContext, c *domain.Change, gid, name string) (missing int, err error) {
	added, removed := c.MembersAdded, c.MembersRemoved
	total := len(added) + len(removed)
	missing = c.MembersMissed
	for start, first := c.MembersDone, true; start < total; first = false {
		if !first && nearDeadline(ctx, s.ApplyMargin) {
			return missing, ErrOutOfTime
		}
		end := min(start+membershipSlice, total)
		addIDs, miss, err := s.resolveMembers(ctx, a, added[min(start, len(added)):min(end, len(added))])
		if err != nil {
			return 0, err
		}
		remIDs, _, err := s.resolveMembers(ctx, a, removed[max(start-len(added), 0):max(end-len(added), 0)])
		if err != nil {
			return 0, err
		}
		puts := make([]item, 0, 2*len(addIDs))
		for _, uid := range addIDs {
			ug := key(tenantPK(a.Tenant), userGroupSK(uid, gid))
			ug["dn"] = avS(name)
			puts = append(puts, key(tenantPK(a.Tenant), memberSK(gid, uid)), ug)
		}
		if err := s.putAll(ctx, s.dirTable, puts); err != nil {
			return 0, fmt.Errorf("store: add members of %s: %w", gid, err)
		}
		if err := s.deleteMemberships(ctx, a.Tenant, gid, remIDs); err != nil {
			return 0, err
		}
		missing += miss
		if _, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(s.syncTable), Key: key(syncDataPK(a.Tenant, a.SyncID), changeSK(c.Seq)),
			UpdateExpression:          aws.String("SET mdone = :d, mmiss = :m"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":d": avN(int64(end)), ":m": avN(int64(missing))},
		}); err != nil {
			return 0, fmt.Errorf("store: checkpoint members of change %d: %w", c.Seq, err)
		}
		start = end
	}
	return missing, s.refreshMemberCount(ctx, a.Tenant, gid)
}

// resolveMembers turns member references into platform user ids: by id, or
// by the Entra link claim for users this plan added.
func (s *Store) resolveMembers(ctx context.Context, a *ApplyContext, refs []domain.MemberRef) ([]string, int, error) {
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
		keys[i] = key(tenantPK(a.Tenant), linkSK(a.Directory, x))
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
	if err := s.deleteAll(ctx, s.dirTable, tenantPK(tenant), uids, func(uid string) string { return memberSK(gid, uid) }); err != nil {
		return fmt.Errorf("store: remove members of %s: %w", gid, err)
	}
	if err := s.deleteAll(ctx, s.dirTable, tenantPK(tenant), uids, func(uid string) string { return userGroupSK(uid, gid) }); err != nil {
		return fmt.Errorf("store: remove members of %s: %w", gid, err)
	}
	return nil
}

// renameMemberships keeps the group name on each member's UG# item.
func (s *Store) renameMemberships(ctx context.Context, tenant, gid, name string) error {
	var puts []item
	prefix := "M#" + gid + "#"
	err := s.queryAll(ctx, s.dirTable, tenantPK(tenant), prefix, func(it item) {
		ug := key(tenantPK(tenant), userGroupSK(strings.TrimPrefix(getS(it, "sk"), prefix), gid))
		ug["dn"] = avS(name)
		puts = append(puts, ug)
	})
	if err != nil {
		return fmt.Errorf("store: members of %s: %w", gid, err)
	}
	return s.putAll(ctx, s.dirTable, puts)
}

// removeAllMembers deletes every membership of gid, a page at a time; when
// the deadline nears it stops with ErrOutOfTime and the retry finds only
// the members that are left.
func (s *Store) removeAllMembers(ctx context.Context, tenant, gid string) error {
	prefix := "M#" + gid + "#"
	for first := true; ; first = false {
		if !first && nearDeadline(ctx, s.ApplyMargin) {
			return ErrOutOfTime
		}
		out, err := s.db.Query(ctx, &dynamodb.QueryInput{
			TableName:              aws.String(s.dirTable),
			KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": avS(tenantPK(tenant)), ":p": avS(prefix),
			},
			Limit:          aws.Int32(membershipSlice),
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return fmt.Errorf("store: members of %s: %w", gid, err)
		}
		if len(out.Items) == 0 {
			return nil
		}
		uids := make([]string, len(out.Items))
		for i, it := range out.Items {
			uids[i] = strings.TrimPrefix(getS(it, "sk"), prefix)
		}
		if err := s.deleteMemberships(ctx, tenant, gid, uids); err != nil {
			return err
		}
	}
}

func (s *Store) refreshMemberCount(ctx context.Context, tenant, gid string) error {
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.dirTable),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(tenantPK(tenant)), ":p": avS("M#" + gid + "#"),
		},
		Select:         types.SelectCount,
		ConsistentRead: aws.Bool(true),
	}
	n := int64(0)
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return fmt.Errorf("store: count members of %s: %w", gid, err)
		}
		n += int64(out.Count)
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.dirTable), Key: key(tenantPK(tenant), groupSK(gid)),
		UpdateExpression: aws.String("SET mc = :n"), ConditionExpression: aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": avN(n)},
	})
	if conditionFailed(err, 0) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: member count of %s: %w", gid, err)
	}
	return nil
}

// deleteAll deletes pk/sk(id) for each id with BatchWriteItem.
func (s *Store) deleteAll(ctx context.Context, table, pk string, ids []string, sk func(string) string) error {
	for start := 0; start < len(ids); start += batchWriteLimit {
		chunk := ids[start:min(start+batchWriteLimit, len(ids))]
		reqs := make([]types.WriteRequest, len(chunk))
		for i, id := range chunk {
			reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(pk, sk(id))}}
		}
		pending := map[string][]types.WriteRequest{table: reqs}
		for attempt := 0; len(pending[table]) > 0; attempt++ {
			out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				return err
			}
			pending = out.UnprocessedItems
			if len(pending[table]) > 0 {
				if attempt+1 >= maxUnprocessedAttempts {
					return fmt.Errorf("%d deletes still unprocessed", len(pending[table]))
				}
				if err := backoff(ctx, attempt); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

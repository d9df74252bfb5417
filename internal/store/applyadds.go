package store

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dirsync/internal/domain"
)

// addsPerTransaction is how many adds share one TransactWriteItems: three
// items each (user, email claim, link claim) within the 100-item limit.
const addsPerTransaction = 25

// ApplyUserAdds applies a batch's add changes together: one read of the
// keys they would take, then transactions of up to 25 adds. Conflicts found
// by the read are reported without writing; a transaction that still fails
// on a condition (a race with another writer) is redone one add at a time,
// so one conflict never fails its neighbours.
func (s *Store) ApplyUserAdds(ctx context.Context, a *ApplyContext, changes []*domain.Change) ([]Outcome, error) {
	type pending struct {
		c     *domain.Change
		id    string
		email string
		item  item
	}
	now := s.now().UTC()
	var (
		outcomes []Outcome
		todo     []*pending
		keys     []item
	)
	for _, c := range changes {
		email, attrs := splitEmail(c.Attributes)
		if email == "" {
			email = c.Subject.Email
		}
		id := DerivedID(a.SyncID, c.Seq)
		u := &domain.User{
			PlatformUser: domain.PlatformUser{
				ID: id, Email: email, Status: domain.StatusActive, Source: domain.SourceEntra,
				ExternalID: c.Subject.ExternalID, ExternalTenantID: a.Directory, Attributes: attrs, Revision: 1,
			},
			CreatedAt: now, UpdatedAt: now,
		}
		it := userItem(a.Tenant, u)
		it["ls"] = avS(appliedMarker(a.SyncID, c.Seq))
		todo = append(todo, &pending{c: c, id: id, email: email, item: it})
		keys = append(keys,
			key(tenantPK(a.Tenant), userSK(id)),
			key(tenantPK(a.Tenant), emailSK(email)),
			key(tenantPK(a.Tenant), linkSK(a.Directory, c.Subject.ExternalID)))
	}
	existing, err := s.batchGet(ctx, s.dirTable, keys)
	if err != nil {
		return nil, err
	}
	var write []*pending
	for _, p := range todo {
		u := existing[userSK(p.id)]
		email := existing[emailSK(p.email)]
		link := existing[linkSK(a.Directory, p.c.Subject.ExternalID)]
		switch {
		case u != nil && getS(u, "ls") == appliedMarker(a.SyncID, p.c.Seq):
			outcomes = append(outcomes, a.outcome(p.c, domain.OutcomeApplied, ""))
		case u != nil:
			outcomes = append(outcomes, a.outcome(p.c, domain.OutcomeConflict, "a user with the id this change derives already exists"))
		case email != nil && getS(email, "uid") != p.id:
			outcomes = append(outcomes, a.outcome(p.c, domain.OutcomeConflict, "the email "+p.email+" is now used by another platform user"))
		case link != nil && getS(link, "uid") != p.id:
			outcomes = append(outcomes, a.outcome(p.c, domain.OutcomeConflict, "the Entra user is now linked to another platform user"))
		default:
			write = append(write, p)
		}
	}
	var mu sync.Mutex
	nChunks := (len(write) + addsPerTransaction - 1) / addsPerTransaction
	err = forEach(ctx, nChunks, 4, func(ctx context.Context, ci int) error {
		start := ci * addsPerTransaction
		chunk := write[start:min(start+addsPerTransaction, len(write))]
		txn := make([]types.TransactWriteItem, 0, 3*len(chunk))
		for _, p := range chunk {
			mine := map[string]types.AttributeValue{":id": avS(p.id)}
			txn = append(txn,
				types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.dirTable), Item: p.item, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
				types.TransactWriteItem{Put: &types.Put{
					TableName: aws.String(s.dirTable), Item: claimItem(a.Tenant, emailSK(p.email), p.id),
					ConditionExpression: aws.String("attribute_not_exists(pk) OR uid = :id"), ExpressionAttributeValues: mine,
				}},
				types.TransactWriteItem{Put: &types.Put{
					TableName: aws.String(s.dirTable), Item: claimItem(a.Tenant, linkSK(a.Directory, p.c.Subject.ExternalID), p.id),
					ConditionExpression: aws.String("attribute_not_exists(pk) OR uid = :id"), ExpressionAttributeValues: mine,
				}})
		}
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: txn})
		switch {
		case err == nil:
			mu.Lock()
			for _, p := range chunk {
				outcomes = append(outcomes, a.outcome(p.c, domain.OutcomeApplied, ""))
			}
			mu.Unlock()
		case conditionFailed(err, -1):
			for _, p := range chunk {
				o, err := s.applyAdd(ctx, a, p.c)
				if err != nil {
					return err
				}
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
			}
		default:
			return fmt.Errorf("store: add users (changes %d..): %w", chunk[0].c.Seq, err)
		}
		return nil
	})
	return outcomes, err
}

// batchGet reads keys (any number; 100 per request, unprocessed keys
// retried) and returns the items found by sort key.
func (s *Store) batchGet(ctx context.Context, table string, keys []item) (map[string]item, error) {
	found := make(map[string]item, len(keys))
	for start := 0; start < len(keys); start += 100 {
		req := map[string]types.KeysAndAttributes{table: {Keys: keys[start:min(start+100, len(keys))], ConsistentRead: aws.Bool(true)}}
		for attempt := 0; len(req) > 0; attempt++ {
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("store: batch get: %w", err)
			}
			for _, it := range out.Responses[table] {
				found[getS(it, "sk")] = it
			}
			req = out.UnprocessedKeys
			if len(req) > 0 {
				if err := backoff(ctx, attempt); err != nil {
					return nil, err
				}
			}
		}
	}
	return found, nil
}

package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"dirsync/internal/domain"
)

// createsPerTransaction is how many user creates share one
// TransactWriteItems: three items each (user, email claim, link claim)
// within the 100-item limit.
const createsPerTransaction = 25

// ReadUser reads a user as a conditional write needs it: consistently,
// without its groups, and with the marker of the last write a sync change
// made to it ("" if none). An absent user is nil, without an error.
func (s *Store) ReadUser(ctx context.Context, tenant, id string) (u *domain.User, marker string, err error) {
	it, err := s.rawUser(ctx, tenant, id)
	if err != nil || it == nil {
		return nil, "", err
	}
	cur := userFromItem(it)
	return &cur, getS(it, "ls"), nil
}

func (s *Store) rawUser(ctx context.Context, tenant, id string) (item, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.dirTable), Key: s.dirKey(tenant, userSK(id)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("store: read user %s: %w", id, err)
	}
	return out.Item, nil
}

// ReadUserKeyHolders reads, for each user to create, who holds its id,
// its email's claim and its Entra link's claim, in BatchGetItems of 100
// keys.
func (s *Store) ReadUserKeyHolders(ctx context.Context, tenant string, users []domain.PlatformUser) ([]domain.UserKeyHolders, error) {
	keys := make([]item, 0, 3*len(users))
	for _, u := range users {
		keys = append(keys,
			s.dirKey(tenant, userSK(u.ID)),
			s.dirKey(tenant, emailSK(u.Email)),
			s.dirKey(tenant, linkSK(u.ExternalTenantID, u.ExternalID)))
	}
	found, err := s.batchGet(ctx, s.dirTable, keys)
	if err != nil {
		return nil, fmt.Errorf("store: read the keys of %d new users: %w", len(users), err)
	}
	out := make([]domain.UserKeyHolders, len(users))
	for i, u := range users {
		if it := found[userSK(u.ID)]; it != nil {
			out[i].UserExists, out[i].Marker = true, getS(it, "ls")
		}
		out[i].EmailHolder = getS(found[emailSK(u.Email)], "uid")
		out[i].LinkHolder = getS(found[linkSK(u.ExternalTenantID, u.ExternalID)], "uid")
	}
	return out, nil
}

// WriteUser makes one user write in one transaction with the claims it
// moves or takes. When a condition fails nothing is written and each
// failed condition is returned, joined: ErrExists (a create's id is
// taken) or ErrRevisionChanged, ErrEmailClaimed, ErrLinkClaimed.
func (s *Store) WriteUser(ctx context.Context, tenant string, w domain.UserWrite) error {
	txn, conds := s.userWriteItems(tenant, &w, s.now().UTC())
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: txn})
	if err == nil {
		return nil
	}
	if failed := failedConditions(err, conds); failed != nil {
		err = failed
	}
	return fmt.Errorf("store: put user %s: %w", w.User.ID, err)
}

// CreateUsers writes creates together, in transactions of 25 (a few at a
// time): far fewer round trips than one each. A transaction refused on a
// condition writes none of its users, whose written stays false, for the
// caller to write one at a time and learn which condition was theirs.
// After an error, written still says which users were written.
func (s *Store) CreateUsers(ctx context.Context, tenant string, ws []domain.UserWrite) (written []bool, err error) {
	for i := range ws {
		if !ws[i].Create {
			return nil, fmt.Errorf("store: create users: the write of %s is not a create", ws[i].User.ID)
		}
	}
	written = make([]bool, len(ws))
	now := s.now().UTC()
	chunks := (len(ws) + createsPerTransaction - 1) / createsPerTransaction
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for ci := range chunks {
		g.Go(func() error { return s.createChunk(gctx, tenant, ws, written, now, ci) })
	}
	return written, g.Wait()
}

// createChunk writes the creates of one transaction (chunk ci of ws).
func (s *Store) createChunk(ctx context.Context, tenant string, ws []domain.UserWrite, written []bool, now time.Time, ci int) error {
	from, to := ci*createsPerTransaction, min((ci+1)*createsPerTransaction, len(ws))
	txn := make([]types.TransactWriteItem, 0, 3*(to-from))
	for i := from; i < to; i++ {
		items, _ := s.userWriteItems(tenant, &ws[i], now)
		txn = append(txn, items...)
	}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: txn})
	switch {
	case err == nil:
		for i := from; i < to; i++ {
			written[i] = true
		}
	case conditionFailed(err, -1):
	default:
		return fmt.Errorf("store: create users %s..%s: %w", ws[from].User.ID, ws[to-1].User.ID, err)
	}
	return nil
}

// userWriteItems returns the transaction items of a user write and, for
// each, the error its condition failing means (nil: no condition).
func (s *Store) userWriteItems(tenant string, w *domain.UserWrite, now time.Time) ([]types.TransactWriteItem, []error) {
	u := w.User
	u.UpdatedAt = now
	userCond, userValues, userErr := "rev = :rev", map[string]types.AttributeValue{":rev": avN(w.ExpectedRevision)}, domain.ErrRevisionChanged
	if w.Create {
		u.Revision, u.CreatedAt = 1, now
		userCond, userValues, userErr = "attribute_not_exists(pk)", nil, domain.ErrExists
	} else {
		u.Revision = w.ExpectedRevision + 1
	}
	put := s.userItem(tenant, &u)
	put["ls"] = avS(w.Marker)
	txn := []types.TransactWriteItem{{Put: &types.Put{
		TableName: aws.String(s.dirTable), Item: put,
		ConditionExpression: aws.String(userCond), ExpressionAttributeValues: userValues,
	}}}
	conds := []error{userErr}
	// A claim is taken when free or already the user's: a retry of the
	// same write finds its own claims.
	claim := func(sk string, err error) {
		txn = append(txn, types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(s.dirTable), Item: s.claimItem(tenant, sk, u.ID),
			ConditionExpression:       aws.String("attribute_not_exists(pk) OR uid = :id"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":id": avS(u.ID)},
		}})
		conds = append(conds, err)
	}
	// A claim moves exactly when its key does, as in UpdateUser.
	switch {
	case w.Create:
		claim(emailSK(u.Email), domain.ErrEmailClaimed)
	case emailSK(w.PreviousEmail) != emailSK(u.Email):
		claim(emailSK(u.Email), domain.ErrEmailClaimed)
		txn = append(txn, types.TransactWriteItem{Delete: &types.Delete{
			TableName: aws.String(s.dirTable), Key: s.dirKey(tenant, emailSK(w.PreviousEmail)),
		}})
		conds = append(conds, nil)
	}
	if w.ClaimLink {
		claim(linkSK(u.ExternalTenantID, u.ExternalID), domain.ErrLinkClaimed)
	}
	if l := w.ReleaseLink; l != nil {
		// Only the user's own claim goes; a retry finds it gone already.
		txn = append(txn, types.TransactWriteItem{Delete: &types.Delete{
			TableName: aws.String(s.dirTable), Key: s.dirKey(tenant, linkSK(l.Directory, l.ObjectID)),
			ConditionExpression:       aws.String("attribute_not_exists(pk) OR uid = :id"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":id": avS(u.ID)},
		}})
		conds = append(conds, domain.ErrLinkClaimed)
	}
	return txn, conds
}

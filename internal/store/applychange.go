package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dirsync/internal/domain"
)

// ApplyContext is what every change of one apply shares.
type ApplyContext struct {
	Tenant    string
	SyncID    string
	Directory string // the Entra directory (tenant) id the plan came from
	// ConfirmedBy is the email of the admin who confirmed: never deactivated.
	ConfirmedBy string
}

func (a *ApplyContext) outcome(c *domain.Change, result, reason string) Outcome {
	return Outcome{Seq: c.Seq, Result: result, Reason: reason}
}

// ApplyUserChange applies one user change, conditionally on the revision
// the preview saw. A user changed since is a conflict and is left
// untouched; a change this sync already wrote (a retried batch) is applied.
// Only storage failures are returned as errors.
func (s *Store) ApplyUserChange(ctx context.Context, a *ApplyContext, c *domain.Change) (Outcome, error) {
	switch c.Kind {
	case domain.KindAdd:
		return s.applyAdd(ctx, a, c)
	case domain.KindUpdate, domain.KindReactivate, domain.KindDeactivate:
		return s.applyUserWrite(ctx, a, c)
	default:
		return a.outcome(c, domain.OutcomeFailed, "not an applicable user change: "+string(c.Kind)), nil
	}
}

func (s *Store) applyAdd(ctx context.Context, a *ApplyContext, c *domain.Change) (Outcome, error) {
	now := s.now().UTC()
	id := DerivedID(a.SyncID, c.Seq)
	email, attrs := splitEmail(c.Attributes)
	if email == "" {
		email = c.Subject.Email
	}
	u := &domain.User{
		PlatformUser: domain.PlatformUser{
			ID: id, Email: email, Status: domain.StatusActive, Source: domain.SourceEntra,
			ExternalID: c.Subject.ExternalID, ExternalTenantID: a.Directory, Attributes: attrs, Revision: 1,
		},
		CreatedAt: now, UpdatedAt: now,
	}
	it := userItem(a.Tenant, u)
	it["ls"] = avS(appliedMarker(a.SyncID, c.Seq))
	mine := map[string]types.AttributeValue{":id": avS(id)}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.dirTable), Item: it, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		{Put: &types.Put{
			TableName: aws.String(s.dirTable), Item: claimItem(a.Tenant, emailSK(email), id),
			ConditionExpression: aws.String("attribute_not_exists(pk) OR uid = :id"), ExpressionAttributeValues: mine,
		}},
		{Put: &types.Put{
			TableName: aws.String(s.dirTable), Item: claimItem(a.Tenant, linkSK(a.Directory, c.Subject.ExternalID), id),
			ConditionExpression: aws.String("attribute_not_exists(pk) OR uid = :id"), ExpressionAttributeValues: mine,
		}},
	}})
	switch {
	case err == nil:
		return a.outcome(c, domain.OutcomeApplied, ""), nil
	case conditionFailed(err, 0):
		cur, gerr := s.rawUser(ctx, a.Tenant, id)
		if gerr != nil {
			return Outcome{}, gerr
		}
		if cur != nil && getS(cur, "ls") == appliedMarker(a.SyncID, c.Seq) {
			return a.outcome(c, domain.OutcomeApplied, ""), nil
		}
		return a.outcome(c, domain.OutcomeConflict, "a user with the id this change derives already exists"), nil
	case conditionFailed(err, 1):
		return a.outcome(c, domain.OutcomeConflict, "the email "+email+" is now used by another platform user"), nil
	case conditionFailed(err, 2):
		return a.outcome(c, domain.OutcomeConflict, "the Entra user is now linked to another platform user"), nil
	default:
		return Outcome{}, fmt.Errorf("store: add user (change %d): %w", c.Seq, err)
	}
}

func (s *Store) rawUser(ctx context.Context, tenant, id string) (item, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.dirTable), Key: key(tenantPK(tenant), userSK(id)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("store: read user %s: %w", id, err)
	}
	return out.Item, nil
}

// applyUserWrite applies update, reactivate and deactivate changes: read the
// user, check the revision seen at preview, write conditionally on it.
func (s *Store) applyUserWrite(ctx context.Context, a *ApplyContext, c *domain.Change) (Outcome, error) {
	marker := appliedMarker(a.SyncID, c.Seq)
	it, err := s.rawUser(ctx, a.Tenant, c.TargetID)
	if err != nil {
		return Outcome{}, err
	}
	if it == nil {
		return a.outcome(c, domain.OutcomeConflict, "the platform user was deleted since the preview"), nil
	}
	if getS(it, "ls") == marker {
		return a.outcome(c, domain.OutcomeApplied, ""), nil
	}
	cur := userFromItem(it)
	if cur.Revision != c.BaseRevision {
		return a.outcome(c, domain.OutcomeConflict, fmt.Sprintf("the platform user was changed since the preview (revision %d, now %d); left untouched", c.BaseRevision, cur.Revision)), nil
	}
	next := cur
	switch c.Kind {
	case domain.KindDeactivate:
		if admin := domain.NormalizeEmail(a.ConfirmedBy); admin != "" && domain.NormalizeEmail(cur.Email) == admin {
			return a.outcome(c, domain.OutcomeConflict, "the admin who confirmed the sync is never deactivated"), nil
		}
		if cur.Protected {
			return a.outcome(c, domain.OutcomeConflict, "the user is protected"), nil
		}
		next.Status, next.DeactivatedBySync = domain.StatusInactive, true
	case domain.KindReactivate:
		next.Status, next.DeactivatedBySync = domain.StatusActive, false
		next.Attributes = applyFields(cur.Attributes, c.Fields)
	default:
		next.Attributes = applyFields(cur.Attributes, c.Fields)
	}
	if e, ok := fieldAfter(c, domain.EmailAttribute); ok && e != "" {
		next.Email = e
	}
	if c.Link {
		next.Source, next.ExternalID, next.ExternalTenantID = domain.SourceEntra, c.Subject.ExternalID, a.Directory
	}
	next.Revision = cur.Revision + 1
	next.UpdatedAt = s.now().UTC()
	put := userItem(a.Tenant, &next)
	put["ls"] = avS(marker)
	txn := []types.TransactWriteItem{{Put: &types.Put{
		TableName: aws.String(s.dirTable), Item: put,
		ConditionExpression:       aws.String("rev = :rev"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":rev": avN(cur.Revision)},
	}}}
	mine := map[string]types.AttributeValue{":id": avS(cur.ID)}
	emailMoved := emailSK(cur.Email) != emailSK(next.Email) // as in UpdateUser
	if emailMoved {
		txn = append(txn,
			types.TransactWriteItem{Put: &types.Put{
				TableName: aws.String(s.dirTable), Item: claimItem(a.Tenant, emailSK(next.Email), cur.ID),
				ConditionExpression: aws.String("attribute_not_exists(pk) OR uid = :id"), ExpressionAttributeValues: mine,
			}},
			types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(s.dirTable), Key: key(tenantPK(a.Tenant), emailSK(cur.Email))}})
	}
	if c.Link {
		txn = append(txn, types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(s.dirTable), Item: claimItem(a.Tenant, linkSK(a.Directory, c.Subject.ExternalID), cur.ID),
			ConditionExpression: aws.String("attribute_not_exists(pk) OR uid = :id"), ExpressionAttributeValues: mine,
		}})
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: txn})
	switch {
	case err == nil:
		return a.outcome(c, domain.OutcomeApplied, ""), nil
	case conditionFailed(err, 0):
		return a.outcome(c, domain.OutcomeConflict, "the platform user was changed while applying; left untouched"), nil
	case emailMoved && conditionFailed(err, 1):
		return a.outcome(c, domain.OutcomeConflict, "the email "+next.Email+" is now used by another platform user"), nil
	case conditionFailed(err, -1):
		return a.outcome(c, domain.OutcomeConflict, "the Entra user is now linked to another platform user"), nil
	default:
		return Outcome{}, fmt.Errorf("store: %s user %s (change %d): %w", c.Kind, cur.ID, c.Seq, err)
	}
}

// applyFields applies a change's attribute fields (not email, status or
// source, which are first-class) to the current attributes, keeping any
// attribute the mapping does not own.
func applyFields(cur domain.Attrs, fields []domain.FieldChange) domain.Attrs {
	patch := map[string]string{}
	for _, f := range fields {
		switch f.Name {
		case domain.EmailAttribute, "status", "source":
			continue
		}
		patch[f.Name] = f.After
	}
	return cur.Merge(patch)
}

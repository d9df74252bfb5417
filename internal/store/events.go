package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dirsync/internal/domain"
)

// RecordEvents appends lifecycle events published for a sync to its item's
// events list (attribute ev, [{t, at}]), creating the list on the first.
func (s *Store) RecordEvents(ctx context.Context, tenant, syncID string, evs []domain.SyncEvent) error {
	if len(evs) == 0 {
		return nil
	}
	list := make([]types.AttributeValue, 0, len(evs))
	for _, e := range evs {
		list = append(list, &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"t": avS(string(e.Type)), "at": avTime(e.Time.UTC()),
		}})
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), syncSK(syncID)),
		UpdateExpression:    aws.String("SET ev = list_append(if_not_exists(ev, :empty), :new)"),
		ConditionExpression: aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":empty": &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
			":new":   &types.AttributeValueMemberL{Value: list},
		},
	})
	if conditionFailed(err, -1) {
		return domain.Errorf(domain.ENotFound, "sync %q not found", syncID)
	}
	if err != nil {
		return fmt.Errorf("store: record events of %s: %w", syncID, err)
	}
	return nil
}

// eventsFromItem reads a sync item's events list.
func eventsFromItem(it item) []domain.SyncEvent {
	l, ok := it["ev"].(*types.AttributeValueMemberL)
	if !ok {
		return nil
	}
	out := make([]domain.SyncEvent, 0, len(l.Value))
	for _, v := range l.Value {
		m, ok := v.(*types.AttributeValueMemberM)
		if !ok {
			continue
		}
		out = append(out, domain.SyncEvent{Type: domain.EventType(getS(m.Value, "t")), Time: getTime(m.Value, "at")})
	}
	return out
}

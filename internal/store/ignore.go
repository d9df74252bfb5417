package store

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dirsync/internal/domain"
)

// The connection's ignored users live in their own item beside it
// (pk T#<tenant>, sk IGNORED), packed 16 bytes per Entra object id in the
// admin's order: 10,000 ids are 160 KB, where as JSON on the connection
// (and pinned on every sync) they were 390 KB, at DynamoDB's 400 KB item
// limit. Attributes: ids (binary), n (count), ver (bumped by every write).
const ignoredSK = "IGNORED"

// packIDs packs GUID-shaped ids (validated and lower-cased by the API).
func packIDs(ids []string) ([]byte, error) {
	out := make([]byte, 0, 16*len(ids))
	for _, id := range ids {
		raw := strings.ReplaceAll(id, "-", "")
		if len(raw) != 32 {
			return nil, fmt.Errorf("ignored user %q is not a GUID", id)
		}
		var b [16]byte
		if _, err := hex.Decode(b[:], []byte(raw)); err != nil {
			return nil, fmt.Errorf("ignored user %q is not a GUID: %w", id, err)
		}
		out = append(out, b[:]...)
	}
	return out, nil
}

func unpackIDs(b []byte) ([]string, error) {
	if len(b)%16 != 0 {
		return nil, fmt.Errorf("ignored users: %d bytes is not a whole number of ids", len(b))
	}
	ids := make([]string, 0, len(b)/16)
	for i := 0; i < len(b); i += 16 {
		h := hex.EncodeToString(b[i : i+16])
		ids = append(ids, h[0:8]+"-"+h[8:12]+"-"+h[12:16]+"-"+h[16:20]+"-"+h[20:32])
	}
	return ids, nil
}

// ignoredFromItem reads the ignored users item (nil: none ever written).
func ignoredFromItem(it item) ([]string, int64, error) {
	if it == nil {
		return nil, 0, nil
	}
	ids, err := unpackIDs(getB(it, "ids"))
	if err != nil {
		return nil, 0, err
	}
	return ids, getN(it, "ver"), nil
}

// ignoredUpdate sets the ignored users to ids and bumps their version.
func (s *Store) ignoredUpdate(tenant string, ids []string) (*types.Update, error) {
	packed, err := packIDs(ids)
	if err != nil {
		return nil, err
	}
	expr := "SET n = :n, uat = :now, ver = if_not_exists(ver, :zero) + :one"
	values := map[string]types.AttributeValue{
		":n": avN(int64(len(ids))), ":now": avTime(s.now()), ":zero": avN(0), ":one": avN(1),
	}
	if len(packed) == 0 {
		expr += " REMOVE ids"
	} else {
		expr += ", ids = :ids"
		values[":ids"] = avB(packed)
	}
	return &types.Update{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), ignoredSK),
		UpdateExpression: aws.String(expr), ExpressionAttributeValues: values,
	}, nil
}

// idleCheck is the condition that no sync of the tenant is PREVIEWING or
// APPLYING (or that its lock lapsed): a sync pins the connection and its
// ignored users, so they change only between syncs.
func (s *Store) idleCheck(tenant string) *types.ConditionCheck {
	return &types.ConditionCheck{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), lockSK),
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR #until < :now"),
		ExpressionAttributeNames:  map[string]string{"#until": "until"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": avN(s.now().Unix())},
	}
}

// WriteIgnoredUsers replaces the tenant's ignored users with ids if they
// are still at version expect (0: never written), so two concurrent edits
// cannot lose one another: the later is domain.ErrRevisionChanged and
// re-reads. It is a conflict while a sync runs, and not found without a
// connection.
func (s *Store) WriteIgnoredUsers(ctx context.Context, tenant string, ids []string, expect int64) error {
	up, err := s.ignoredUpdate(tenant, ids)
	if err != nil {
		return fmt.Errorf("store: write ignored users: %w", err)
	}
	if expect == 0 {
		up.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		up.ConditionExpression = aws.String("ver = :expect")
		up.ExpressionAttributeValues[":expect"] = avN(expect)
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{ConditionCheck: s.idleCheck(tenant)},
		{ConditionCheck: &types.ConditionCheck{
			TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), connectionSK),
			ConditionExpression: aws.String("attribute_exists(pk)"),
		}},
		{Update: up},
	}})
	switch {
	case conditionFailed(err, 0):
		sid, st := s.lockHolder(ctx, tenant)
		return busyError(sid, st)
	case conditionFailed(err, 1):
		return domain.Errorf(domain.ENotFound, "no Entra ID connection is configured")
	case conditionFailed(err, 2):
		return fmt.Errorf("store: write ignored users: %w", domain.ErrRevisionChanged)
	case err != nil:
		return fmt.Errorf("store: write ignored users: %w", err)
	}
	return nil
}

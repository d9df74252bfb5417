package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// What a re-sync needs to plan from the changes alone (SyncTable):
//
//	pk T#<tenant>  sk VERSION  the directory's version: n, bumped by every
//	                           directory write a sync's apply does not make
//
// The sort key sorts outside CONN..IGNORED, which GetConnection reads as
// one range.
const directoryVersionSK = "VERSION"

// DirectoryVersion is the tenant's directory version: how many directory
// writes other than a sync's apply were begun (0 before the first). An
// apply's writes (userwrite.go, groupwrite.go) are left out: they are
// what the applied sync planned, which its re-sync plans from anyway.
func (s *Store) DirectoryVersion(ctx context.Context, tenant string) (int64, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), directoryVersionSK), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return 0, fmt.Errorf("store: get directory version: %w", err)
	}
	return getN(out.Item, "n"), nil
}

// bumpDirectoryVersion counts a directory write a sync's apply does not
// make. It comes before the write: a bump whose write then fails only
// costs the next re-sync a full plan, while a write made before its bump
// could be missed by a re-sync planned in between.
func (s *Store) bumpDirectoryVersion(ctx context.Context, tenant string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), directoryVersionSK),
		UpdateExpression:          aws.String("ADD n :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": avN(1)},
	})
	if err != nil {
		return fmt.Errorf("store: bump directory version: %w", err)
	}
	return nil
}

package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dirsync/internal/domain"
)

// What a re-sync needs to plan from the changes alone (SyncTable):
//
//	pk T#<tenant>  sk VERSION  the directory's version: n, bumped by every
//	                           directory write a sync's apply does not make
//	               sk BASIS    the plan basis the last cleanly applied sync
//	                           left (domain.PlanBasis)
//
// Both sort keys sort outside CONN..IGNORED, which GetConnection reads as
// one range.
const (
	directoryVersionSK = "VERSION"
	planBasisSK        = "BASIS"
)

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

// SavePlanBasis stores b as the tenant's plan basis, replacing the one
// kept.
func (s *Store) SavePlanBasis(ctx context.Context, tenant string, b domain.PlanBasis) error {
	it := key(tenantPK(tenant), planBasisSK)
	it["sid"], it["dver"], it["oh"], it["at"] = avS(b.SyncID), avN(b.DirectoryVersion), avS(b.OptionsHash), avTime(b.SavedAt)
	bases, err := avJSON(b.Bases)
	if err != nil {
		return fmt.Errorf("store: encode plan basis: %w", err)
	}
	it["sgb"] = bases
	if len(b.LeftActive) > 0 {
		if it["la"], err = avJSON(b.LeftActive); err != nil {
			return fmt.Errorf("store: encode plan basis: %w", err)
		}
	}
	if b.Applying {
		it["apl"] = &types.AttributeValueMemberBOOL{Value: true}
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.syncTable), Item: it}); err != nil {
		return fmt.Errorf("store: put plan basis: %w", err)
	}
	return nil
}

// LoadPlanBasis returns the tenant's plan basis; none is ENotFound.
func (s *Store) LoadPlanBasis(ctx context.Context, tenant string) (*domain.PlanBasis, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), planBasisSK), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("store: get plan basis: %w", err)
	}
	if out.Item == nil {
		return nil, domain.Errorf(domain.ENotFound, "no plan basis for tenant %q", tenant)
	}
	b := &domain.PlanBasis{
		SyncID: getS(out.Item, "sid"), DirectoryVersion: getN(out.Item, "dver"),
		OptionsHash: getS(out.Item, "oh"), SavedAt: getTime(out.Item, "at"), Applying: getBool(out.Item, "apl"),
	}
	for name, v := range map[string]any{"sgb": &b.Bases, "la": &b.LeftActive} {
		if err := getJSON(out.Item, name, v); err != nil {
			return nil, fmt.Errorf("store: plan basis: %w", err)
		}
	}
	return b, nil
}

// DeletePlanBasis removes the tenant's plan basis, if any.
func (s *Store) DeletePlanBasis(ctx context.Context, tenant string) error {
	if _, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), planBasisSK),
	}); err != nil {
		return fmt.Errorf("store: delete plan basis: %w", err)
	}
	return nil
}

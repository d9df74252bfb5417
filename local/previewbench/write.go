package previewbench

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"dirsync/internal/store"
	"dirsync/local/dynamolocal"
)

// batchWriteLimit is DynamoDB's maximum number of requests per BatchWriteItem.
const batchWriteLimit = 25

// maxWriteAttempts bounds the tries of one raw chunk with unprocessed items.
const maxWriteAttempts = 12

// BatchWriter is the DynamoDB call WriteItems makes.
type BatchWriter interface {
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// RawWrite describes a raw bulk write: Items items of ItemBytes bytes each
// under one partition key, the way a plan's items share their sync's
// partition, Concurrency BatchWriteItem calls of 25 at a time.
type RawWrite struct {
	Table       string
	Partition   string
	Items       int
	ItemBytes   int
	Concurrency int
}

// WriteItems puts w.Items items with plain BatchWriteItem calls, retrying
// unprocessed items with backoff. Items are built per call and let go.
func WriteItems(ctx context.Context, db BatchWriter, w RawWrite) error {
	if w.Items <= 0 {
		return nil
	}
	// Every item carries pk, sk ("C#" and ten digits) and d: d makes up the rest.
	padding := strings.Repeat("x", max(0, w.ItemBytes-(len("pk")+len(w.Partition)+len("sk")+12+len("d"))))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, w.Concurrency))
	for start := 0; start < w.Items && gctx.Err() == nil; start += batchWriteLimit {
		g.Go(func() error {
			if err := writeRawChunk(gctx, db, w, padding, start, min(start+batchWriteLimit, w.Items)); err != nil {
				return fmt.Errorf("previewbench: raw write of items %d+: %w", start, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("previewbench: raw write: %w", err)
	}
	return nil
}

func writeRawChunk(ctx context.Context, db BatchWriter, w RawWrite, padding string, from, to int) error {
	reqs := make([]types.WriteRequest, 0, to-from)
	for i := from; i < to; i++ {
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: w.Partition},
			"sk": &types.AttributeValueMemberS{Value: fmt.Sprintf("C#%010d", i+1)},
			"d":  &types.AttributeValueMemberS{Value: padding},
		}}})
	}
	pending := map[string][]types.WriteRequest{w.Table: reqs}
	for attempt := 1; ; attempt++ {
		out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
		if err != nil {
			return err
		}
		if len(out.UnprocessedItems[w.Table]) == 0 {
			return nil
		}
		if attempt == maxWriteAttempts {
			return fmt.Errorf("%d items still unprocessed after %d attempts", len(out.UnprocessedItems[w.Table]), attempt)
		}
		pending = out.UnprocessedItems
		t := time.NewTimer(min(25*time.Millisecond<<attempt, 2*time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// CountPartition counts the items under one partition key of a table.
func CountPartition(ctx context.Context, db store.DynamoAPI, table, partition string) (int, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: partition}},
		Select:                    types.SelectCount,
	}
	n := 0
	for {
		out, err := db.Query(ctx, in)
		if err != nil {
			return 0, fmt.Errorf("previewbench: count %s in %s: %w", partition, table, err)
		}
		n += int(out.Count)
		if len(out.LastEvaluatedKey) == 0 {
			return n, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// Written is what BatchWriteItem calls wrote: items DynamoDB processed, their
// size (ItemSize) and the calls made.
type Written struct {
	Items, Bytes, Calls int64
}

// Sub returns w minus an earlier reading.
func (w Written) Sub(before Written) Written {
	return Written{Items: w.Items - before.Items, Bytes: w.Bytes - before.Bytes, Calls: w.Calls - before.Calls}
}

// CountingDB is a DynamoDB client that counts what BatchWriteItem wrote,
// passing every call through unchanged. It keeps no item, so it does not
// weigh on the memory it helps measure.
type CountingDB struct {
	store.DynamoAPI
	items, bytes, calls atomic.Int64
}

// NewCountingDB wraps db.
func NewCountingDB(db store.DynamoAPI) *CountingDB { return &CountingDB{DynamoAPI: db} }

// BatchWriteItem passes the call on and counts the puts DynamoDB processed.
func (c *CountingDB) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	out, err := c.DynamoAPI.BatchWriteItem(ctx, in, opts...)
	c.calls.Add(1)
	if err != nil {
		return out, err
	}
	items, bytes := putsOf(in.RequestItems)
	leftItems, leftBytes := putsOf(out.UnprocessedItems)
	c.items.Add(items - leftItems)
	c.bytes.Add(bytes - leftBytes)
	return out, nil
}

func putsOf(reqs map[string][]types.WriteRequest) (items, bytes int64) {
	for _, rs := range reqs {
		for _, r := range rs {
			if r.PutRequest != nil {
				items++
				bytes += int64(dynamolocal.ItemSize(r.PutRequest.Item))
			}
		}
	}
	return items, bytes
}

// Written returns the running totals.
func (c *CountingDB) Written() Written {
	return Written{Items: c.items.Load(), Bytes: c.bytes.Load(), Calls: c.calls.Load()}
}

package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"
)

// batchWriteLimit is DynamoDB's maximum number of requests per BatchWriteItem.
const batchWriteLimit = 25

// maxUnprocessedAttempts bounds the retries of unprocessed items before a
// bulk write gives up.
const maxUnprocessedAttempts = 12

// backoff sleeps before retry number attempt (0-based): exponential from
// 25 ms, capped at 2 s, with full jitter.
func backoff(ctx context.Context, attempt int) error {
	d := 25 * time.Millisecond << min(attempt, 7)
	d = min(d, 2*time.Second)
	d = time.Duration(rand.Int64N(int64(d)) + 1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// putAll writes items into table with BatchWriteItem in chunks of 25, up to
// s.WriteConcurrency chunks at a time, retrying unprocessed items with
// backoff. It returns the first error, after every started chunk ended.
func (s *Store) putAll(ctx context.Context, table string, items []item) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, s.WriteConcurrency))
	for start := 0; start < len(items) && gctx.Err() == nil; start += batchWriteLimit {
		g.Go(func() error {
			if err := s.writeChunk(gctx, table, items[start:min(start+batchWriteLimit, len(items))]); err != nil {
				return fmt.Errorf("put batch %d: %w", start/batchWriteLimit, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// putInOrder writes the items produce emits, 25 per BatchWriteItem, one
// request after another, building them only as fast as they are written:
// a shard of a million-change plan never exists as items all at once.
// Callers run several at a time on different partition keys.
func (s *Store) putInOrder(ctx context.Context, table string, produce func(emit func(item) error) error) error {
	chunk := make([]item, 0, batchWriteLimit)
	err := produce(func(it item) error {
		if chunk = append(chunk, it); len(chunk) < batchWriteLimit {
			return nil
		}
		err := s.writeChunk(ctx, table, chunk)
		chunk = chunk[:0]
		return err
	})
	if err == nil && len(chunk) > 0 {
		err = s.writeChunk(ctx, table, chunk)
	}
	if err != nil {
		return err
	}
	return ctx.Err()
}

func (s *Store) writeChunk(ctx context.Context, table string, chunk []item) error {
	return s.writeRequests(ctx, table, putRequests(chunk))
}

// writeRequests makes one BatchWriteItem of up to 25 requests, retrying
// the unprocessed ones with backoff, bounded.
func (s *Store) writeRequests(ctx context.Context, table string, reqs []types.WriteRequest) error {
	pending := map[string][]types.WriteRequest{table: reqs}
	for attempt := 0; ; attempt++ {
		out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
		if err != nil {
			return err
		}
		if len(out.UnprocessedItems) == 0 || len(out.UnprocessedItems[table]) == 0 {
			return nil
		}
		if attempt+1 >= maxUnprocessedAttempts {
			return fmt.Errorf("%d items still unprocessed after %d attempts", len(out.UnprocessedItems[table]), attempt+1)
		}
		pending = out.UnprocessedItems
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// batchGet reads keys (any number, repeats read once; 100 per request,
// unprocessed keys retried) and returns the items found by sort key.
func (s *Store) batchGet(ctx context.Context, table string, keys []item) (map[string]item, error) {
	keys = uniqueKeys(keys) // BatchGetItem refuses a request naming a key twice
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

// uniqueKeys is keys without repeats, in their first order.
func uniqueKeys(keys []item) []item {
	seen := make(map[[2]string]bool, len(keys))
	out := keys[:0:0]
	for _, k := range keys {
		id := [2]string{getS(k, "pk"), getS(k, "sk")}
		if !seen[id] {
			seen[id] = true
			out = append(out, k)
		}
	}
	return out
}

package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
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
	if len(items) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan int)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	workers := max(1, s.WriteConcurrency)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := range chunks {
				end := min(start+batchWriteLimit, len(items))
				if err := s.writeChunk(ctx, table, items[start:end]); err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("put batch %d: %w", start/batchWriteLimit, err); cancel() })
				}
			}
		}()
	}
feed:
	for start := 0; start < len(items); start += batchWriteLimit {
		select {
		case chunks <- start:
		case <-ctx.Done():
			break feed
		}
	}
	close(chunks)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return firstErr
}

// putStream writes the items produce emits, 25 per BatchWriteItem and up to
// s.WriteConcurrency requests at once, building them only as fast as they
// are written: a million-change plan never exists as items all at once.
func (s *Store) putStream(ctx context.Context, table string, produce func(emit func(item) error) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := max(1, s.WriteConcurrency)
	chunks := make(chan []item, workers)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for chunk := range chunks {
				if err := s.writeChunk(ctx, table, chunk); err != nil {
					fail(err)
				}
			}
		}()
	}
	var chunk []item
	n := 0
	emit := func(it item) error {
		chunk = append(chunk, it)
		if len(chunk) < batchWriteLimit {
			return nil
		}
		select {
		case chunks <- chunk:
			n++
			chunk = make([]item, 0, batchWriteLimit)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := produce(emit)
	if err == nil && len(chunk) > 0 {
		select {
		case chunks <- chunk:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	close(chunks)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return err
}

func (s *Store) writeChunk(ctx context.Context, table string, chunk []item) error {
	reqs := make([]types.WriteRequest, len(chunk))
	for i, it := range chunk {
		reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: it}}
	}
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

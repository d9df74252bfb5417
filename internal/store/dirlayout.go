package store

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"
)

// DefaultDirectoryShards is how many partition keys a tenant's directory
// is spread over (docs/data-model.md, "Sharding the directory"): a
// 1,000,000-user first import writes 14.4M units, which one key takes
// four hours to absorb at DynamoDB's 1,000 a second and sixteen keys a
// quarter of an hour.
const DefaultDirectoryShards = 16

// directoryShards is the number of keys the tenants' directories are
// spread over. It is not recorded per tenant: every directory item is
// written and read with the same number, so it must not change once a
// directory holds data.
func (s *Store) directoryShards() int {
	if s.DirectoryShards > 0 {
		return s.DirectoryShards
	}
	return DefaultDirectoryShards
}

// dirShardPK is the partition key of shard d of a tenant's directory.
func dirShardPK(tenant string, d int) string { return "T#" + tenant + "#" + strconv.Itoa(d) }

// dirShardPKs are the partition keys of every shard of a tenant's
// directory, in shard order.
func (s *Store) dirShardPKs(tenant string) []string {
	pks := make([]string, s.directoryShards())
	for d := range pks {
		pks[d] = dirShardPK(tenant, d)
	}
	return pks
}

// shardKeyOf is the part of a directory sort key that chooses its shard:
// a user's id for U# and UG# (a user and its groups stay one key), the
// object id for link claims, the group and user ids together for M# (a
// large group's members spread over every key), and everything after the
// prefix otherwise (the normalized email of E#, the group id of G#).
func shardKeyOf(sk string) string {
	prefix, rest, _ := strings.Cut(sk, "#")
	switch prefix {
	case "UG":
		userID, _, _ := strings.Cut(rest, "#")
		return userID
	case "X", "GX":
		_, objectID, _ := strings.Cut(rest, "#")
		return objectID
	}
	return rest
}

// dirPK is the partition key of directory item sk: the FNV-1a hash of its
// shard key modulo the number of shards, so any reader finds an item from
// its sort key alone.
func (s *Store) dirPK(tenant, sk string) string {
	h := fnv.New32a()
	h.Write([]byte(shardKeyOf(sk)))
	return dirShardPK(tenant, int(h.Sum32()%uint32(s.directoryShards())))
}

// dirKey is the full key of directory item sk.
func (s *Store) dirKey(tenant, sk string) item { return key(s.dirPK(tenant, sk), sk) }

// queryEveryShard runs queryAll for prefix on every shard of the tenant's
// directory in parallel; fn is called with each item and the index of its
// shard, from one goroutine per shard.
func (s *Store) queryEveryShard(ctx context.Context, tenant, prefix string, fn func(shard int, it item)) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.readConcurrency())
	for d, pk := range s.dirShardPKs(tenant) {
		g.Go(func() error {
			return s.queryAll(gctx, s.dirTable, pk, prefix, func(it item) { fn(d, it) })
		})
	}
	return g.Wait()
}

// readConcurrency bounds the parallel queries of one read over the
// directory's shards.
func (s *Store) readConcurrency() int { return min(s.directoryShards(), 16) }

// mergeBySortKey merges lists each sorted by sort key into one sorted
// list.
func mergeBySortKey(lists [][]item, forward bool) []item {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	out := make([]item, 0, n)
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.SortStableFunc(out, func(a, b item) int {
		c := strings.Compare(getS(a, "sk"), getS(b, "sk"))
		if !forward {
			c = -c
		}
		return c
	})
	return out
}

// keyRequests are the write requests of one partition key.
type keyRequests struct {
	pk   string
	reqs []types.WriteRequest
}

// writeDirectoryByKey writes requests to the directory table with
// BatchWriteItem, grouped by partition key: each key's requests go 25 at a
// time, one after another, and up to WriteConcurrency keys are written at
// once, so no key has two requests in flight (as a plan's shards are
// written).
func (s *Store) writeDirectoryByKey(ctx context.Context, reqs []types.WriteRequest) error {
	// A slice per key, not a map of []WriteRequest keyed by partition key:
	// a map of that type is what BatchWriteItem takes keyed by table, and
	// reads so to anyone (and to the IAM analysis) looking for its tables.
	var byKey []keyRequests
	index := map[string]int{}
	for _, r := range reqs {
		var k item
		if r.PutRequest != nil {
			k = r.PutRequest.Item
		} else {
			k = r.DeleteRequest.Key
		}
		pk := getS(k, "pk")
		i, ok := index[pk]
		if !ok {
			i = len(byKey)
			index[pk] = i
			byKey = append(byKey, keyRequests{pk: pk})
		}
		byKey[i].reqs = append(byKey[i].reqs, r)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, s.WriteConcurrency))
	for _, kr := range byKey {
		g.Go(func() error {
			for start := 0; start < len(kr.reqs) && gctx.Err() == nil; start += batchWriteLimit {
				if err := s.writeRequests(gctx, s.dirTable, kr.reqs[start:min(start+batchWriteLimit, len(kr.reqs))]); err != nil {
					return fmt.Errorf("write %s: %w", kr.pk, err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

func putRequests(items []item) []types.WriteRequest {
	reqs := make([]types.WriteRequest, len(items))
	for i, it := range items {
		reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: it}}
	}
	return reqs
}

func deleteRequests(keys []item) []types.WriteRequest {
	reqs := make([]types.WriteRequest, len(keys))
	for i, k := range keys {
		reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}}
	}
	return reqs
}

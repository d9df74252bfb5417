package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// DefaultPlanShardSize is how many consecutive seqs share one partition key
// of a plan's change items (docs/performance.md, "Capacity of a 1M-user
// first import"): a 1,000,000-change plan is a thousand keys, so the plan
// write keeps WriteConcurrency keys busy at once, each well under
// DynamoDB's 1,000 write units per second per key, while a page of
// changes or an apply batch spans at most two keys.
const DefaultPlanShardSize = 1000

// planLayout says under which partition keys a stored plan keeps its
// change and member chunk items. The seqs per shard are recorded on the
// sync item (shs) when the plan is stored, so a plan is always read as it
// was written, whatever the store's PlanShardSize is now.
type planLayout struct {
	tenant, syncID string
	// perShard is the seqs per shard; 0 is a plan stored before plans were
	// sharded, whose items all share the sync's data key.
	perShard int
}

func (l planLayout) shard(seq int) int {
	if l.perShard <= 0 || seq < 1 {
		return 0
	}
	return (seq - 1) / l.perShard
}

// pk is the partition key of change seq and its member chunks.
func (l planLayout) pk(seq int) string {
	if l.perShard <= 0 {
		return syncDataPK(l.tenant, l.syncID)
	}
	return changeShardPK(l.tenant, l.syncID, l.shard(seq))
}

// seqSpan is the part of a seq range that lies in one shard.
type seqSpan struct {
	pk       string
	from, to int
}

// spans cuts the seq range [from, to] at shard boundaries, in seq order:
// one query each.
func (l planLayout) spans(from, to int) []seqSpan {
	if from > to {
		return nil
	}
	if l.perShard <= 0 {
		return []seqSpan{{pk: l.pk(from), from: from, to: to}}
	}
	var out []seqSpan
	for start := from; start <= to; {
		end := min(to, (l.shard(start)+1)*l.perShard)
		out = append(out, seqSpan{pk: l.pk(start), from: start, to: end})
		start = end + 1
	}
	return out
}

// planShardSize is the seqs per shard SavePlan writes a new plan with.
func (s *Store) planShardSize() int {
	if s.PlanShardSize > 0 {
		return s.PlanShardSize
	}
	return DefaultPlanShardSize
}

// planLayout reads how a sync's plan is stored, with the sync's change
// count. A sync that does not exist, or has no plan yet, reads as a plan
// without shards: its reads find nothing, as they always did.
func (s *Store) planLayout(ctx context.Context, tenant, syncID string) (planLayout, int, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), syncSK(syncID)),
		// Consistent: the layout is written with PREVIEW_READY, and a read
		// right after must not take a sharded plan for an unsharded one.
		ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("shs, nchanges"),
	})
	if err != nil {
		return planLayout{}, 0, fmt.Errorf("store: plan layout of %s: %w", syncID, err)
	}
	return layoutFromItem(tenant, syncID, out.Item), int(getN(out.Item, "nchanges")), nil
}

func layoutFromItem(tenant, syncID string, it item) planLayout {
	return planLayout{tenant: tenant, syncID: syncID, perShard: int(getN(it, "shs"))}
}

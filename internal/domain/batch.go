package domain

// MaxApplyBatchesPerType is how many apply batches of one object type one
// apply execution can name: 1,000 ranges of 1,000 batches, the limit of the
// state machine's States.ArrayRange. A plan is batched to fit.
const MaxApplyBatchesPerType = 1000 * 1000

// Default apply batch sizes: changes per batch of each object type.
const (
	DefaultUserBatchSize  = 100
	DefaultGroupBatchSize = 10
)

// Batch is one apply batch: a contiguous seq range of one object type.
type Batch struct {
	Index      int
	ObjectType ObjectType
	From, To   int // inclusive seq range
	Size       int // applicable changes in the range
}

// BatchSizes are the changes per apply batch of each object type; zero
// means the default.
type BatchSizes struct {
	Users, Groups int
}

// CutBatches splits a plan's applicable changes (everything but skips),
// in seq order, into apply batches of one object type each: users first,
// then groups, which apply after users because memberships refer to users
// the plan adds.
//
// A batch size too small for the plan grows so that neither type has more
// than MaxApplyBatchesPerType batches: an apply execution can name no more.
func CutBatches(changes []Change, sizes BatchSizes) []Batch {
	return cutBatches(changes, sizes, MaxApplyBatchesPerType)
}

// cutBatches is CutBatches with the per-type limit as a parameter, so tests
// reach the growth without a million changes.
func cutBatches(changes []Change, sizes BatchSizes, maxPerType int) []Batch {
	userSize, groupSize := sizes.Users, sizes.Groups
	if userSize <= 0 {
		userSize = DefaultUserBatchSize
	}
	if groupSize <= 0 {
		groupSize = DefaultGroupBatchSize
	}
	var users, groups int
	for i := range changes {
		switch c := &changes[i]; {
		case c.Kind == KindSkip:
		case c.ObjectType == ObjectGroup:
			groups++
		default:
			users++
		}
	}
	fit := func(size, n int) int {
		return max(size, (n+maxPerType-1)/maxPerType)
	}
	userSize, groupSize = fit(userSize, users), fit(groupSize, groups)
	var out []Batch
	var cur *Batch
	for i := range changes {
		c := &changes[i]
		if c.Kind == KindSkip {
			continue
		}
		size := userSize
		if c.ObjectType == ObjectGroup {
			size = groupSize
		}
		if cur == nil || cur.ObjectType != c.ObjectType || cur.Size >= size {
			out = append(out, Batch{Index: len(out), ObjectType: c.ObjectType, From: c.Seq})
			cur = &out[len(out)-1]
		}
		cur.To = c.Seq
		cur.Size++
	}
	return out
}

// Package store keeps the platform directory and the sync data in DynamoDB.
// The key design is documented in docs/data-model.md; every item stays far
// below DynamoDB's 400 KB limit and every tenant's data lives under keys
// that carry the tenant id, so no request can reach another tenant's items.
package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dirsync/internal/domain"
)

// DynamoAPI is the part of the DynamoDB client the store uses.
type DynamoAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store reads and writes both tables.
type Store struct {
	db        DynamoAPI
	dirTable  string
	syncTable string
	now       func() time.Time
	// WriteConcurrency bounds parallel BatchWriteItem calls of bulk writes.
	WriteConcurrency int
	// PlanShardSize is how many consecutive seqs of a new plan share one
	// partition key (DefaultPlanShardSize; tests make it small to cross
	// shard boundaries). A stored plan keeps the size it was written with.
	PlanShardSize int
	// DirectoryShards is how many partition keys each tenant's directory
	// is spread over (DefaultDirectoryShards; tests vary it). Items are
	// found by it, so it must not change once a directory holds data.
	DirectoryShards int
	// ApplyMargin is how much time before its deadline an apply invocation
	// stops writing memberships and checkpoints (ErrOutOfTime).
	ApplyMargin time.Duration
	// partMembers is how LoadDirectoryPart reads memberships: by cost,
	// unless a test makes it one way.
	partMembers int
}

// New returns a Store over the two tables.
func New(db DynamoAPI, directoryTable, syncTable string) *Store {
	return &Store{db: db, dirTable: directoryTable, syncTable: syncTable, now: time.Now, WriteConcurrency: 8, PlanShardSize: DefaultPlanShardSize, DirectoryShards: DefaultDirectoryShards, ApplyMargin: 30 * time.Second}
}

// SetClock replaces the store's clock (tests of expiry and timestamps).
func (s *Store) SetClock(now func() time.Time) { s.now = now }

type item = map[string]types.AttributeValue

// Attribute value helpers: the hot paths build items by hand rather than by
// reflection, which matters at a million items.
func avS(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func avN(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
func avBool(b bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: b} }
func avB(b []byte) types.AttributeValue  { return &types.AttributeValueMemberB{Value: b} }
func avTime(t time.Time) types.AttributeValue {
	return avS(t.UTC().Format(time.RFC3339Nano))
}

func getS(it item, k string) string {
	if v, ok := it[k].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(it item, k string) int64 {
	if v, ok := it[k].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

// getB is a binary attribute, nil when absent.
func getB(it item, k string) []byte {
	if v, ok := it[k].(*types.AttributeValueMemberB); ok {
		return v.Value
	}
	return nil
}

func getBool(it item, k string) bool {
	if v, ok := it[k].(*types.AttributeValueMemberBOOL); ok {
		return v.Value
	}
	return false
}

func getTime(it item, k string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, getS(it, k))
	return t
}

func getTimePtr(it item, k string) *time.Time {
	if getS(it, k) == "" {
		return nil
	}
	t := getTime(it, k)
	return &t
}

// putJSON and getJSON keep nested, rarely-queried structures as one string.
func avJSON(v any) (types.AttributeValue, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return avS(string(b)), nil
}

func getJSON(it item, k string, v any) error {
	s := getS(it, k)
	if s == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("decode %s: %w", k, err)
	}
	return nil
}

func key(pk, sk string) item { return item{"pk": avS(pk), "sk": avS(sk)} }

// cursor is the opaque paging token: the sort key to continue after. The
// partition comes from the caller's tenant, never from the cursor, so a
// forged cursor can at most move within the caller's own data.
type cursor struct {
	SK string `json:"k"`
}

func encodeCursor(sk string) string {
	b, _ := json.Marshal(cursor{SK: sk})
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor returns the sort key of a cursor, which must carry prefix.
func decodeCursor(c, prefix string) (string, error) {
	if c == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(raw) > 1024 {
		return "", domain.Errorf(domain.EInvalid, "cursor: malformed")
	}
	var cur cursor
	if err := json.Unmarshal(raw, &cur); err != nil || !strings.HasPrefix(cur.SK, prefix) {
		return "", domain.Errorf(domain.EInvalid, "cursor: malformed")
	}
	return cur.SK, nil
}

// failedConditions returns the errors of the writes of err whose condition
// failed, joined, or nil when none did. conds[i] is what write i's
// condition failing means (nil: it has none); a write outside a
// transaction is write 0.
func failedConditions(err error, conds []error) error {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return conds[0]
	}
	var failed []error
	for i, c := range conds {
		if c != nil && conditionFailed(err, i) {
			failed = append(failed, c)
		}
	}
	return errors.Join(failed...)
}

// conditionFailed reports whether err is a failed condition, plain or as
// the reason of a cancelled transaction item (index -1: any item).
func conditionFailed(err error, index int) bool {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return true
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for i, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) == "ConditionalCheckFailed" && (index < 0 || index == i) {
				return true
			}
		}
	}
	return false
}

// onlyConditionFailedAt reports whether err is a cancelled transaction whose
// only failing item is the one at index, on its condition.
func onlyConditionFailedAt(err error, index int) bool {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) || index >= len(tce.CancellationReasons) {
		return false
	}
	for i, r := range tce.CancellationReasons {
		code := aws.ToString(r.Code)
		if i == index && code != "ConditionalCheckFailed" {
			return false
		}
		if i != index && code != "" && code != "None" {
			return false
		}
	}
	return true
}

// versionCondition holds a write to the sync item's plan version (ver,
// bound as :ver). A plan stored before versions were kept has none: it is
// at version 0.
func versionCondition(v int64) string {
	if v == 0 {
		return "(attribute_not_exists(ver) OR ver = :ver)"
	}
	return "ver = :ver"
}

package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"golang.org/x/sync/errgroup"

	"dirsync/internal/domain"
)

// The source mirror (domain.SourceMirror) is kept in the SyncTable as one
// gzip'd gob stream cut into chunks, each chunk an item of its own
// partition key, so that writing a million users' mirror (tens of MB) is
// spread over many partitions instead of one key's 1,000 WCU/s:
//
//	pk T#<tenant>                 sk MIRROR  the pointer: id, chunk count, bytes, SHA-256, when read
//	pk R#<tenant>#<id>#<n:05>     sk R       chunk n of mirror <id>: b (binary)
//
// A new mirror's chunks are written first, then the pointer is flipped to
// it; chunks and pointer expire MirrorRetention after they were
// written (ttl), so the chunks of a mirror the pointer left, or of one never
// finished, are removed by DynamoDB's TTL. A mirror with a chunk missing or
// a checksum that does not match reads as domain.ErrNoMirror: the next
// preview reads the tenant in full.
const (
	mirrorSK      = "MIRROR"
	mirrorChunkSK = "R"
	// mirrorChunkBytes keeps a chunk item under DynamoDB's 400 KB.
	mirrorChunkBytes = 350 << 10
	// MirrorRetention is how long a mirror is kept after it was written:
	// a tenant not synced for longer is read in full next time.
	MirrorRetention = 30 * 24 * time.Hour
)

func mirrorChunkPK(tenant, id string, n int) string {
	return fmt.Sprintf("R#%s#%s#%05d", tenant, id, n)
}

// SaveMirror stores m as the tenant's mirror, replacing the one kept.
func (s *Store) SaveMirror(ctx context.Context, tenant string, m *domain.SourceMirror) error {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := gob.NewEncoder(zw).Encode(m); err != nil {
		return fmt.Errorf("store: encode mirror: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("store: encode mirror: %w", err)
	}
	data := buf.Bytes()
	sum := sha256.Sum256(data)
	now := s.now().UTC()
	id := domain.NewID(now)
	expires := avN(now.Add(MirrorRetention).Unix())
	chunks := (len(data) + mirrorChunkBytes - 1) / mirrorChunkBytes

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, s.WriteConcurrency))
	for n := range chunks {
		part := data[n*mirrorChunkBytes : min(len(data), (n+1)*mirrorChunkBytes)]
		g.Go(func() error {
			it := key(mirrorChunkPK(tenant, id, n), mirrorChunkSK)
			it["b"], it["ttl"] = avB(part), expires
			if _, err := s.db.PutItem(gctx, &dynamodb.PutItemInput{TableName: aws.String(s.syncTable), Item: it}); err != nil {
				return fmt.Errorf("store: put mirror chunk %d of %d: %w", n, chunks, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	ptr := key(tenantPK(tenant), mirrorSK)
	ptr["id"], ptr["chunks"], ptr["bytes"] = avS(id), avN(int64(chunks)), avN(int64(len(data)))
	ptr["sum"], ptr["at"], ptr["ttl"] = avS(hex.EncodeToString(sum[:])), avTime(now), expires
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.syncTable), Item: ptr}); err != nil {
		return fmt.Errorf("store: put mirror pointer: %w", err)
	}
	return nil
}

// LoadMirror returns the tenant's mirror, or domain.ErrNoMirror when none
// is kept whole.
func (s *Store) LoadMirror(ctx context.Context, tenant string) (*domain.SourceMirror, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.syncTable), Key: key(tenantPK(tenant), mirrorSK), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("store: get mirror pointer: %w", err)
	}
	if out.Item == nil || getN(out.Item, "ttl") < s.now().Unix() {
		return nil, domain.ErrNoMirror // TTL deletes late: an expired item still reads
	}
	id, chunks, size := getS(out.Item, "id"), int(getN(out.Item, "chunks")), getN(out.Item, "bytes")
	parts := make([][]byte, chunks)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, s.WriteConcurrency))
	for n := range chunks {
		g.Go(func() error {
			c, err := s.db.GetItem(gctx, &dynamodb.GetItemInput{
				TableName: aws.String(s.syncTable), Key: key(mirrorChunkPK(tenant, id, n), mirrorChunkSK), ConsistentRead: aws.Bool(true),
			})
			if err != nil {
				return fmt.Errorf("store: get mirror chunk %d of %d: %w", n, chunks, err)
			}
			if parts[n] = getB(c.Item, "b"); parts[n] == nil {
				return fmt.Errorf("%w: chunk %d of %d is missing", domain.ErrNoMirror, n, chunks)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	data := bytes.Join(parts, nil)
	sum := sha256.Sum256(data)
	if int64(len(data)) != size || hex.EncodeToString(sum[:]) != getS(out.Item, "sum") {
		return nil, fmt.Errorf("%w: its %d chunks do not match their checksum", domain.ErrNoMirror, chunks)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("store: decode mirror: %w", err)
	}
	m := new(domain.SourceMirror)
	if err := gob.NewDecoder(zr).Decode(m); err != nil {
		return nil, fmt.Errorf("store: decode mirror: %w", err)
	}
	if _, err := io.Copy(io.Discard, zr); err != nil { // reads the gzip trailer: its CRC
		return nil, fmt.Errorf("store: decode mirror: %w", err)
	}
	return m, nil
}

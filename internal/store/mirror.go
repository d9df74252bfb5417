package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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

// mirrorFormat names the encoding of the chunks: a gob stream of a
// mirrorHeader, then the users and then the groups in slices of at most
// mirrorBatch, so neither writing nor reading a million users' mirror
// holds its whole encoding at once. A mirror of another format reads as
// domain.ErrNoMirror (a full read), not as an error.
const (
	mirrorFormat = 2
	mirrorBatch  = 10_000
)

// mirrorHeader is what a mirror holds besides its users and groups.
type mirrorHeader struct {
	DirectoryTenantID string
	UserProperties    []string
	DeltaLinks        domain.DeltaLinks
	FullReadAt        time.Time
	Basis             string
	Round             string
	ChangedSince      string
	Changed           []string
	Users, Groups     int
}

// SaveMirror stores m as the tenant's mirror, replacing the one kept. The
// encoding is compressed and cut into chunk items as it is produced, at
// most WriteConcurrency chunks in flight, so what it holds at once is a few
// chunks, not the mirror's encoding.
func (s *Store) SaveMirror(ctx context.Context, tenant string, m *domain.SourceMirror) error {
	now := s.now().UTC()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, s.WriteConcurrency))
	w := &chunkWriter{ctx: gctx, g: g, s: s, tenant: tenant, id: domain.NewID(now), expires: avN(now.Add(MirrorRetention).Unix()), hash: sha256.New()}
	err := encodeMirror(w, m)
	if err == nil {
		w.flush()
	}
	if werr := g.Wait(); werr != nil {
		return werr
	}
	if err != nil {
		return fmt.Errorf("store: encode mirror: %w", err)
	}
	ptr := key(tenantPK(tenant), mirrorSK)
	ptr["id"], ptr["chunks"], ptr["bytes"], ptr["fmt"] = avS(w.id), avN(int64(w.chunks)), avN(w.size), avN(mirrorFormat)
	ptr["sum"], ptr["at"], ptr["ttl"] = avS(hex.EncodeToString(w.hash.Sum(nil))), avTime(now), w.expires
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.syncTable), Item: ptr}); err != nil {
		return fmt.Errorf("store: put mirror pointer: %w", err)
	}
	return nil
}

func encodeMirror(w io.Writer, m *domain.SourceMirror) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	enc := gob.NewEncoder(zw)
	if err := enc.Encode(mirrorHeader{
		DirectoryTenantID: m.DirectoryTenantID, UserProperties: m.UserProperties, DeltaLinks: m.DeltaLinks,
		FullReadAt: m.FullReadAt, Basis: m.Basis, Round: m.Round, ChangedSince: m.ChangedSince, Changed: m.Changed,
		Users: len(m.Users), Groups: len(m.Groups),
	}); err != nil {
		return err
	}
	for part := range slices.Chunk(m.Users, mirrorBatch) {
		if err := enc.Encode(part); err != nil {
			return err
		}
	}
	for part := range slices.Chunk(m.Groups, mirrorBatch) {
		if err := enc.Encode(part); err != nil {
			return err
		}
	}
	return zw.Close()
}

// chunkWriter cuts what is written to it into chunk items of
// mirrorChunkBytes, put as they fill on g, and hashes it all.
type chunkWriter struct {
	ctx     context.Context
	g       *errgroup.Group
	s       *Store
	tenant  string
	id      string
	expires types.AttributeValue
	hash    hash.Hash
	buf     []byte
	chunks  int
	size    int64
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err // a chunk failed: g.Wait tells why
	}
	w.hash.Write(p)
	w.size += int64(len(p))
	w.buf = append(w.buf, p...)
	for len(w.buf) >= mirrorChunkBytes {
		w.put(w.buf[:mirrorChunkBytes])
		w.buf = append([]byte(nil), w.buf[mirrorChunkBytes:]...)
	}
	return len(p), nil
}

// flush puts what is left, a last chunk shorter than the others.
func (w *chunkWriter) flush() {
	if len(w.buf) > 0 {
		w.put(w.buf)
		w.buf = nil
	}
}

func (w *chunkWriter) put(part []byte) {
	n := w.chunks
	w.chunks++
	w.g.Go(func() error {
		it := key(mirrorChunkPK(w.tenant, w.id, n), mirrorChunkSK)
		it["b"], it["ttl"] = avB(part), w.expires
		if _, err := w.s.db.PutItem(w.ctx, &dynamodb.PutItemInput{TableName: aws.String(w.s.syncTable), Item: it}); err != nil {
			return fmt.Errorf("store: put mirror chunk %d: %w", n, err)
		}
		return nil
	})
}

// LoadMirror returns the tenant's mirror, or domain.ErrNoMirror when none
// is kept whole (or one of another format).
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
	if f := getN(out.Item, "fmt"); f != mirrorFormat {
		return nil, fmt.Errorf("%w: it is of format %d, not %d", domain.ErrNoMirror, f, mirrorFormat)
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
	h := sha256.New()
	var total int64
	for _, p := range parts {
		h.Write(p)
		total += int64(len(p))
	}
	if total != size || hex.EncodeToString(h.Sum(nil)) != getS(out.Item, "sum") {
		return nil, fmt.Errorf("%w: its %d chunks do not match their checksum", domain.ErrNoMirror, chunks)
	}
	readers := make([]io.Reader, len(parts))
	for i, p := range parts {
		readers[i] = bytes.NewReader(p)
	}
	m, err := decodeMirror(io.MultiReader(readers...))
	if err != nil {
		// Whole and checksummed, yet not decodable: written by another
		// version of the code. A full read replaces it.
		return nil, fmt.Errorf("%w: it cannot be decoded: %v", domain.ErrNoMirror, err)
	}
	return m, nil
}

func decodeMirror(r io.Reader) (*domain.SourceMirror, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	dec := gob.NewDecoder(zr)
	var h mirrorHeader
	if err := dec.Decode(&h); err != nil {
		return nil, err
	}
	m := &domain.SourceMirror{
		DirectoryTenantID: h.DirectoryTenantID, UserProperties: h.UserProperties, DeltaLinks: h.DeltaLinks,
		FullReadAt: h.FullReadAt, Basis: h.Basis, Round: h.Round, ChangedSince: h.ChangedSince, Changed: h.Changed,
		Users: make([]domain.SourceUser, 0, h.Users), Groups: make([]domain.DirectGroup, 0, h.Groups),
	}
	for len(m.Users) < h.Users {
		var part []domain.SourceUser
		if err := dec.Decode(&part); err != nil {
			return nil, err
		}
		m.Users = append(m.Users, part...)
	}
	for len(m.Groups) < h.Groups {
		var part []domain.DirectGroup
		if err := dec.Decode(&part); err != nil {
			return nil, err
		}
		m.Groups = append(m.Groups, part...)
	}
	if len(m.Users) != h.Users || len(m.Groups) != h.Groups {
		return nil, fmt.Errorf("%d users and %d groups where the header says %d and %d", len(m.Users), len(m.Groups), h.Users, h.Groups)
	}
	if _, err := io.Copy(io.Discard, zr); err != nil { // reads the gzip trailer: its CRC
		return nil, err
	}
	return m, nil
}

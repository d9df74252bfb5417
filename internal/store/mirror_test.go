package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"dirsync/internal/domain"
)

// sampleMirror is a mirror of n users that compresses poorly (distinct
// values), so a few thousand users take several chunks.
func sampleMirror(n int, at time.Time) *domain.SourceMirror {
	m := &domain.SourceMirror{FullReadAt: at.UTC().Truncate(time.Second), Basis: domain.MirrorBasis("dir-1", []string{"displayName", "jobTitle"}),
		DirectoryTenantID: "dir-1", UserProperties: []string{"displayName", "jobTitle"},
		DeltaLinks: domain.DeltaLinks{Users: "https://graph.example/v1.0/users/delta()?$deltatoken=u", Groups: "https://graph.example/v1.0/groups/delta()?$deltatoken=g"},
		Round:      "sync-2", ChangedSince: "sync-1", Changed: []string{"u-1", "u-2"}}
	for i := range n {
		m.Users = append(m.Users, domain.SourceUser{
			ID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i*2654435761, i), UserPrincipalName: fmt.Sprintf("u%d@contoso.com", i),
			Mail: fmt.Sprintf("u%d@contoso.com", i), AccountEnabled: i%25 != 3, Guest: i%50 == 7,
			Values: []string{fmt.Sprintf("User %x", i*40503), fmt.Sprintf("Title %x", i*7919)},
		})
	}
	m.Groups = []domain.DirectGroup{
		{ID: "g-1", DisplayName: "All", UserIDs: []string{m.Users[0].ID}, GroupIDs: []string{"g-2"}},
		{ID: "g-2", DisplayName: "Nested", Description: "inside All", UserIDs: []string{m.Users[len(m.Users)-1].ID}},
	}
	return m
}

func TestMirrorRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	now := time.Now()
	s.SetClock(func() time.Time { return now })

	if _, err := s.LoadMirror(ctx, "acme"); !errors.Is(err, domain.ErrNoMirror) {
		t.Fatalf("LoadMirror before any: %v, want ErrNoMirror", err)
	}
	for _, n := range []int{0, 1, 20_000} {
		want := sampleMirror(max(n, 1), now)
		want.Users = want.Users[:n]
		if err := s.SaveMirror(ctx, "acme", want); err != nil {
			t.Fatal(err)
		}
		got, err := s.LoadMirror(ctx, "acme")
		if err != nil {
			t.Fatalf("%d users: %v", n, err)
		}
		if !reflect.DeepEqual(got, want) && !(n == 0 && len(got.Users) == 0) {
			t.Fatalf("%d users: the mirror read back differs", n)
		}
	}
	ptr, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.syncTable), Key: key(tenantPK("acme"), mirrorSK)})
	if err != nil {
		t.Fatal(err)
	}
	if chunks := getN(ptr.Item, "chunks"); chunks < 2 {
		t.Fatalf("20,000 users took %d chunk(s): the test does not cross a chunk boundary", chunks)
	}
	if _, err := s.LoadMirror(ctx, "other"); !errors.Is(err, domain.ErrNoMirror) {
		t.Fatalf("another tenant's mirror: %v, want ErrNoMirror", err)
	}

	t.Run("a chunk missing", func(t *testing.T) {
		id := getS(ptr.Item, "id")
		if _, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.syncTable), Key: key(mirrorChunkPK("acme", id, 1), mirrorChunkSK)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LoadMirror(ctx, "acme"); !errors.Is(err, domain.ErrNoMirror) {
			t.Fatalf("LoadMirror with a chunk missing: %v, want ErrNoMirror", err)
		}
	})
	t.Run("a chunk altered", func(t *testing.T) {
		if err := s.SaveMirror(ctx, "acme", sampleMirror(20_000, now)); err != nil {
			t.Fatal(err)
		}
		p, _ := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.syncTable), Key: key(tenantPK("acme"), mirrorSK)})
		k := key(mirrorChunkPK("acme", getS(p.Item, "id"), 0), mirrorChunkSK)
		c, _ := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.syncTable), Key: k})
		b := getB(c.Item, "b")
		b[len(b)/2] ^= 0xff
		c.Item["b"] = avB(b)
		if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.syncTable), Item: c.Item}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LoadMirror(ctx, "acme"); !errors.Is(err, domain.ErrNoMirror) {
			t.Fatalf("LoadMirror with a chunk altered: %v, want ErrNoMirror", err)
		}
	})
	t.Run("of another format", func(t *testing.T) {
		if err := s.SaveMirror(ctx, "acme", sampleMirror(10, now)); err != nil {
			t.Fatal(err)
		}
		p, _ := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.syncTable), Key: key(tenantPK("acme"), mirrorSK)})
		p.Item["fmt"] = avN(1)
		if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.syncTable), Item: p.Item}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LoadMirror(ctx, "acme"); !errors.Is(err, domain.ErrNoMirror) {
			t.Fatalf("LoadMirror of format 1: %v, want ErrNoMirror", err)
		}
	})
	t.Run("whole but not decodable", func(t *testing.T) {
		// A checksummed gzip stream that is not a mirror's gob stream.
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_ = gob.NewEncoder(zw).Encode(sampleMirror(10, now)) // the format before mirrorFormat 2
		_ = zw.Close()
		sum := sha256.Sum256(buf.Bytes())
		id := "undecodable"
		c := key(mirrorChunkPK("acme", id, 0), mirrorChunkSK)
		c["b"] = avB(buf.Bytes())
		ptr := key(tenantPK("acme"), mirrorSK)
		ptr["id"], ptr["chunks"], ptr["bytes"], ptr["fmt"] = avS(id), avN(1), avN(int64(buf.Len())), avN(mirrorFormat)
		ptr["sum"], ptr["ttl"] = avS(hex.EncodeToString(sum[:])), avN(now.Add(time.Hour).Unix())
		for _, it := range []item{c, ptr} {
			if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.syncTable), Item: it}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.LoadMirror(ctx, "acme"); !errors.Is(err, domain.ErrNoMirror) {
			t.Fatalf("LoadMirror of an undecodable stream: %v, want ErrNoMirror", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		if err := s.SaveMirror(ctx, "acme", sampleMirror(10, now)); err != nil {
			t.Fatal(err)
		}
		later := now.Add(MirrorRetention + time.Minute)
		s.SetClock(func() time.Time { return later })
		defer s.SetClock(func() time.Time { return now })
		if _, err := s.LoadMirror(ctx, "acme"); !errors.Is(err, domain.ErrNoMirror) {
			t.Fatalf("LoadMirror past its retention: %v, want ErrNoMirror", err)
		}
	})
}

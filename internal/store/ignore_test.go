package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"dirsync/internal/domain"
)

func ignoredIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-0000-4000-8000-%012x", n-i, i) // not in sorted order
	}
	return ids
}

// TestIgnoredUsersStoredApart: the list, at its 10,000, is read back
// whole and in order, kept by a connection replaced without it, pinned by
// version on a sync (whose item does not carry it), and edited only at the
// version the editor read and only between syncs.
func TestIgnoredUsersStoredApart(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	ids := ignoredIDs(domain.MaxIgnoredUsers)
	conn := &domain.Connection{TenantID: "acme", DirectoryTenantID: "dir-1", ClientID: "app-1", Options: domain.Options{IncludeGuests: true, IgnoredUsers: ids}}

	if err := s.WriteIgnoredUsers(ctx, "acme", ids[:1], 0); domain.ErrorCode(err) != domain.ENotFound {
		t.Fatalf("edit without a connection: %v, want not found", err)
	}
	if err := s.PutConnection(ctx, conn, true); err != nil {
		t.Fatal(err)
	}
	read := func() *domain.Connection {
		t.Helper()
		got, err := s.GetConnection(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := read()
	if !slices.Equal(got.Options.IgnoredUsers, ids) || got.IgnoreVersion != 1 || !got.Options.IncludeGuests {
		t.Fatalf("read back %d ignored users at version %d, want %d at 1", len(got.Options.IgnoredUsers), got.IgnoreVersion, len(ids))
	}

	// The connection item itself stays small.
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.syncTable), Key: key(tenantPK("acme"), connectionSK)})
	if err != nil {
		t.Fatal(err)
	}
	if opts := getS(out.Item, "opts"); len(opts) > 1000 {
		t.Fatalf("the connection's options are %d bytes: the list is stored on it", len(opts))
	}

	replaced := &domain.Connection{TenantID: "acme", DirectoryTenantID: "dir-1", ClientID: "app-2"}
	if err := s.PutConnection(ctx, replaced, false); err != nil {
		t.Fatal(err)
	}
	if got := read(); got.ClientID != "app-2" || !slices.Equal(got.Options.IgnoredUsers, ids) || got.IgnoreVersion != 1 {
		t.Fatalf("after a replace without the list: client %s, %d ignored at version %d", got.ClientID, len(got.Options.IgnoredUsers), got.IgnoreVersion)
	}

	if err := s.WriteIgnoredUsers(ctx, "acme", ids[1:], 0); !errors.Is(err, domain.ErrRevisionChanged) {
		t.Fatalf("edit at a stale version: %v, want ErrRevisionChanged", err)
	}
	if err := s.WriteIgnoredUsers(ctx, "acme", ids[1:], 1); err != nil {
		t.Fatal(err)
	}
	got = read()
	if !slices.Equal(got.Options.IgnoredUsers, ids[1:]) || got.IgnoreVersion != 2 {
		t.Fatalf("after the edit: %d ignored at version %d", len(got.Options.IgnoredUsers), got.IgnoreVersion)
	}

	sy := newSync("acme", time.Now())
	sy.PinConnection(got)
	if err := s.CreateSync(ctx, sy, time.Minute); err != nil {
		t.Fatal(err)
	}
	pinned, err := s.GetSync(ctx, "acme", sy.ID)
	if err != nil {
		t.Fatal(err)
	}
	if pinned.IgnoreVersion != 2 || pinned.IgnoredUserCount != len(ids)-1 || len(pinned.Options.IgnoredUsers) != 0 {
		t.Fatalf("sync pinned version %d, count %d, and carries %d ids", pinned.IgnoreVersion, pinned.IgnoredUserCount, len(pinned.Options.IgnoredUsers))
	}
	if err := s.WriteIgnoredUsers(ctx, "acme", ids, 2); domain.ErrorCode(err) != domain.EConflict {
		t.Fatalf("edit while a sync previews: %v, want conflict", err)
	}

	// An empty list is stored as none.
	if err := s.ReleaseLock(ctx, "acme", sy.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteIgnoredUsers(ctx, "acme", nil, 2); err != nil {
		t.Fatal(err)
	}
	if got := read(); len(got.Options.IgnoredUsers) != 0 || got.IgnoreVersion != 3 {
		t.Fatalf("after emptying: %d ignored at version %d", len(got.Options.IgnoredUsers), got.IgnoreVersion)
	}
}

// A connection saved when the list was part of its options reads with that
// list (version 0) until the list is first written to its own item.
func TestIgnoredUsersOfAnOlderConnection(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	ids := ignoredIDs(3)
	it := key(tenantPK("acme"), connectionSK)
	opts, _ := avJSON(domain.Options{IgnoredUsers: ids})
	it["dtid"], it["cid"], it["opts"] = avS("dir-1"), avS("app-1"), opts
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.syncTable), Item: it}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetConnection(ctx, "acme")
	if err != nil || !slices.Equal(got.Options.IgnoredUsers, ids) || got.IgnoreVersion != 0 {
		t.Fatalf("older connection read %+v, %v", got, err)
	}
	if err := s.WriteIgnoredUsers(ctx, "acme", ids[:1], 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetConnection(ctx, "acme"); !slices.Equal(got.Options.IgnoredUsers, ids[:1]) || got.IgnoreVersion != 1 {
		t.Fatalf("after the first write: %v at version %d", got.Options.IgnoredUsers, got.IgnoreVersion)
	}
}

func TestPackIDs(t *testing.T) {
	ids := []string{"00000000-0000-0000-0000-000000000000", "ffffffff-ffff-4fff-bfff-ffffffffffff", "1a0ed000-5017-4e17-9a00-00000000beef"}
	b, err := packIDs(ids)
	if err != nil || len(b) != 16*len(ids) {
		t.Fatalf("packed %d bytes, %v", len(b), err)
	}
	back, err := unpackIDs(b)
	if err != nil || !slices.Equal(back, ids) {
		t.Fatalf("unpacked %v, %v", back, err)
	}
	for _, bad := range []string{"bob@acme.test", "1a0ed000-5017-4e17-9a00-00000000beeg", "1a0ed000"} {
		if _, err := packIDs([]string{bad}); err == nil {
			t.Errorf("packIDs(%q) took it", bad)
		}
	}
	if _, err := unpackIDs(make([]byte, 17)); err == nil {
		t.Error("unpackIDs took 17 bytes")
	}
}

package store

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"dirsync/internal/domain"
)

// The directory's write primitives report each failed condition with its
// own error and write nothing; what that means for a change is apply's.

// seedLinked is a tenant holding ada (linked to x-ada) and bob (manual).
func seedLinked(t *testing.T, s *Store, tenant string) (ada, bob *domain.User) {
	t.Helper()
	users := []domain.User{
		{PlatformUser: domain.PlatformUser{Email: "ada@example.com", Source: domain.SourceEntra, ExternalID: "x-ada", ExternalTenantID: "dir-1"}},
		{PlatformUser: domain.PlatformUser{Email: "bob@example.com"}},
	}
	if err := s.SeedUsers(context.Background(), tenant, users); err != nil {
		t.Fatal(err)
	}
	return &users[0], &users[1]
}

func newUser(id, email, externalID string) domain.UserWrite {
	return domain.UserWrite{
		User: domain.User{PlatformUser: domain.PlatformUser{ID: id, Email: email, Status: domain.StatusActive,
			Source: domain.SourceEntra, ExternalID: externalID, ExternalTenantID: "dir-1"}},
		Marker: "sync#1", Create: true, ClaimLink: true,
	}
}

func TestWriteUserConditions(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	replace := func(u *domain.User, edit func(w *domain.UserWrite)) domain.UserWrite {
		w := domain.UserWrite{User: *u, Marker: "sync#2", ExpectedRevision: u.Revision, PreviousEmail: u.Email}
		edit(&w)
		return w
	}
	tests := []struct {
		name  string
		write func(ada, bob *domain.User) domain.UserWrite
		want  []error // every condition error the write returns
	}{
		{"a create with free keys", func(_, _ *domain.User) domain.UserWrite { return newUser("u-new", "new@example.com", "x-new") }, nil},
		{"a create whose id is taken", func(ada, _ *domain.User) domain.UserWrite { return newUser(ada.ID, "new@example.com", "x-new") },
			[]error{domain.ErrExists}},
		{"a create whose email is claimed, in another spelling", func(_, _ *domain.User) domain.UserWrite { return newUser("u-new", "ADA@example.com", "x-new") },
			[]error{domain.ErrEmailClaimed}},
		{"a create whose link is claimed", func(_, _ *domain.User) domain.UserWrite { return newUser("u-new", "new@example.com", "x-ada") },
			[]error{domain.ErrLinkClaimed}},
		{"a create where every key is taken", func(_, bob *domain.User) domain.UserWrite { return newUser(bob.ID, "ada@example.com", "x-ada") },
			[]error{domain.ErrExists, domain.ErrEmailClaimed, domain.ErrLinkClaimed}},
		{"a replace at the revision", func(_, bob *domain.User) domain.UserWrite {
			return replace(bob, func(w *domain.UserWrite) { w.User.Status = domain.StatusInactive })
		}, nil},
		{"a replace at another revision", func(_, bob *domain.User) domain.UserWrite {
			return replace(bob, func(w *domain.UserWrite) { w.ExpectedRevision++ })
		}, []error{domain.ErrRevisionChanged}},
		{"a replace moving the email onto a claimed one", func(_, bob *domain.User) domain.UserWrite {
			return replace(bob, func(w *domain.UserWrite) { w.User.Email = "Ada@Example.com" })
		}, []error{domain.ErrEmailClaimed}},
		{"a replace respelling its own email keeps the claim", func(_, bob *domain.User) domain.UserWrite {
			return replace(bob, func(w *domain.UserWrite) { w.User.Email = "BOB@example.com" })
		}, nil},
		{"a replace claiming a claimed link", func(_, bob *domain.User) domain.UserWrite {
			return replace(bob, func(w *domain.UserWrite) {
				w.User.ExternalID, w.User.ExternalTenantID, w.ClaimLink = "x-ada", "dir-1", true
			})
		}, []error{domain.ErrLinkClaimed}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tenant := fmt.Sprintf("write%d", i)
			ada, bob := seedLinked(t, s, tenant)
			w := tc.write(ada, bob)
			err := s.WriteUser(ctx, tenant, w)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("WriteUser: %v", err)
				}
				got, marker, err := s.ReadUser(ctx, tenant, w.User.ID)
				if err != nil || got.Revision != w.ExpectedRevision+1 || got.Email != w.User.Email || marker != w.Marker {
					t.Fatalf("after the write: %+v (marker %q), %v", got, marker, err)
				}
				return
			}
			for _, want := range append(tc.want, domain.ErrConditionFailed) {
				if !errors.Is(err, want) {
					t.Errorf("WriteUser: %v, want %v", err, want)
				}
			}
			for _, other := range []error{domain.ErrExists, domain.ErrRevisionChanged, domain.ErrEmailClaimed, domain.ErrLinkClaimed} {
				if errors.Is(err, other) && !errors.Is(errors.Join(tc.want...), other) {
					t.Errorf("WriteUser: %v, which is not %v", err, other)
				}
			}
			// Nothing of a refused write is written.
			if got, _, _ := s.ReadUser(ctx, tenant, bob.ID); got.Revision != bob.Revision || got.Email != bob.Email {
				t.Fatalf("bob after a refused write: %+v", got)
			}
			if _, err := s.CreateUser(ctx, tenant, domain.NewUser{Email: "new@example.com"}); err != nil {
				t.Fatalf("the refused write claimed new@example.com: %v", err)
			}
		})
	}
}

func TestCreateUsersLeavesARefusedTransactionUnwritten(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	seedLinked(t, s, "acme")
	var ws []domain.UserWrite
	for i := range 30 { // two transactions: 25 and 5
		ws = append(ws, newUser(fmt.Sprintf("u-%02d", i), fmt.Sprintf("new%02d@example.com", i), fmt.Sprintf("x-%02d", i)))
	}
	ws[27].User.Email = "bob@example.com" // refuses the second transaction
	written, err := s.CreateUsers(ctx, "acme", ws)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range written {
		if w != (i < 25) {
			t.Errorf("user %d written %v, want %v", i, w, i < 25)
		}
		if u, _, err := s.ReadUser(ctx, "acme", ws[i].User.ID); err != nil || (u != nil) != (i < 25) {
			t.Errorf("user %d read back %+v, %v", i, u, err)
		}
	}
	if _, err := s.CreateUsers(ctx, "acme", []domain.UserWrite{{User: ws[0].User}}); err == nil {
		t.Fatal("CreateUsers took a write that is not a create")
	}
}

func TestReadUserKeyHolders(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	ada, bob := seedLinked(t, s, "acme")
	if err := s.WriteUser(ctx, "acme", newUser("u-new", "new@example.com", "x-new")); err != nil {
		t.Fatal(err)
	}
	users := []domain.PlatformUser{
		{ID: "u-free", Email: "free@example.com", ExternalID: "x-free", ExternalTenantID: "dir-1"},
		{ID: "u-new", Email: "new@example.com", ExternalID: "x-new", ExternalTenantID: "dir-1"},
		{ID: "u-other", Email: "Bob@example.com", ExternalID: "x-ada", ExternalTenantID: "dir-1"},
		// Two users naming one claim key (the same email in another case,
		// the same link) are one key to read: BatchGetItem refuses a
		// request that names a key twice.
		{ID: "u-twin", Email: "BOB@example.com", ExternalID: "x-ada", ExternalTenantID: "dir-1"},
	}
	got, err := s.ReadUserKeyHolders(ctx, "acme", users)
	if err != nil {
		t.Fatal(err)
	}
	want := []domain.UserKeyHolders{
		{},
		{UserExists: true, Marker: "sync#1", EmailHolder: "u-new", LinkHolder: "u-new"},
		{EmailHolder: bob.ID, LinkHolder: ada.ID},
		{EmailHolder: bob.ID, LinkHolder: ada.ID},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s: %+v, want %+v", users[i].ID, got[i], want[i])
		}
	}
}

func TestWriteGroupConditions(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	group := func(id, externalID string) domain.Group {
		return domain.Group{ID: id, DisplayName: "Staff", Source: domain.SourceEntra, ExternalID: externalID, ExternalTenantID: "dir-1"}
	}
	create := func(g domain.Group, marker string) domain.GroupWrite {
		return domain.GroupWrite{Group: g, Marker: marker, Create: true}
	}
	for _, g := range []domain.Group{group("g-1", "x-g1"), group("g-2", "x-g2")} {
		if err := s.WriteGroup(ctx, "acme", create(g, "sync#1")); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		write domain.GroupWrite
		want  []error
	}{
		{"a create retried under its own marker", create(group("g-1", "x-g1"), "sync#1"), nil},
		{"a create whose id another change wrote", create(group("g-1", "x-g9"), "sync#2"), []error{domain.ErrExists}},
		{"a create whose link is claimed", create(group("g-3", "x-g1"), "sync#2"), []error{domain.ErrLinkClaimed}},
		{"a create where both are taken", create(group("g-1", "x-g2"), "sync#2"), []error{domain.ErrExists, domain.ErrLinkClaimed}},
		{"a replace at another revision", domain.GroupWrite{Group: group("g-1", "x-g1"), Marker: "sync#2", ExpectedRevision: 7}, []error{domain.ErrRevisionChanged}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.WriteGroup(ctx, "acme", tc.write)
			if tc.want == nil && err != nil {
				t.Fatalf("WriteGroup: %v", err)
			}
			for _, want := range tc.want {
				if !errors.Is(err, want) || !errors.Is(err, domain.ErrConditionFailed) {
					t.Errorf("WriteGroup: %v, want %v", err, want)
				}
			}
			if g, marker, err := s.ReadGroup(ctx, "acme", "g-1"); err != nil || g.Revision != 1 || marker != "sync#1" {
				t.Fatalf("g-1 after the write: %+v (marker %q), %v", g, marker, err)
			}
		})
	}
}

func TestReadMarkers(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	_, bob := seedLinked(t, s, "acme")
	if err := s.WriteUser(ctx, "acme", newUser("u-new", "new@example.com", "x-new")); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteGroup(ctx, "acme", domain.GroupWrite{Group: domain.Group{ID: "g-1", ExternalID: "x-g1", ExternalTenantID: "dir-1"}, Marker: "sync#3", Create: true}); err != nil {
		t.Fatal(err)
	}
	user := func(id string) domain.ObjectRef { return domain.ObjectRef{Type: domain.ObjectUser, ID: id} }
	group := func(id string) domain.ObjectRef { return domain.ObjectRef{Type: domain.ObjectGroup, ID: id} }
	got, err := s.ReadMarkers(ctx, "acme", []domain.ObjectRef{user("u-new"), user(bob.ID), user("u-gone"), group("g-1"), group("u-new")})
	if err != nil {
		t.Fatal(err)
	}
	want := map[domain.ObjectRef]string{user("u-new"): "sync#1", user(bob.ID): "", group("g-1"): "sync#3"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ReadMarkers = %v, want %v", got, want)
	}
}

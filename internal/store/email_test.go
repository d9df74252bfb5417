package store

import (
	"context"
	"fmt"
	"testing"

	"dirsync/internal/domain"
)

// One email identity (DESIGN.md section 3): claims are keyed, and moved,
// by domain.NormalizeEmail, so two users never hold one normalized email
// and a look-alike is another address.

const (
	eveNFC = "\u00e9ve@example.com"  // é precomposed
	eveNFD = "e\u0301ve@example.com" // e + combining acute: the same address
)

func mustCreate(t *testing.T, s *Store, tenant, email string) *domain.User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), tenant, domain.NewUser{Email: email})
	if err != nil {
		t.Fatalf("create %q: %v", email, err)
	}
	return u
}

func TestEmailClaimIsTheNormalizedEmail(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	tests := []struct {
		first, second string
		taken         bool
	}{
		{"Bob@example.com", "bob@example.com", true},
		{"bob@example.com", "BOB@EXAMPLE.COM", true},
		{eveNFC, eveNFD, true},
		{eveNFD, "\u00e9VE@Example.com", true},
		{"\u212Aate@example.com", "kate@example.com", true}, // Kelvin sign: canonically K
		{"sam@example.com", "\u017Fam@example.com", false},  // long s
		{"ipek@example.com", "\u0130pek@example.com", false},
		{"ipek@example.com", "\u0131pek@example.com", false},
		{"ada@example.com", "\uFF21da@example.com", false}, // fullwidth A
		{"\u00e9ve@example.com", "\u00c9ve@example.com", false},
		{"strasse@example.com", "stra\u00dfe@example.com", false},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprintf("%+q then %+q", tc.first, tc.second), func(t *testing.T) {
			tenant := fmt.Sprintf("claims%d", i)
			mustCreate(t, s, tenant, tc.first)
			_, err := s.CreateUser(ctx, tenant, domain.NewUser{Email: tc.second})
			if tc.taken {
				wantCode(t, err, domain.EConflict)
			} else if err != nil {
				t.Fatalf("create %q next to %q: %v", tc.second, tc.first, err)
			}
		})
	}
}

func TestUpdateUserMovesTheNormalizedClaim(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	tests := []struct {
		name     string
		from, to string
		// free may be created by another user afterwards; taken may not.
		free, taken []string
	}{
		{
			name: "a rename to the long s moves the claim",
			from: "sam@example.com", to: "\u017Fam@example.com",
			free: []string{"SAM@example.com"}, taken: []string{"\u017Fam@example.com", "\u017FAM@EXAMPLE.COM"},
		},
		{
			name: "a rename to the dotted capital I is no clash with oneself",
			from: "ipek@example.com", to: "\u0130pek@example.com",
			free: []string{"ipek@example.com"}, taken: []string{"\u0130pek@example.com", "\u0130PEK@example.com"},
		},
		{
			name: "a respelling of the same address keeps the claim",
			from: eveNFC, to: eveNFD,
			taken: []string{eveNFC, eveNFD, "\u00e9ve@EXAMPLE.com"},
		},
		{
			name: "a change of ASCII case keeps the claim",
			from: "Bob@example.com", to: "bob@Example.COM",
			taken: []string{"BOB@example.com"},
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tenant := fmt.Sprintf("rename%d", i)
			u := mustCreate(t, s, tenant, tc.from)
			up, err := s.UpdateUser(ctx, tenant, u.ID, domain.UserPatch{Email: &tc.to})
			if err != nil {
				t.Fatalf("rename %q to %q: %v", tc.from, tc.to, err)
			}
			if up.Email != tc.to {
				t.Fatalf("email = %q, want %q", up.Email, tc.to)
			}
			for _, e := range tc.taken {
				_, err := s.CreateUser(ctx, tenant, domain.NewUser{Email: e})
				wantCode(t, err, domain.EConflict)
			}
			for _, e := range tc.free {
				mustCreate(t, s, tenant, e)
			}
		})
	}

	t.Run("moving onto a spelling of another user's email conflicts", func(t *testing.T) {
		mustCreate(t, s, "onto", eveNFC)
		u := mustCreate(t, s, "onto", "other@example.com")
		to := eveNFD
		_, err := s.UpdateUser(ctx, "onto", u.ID, domain.UserPatch{Email: &to})
		wantCode(t, err, domain.EConflict)
	})
}

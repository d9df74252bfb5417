package store

import (
	"context"
	"fmt"
	"strings"
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
	u, err := s.CreateUser(context.Background(), tenant, NewUser{Email: email})
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
			_, err := s.CreateUser(ctx, tenant, NewUser{Email: tc.second})
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
			up, err := s.UpdateUser(ctx, tenant, u.ID, UserPatch{Email: &tc.to})
			if err != nil {
				t.Fatalf("rename %q to %q: %v", tc.from, tc.to, err)
			}
			if up.Email != tc.to {
				t.Fatalf("email = %q, want %q", up.Email, tc.to)
			}
			for _, e := range tc.taken {
				_, err := s.CreateUser(ctx, tenant, NewUser{Email: e})
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
		_, err := s.UpdateUser(ctx, "onto", u.ID, UserPatch{Email: &to})
		wantCode(t, err, domain.EConflict)
	})
}

// applyFixture is a tenant whose users were created by hand, and an apply
// context for a sync of it.
func applyFixture(t *testing.T, tenant, confirmedBy string) (*Store, *ApplyContext) {
	t.Helper()
	return newTestStore(t), &ApplyContext{Tenant: tenant, SyncID: "0000000000sync", Directory: "dir-1", ConfirmedBy: confirmedBy}
}

func emailChange(seq int, u *domain.User, to string) *domain.Change {
	return &domain.Change{
		Seq: seq, ObjectType: domain.ObjectUser, Kind: domain.KindUpdate, TargetID: u.ID, BaseRevision: u.Revision,
		Subject: domain.Subject{Email: to},
		Fields:  []domain.FieldChange{{Name: domain.EmailAttribute, Before: u.Email, After: to}},
	}
}

func wantOutcome(t *testing.T, o Outcome, err error, result, reason string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if o.Result != result || !strings.Contains(o.Reason, reason) {
		t.Fatalf("outcome = %+v, want %s (%q)", o, result, reason)
	}
}

func TestApplyMovesTheNormalizedClaim(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		from, to    string
		free, taken []string
	}{
		{"to the long s", "sam@example.com", "\u017Fam@example.com", []string{"Sam@example.com"}, []string{"\u017Fam@example.com"}},
		{"to the dotted capital I", "ipek@example.com", "\u0130pek@example.com", []string{"ipek@example.com"}, []string{"\u0130pek@example.com"}},
		{"to another spelling", eveNFC, eveNFD, nil, []string{eveNFC, eveNFD}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, a := applyFixture(t, "acme", "")
			u := mustCreate(t, s, "acme", tc.from)
			o, err := s.ApplyUserChange(ctx, a, emailChange(1, u, tc.to))
			wantOutcome(t, o, err, domain.OutcomeApplied, "")
			got, err := s.GetUser(ctx, "acme", u.ID)
			if err != nil || got.Email != tc.to {
				t.Fatalf("user after apply = %+v, %v; want email %q", got, err, tc.to)
			}
			for _, e := range tc.taken {
				_, err := s.CreateUser(ctx, "acme", NewUser{Email: e})
				wantCode(t, err, domain.EConflict)
			}
			for _, e := range tc.free {
				mustCreate(t, s, "acme", e)
			}
		})
	}

	t.Run("onto a spelling of another user's email is a conflict", func(t *testing.T) {
		s, a := applyFixture(t, "acme", "")
		mustCreate(t, s, "acme", eveNFC)
		u := mustCreate(t, s, "acme", "other@example.com")
		o, err := s.ApplyUserChange(ctx, a, emailChange(1, u, eveNFD))
		wantOutcome(t, o, err, domain.OutcomeConflict, "is now used by another platform user")
	})
}

func TestApplyAddsClaimTheNormalizedEmail(t *testing.T) {
	ctx := context.Background()
	add := func(seq int, email string) *domain.Change {
		return &domain.Change{
			Seq: seq, ObjectType: domain.ObjectUser, Kind: domain.KindAdd,
			Subject:    domain.Subject{ExternalID: fmt.Sprintf("00000000-0000-4000-8000-%012d", seq), Email: email},
			Attributes: domain.Attrs{{Name: domain.EmailAttribute, Value: email}},
		}
	}
	s, a := applyFixture(t, "acme", "")
	mustCreate(t, s, "acme", eveNFC)
	mustCreate(t, s, "acme", "sam@example.com")

	outcomes, err := s.ApplyUserAdds(ctx, a, []*domain.Change{add(1, eveNFD), add(2, "\u017Fam@example.com"), add(3, "SAM@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{1: domain.OutcomeConflict, 2: domain.OutcomeApplied, 3: domain.OutcomeConflict}
	if len(outcomes) != len(want) {
		t.Fatalf("outcomes = %+v", outcomes)
	}
	for _, o := range outcomes {
		if o.Result != want[o.Seq] {
			t.Errorf("change %d: outcome %+v, want %s", o.Seq, o, want[o.Seq])
		}
	}

	o, err := s.ApplyUserChange(ctx, a, add(4, "\u00e9VE@example.com"))
	wantOutcome(t, o, err, domain.OutcomeConflict, "is now used by another platform user")
}

func TestApplyNeverDeactivatesTheConfirmingAdmin(t *testing.T) {
	ctx := context.Background()
	deactivate := func(u *domain.User) *domain.Change {
		return &domain.Change{Seq: 1, ObjectType: domain.ObjectUser, Kind: domain.KindDeactivate, TargetID: u.ID,
			BaseRevision: u.Revision, Subject: domain.Subject{Email: u.Email},
			Fields: []domain.FieldChange{{Name: "status", Before: "active", After: "inactive"}}}
	}
	tests := []struct {
		name, user, confirmedBy string
		result                  string
	}{
		{"the admin in ASCII case and spaces", "admin@example.com", " Admin@Example.COM ", domain.OutcomeConflict},
		{"the admin in another canonical spelling", eveNFD, eveNFC, domain.OutcomeConflict},
		{"a look-alike of the admin is deactivated", "sam@example.com", "\u017Fam@example.com", domain.OutcomeApplied},
		{"a non-ASCII capital is another address", eveNFC, "\u00c9ve@example.com", domain.OutcomeApplied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, a := applyFixture(t, "acme", tc.confirmedBy)
			u := mustCreate(t, s, "acme", tc.user)
			o, err := s.ApplyUserChange(ctx, a, deactivate(u))
			reason := ""
			if tc.result == domain.OutcomeConflict {
				reason = "the admin who confirmed the sync is never deactivated"
			}
			wantOutcome(t, o, err, tc.result, reason)
			got, err := s.GetUser(ctx, "acme", u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if wantStatus := map[string]domain.UserStatus{domain.OutcomeConflict: domain.StatusActive, domain.OutcomeApplied: domain.StatusInactive}[tc.result]; got.Status != wantStatus {
				t.Fatalf("status = %s, want %s", got.Status, wantStatus)
			}
		})
	}
}

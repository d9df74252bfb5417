package apply

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"dirsync/internal/domain"
	"dirsync/internal/store"
	"dirsync/local/dynamolocal/dynamotest"
)

// One email identity (DESIGN.md section 3) as apply keeps it: the claims
// its writes take and move are keyed by domain.NormalizeEmail, and the
// confirming admin is recognised by it.

const (
	eveNFC = "\u00e9ve@example.com"  // é precomposed
	eveNFD = "e\u0301ve@example.com" // e + combining acute: the same address
)

// applyFixture is a tenant whose users were created by hand, and an
// applier for a sync of it.
func applyFixture(t *testing.T, tenant, confirmedBy string) (*store.Store, *applier) {
	t.Helper()
	names := dynamotest.Tables(t)
	s := store.New(dynamotest.Client, names["DirectoryTable"], names["SyncTable"])
	return s, &applier{dir: s, ac: applyContext{Tenant: tenant, SyncID: "0000000000sync", Directory: "dir-1", ConfirmedBy: confirmedBy}}
}

func mustCreate(t *testing.T, s *store.Store, tenant, email string) *domain.User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), tenant, domain.NewUser{Email: email})
	if err != nil {
		t.Fatalf("create %q: %v", email, err)
	}
	return u
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := domain.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func emailChange(seq int, u *domain.User, to string) *domain.Change {
	return &domain.Change{
		Seq: seq, ObjectType: domain.ObjectUser, Kind: domain.KindUpdate, TargetID: u.ID, BaseRevision: u.Revision,
		Subject: domain.Subject{Email: to},
		Fields:  []domain.FieldChange{{Name: domain.EmailAttribute, Before: u.Email, After: to}},
	}
}

func wantOutcome(t *testing.T, o domain.Outcome, err error, result, reason string) {
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
			s, ap := applyFixture(t, "acme", "")
			u := mustCreate(t, s, "acme", tc.from)
			o, err := ap.applyUserChange(ctx, emailChange(1, u, tc.to))
			wantOutcome(t, o, err, domain.OutcomeApplied, "")
			got, err := s.GetUser(ctx, "acme", u.ID)
			if err != nil || got.Email != tc.to {
				t.Fatalf("user after apply = %+v, %v; want email %q", got, err, tc.to)
			}
			for _, e := range tc.taken {
				_, err := s.CreateUser(ctx, "acme", domain.NewUser{Email: e})
				wantCode(t, err, domain.EConflict)
			}
			for _, e := range tc.free {
				mustCreate(t, s, "acme", e)
			}
		})
	}

	t.Run("onto a spelling of another user's email is a conflict", func(t *testing.T) {
		s, ap := applyFixture(t, "acme", "")
		mustCreate(t, s, "acme", eveNFC)
		u := mustCreate(t, s, "acme", "other@example.com")
		o, err := ap.applyUserChange(ctx, emailChange(1, u, eveNFD))
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
	s, ap := applyFixture(t, "acme", "")
	mustCreate(t, s, "acme", eveNFC)
	mustCreate(t, s, "acme", "sam@example.com")

	outcomes, err := ap.applyUserAdds(ctx, []*domain.Change{add(1, eveNFD), add(2, "\u017Fam@example.com"), add(3, "SAM@example.com")})
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

	o, err := ap.applyUserChange(ctx, add(4, "\u00e9VE@example.com"))
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
			s, ap := applyFixture(t, "acme", tc.confirmedBy)
			u := mustCreate(t, s, "acme", tc.user)
			o, err := ap.applyUserChange(ctx, deactivate(u))
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

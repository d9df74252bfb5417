package store

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"dirsync/internal/domain"
)

// Every directory write but a sync's apply counts in the directory
// version, once, before it writes: a write refused on a condition still
// counts, one that never begins does not.
func TestDirectoryVersion(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	if v, err := s.DirectoryVersion(ctx, "acme"); err != nil || v != 0 {
		t.Fatalf("version before any write: %d, %v; want 0", v, err)
	}
	name := "Renamed"
	tests := []struct {
		name  string
		write func(tenant string, ada *domain.User) error
		bumps int64
	}{
		{"CreateUser", func(tenant string, _ *domain.User) error {
			_, err := s.CreateUser(ctx, tenant, domain.NewUser{Email: "bob@example.com"})
			return err
		}, 1},
		{"CreateUser refused on its email", func(tenant string, _ *domain.User) error {
			_, err := s.CreateUser(ctx, tenant, domain.NewUser{Email: "ADA@example.com"})
			if domain.ErrorCode(err) != domain.EConflict {
				return fmt.Errorf("create with a taken email: %v, want a conflict", err)
			}
			return nil
		}, 1},
		{"UpdateUser", func(tenant string, ada *domain.User) error {
			_, err := s.UpdateUser(ctx, tenant, ada.ID, domain.UserPatch{Attributes: map[string]string{"jobTitle": "Countess"}})
			return err
		}, 1},
		{"UpdateUser of a missing user", func(tenant string, _ *domain.User) error {
			_, err := s.UpdateUser(ctx, tenant, "nobody", domain.UserPatch{Attributes: map[string]string{"jobTitle": "x"}})
			if domain.ErrorCode(err) != domain.ENotFound {
				return fmt.Errorf("update of a missing user: %v, want not found", err)
			}
			return nil
		}, 0},
		{"SeedUsers", func(tenant string, _ *domain.User) error {
			return s.SeedUsers(ctx, tenant, []domain.User{{PlatformUser: domain.PlatformUser{ID: "u2", Email: "u2@example.com"}}})
		}, 1},
		{"SeedGroup", func(tenant string, ada *domain.User) error {
			return s.SeedGroup(ctx, tenant, domain.Group{ID: "g2", DisplayName: "Two"}, []string{ada.ID})
		}, 1},
		{"WriteUser (apply)", func(tenant string, _ *domain.User) error {
			return s.WriteUser(ctx, tenant, newUser("u3", "u3@example.com", "x-3"))
		}, 0},
		{"CreateUsers (apply)", func(tenant string, _ *domain.User) error {
			_, err := s.CreateUsers(ctx, tenant, []domain.UserWrite{newUser("u4", "u4@example.com", "x-4")})
			return err
		}, 0},
		{"WriteGroup (apply)", func(tenant string, _ *domain.User) error {
			return s.WriteGroup(ctx, tenant, domain.GroupWrite{Create: true, Marker: "sync#1",
				Group: domain.Group{ID: "g3", DisplayName: "Three", Source: domain.SourceEntra, ExternalID: "xg-3", ExternalTenantID: "dir-1"}})
		}, 0},
		{"WriteMemberships (apply)", func(tenant string, ada *domain.User) error {
			_, err := s.WriteMemberships(ctx, tenant, domain.MembershipWrite{SyncID: "sync", Seq: 1, GroupID: "g1", GroupName: "One",
				Directory: "dir-1", Removed: []domain.MemberRef{{UserID: ada.ID}}})
			return err
		}, 0},
		{"RenameMemberships (apply)", func(tenant string, _ *domain.User) error {
			return s.RenameMemberships(ctx, tenant, "g1", name)
		}, 0},
		{"DeleteGroup (apply)", func(tenant string, _ *domain.User) error {
			g, _, err := s.ReadGroup(ctx, tenant, "g1")
			if err != nil {
				return err
			}
			return s.DeleteGroup(ctx, tenant, g)
		}, 0},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tenant := fmt.Sprintf("t%d", i)
			ada, err := s.CreateUser(ctx, tenant, domain.NewUser{Email: "ada@example.com"})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SeedGroup(ctx, tenant, domain.Group{ID: "g1", DisplayName: "One"}, []string{ada.ID}); err != nil {
				t.Fatal(err)
			}
			before, err := s.DirectoryVersion(ctx, tenant)
			if err != nil || before != 2 {
				t.Fatalf("version after a create and a seed: %d, %v; want 2", before, err)
			}
			if err := tc.write(tenant, ada); err != nil {
				t.Fatal(err)
			}
			after, err := s.DirectoryVersion(ctx, tenant)
			if err != nil {
				t.Fatal(err)
			}
			if after-before != tc.bumps {
				t.Fatalf("version went from %d to %d, want %d more", before, after, tc.bumps)
			}
		})
	}
	if v, err := s.DirectoryVersion(ctx, "acme"); err != nil || v != 0 {
		t.Fatalf("version of a tenant never written: %d, %v; want 0", v, err)
	}
}

func TestPlanBasis(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	saved := time.Date(2026, 12, 2, 16, 30, 0, 123456789, time.UTC)
	first := domain.PlanBasis{SyncID: "sync-1", DirectoryVersion: 7, OptionsHash: "h1",
		Bases: domain.SafeguardBases{ActiveLinked: 1000, OwnedGroups: 12, HeldMemberships: 34567}, SavedAt: saved}
	second := domain.PlanBasis{SyncID: "sync-2", OptionsHash: "h2", SavedAt: saved.Add(time.Hour), LeftActive: []string{"a", "b"}, Applying: true}

	wantNone := func(t *testing.T, tenant string) {
		t.Helper()
		b, err := s.LoadPlanBasis(ctx, tenant)
		if b != nil {
			t.Fatalf("LoadPlanBasis(%s) = %+v, want none", tenant, b)
		}
		wantCode(t, err, domain.ENotFound)
	}
	wantBasis := func(t *testing.T, tenant string, want domain.PlanBasis) {
		t.Helper()
		got, err := s.LoadPlanBasis(ctx, tenant)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Fatalf("LoadPlanBasis(%s) = %+v, want %+v", tenant, *got, want)
		}
	}
	steps := []struct {
		name string
		do   func(t *testing.T)
	}{
		{"none before any", func(t *testing.T) { wantNone(t, "acme") }},
		{"delete when none", func(t *testing.T) {
			if err := s.DeletePlanBasis(ctx, "acme"); err != nil {
				t.Fatal(err)
			}
			wantNone(t, "acme")
		}},
		{"round trip", func(t *testing.T) {
			if err := s.SavePlanBasis(ctx, "acme", first); err != nil {
				t.Fatal(err)
			}
			wantBasis(t, "acme", first)
			wantNone(t, "other")
		}},
		{"a save replaces the basis", func(t *testing.T) {
			if err := s.SavePlanBasis(ctx, "acme", second); err != nil {
				t.Fatal(err)
			}
			wantBasis(t, "acme", second)
		}},
		{"delete", func(t *testing.T) {
			if err := s.SavePlanBasis(ctx, "other", first); err != nil {
				t.Fatal(err)
			}
			if err := s.DeletePlanBasis(ctx, "acme"); err != nil {
				t.Fatal(err)
			}
			wantNone(t, "acme")
			wantBasis(t, "other", first)
		}},
		{"outside the connection's range", func(t *testing.T) {
			// GetConnection reads CONN..IGNORED as one range, which must
			// hold nothing else.
			for _, sk := range []string{planBasisSK, directoryVersionSK} {
				if sk >= connectionSK && sk <= ignoredSK {
					t.Errorf("%s sorts between %s and %s", sk, connectionSK, ignoredSK)
				}
			}
		}},
	}
	for _, st := range steps {
		if !t.Run(st.name, st.do) {
			return
		}
	}
}

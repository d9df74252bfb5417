package store

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dirsync/internal/domain"
	"dirsync/local/dynamolocal/dynamotest"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m)) }

// newTestStore creates fresh tables from template.yaml for one test.
func newTestStore(t testing.TB) *Store {
	t.Helper()
	names := dynamotest.Tables(t)
	return New(dynamotest.Client, names["DirectoryTable"], names["SyncTable"])
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := domain.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func TestUsersCreateGetUpdate(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	u, err := s.CreateUser(ctx, "acme", domain.NewUser{Email: "Ada@Example.com", Attributes: domain.Attrs{{Name: "displayName", Value: "Ada Lovelace"}}})
	if err != nil {
		t.Fatal(err)
	}
	if u.Revision != 1 || u.Source != domain.SourceManual || u.Status != domain.StatusActive {
		t.Fatalf("created user = %+v", u)
	}
	got, err := s.GetUser(ctx, "acme", u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Email != "Ada@Example.com" || got.Attributes[0].Value != "Ada Lovelace" {
		t.Fatalf("got %+v", got)
	}

	t.Run("another tenant's user is not found", func(t *testing.T) {
		_, err := s.GetUser(ctx, "other", u.ID)
		wantCode(t, err, domain.ENotFound)
	})
	t.Run("email is unique case-insensitively", func(t *testing.T) {
		_, err := s.CreateUser(ctx, "acme", domain.NewUser{Email: "ada@example.COM"})
		wantCode(t, err, domain.EConflict)
	})
	t.Run("same email in another tenant is fine", func(t *testing.T) {
		if _, err := s.CreateUser(ctx, "other", domain.NewUser{Email: "ada@example.com"}); err != nil {
			t.Fatal(err)
		}
	})

	title := "Countess"
	newEmail := "ada@lovelace.org"
	up, err := s.UpdateUser(ctx, "acme", u.ID, domain.UserPatch{Email: &newEmail, Attributes: map[string]string{"jobTitle": title}})
	if err != nil {
		t.Fatal(err)
	}
	if up.Revision != 2 || up.Email != newEmail {
		t.Fatalf("updated = %+v", up)
	}
	if v, _ := up.Attributes.Get("jobTitle"); v != title {
		t.Fatalf("jobTitle = %q", v)
	}
	t.Run("old email is free after a change", func(t *testing.T) {
		if _, err := s.CreateUser(ctx, "acme", domain.NewUser{Email: "ada@example.com"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("moving to a taken email conflicts and changes nothing", func(t *testing.T) {
		taken := "ADA@example.com"
		_, err := s.UpdateUser(ctx, "acme", u.ID, domain.UserPatch{Email: &taken})
		wantCode(t, err, domain.EConflict)
		again, _ := s.GetUser(ctx, "acme", u.ID)
		if again.Email != newEmail || again.Revision != 2 {
			t.Fatalf("user changed by a failed update: %+v", again)
		}
	})
	t.Run("stale revision conflicts", func(t *testing.T) {
		rev := int64(1)
		_, err := s.UpdateUser(ctx, "acme", u.ID, domain.UserPatch{Attributes: map[string]string{"x": "y"}, IfRevision: &rev})
		wantCode(t, err, domain.EConflict)
	})
}

func TestListUsersPagingAndFilters(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	inactive := domain.StatusInactive
	for i := 0; i < 23; i++ {
		u, err := s.CreateUser(ctx, "acme", domain.NewUser{Email: fmt.Sprintf("user%02d@example.com", i),
			Attributes: domain.Attrs{{Name: "displayName", Value: fmt.Sprintf("Person %02d", i)}}})
		if err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			if _, err := s.UpdateUser(ctx, "acme", u.ID, domain.UserPatch{Status: &inactive}); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name   string
		filter domain.UserFilter
		limit  int
		want   int
		pages  int
	}{
		{"all in pages of 10", domain.UserFilter{}, 10, 23, 3},
		{"exact multiple", domain.UserFilter{}, 23, 23, 1},
		{"inactive only", domain.UserFilter{Status: domain.StatusInactive}, 2, 5, 3},
		{"text on display name", domain.UserFilter{Q: "person 1"}, 100, 10, 1},
		{"text on email, case-insensitive", domain.UserFilter{Q: "USER2"}, 100, 3, 1}, // user20..22
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[string]bool{}
			cursor, pages := "", 0
			for {
				users, next, err := s.ListUsers(ctx, "acme", tt.filter, domain.Page{Limit: tt.limit, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				pages++
				for _, u := range users {
					if seen[u.ID] {
						t.Fatalf("user %s listed twice", u.ID)
					}
					seen[u.ID] = true
				}
				if next == "" {
					break
				}
				cursor = next
			}
			if len(seen) != tt.want || pages != tt.pages {
				t.Fatalf("got %d users in %d pages, want %d in %d", len(seen), pages, tt.want, tt.pages)
			}
		})
	}
	t.Run("malformed and foreign cursors are rejected", func(t *testing.T) {
		for _, c := range []string{"!!!", "bm90LWpzb24", encodeCursor("S#x"), encodeCursor("G#x")} {
			_, _, err := s.ListUsers(ctx, "acme", domain.UserFilter{}, domain.Page{Limit: 10, Cursor: c})
			wantCode(t, err, domain.EInvalid)
		}
	})
}

func newSync(tenant string, now time.Time) *domain.Sync {
	return &domain.Sync{ID: domain.NewID(now), TenantID: tenant, DirectoryTenantID: "dir-1", Status: domain.SyncPreviewing,
		CreatedAt: now, CreatedBy: "admin@example.com", UpdatedAt: now}
}

func TestOneActiveSyncPerTenant(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	now := time.Now()

	var wg sync.WaitGroup
	var ok, conflicts atomic.Int32
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.CreateSync(ctx, newSync("acme", now), time.Hour)
			switch domain.ErrorCode(err) {
			case "":
				ok.Add(1)
			case domain.EConflict:
				conflicts.Add(1)
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || conflicts.Load() != 9 {
		t.Fatalf("%d created, %d conflicts; want 1 and 9", ok.Load(), conflicts.Load())
	}
	if err := s.CreateSync(ctx, newSync("other", now), time.Hour); err != nil {
		t.Fatalf("another tenant is blocked: %v", err)
	}

	syncs, _, err := s.ListSyncs(ctx, "acme", domain.Page{Limit: 10})
	if err != nil || len(syncs) != 1 {
		t.Fatalf("ListSyncs = %d, %v", len(syncs), err)
	}
	if err := s.FailPreview(ctx, domain.Lease{Tenant: "acme", SyncID: syncs[0].ID}, domain.SyncError{Code: domain.SyncErrSourceRead, Message: "page 2: 500"}); err != nil {
		t.Fatal(err)
	}
	failed, _ := s.GetSync(ctx, "acme", syncs[0].ID)
	if failed.Status != domain.SyncPreviewFailed || failed.Error == nil || failed.Error.Code != domain.SyncErrSourceRead {
		t.Fatalf("failed sync = %+v", failed)
	}
	if err := s.CreateSync(ctx, newSync("acme", now.Add(time.Millisecond)), time.Hour); err != nil {
		t.Fatalf("lock not released by FailPreview: %v", err)
	}

	t.Run("a lapsed lock does not block", func(t *testing.T) {
		s.SetClock(func() time.Time { return now.Add(2 * time.Hour) })
		defer s.SetClock(time.Now)
		if err := s.CreateSync(ctx, newSync("acme", now.Add(2*time.Hour)), time.Hour); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("newest first", func(t *testing.T) {
		syncs, _, err := s.ListSyncs(ctx, "acme", domain.Page{Limit: 10})
		if err != nil || len(syncs) != 3 {
			t.Fatalf("ListSyncs = %d, %v", len(syncs), err)
		}
		for i := 1; i < len(syncs); i++ {
			if syncs[i].CreatedAt.After(syncs[i-1].CreatedAt) {
				t.Fatalf("not newest first: %v", syncs)
			}
		}
	})
	t.Run("another tenant's sync is not found", func(t *testing.T) {
		_, err := s.GetSync(ctx, "other", syncs[0].ID)
		wantCode(t, err, domain.ENotFound)
	})
}

func samplePlan(users, groupMembers int) *domain.Plan {
	p := &domain.Plan{Safeguards: []domain.Safeguard{{Name: domain.SafeguardDeactivationPercent, Limit: 20}}, Warnings: []string{"w"}}
	add := func(c domain.Change) {
		c.Seq = len(p.Changes) + 1
		p.Changes = append(p.Changes, c)
	}
	for i := 0; i < users; i++ {
		add(domain.Change{ObjectType: domain.ObjectUser, Kind: domain.KindAdd,
			Subject:    domain.Subject{ExternalID: fmt.Sprintf("x%d", i), Email: fmt.Sprintf("new%03d@example.com", i), DisplayName: fmt.Sprintf("New %d", i)},
			Attributes: domain.Attrs{{Name: "displayName", Value: fmt.Sprintf("New %d", i)}}})
	}
	add(domain.Change{ObjectType: domain.ObjectUser, Kind: domain.KindUpdate, TargetID: "u1", BaseRevision: 3,
		Subject: domain.Subject{Email: "grace@example.com", DisplayName: "Grace Hopper"},
		Fields:  []domain.FieldChange{{Name: "jobTitle", Before: "Captain", After: "Rear Admiral"}}})
	add(domain.Change{ObjectType: domain.ObjectUser, Kind: domain.KindSkip, Reason: domain.ReasonDuplicateEmail,
		Subject: domain.Subject{Email: "dup@example.com"}})
	g := domain.Change{ObjectType: domain.ObjectGroup, Kind: domain.KindAdd, Subject: domain.Subject{ExternalID: "g1", DisplayName: "Engineering"}}
	for i := 0; i < groupMembers; i++ {
		g.MembersAdded = append(g.MembersAdded, domain.MemberRef{ExternalID: fmt.Sprintf("x%d", i)})
	}
	add(g)
	p.Counts.Users.Add, p.Counts.Users.Update, p.Counts.Users.Skip, p.Counts.Groups.Add = users, 1, 1, 1
	p.Counts.Memberships.Add = groupMembers
	return p
}

// withBatches is w with plan's batches cut at the default sizes, as the
// preview worker cuts them.
func withBatches(plan *domain.Plan, w domain.PlanWrite) domain.PlanWrite {
	w.Batches = domain.CutBatches(plan.Changes, domain.BatchSizes{})
	return w
}

func TestSavePlanAndListChanges(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	now := time.Now()
	sy := newSync("acme", now)
	if err := s.CreateSync(ctx, sy, time.Hour); err != nil {
		t.Fatal(err)
	}
	plan := samplePlan(250, 4500)
	if err := s.SavePlan(ctx, domain.Lease{Tenant: "acme", SyncID: sy.ID}, plan, domain.PlanWrite{Batches: domain.CutBatches(plan.Changes, domain.BatchSizes{Users: 100}), ExpiresAt: now.Add(24 * time.Hour), RetainUntil: now.Add(30 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSync(ctx, "acme", sy.ID)
	if err != nil {
		t.Fatal(err)
	}
	// 251 applicable user changes in batches of 100 -> 3, plus one group batch.
	if got.Status != domain.SyncPreviewReady || got.Counts.Users.Add != 250 || got.Batches != 4 || got.UserBatches != 3 ||
		got.ApplyTotal != 252 || got.ChangeTotal != 253 || got.ExpiresAt == nil || len(got.Warnings) != 1 {
		t.Fatalf("ready sync = %+v", got)
	}
	if err := s.CreateSync(ctx, newSync("acme", now.Add(time.Millisecond)), time.Hour); err != nil {
		t.Fatalf("lock not released by SavePlan: %v", err)
	}
	if err := s.SavePlan(ctx, domain.Lease{Tenant: "acme", SyncID: sy.ID}, plan, withBatches(plan, domain.PlanWrite{})); domain.ErrorCode(err) != domain.EConflict {
		t.Fatalf("second SavePlan on a ready sync: %v, want conflict", err)
	}
	prog, err := s.GetProgress(ctx, "acme", sy.ID)
	if err != nil || prog.Total != 252 || prog.Processed != 0 {
		t.Fatalf("progress = %+v, %v", prog, err)
	}

	tests := []struct {
		name   string
		filter domain.ChangeFilter
		limit  int
		want   int
	}{
		{"all", domain.ChangeFilter{}, 100, 253},
		{"user adds", domain.ChangeFilter{ObjectType: domain.ObjectUser, Kind: domain.KindAdd}, 40, 250},
		{"adds of any type", domain.ChangeFilter{Kind: domain.KindAdd}, 100, 251},
		{"updates", domain.ChangeFilter{Kind: domain.KindUpdate}, 10, 1},
		{"groups", domain.ChangeFilter{ObjectType: domain.ObjectGroup}, 10, 1},
		{"skips", domain.ChangeFilter{Kind: domain.KindSkip}, 10, 1},
		{"removes (none)", domain.ChangeFilter{Kind: domain.KindRemove}, 10, 0},
		{"text", domain.ChangeFilter{Q: "NEW 12"}, 5, 11}, // New 12, New 120..129
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cursor, n, lastSeq := "", 0, 0
			for {
				changes, next, err := s.ListChanges(ctx, "acme", sy.ID, tt.filter, domain.Page{Limit: tt.limit, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range changes {
					if c.Seq <= lastSeq {
						t.Fatalf("seq %d after %d", c.Seq, lastSeq)
					}
					lastSeq = c.Seq
					if (tt.filter.Kind != "" && c.Kind != tt.filter.Kind) || (tt.filter.ObjectType != "" && c.ObjectType != tt.filter.ObjectType) {
						t.Fatalf("change %+v does not match %+v", c, tt.filter)
					}
				}
				n += len(changes)
				if next == "" {
					break
				}
				cursor = next
			}
			if n != tt.want {
				t.Fatalf("listed %d, want %d", n, tt.want)
			}
		})
	}
	t.Run("update carries its fields", func(t *testing.T) {
		changes, _, err := s.ListChanges(ctx, "acme", sy.ID, domain.ChangeFilter{Kind: domain.KindUpdate}, domain.Page{Limit: 10})
		if err != nil || len(changes) != 1 {
			t.Fatal(err)
		}
		c := changes[0]
		if c.TargetID != "u1" || c.BaseRevision != 3 || len(c.Fields) != 1 || c.Fields[0].After != "Rear Admiral" {
			t.Fatalf("update = %+v", c)
		}
	})
	t.Run("another tenant cannot list them", func(t *testing.T) {
		_, _, err := s.ListChanges(ctx, "other", sy.ID, domain.ChangeFilter{}, domain.Page{Limit: 10})
		wantCode(t, err, domain.ENotFound)
	})
}

// SavePlan stores the batches it is given; the sync records how many of
// the first hold users, so batches out of that order are refused.
func TestSavePlanRefusesBatchesOutOfOrder(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	plan := samplePlan(2, 0)
	user := func(i, seq int) domain.Batch {
		return domain.Batch{Index: i, ObjectType: domain.ObjectUser, From: seq, To: seq, Size: 1}
	}
	tests := []struct {
		name    string
		batches []domain.Batch
	}{
		{"an index out of order", []domain.Batch{user(0, 1), user(2, 2)}},
		{"a user batch after a group batch", []domain.Batch{user(0, 1), {Index: 1, ObjectType: domain.ObjectGroup, From: 5, To: 5, Size: 1}, user(2, 2)}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tenant := fmt.Sprintf("order%d", i)
			sy := newSync(tenant, time.Now())
			if err := s.CreateSync(ctx, sy, time.Hour); err != nil {
				t.Fatal(err)
			}
			err := s.SavePlan(ctx, domain.Lease{Tenant: tenant, SyncID: sy.ID}, plan, domain.PlanWrite{Batches: tc.batches, ExpiresAt: time.Now().Add(time.Hour)})
			if err == nil {
				t.Fatal("SavePlan stored them")
			}
			if got, _ := s.GetSync(ctx, tenant, sy.ID); got.Status != domain.SyncPreviewing {
				t.Fatalf("status = %s, want PREVIEWING", got.Status)
			}
		})
	}
}

func TestLoadDirectory(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	var ids []string
	for i := 0; i < 3; i++ {
		u, err := s.CreateUser(ctx, "acme", domain.NewUser{Email: fmt.Sprintf("u%d@example.com", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	g := &domain.Group{ID: "g1", DisplayName: "Eng", Source: domain.SourceEntra, ExternalID: "eg1", ExternalTenantID: "dir", Revision: 1, MemberCount: 2}
	items := []item{s.groupItem("acme", g), s.dirKey("acme", memberSK("g1", ids[0])), s.dirKey("acme", memberSK("g1", ids[2]))}
	if err := s.putAll(ctx, s.dirTable, items); err != nil {
		t.Fatal(err)
	}
	d, err := s.LoadDirectory(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Users) != 3 || len(d.Groups) != 1 || len(d.Groups[0].MemberIDs) != 2 || d.Groups[0].ExternalID != "eg1" {
		t.Fatalf("directory = %+v", d)
	}
	members, next, err := s.ListGroupMembers(ctx, "acme", "g1", domain.Page{Limit: 1})
	if err != nil || len(members) != 1 || next == "" {
		t.Fatalf("members page = %v, %q, %v", members, next, err)
	}
	if _, _, err := s.ListGroupMembers(ctx, "other", "g1", domain.Page{Limit: 1}); domain.ErrorCode(err) != domain.ENotFound {
		t.Fatalf("cross-tenant members: %v", err)
	}
}

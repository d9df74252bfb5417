package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"dirsync/internal/domain"
	"dirsync/local/dynamolocal/dynamotest"
)

// shardCounts are the numbers of directory shards the tests run with: one
// key, a few, and the default.
var shardCounts = []int{1, 3, DefaultDirectoryShards}

func newDirStore(t *testing.T, shards int) *Store {
	t.Helper()
	s := newTestStore(t)
	s.DirectoryShards = shards
	return s
}

// dirItemsOf reads every item of a partition key of the directory table.
func dirItemsOf(t *testing.T, s *Store, pk string) []item { return tableItemsOf(t, s.dirTable, pk) }

// shardOfSK is the shard every item must be on, computed here from the
// documented rule rather than by the store: FNV-1a of the shard key mod D.
func shardOfSK(shardKey string, shards int) int {
	h := fnv.New32a()
	h.Write([]byte(shardKey))
	return int(h.Sum32() % uint32(shards))
}

// fixtureUsers is how many users seedDirectory writes: enough to cover
// every shard of 16, few enough to page through at every limit.
const fixtureUsers = 24

// dirFixture is a tenant's directory written through the store: users
// u000..u023 (every fourth inactive, every third linked), groups g0..g6 whose
// members are every user whose number is divisible by the group's number
// plus one, and a second tenant's users sorting among them.
type dirFixture struct {
	users   []domain.User
	members map[string][]string // group id: member ids, in id order
}

func seedDirectory(t *testing.T, s *Store, tenant string) dirFixture {
	t.Helper()
	ctx := context.Background()
	f := dirFixture{members: map[string][]string{}}
	for i := range fixtureUsers {
		u := domain.User{PlatformUser: domain.PlatformUser{
			ID: fmt.Sprintf("u%03d", i), Email: fmt.Sprintf("user%03d@%s.test", i, tenant), Status: domain.StatusActive,
			Attributes: domain.Attrs{{Name: "displayName", Value: fmt.Sprintf("Person %03d", i)}},
		}}
		if i%4 == 0 {
			u.Status = domain.StatusInactive
		}
		if i%3 == 0 {
			u.Source, u.ExternalID, u.ExternalTenantID = domain.SourceEntra, fmt.Sprintf("x-%03d", i), "dir-1"
		}
		f.users = append(f.users, u)
	}
	if err := s.SeedUsers(ctx, tenant, f.users); err != nil {
		t.Fatal(err)
	}
	for gi := range 7 {
		gid := fmt.Sprintf("g%d", gi)
		var refs []domain.MemberRef
		for i := 0; i < fixtureUsers; i += gi + 1 {
			f.members[gid] = append(f.members[gid], f.users[i].ID)
			if f.users[i].ExternalID != "" {
				// Linked users are named by their Entra id, as a plan names
				// the users it adds: found through the link claim.
				refs = append(refs, domain.MemberRef{ExternalID: f.users[i].ExternalID})
			} else {
				refs = append(refs, domain.MemberRef{UserID: f.users[i].ID})
			}
		}
		g := domain.Group{ID: gid, DisplayName: "Group " + gid, Source: domain.SourceEntra, ExternalID: "xg-" + gid, ExternalTenantID: "dir-1"}
		if err := s.WriteGroup(ctx, tenant, domain.GroupWrite{Group: g, Marker: "sync#1", Create: true}); err != nil {
			t.Fatal(err)
		}
		missed, err := s.WriteMemberships(ctx, tenant, domain.MembershipWrite{SyncID: "sync", Seq: gi + 1, GroupID: gid,
			GroupName: g.DisplayName, Directory: "dir-1", Added: refs})
		if err != nil || missed != 0 {
			t.Fatalf("memberships of %s: %d missed, %v", gid, missed, err)
		}
	}
	return f
}

func TestDirectoryItemsAreOnTheirShard(t *testing.T) {
	ctx := context.Background()
	for _, shards := range shardCounts {
		t.Run(fmt.Sprintf("D=%d", shards), func(t *testing.T) {
			s := newDirStore(t, shards)
			f := seedDirectory(t, s, "acme")
			// Each item's shard key, as docs/data-model.md gives it.
			want := map[string]string{}
			for _, u := range f.users {
				want[userSK(u.ID)] = u.ID
				want[emailSK(u.Email)] = domain.NormalizeEmail(u.Email)
				if u.ExternalID != "" {
					want[linkSK("dir-1", u.ExternalID)] = u.ExternalID
				}
			}
			for gid, ids := range f.members {
				want[groupSK(gid)] = gid
				want[groupLinkSK("dir-1", "xg-"+gid)] = "xg-" + gid
				for _, uid := range ids {
					want[memberSK(gid, uid)] = gid + "#" + uid
					want[userGroupSK(uid, gid)] = uid
				}
			}
			seen := 0
			used := 0
			for d := range shards {
				items := dirItemsOf(t, s, fmt.Sprintf("T#acme#%d", d))
				if len(items) > 0 {
					used++
				}
				for _, it := range items {
					sk := getS(it, "sk")
					shardKey, ok := want[sk]
					if !ok {
						t.Errorf("unexpected item %s on shard %d", sk, d)
						continue
					}
					if got := shardOfSK(shardKey, shards); got != d {
						t.Errorf("%s on shard %d, want %d", sk, d, got)
					}
					seen++
				}
			}
			if seen != len(want) {
				t.Errorf("%d items on the shards, want %d", seen, len(want))
			}
			if used != shards {
				t.Errorf("items on %d of %d shards", used, shards)
			}
			if items := dirItemsOf(t, s, "T#acme"); len(items) != 0 {
				t.Errorf("%d items on the unsharded key", len(items))
			}
			// The store finds each from its sort key alone.
			if u, err := s.GetUser(ctx, "acme", "u007"); err != nil || u.Email != "user007@acme.test" {
				t.Fatalf("GetUser: %+v, %v", u, err)
			}
		})
	}
}

// pageAll lists every page of list with limit, checking each page is full
// but the last, and returns the ids in the order listed with the pages.
func pageAll(t *testing.T, limit int, list func(cursor string) ([]string, string, error)) ([]string, int) {
	t.Helper()
	var ids []string
	cursor, pages := "", 0
	for {
		page, next, err := list(cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if next != "" && len(page) != limit {
			t.Fatalf("page %d holds %d, want %d", pages, len(page), limit)
		}
		ids = append(ids, page...)
		if next == "" {
			return ids, pages
		}
		if pages > 100 {
			t.Fatal("listing does not end")
		}
		cursor = next
	}
}

func TestShardedListings(t *testing.T) {
	ctx := context.Background()
	for _, shards := range shardCounts {
		t.Run(fmt.Sprintf("D=%d", shards), func(t *testing.T) {
			t.Parallel() // mostly waiting on DynamoDB Local
			s := newDirStore(t, shards)
			f := seedDirectory(t, s, "acme")
			seedDirectory(t, s, "other")
			userIDs := func(keep func(domain.User) bool) []string {
				var ids []string
				for _, u := range f.users {
					if keep(u) {
						ids = append(ids, u.ID)
					}
				}
				return ids
			}
			listUsers := func(filter domain.UserFilter, limit int) func(string) ([]string, string, error) {
				return func(cursor string) ([]string, string, error) {
					users, next, err := s.ListUsers(ctx, "acme", filter, domain.Page{Limit: limit, Cursor: cursor})
					ids := make([]string, len(users))
					for i, u := range users {
						if !strings.HasSuffix(u.Email, "@acme.test") {
							t.Fatalf("listed %s of another tenant", u.Email)
						}
						ids[i] = u.ID
					}
					return ids, next, err
				}
			}
			tests := []struct {
				name string
				list func(limit int) func(string) ([]string, string, error)
				want []string
			}{
				{"users", func(l int) func(string) ([]string, string, error) { return listUsers(domain.UserFilter{}, l) },
					userIDs(func(domain.User) bool { return true })},
				{"inactive users", func(l int) func(string) ([]string, string, error) {
					return listUsers(domain.UserFilter{Status: domain.StatusInactive}, l)
				}, userIDs(func(u domain.User) bool { return u.Status == domain.StatusInactive })},
				{"active users", func(l int) func(string) ([]string, string, error) {
					return listUsers(domain.UserFilter{Status: domain.StatusActive}, l)
				}, userIDs(func(u domain.User) bool { return u.Status == domain.StatusActive })},
				{"users by text", func(l int) func(string) ([]string, string, error) {
					return listUsers(domain.UserFilter{Q: "PERSON 01"}, l)
				},
					userIDs(func(u domain.User) bool { return strings.HasPrefix(u.ID, "u01") })},
				{"users by text and status", func(l int) func(string) ([]string, string, error) {
					return listUsers(domain.UserFilter{Q: "person 00", Status: domain.StatusInactive}, l)
				}, []string{"u000", "u004", "u008"}},
				{"users by text matching none", func(l int) func(string) ([]string, string, error) {
					return listUsers(domain.UserFilter{Q: "nobody"}, l)
				},
					nil},
				{"groups", func(l int) func(string) ([]string, string, error) {
					return func(cursor string) ([]string, string, error) {
						groups, next, err := s.ListGroups(ctx, "acme", domain.Page{Limit: l, Cursor: cursor})
						ids := make([]string, len(groups))
						for i, g := range groups {
							ids[i] = g.ID
						}
						return ids, next, err
					}
				}, []string{"g0", "g1", "g2", "g3", "g4", "g5", "g6"}},
				{"members", func(l int) func(string) ([]string, string, error) {
					return func(cursor string) ([]string, string, error) {
						users, next, err := s.ListGroupMembers(ctx, "acme", "g1", domain.Page{Limit: l, Cursor: cursor})
						ids := make([]string, len(users))
						for i, u := range users {
							ids[i] = u.ID
						}
						return ids, next, err
					}
				}, f.members["g1"]},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					for limit := 1; limit <= len(tc.want)+1; limit++ {
						got, pages := pageAll(t, limit, tc.list(limit))
						if !slices.Equal(got, tc.want) {
							t.Fatalf("limit %d: listed %v, want %v", limit, got, tc.want)
						}
						if want := max(1, (len(tc.want)+limit-1)/limit); pages != want {
							t.Fatalf("limit %d: %d pages, want %d", limit, pages, want)
						}
					}
				})
			}
			t.Run("a cursor moves within the caller's tenant only", func(t *testing.T) {
				_, next, err := s.ListUsers(ctx, "acme", domain.UserFilter{}, domain.Page{Limit: 5})
				if err != nil || next == "" {
					t.Fatalf("first page: %q, %v", next, err)
				}
				users, _, err := s.ListUsers(ctx, "other", domain.UserFilter{}, domain.Page{Limit: 100, Cursor: next})
				if err != nil {
					t.Fatal(err)
				}
				if len(users) != fixtureUsers-5 {
					t.Fatalf("listed %d of other's users after acme's cursor, want %d", len(users), fixtureUsers-5)
				}
				for _, u := range users {
					if !strings.HasSuffix(u.Email, "@other.test") {
						t.Fatalf("listed %s as another tenant", u.Email)
					}
				}
			})
		})
	}
}

func TestShardedUserAndItsGroups(t *testing.T) {
	ctx := context.Background()
	for _, shards := range shardCounts {
		t.Run(fmt.Sprintf("D=%d", shards), func(t *testing.T) {
			s := newDirStore(t, shards)
			f := seedDirectory(t, s, "acme")
			groupsOf := func(uid string) []string {
				var gids []string
				for gi := range 7 {
					gid := fmt.Sprintf("g%d", gi)
					if slices.Contains(f.members[gid], uid) {
						gids = append(gids, gid)
					}
				}
				return gids
			}
			refIDs := func(refs []domain.GroupRef) []string {
				var ids []string
				for _, r := range refs {
					ids = append(ids, r.ID)
					if r.DisplayName != "Group "+r.ID {
						t.Errorf("group %s named %q", r.ID, r.DisplayName)
					}
				}
				return ids
			}
			for _, uid := range []string{"u000", "u006", "u012", "u023"} {
				u, err := s.GetUser(ctx, "acme", uid)
				if err != nil {
					t.Fatal(err)
				}
				if got := refIDs(u.Groups); !slices.Equal(got, groupsOf(uid)) {
					t.Errorf("groups of %s: %v, want %v", uid, got, groupsOf(uid))
				}
			}
			users, _, err := s.ListUsers(ctx, "acme", domain.UserFilter{}, domain.Page{Limit: fixtureUsers})
			if err != nil || len(users) != fixtureUsers {
				t.Fatalf("ListUsers: %d, %v", len(users), err)
			}
			for _, u := range users {
				if got := refIDs(u.Groups); !slices.Equal(got, groupsOf(u.ID)) {
					t.Errorf("listed groups of %s: %v, want %v", u.ID, got, groupsOf(u.ID))
				}
			}
			for gid, ids := range f.members {
				g, err := s.GetGroup(ctx, "acme", gid)
				if err != nil || g.MemberCount != len(ids) {
					t.Errorf("group %s: %+v, %v; want %d members", gid, g, err, len(ids))
				}
			}

			// A rename reaches every member's item, a removal every shard.
			if err := s.RenameMemberships(ctx, "acme", "g2", "Renamed"); err != nil {
				t.Fatal(err)
			}
			u, err := s.GetUser(ctx, "acme", "u003")
			if want := []domain.GroupRef{{ID: "g0", DisplayName: "Group g0"}, {ID: "g2", DisplayName: "Renamed"}}; err != nil || !slices.Equal(u.Groups, want) {
				t.Fatalf("u003 after the rename: %+v, %v; want %+v", u.Groups, err, want)
			}
			removed := []domain.MemberRef{{UserID: "u000"}, {UserID: "u010"}, {ExternalID: "x-003"}}
			if _, err := s.WriteMemberships(ctx, "acme", domain.MembershipWrite{SyncID: "sync", Seq: 9, GroupID: "g0", Directory: "dir-1", Removed: removed}); err != nil {
				t.Fatal(err)
			}
			if g, err := s.GetGroup(ctx, "acme", "g0"); err != nil || g.MemberCount != fixtureUsers-3 {
				t.Fatalf("g0 after removing 3 of %d: %+v, %v", fixtureUsers, g, err)
			}
			g, _, err := s.ReadGroup(ctx, "acme", "g0")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteGroup(ctx, "acme", g); err != nil {
				t.Fatal(err)
			}
			d, err := s.LoadDirectory(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			for _, gr := range d.Groups {
				if gr.ID == "g0" {
					t.Fatal("g0 still loaded after its deletion")
				}
			}
			for d := range shards {
				for _, it := range dirItemsOf(t, s, fmt.Sprintf("T#acme#%d", d)) {
					if sk := getS(it, "sk"); strings.HasPrefix(sk, "M#g0#") || strings.HasSuffix(sk, "#g0") || sk == groupLinkSK("dir-1", "xg-g0") {
						t.Errorf("%s left on shard %d after the deletion", sk, d)
					}
				}
			}
		})
	}
}

func TestLoadDirectoryIsTheSameOverAnyShards(t *testing.T) {
	ctx := context.Background()
	var want *domain.Directory
	for _, shards := range shardCounts {
		t.Run(fmt.Sprintf("D=%d", shards), func(t *testing.T) {
			s := newDirStore(t, shards)
			f := seedDirectory(t, s, "acme")
			seedDirectory(t, s, "other")
			d, err := s.LoadDirectory(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			if want == nil {
				want = &domain.Directory{}
				for _, u := range f.users {
					u.Revision = 1
					want.Users = append(want.Users, u.PlatformUser)
				}
				for gi := range 7 {
					gid := fmt.Sprintf("g%d", gi)
					want.Groups = append(want.Groups, domain.PlatformGroup{ID: gid, DisplayName: "Group " + gid, Source: domain.SourceEntra,
						ExternalID: "xg-" + gid, ExternalTenantID: "dir-1", Revision: 1, MemberIDs: f.members[gid]})
				}
			}
			if !reflect.DeepEqual(d, want) {
				t.Fatalf("LoadDirectory over %d shards:\n got %+v\nwant %+v", shards, d, want)
			}
		})
	}
	t.Run("an empty directory", func(t *testing.T) {
		for _, shards := range shardCounts {
			d, err := newDirStore(t, shards).LoadDirectory(ctx, "acme")
			if err != nil || !reflect.DeepEqual(d, &domain.Directory{}) {
				t.Fatalf("D=%d: %+v, %v", shards, d, err)
			}
		}
	})
}

func TestShardedClaimsAndConditions(t *testing.T) {
	ctx := context.Background()
	for _, shards := range shardCounts {
		t.Run(fmt.Sprintf("D=%d", shards), func(t *testing.T) {
			s := newDirStore(t, shards)
			f := seedDirectory(t, s, "acme")

			// Every claim is found, whichever shard holds it: the keys of
			// new users that share each seeded user's email (in another
			// spelling) and, when it is linked, its Entra link.
			var users []domain.PlatformUser
			for _, u := range f.users {
				pu := domain.PlatformUser{ID: "new-" + u.ID, Email: strings.ToUpper(u.Email), ExternalID: u.ExternalID, ExternalTenantID: "dir-1"}
				if pu.ExternalID == "" {
					pu.ExternalID = "x-free-" + u.ID
				}
				users = append(users, pu)
			}
			holders, err := s.ReadUserKeyHolders(ctx, "acme", users)
			if err != nil {
				t.Fatal(err)
			}
			for i, u := range f.users {
				link := ""
				if u.ExternalID != "" {
					link = u.ID
				}
				if got, want := holders[i], (domain.UserKeyHolders{EmailHolder: u.ID, LinkHolder: link}); got != want {
					t.Errorf("holders of the keys of %s: %+v, want %+v", users[i].ID, got, want)
				}
			}
			markers, err := s.ReadMarkers(ctx, "acme", []domain.ObjectRef{{Type: domain.ObjectUser, ID: "u001"}, {Type: domain.ObjectUser, ID: "u023"},
				{Type: domain.ObjectGroup, ID: "g4"}, {Type: domain.ObjectGroup, ID: "g9"}})
			if err != nil || len(markers) != 3 || markers[domain.ObjectRef{Type: domain.ObjectGroup, ID: "g4"}] != "sync#1" {
				t.Fatalf("ReadMarkers: %v, %v", markers, err)
			}

			linked, manual := f.users[3], f.users[5] // u003 holds x-003; u005 is manual
			tests := []struct {
				name  string
				write domain.UserWrite
				want  error
			}{
				{"a create whose email is taken", newUser("u-new", strings.ToUpper(manual.Email), "x-new"), domain.ErrEmailClaimed},
				{"a create whose link is claimed", newUser("u-new", "new@acme.test", linked.ExternalID), domain.ErrLinkClaimed},
				{"a create whose id is taken", newUser(manual.ID, "new@acme.test", "x-new"), domain.ErrExists},
				{"a replace at another revision", domain.UserWrite{User: manual, Marker: "sync#2", ExpectedRevision: 7, PreviousEmail: manual.Email},
					domain.ErrRevisionChanged},
				{"a replace onto a taken email", domain.UserWrite{User: func() domain.User { u := manual; u.Email = linked.Email; return u }(),
					Marker: "sync#2", ExpectedRevision: 1, PreviousEmail: manual.Email}, domain.ErrEmailClaimed},
				{"a replace claiming a claimed link", domain.UserWrite{User: func() domain.User {
					u := manual
					u.ExternalID, u.ExternalTenantID = linked.ExternalID, "dir-1"
					return u
				}(), Marker: "sync#2", ExpectedRevision: 1, PreviousEmail: manual.Email, ClaimLink: true}, domain.ErrLinkClaimed},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					err := s.WriteUser(ctx, "acme", tc.write)
					if !errors.Is(err, tc.want) {
						t.Fatalf("WriteUser: %v, want %v", err, tc.want)
					}
					if got, _, _ := s.ReadUser(ctx, "acme", manual.ID); got.Revision != 1 || got.Email != manual.Email {
						t.Fatalf("%s after a refused write: %+v", manual.ID, got)
					}
					// The refused write claimed nothing.
					if u, err := s.CreateUser(ctx, "acme", domain.NewUser{Email: "new@acme.test"}); err != nil {
						t.Fatalf("new@acme.test after a refused write: %v", err)
					} else if _, err := s.UpdateUser(ctx, "acme", u.ID, domain.UserPatch{Email: aws.String(u.ID + "@acme.test")}); err != nil {
						t.Fatal(err)
					}
				})
			}
			t.Run("a manual create or edit onto a taken email", func(t *testing.T) {
				_, err := s.CreateUser(ctx, "acme", domain.NewUser{Email: strings.ToUpper(linked.Email)})
				wantCode(t, err, domain.EConflict)
				_, err = s.UpdateUser(ctx, "acme", manual.ID, domain.UserPatch{Email: aws.String(linked.Email)})
				wantCode(t, err, domain.EConflict)
				stale := int64(7)
				_, err = s.UpdateUser(ctx, "acme", manual.ID, domain.UserPatch{IfRevision: &stale, Status: &manual.Status})
				wantCode(t, err, domain.EConflict)
			})
			t.Run("an edit moves the email claim to its shard", func(t *testing.T) {
				if _, err := s.UpdateUser(ctx, "acme", manual.ID, domain.UserPatch{Email: aws.String("moved@acme.test")}); err != nil {
					t.Fatal(err)
				}
				holders, err := s.ReadUserKeyHolders(ctx, "acme", []domain.PlatformUser{{ID: "x", Email: manual.Email, ExternalID: "x-x"}, {ID: "y", Email: "MOVED@acme.test", ExternalID: "x-y"}})
				if err != nil || holders[0].EmailHolder != "" || holders[1].EmailHolder != manual.ID {
					t.Fatalf("holders after the move: %+v, %v", holders, err)
				}
			})
		})
	}
}

// keyedWrites records, of every BatchWriteItem, whether it held more than
// one partition key and whether a key had two requests in flight.
type keyedWrites struct {
	DynamoAPI
	mu                sync.Mutex
	inFlight          map[string]int
	mixed, overlapped int
	requests          int
}

func (k *keyedWrites) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	pks := map[string]bool{}
	for _, reqs := range in.RequestItems {
		for _, r := range reqs {
			if r.PutRequest != nil {
				pks[getS(r.PutRequest.Item, "pk")] = true
			} else {
				pks[getS(r.DeleteRequest.Key, "pk")] = true
			}
		}
	}
	k.mu.Lock()
	k.requests++
	if len(pks) > 1 {
		k.mixed++
	}
	for pk := range pks {
		if k.inFlight[pk]++; k.inFlight[pk] > 1 {
			k.overlapped++
		}
	}
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		for pk := range pks {
			k.inFlight[pk]--
		}
		k.mu.Unlock()
	}()
	time.Sleep(time.Millisecond) // widens the window two requests to a key would overlap in
	return k.DynamoAPI.BatchWriteItem(ctx, in, opts...)
}

// Membership writes go one request at a time to each key, each request to
// one key, as the plan's shards are written.
func TestMembershipWritesKeepOneRequestPerKey(t *testing.T) {
	ctx := context.Background()
	for _, shards := range []int{3, DefaultDirectoryShards} {
		t.Run(fmt.Sprintf("D=%d", shards), func(t *testing.T) {
			names := dynamotest.Tables(t)
			db := &keyedWrites{DynamoAPI: dynamotest.Client, inFlight: map[string]int{}}
			s := New(db, names["DirectoryTable"], names["SyncTable"])
			s.DirectoryShards = shards
			var refs []domain.MemberRef
			for i := range 600 {
				refs = append(refs, domain.MemberRef{UserID: fmt.Sprintf("u%04d", i)})
			}
			if err := s.WriteGroup(ctx, "acme", domain.GroupWrite{Group: domain.Group{ID: "g", ExternalID: "xg", ExternalTenantID: "dir-1"}, Marker: "sync#1", Create: true}); err != nil {
				t.Fatal(err)
			}
			w := domain.MembershipWrite{SyncID: "sync", Seq: 1, GroupID: "g", GroupName: "G", Directory: "dir-1", Added: refs}
			if _, err := s.WriteMemberships(ctx, "acme", w); err != nil {
				t.Fatal(err)
			}
			if err := s.RenameMemberships(ctx, "acme", "g", "H"); err != nil {
				t.Fatal(err)
			}
			g, _, err := s.ReadGroup(ctx, "acme", "g")
			if err != nil || g.MemberCount != 600 {
				t.Fatalf("group: %+v, %v", g, err)
			}
			if err := s.DeleteGroup(ctx, "acme", g); err != nil {
				t.Fatal(err)
			}
			if db.requests < 3*shards || db.mixed != 0 || db.overlapped != 0 {
				t.Fatalf("%d requests: %d to more than one key, %d to a key already written", db.requests, db.mixed, db.overlapped)
			}
		})
	}
}

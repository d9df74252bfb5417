package store

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dirsync/internal/domain"
)

// partUsers is how many users seedPartDirectory writes: a group of all of
// them takes several BatchGetItems of 100.
const partUsers = 300

// seedPartDirectory writes a tenant's directory through SeedUsers and
// SeedGroup: users u0000..u0299, every other one's email in mixed case,
// every third linked to dir-1 as x-<n>, every fifteenth from the second on
// linked to dir-2 under the object id its predecessor has in dir-1; claims
// whose user is gone; groups of everyone (g-all), the odd ones (g-odd), a
// few (g-few), nobody (g-empty) and every seventh with a member that is
// gone (g-full). Another tenant's users sort among them.
func seedPartDirectory(t *testing.T, s *Store, tenant string) {
	t.Helper()
	ctx := context.Background()
	users := make([]domain.User, partUsers)
	ids := make([]string, partUsers)
	for i := range users {
		u := domain.PlatformUser{ID: fmt.Sprintf("u%04d", i), Email: fmt.Sprintf("user%04d@%s.test", i, tenant), Status: domain.StatusActive,
			Attributes: domain.Attrs{{Name: "displayName", Value: fmt.Sprintf("%s person %d", tenant, i)}}}
		if i%2 == 0 {
			u.Email = fmt.Sprintf("User%04d@%s.TEST", i, strings.ToUpper(tenant[:1])+tenant[1:])
		}
		if i%4 == 3 {
			u.Status = domain.StatusInactive
		}
		switch {
		case i%3 == 0:
			u.Source, u.ExternalTenantID, u.ExternalID = domain.SourceEntra, "dir-1", fmt.Sprintf("x-%04d", i)
		case i%15 == 1:
			u.Source, u.ExternalTenantID, u.ExternalID = domain.SourceEntra, "dir-2", fmt.Sprintf("x-%04d", i-1)
		}
		users[i], ids[i] = domain.User{PlatformUser: u}, u.ID
	}
	if err := s.SeedUsers(ctx, tenant, users); err != nil {
		t.Fatal(err)
	}
	ghosts := []item{
		s.claimItem(tenant, emailSK("ghost@"+tenant+".test"), "u9999"),
		s.claimItem(tenant, linkSK("dir-1", "x-ghost"), "u9998"),
	}
	if err := s.putAll(ctx, s.dirTable, ghosts); err != nil {
		t.Fatal(err)
	}
	var odd, seventh []string
	for i, id := range ids {
		if i%2 == 1 {
			odd = append(odd, id)
		}
		if i%7 == 0 {
			seventh = append(seventh, id)
		}
	}
	type group struct {
		id      string
		members []string
	}
	groups := []group{
		{"g-all", ids}, {"g-odd", odd}, {"g-few", []string{"u0001", "u0003", "u0010"}}, {"g-empty", nil},
		{"g-full", append(seventh, "u9999")},
	}
	if tenant != "acme" {
		groups = []group{{"g-all", ids[:10]}, {"g-elsewhere", ids[:5]}}
	}
	for _, g := range groups {
		gr := domain.Group{ID: g.id, DisplayName: "Group " + g.id, Description: tenant, Source: domain.SourceEntra, ExternalID: "xg-" + g.id, ExternalTenantID: "dir-1"}
		if err := s.SeedGroup(ctx, tenant, gr, g.members); err != nil {
			t.Fatal(err)
		}
	}
}

// directoryPartOf is the part of d LoadDirectoryPart must return, taken
// from the whole as the documented rule says.
func directoryPartOf(d *domain.Directory, part domain.DirectoryPart) *domain.Directory {
	emails := map[string]bool{}
	for _, e := range part.Emails {
		emails[domain.NormalizeEmail(e)] = true
	}
	kept := map[string]bool{}
	out := &domain.Directory{}
	for _, u := range d.Users {
		linked := u.ExternalID != "" && u.ExternalTenantID == part.DirectoryTenantID && slices.Contains(part.ExternalIDs, u.ExternalID)
		if linked || emails[domain.NormalizeEmail(u.Email)] || slices.Contains(part.UserIDs, u.ID) {
			out.Users = append(out.Users, u)
			kept[u.ID] = true
		}
	}
	for _, g := range d.Groups {
		members := g.MemberIDs
		if !slices.Contains(part.FullGroups, g.ID) {
			members = nil
			for _, id := range g.MemberIDs {
				if kept[id] {
					members = append(members, id)
				}
			}
		}
		g.MemberIDs = members
		out.Groups = append(out.Groups, g)
	}
	return out
}

// describeDiff says where two directories differ.
func describeDiff(got, want *domain.Directory) string {
	ids := func(us []domain.PlatformUser) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.ID)
		}
		return out
	}
	if !reflect.DeepEqual(got.Users, want.Users) {
		if g, w := ids(got.Users), ids(want.Users); !slices.Equal(g, w) {
			return fmt.Sprintf("users %v, want %v", g, w)
		}
		for i := range got.Users {
			if !reflect.DeepEqual(got.Users[i], want.Users[i]) {
				return fmt.Sprintf("user %+v, want %+v", got.Users[i], want.Users[i])
			}
		}
	}
	if len(got.Groups) != len(want.Groups) {
		return fmt.Sprintf("%d groups, want %d", len(got.Groups), len(want.Groups))
	}
	for i := range got.Groups {
		if !reflect.DeepEqual(got.Groups[i], want.Groups[i]) {
			return fmt.Sprintf("group %+v, want %+v", got.Groups[i], want.Groups[i])
		}
	}
	return "no difference"
}

// partReads leaves the last key of each BatchGetItem of several keys
// unprocessed, for the reader to retry, and records the prefix of every
// Query.
type partReads struct {
	DynamoAPI
	unprocessed atomic.Int64
	mu          sync.Mutex
	prefixes    []string
}

func (p *partReads) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	left := map[string]types.KeysAndAttributes{}
	asked := map[string]types.KeysAndAttributes{}
	for table, ka := range in.RequestItems {
		if n := len(ka.Keys); n > 1 {
			rest := ka
			rest.Keys = ka.Keys[n-1:]
			left[table] = rest
			ka.Keys = ka.Keys[:n-1]
			p.unprocessed.Add(1)
		}
		asked[table] = ka
	}
	out, err := p.DynamoAPI.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: asked}, opts...)
	if err != nil {
		return nil, err
	}
	for table, ka := range out.UnprocessedKeys {
		rest := left[table]
		rest.Keys = append(rest.Keys, ka.Keys...)
		left[table] = rest
	}
	out.UnprocessedKeys = left
	return out, nil
}

func (p *partReads) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if v, ok := in.ExpressionAttributeValues[":p"].(*types.AttributeValueMemberS); ok {
		p.mu.Lock()
		p.prefixes = append(p.prefixes, v.Value)
		p.mu.Unlock()
	}
	return p.DynamoAPI.Query(ctx, in, opts...)
}

func TestLoadDirectoryPartIsTheDirectoryFiltered(t *testing.T) {
	ctx := context.Background()
	var all, evens []string
	var allEmails, allLinks []string
	for i := range partUsers {
		id := fmt.Sprintf("u%04d", i)
		all = append(all, id)
		allEmails = append(allEmails, fmt.Sprintf("USER%04d@acme.test", i))
		allLinks = append(allLinks, fmt.Sprintf("x-%04d", i))
		if i%2 == 0 {
			evens = append(evens, id)
		}
	}
	tests := []struct {
		name string
		part domain.DirectoryPart
	}{
		{"empty part", domain.DirectoryPart{}},
		{"empty part with a full group", domain.DirectoryPart{FullGroups: []string{"g-full"}}},
		{"full groups, one missing", domain.DirectoryPart{FullGroups: []string{"g-nope", "g-few", "g-empty"}}},
		{"by link", domain.DirectoryPart{DirectoryTenantID: "dir-1",
			ExternalIDs: []string{"x-0000", "x-0009", "x-0003", "x-0001", "x-nobody", "x-ghost", "x-0009"}}},
		{"by link to another directory", domain.DirectoryPart{DirectoryTenantID: "dir-2", ExternalIDs: []string{"x-0000", "x-0015", "x-0003"}}},
		{"by link without a directory", domain.DirectoryPart{ExternalIDs: []string{"x-0000", "x-0003"}}},
		{"by email in any case", domain.DirectoryPart{Emails: []string{
			"user0002@acme.test", "USER0005@ACME.TEST", " User0007@Acme.Test ", "UsEr0008@aCmE.tEsT",
			"ghost@acme.test", "nobody@acme.test", "user0002@other.test", "",
		}}},
		{"by id", domain.DirectoryPart{UserIDs: []string{"u0299", "u0004", "u9999", "u0004", "", "u0010"}}},
		{"one user by every key", domain.DirectoryPart{DirectoryTenantID: "dir-1", ExternalIDs: []string{"x-0006", "x-0030"},
			Emails: []string{"user0006@acme.test", "USER0030@ACME.TEST"}, UserIDs: []string{"u0006", "u0030"}, FullGroups: []string{"g-few"}}},
		{"half of them", domain.DirectoryPart{UserIDs: evens}},
		{"everyone by every key, with full groups", domain.DirectoryPart{DirectoryTenantID: "dir-1", ExternalIDs: allLinks,
			Emails: allEmails, UserIDs: all, FullGroups: []string{"g-odd", "g-full"}}},
	}
	for _, shards := range shardCounts {
		t.Run(fmt.Sprintf("D=%d", shards), func(t *testing.T) {
			t.Parallel() // mostly waiting on DynamoDB Local
			s := newDirStore(t, shards)
			seedPartDirectory(t, s, "acme")
			seedPartDirectory(t, s, "other")
			whole, err := s.LoadDirectory(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			if len(whole.Users) != partUsers || len(whole.Groups) != 5 {
				t.Fatalf("fixture: %d users, %d groups", len(whole.Users), len(whole.Groups))
			}
			reads := &partReads{DynamoAPI: s.db}
			retrying, byUser, byGroup := *s, *s, *s
			retrying.db = reads
			byUser.partMembers, byGroup.partMembers = membersByUser, membersByGroup
			stores := []struct {
				name string
				s    *Store
			}{{"by cost", s}, {"by user", &byUser}, {"by group", &byGroup}, {"with unprocessed keys", &retrying}}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					want := directoryPartOf(whole, tc.part)
					for _, r := range stores {
						got, err := r.s.LoadDirectoryPart(ctx, "acme", tc.part)
						if err != nil {
							t.Fatalf("%s: %v", r.name, err)
						}
						if !reflect.DeepEqual(got, want) {
							t.Fatalf("%s: %s", r.name, describeDiff(got, want))
						}
					}
				})
			}
			t.Run("a tenant without a directory", func(t *testing.T) {
				got, err := s.LoadDirectoryPart(ctx, "nobody", domain.DirectoryPart{DirectoryTenantID: "dir-1",
					ExternalIDs: []string{"x-0000"}, Emails: []string{"user0001@acme.test"}, UserIDs: []string{"u0002"}, FullGroups: []string{"g-all"}})
				if err != nil || !reflect.DeepEqual(got, &domain.Directory{}) {
					t.Fatalf("LoadDirectoryPart = %+v, %v; want an empty directory", got, err)
				}
			})
			if reads.unprocessed.Load() == 0 {
				t.Error("no read was left unprocessed")
			}
			// Users, claims and memberships are read by key or by one
			// user's or group's prefix, never all of them.
			for _, p := range reads.prefixes {
				if p != "G#" && !strings.HasPrefix(p, "UG#u") && !strings.HasPrefix(p, "M#g-") {
					t.Errorf("queried %q", p)
				}
			}
		})
	}
}

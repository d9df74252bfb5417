package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"dirsync/internal/domain"
)

// keyReadConcurrency bounds the parallel requests of a read by key or by
// user: their number grows with what is asked for, not with the shards.
const keyReadConcurrency = 16

// membersPerQuery is about how many membership items (M#, some 60 bytes
// each) a Query reads for what one query of a user's groups costs: it
// weighs reading whole groups against querying each user.
const membersPerQuery = 100

// How LoadDirectoryPart reads the memberships of the users it read.
const (
	membersByCost  = iota // whichever costs fewer requests
	membersByUser         // each user's UG# items, one query a user
	membersByGroup        // each group's M# items, a query a shard
)

// LoadDirectoryPart reads the part of the tenant's directory a plan from
// the changes needs. Users are those found by part's link claims, email
// claims or ids, each once, in id order (a key that matches nothing, or a
// claim whose user is gone, adds none). Groups are every group, as
// LoadDirectory gives them; a group of part.FullGroups has all its
// members, any other only those among the users read. Users and claims
// are read by key, memberships by one user's or one group's prefix: the
// cost follows the part, not the directory.
func (s *Store) LoadDirectoryPart(ctx context.Context, tenant string, part domain.DirectoryPart) (*domain.Directory, error) {
	full := sortedUnique(part.FullGroups)
	var (
		groups      []domain.Group
		users       []domain.PlatformUser
		fullMembers [][]string // of full[i]
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		groups, err = s.loadGroups(gctx, tenant)
		return err
	})
	g.Go(func() error {
		var err error
		fullMembers, err = s.loadGroupMembers(gctx, tenant, full)
		return err
	})
	g.Go(func() error {
		var err error
		users, err = s.loadPartUsers(gctx, tenant, part)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}

	d := &domain.Directory{Users: users}
	for _, gr := range groups {
		d.Groups = append(d.Groups, platformGroup(gr))
	}
	others := slices.DeleteFunc(slices.Clone(groups), func(gr domain.Group) bool {
		_, isFull := slices.BinarySearch(full, gr.ID)
		return isFull
	})
	members, err := s.membersAmong(ctx, tenant, users, others)
	if err != nil {
		return nil, err
	}
	for i := range d.Groups {
		if fi, isFull := slices.BinarySearch(full, d.Groups[i].ID); isFull {
			d.Groups[i].MemberIDs = fullMembers[fi]
		} else {
			d.Groups[i].MemberIDs = members[d.Groups[i].ID]
		}
	}
	return d, nil
}

// loadPartUsers reads the users part names, in id order: first the
// claims, then the users by id.
func (s *Store) loadPartUsers(ctx context.Context, tenant string, part domain.DirectoryPart) ([]domain.PlatformUser, error) {
	var claims []item
	for _, x := range sortedUnique(part.ExternalIDs) {
		claims = append(claims, s.dirKey(tenant, linkSK(part.DirectoryTenantID, x)))
	}
	for _, e := range sortedUnique(part.Emails) {
		if domain.NormalizeEmail(e) != "" {
			claims = append(claims, s.dirKey(tenant, emailSK(e)))
		}
	}
	held, err := s.batchGetMany(ctx, s.dirTable, claims)
	if err != nil {
		return nil, fmt.Errorf("store: load part claims: %w", err)
	}
	ids := slices.Clone(part.UserIDs)
	for _, it := range held {
		ids = append(ids, getS(it, "uid"))
	}
	ids = sortedUnique(ids)
	keys := make([]item, len(ids))
	for i, id := range ids {
		keys[i] = s.dirKey(tenant, userSK(id))
	}
	found, err := s.batchGetMany(ctx, s.dirTable, keys)
	if err != nil {
		return nil, fmt.Errorf("store: load part users: %w", err)
	}
	var users []domain.PlatformUser
	for _, id := range ids {
		if it, ok := found[userSK(id)]; ok {
			users = append(users, userFromItem(it).PlatformUser)
		}
	}
	return users, nil
}

// membersAmong returns, for each of groups, its members among users (in
// id order, as users are). It reads each user's groups (UG#) or each
// group's members (M#), whichever costs fewer requests by the groups'
// member counts: a few thousand users of a directory whose groups are
// small are cheaper read by group.
func (s *Store) membersAmong(ctx context.Context, tenant string, users []domain.PlatformUser, groups []domain.Group) (map[string][]string, error) {
	out := map[string][]string{}
	if len(users) == 0 || len(groups) == 0 {
		return out, nil
	}
	byGroup := s.partMembers == membersByGroup
	if s.partMembers == membersByCost {
		cost := 0
		for _, gr := range groups {
			cost += s.directoryShards() + gr.MemberCount/membersPerQuery
		}
		byGroup = cost < len(users)
	}
	if byGroup {
		gids := make([]string, len(groups))
		for i, gr := range groups {
			gids[i] = gr.ID
		}
		members, err := s.loadGroupMembers(ctx, tenant, gids)
		if err != nil {
			return nil, err
		}
		wanted := make(map[string]bool, len(users))
		for _, u := range users {
			wanted[u.ID] = true
		}
		for i, gid := range gids {
			for _, uid := range members[i] {
				if wanted[uid] {
					out[gid] = append(out[gid], uid)
				}
			}
		}
		return out, nil
	}
	withGroups := make([]domain.User, len(users))
	for i, u := range users {
		withGroups[i].PlatformUser = u
	}
	if err := s.withGroups(ctx, tenant, withGroups); err != nil {
		return nil, err
	}
	asked := make(map[string]bool, len(groups))
	for _, gr := range groups {
		asked[gr.ID] = true
	}
	for _, u := range withGroups {
		for _, ref := range u.Groups {
			if asked[ref.ID] {
				out[ref.ID] = append(out[ref.ID], u.ID)
			}
		}
	}
	return out, nil
}

// loadGroupMembers reads the member ids of each group of gids (M# items,
// every shard), each group's in id order.
func (s *Store) loadGroupMembers(ctx context.Context, tenant string, gids []string) ([][]string, error) {
	pks := s.dirShardPKs(tenant)
	found := make([][]string, len(gids)*len(pks)) // group i, shard d at i*len(pks)+d
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(keyReadConcurrency)
	for i, gid := range gids {
		prefix := "M#" + gid + "#"
		for d, pk := range pks {
			g.Go(func() error {
				return s.queryAll(gctx, s.dirTable, pk, prefix, func(it item) {
					found[i*len(pks)+d] = append(found[i*len(pks)+d], strings.TrimPrefix(getS(it, "sk"), prefix))
				})
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("store: load group members: %w", err)
	}
	members := make([][]string, len(gids))
	for i := range gids {
		members[i] = slices.Concat(found[i*len(pks) : (i+1)*len(pks)]...)
		slices.Sort(members[i])
	}
	return members, nil
}

// batchGetMany is batchGet for many keys: its requests of 100 keys,
// keyReadConcurrency at a time.
func (s *Store) batchGetMany(ctx context.Context, table string, keys []item) (map[string]item, error) {
	keys = uniqueKeys(keys)
	parts := make([]map[string]item, (len(keys)+99)/100)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(keyReadConcurrency)
	for i := range parts {
		g.Go(func() error {
			var err error
			parts[i], err = s.batchGet(gctx, table, keys[i*100:min((i+1)*100, len(keys))])
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	found := make(map[string]item, len(keys))
	for _, p := range parts {
		maps.Copy(found, p)
	}
	return found, nil
}

// sortedUnique is ss sorted, without repeats or empty strings.
func sortedUnique(ss []string) []string {
	out := slices.Compact(slices.Sorted(slices.Values(ss)))
	if len(out) > 0 && out[0] == "" {
		out = out[1:]
	}
	return out
}

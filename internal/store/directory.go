package store

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"dirsync/internal/domain"
)

// Directory keys (DirectoryTable), each under pk "T#<tenant>#<shard>"
// (dirPK: the shard follows from the sort key):
//
//	U#<userId>                      a user
//	E#<normalized email>            claim keeping emails unique per tenant
//	                                (domain.NormalizeEmail)
//	X#<entraTenant>#<entraObjectId> claim keeping Entra links unique
//	G#<groupId>                     a group
//	GX#<entraTenant>#<entraGroupId> claim keeping group links unique
//	M#<groupId>#<userId>            a membership, by group
//	UG#<userId>#<groupId>           a membership, by user (dn: group name)
//
// tenantPK is the tenant's key in the SyncTable (connection, syncs, lock).
func tenantPK(tenant string) string { return "T#" + tenant }
func userSK(id string) string       { return "U#" + id }
func emailSK(email string) string   { return "E#" + domain.NormalizeEmail(email) }
func linkSK(dirTenant, externalID string) string {
	return "X#" + dirTenant + "#" + externalID
}
func groupSK(id string) string { return "G#" + id }
func groupLinkSK(dirTenant, externalID string) string {
	return "GX#" + dirTenant + "#" + externalID
}
func memberSK(groupID, userID string) string    { return "M#" + groupID + "#" + userID }
func userGroupSK(userID, groupID string) string { return "UG#" + userID + "#" + groupID }

// withGroups fills in the groups of each user from its UG# items.
func (s *Store) withGroups(ctx context.Context, tenant string, users []domain.User) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(keyReadConcurrency) // one query a user: latency adds up
	for i := range users {
		g.Go(func() error {
			prefix := "UG#" + users[i].ID + "#"
			var groups []domain.GroupRef
			err := s.queryAll(gctx, s.dirTable, s.dirPK(tenant, prefix), prefix, func(it item) {
				groups = append(groups, domain.GroupRef{ID: strings.TrimPrefix(getS(it, "sk"), prefix), DisplayName: getS(it, "dn")})
			})
			if err != nil {
				return fmt.Errorf("store: groups of user %s: %w", users[i].ID, err)
			}
			users[i].Groups = groups
			return nil
		})
	}
	return g.Wait()
}

func (s *Store) userItem(tenant string, u *domain.User) item {
	it := s.dirKey(tenant, userSK(u.ID))
	it["email"] = avS(u.Email)
	it["st"] = avS(string(u.Status))
	it["src"] = avS(string(u.Source))
	it["rev"] = avN(u.Revision)
	it["cat"] = avTime(u.CreatedAt)
	it["uat"] = avTime(u.UpdatedAt)
	it["q"] = avS(searchText(u.Email, displayNameOf(u.Attributes)))
	if u.ExternalID != "" {
		it["xid"] = avS(u.ExternalID)
		it["xtid"] = avS(u.ExternalTenantID)
	}
	if u.Protected {
		it["prot"] = avBool(true)
	}
	if u.DeactivatedBySync {
		it["dbs"] = avBool(true)
	}
	if m := attrsAV(u.Attributes); m != nil {
		it["a"] = m
	}
	return it
}

func attrsAV(a domain.Attrs) types.AttributeValue {
	m := make(map[string]types.AttributeValue, len(a))
	for _, at := range a {
		if at.Value != "" {
			m[at.Name] = avS(at.Value)
		}
	}
	if len(m) == 0 {
		return nil
	}
	return &types.AttributeValueMemberM{Value: m}
}

func attrsFromAV(v types.AttributeValue) domain.Attrs {
	m, ok := v.(*types.AttributeValueMemberM)
	if !ok {
		return nil
	}
	out := make(domain.Attrs, 0, len(m.Value))
	for k, val := range m.Value {
		if s, ok := val.(*types.AttributeValueMemberS); ok {
			out = append(out, domain.Attr{Name: k, Value: s.Value})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func userFromItem(it item) domain.User {
	u := domain.User{
		PlatformUser: domain.PlatformUser{
			ID:                strings.TrimPrefix(getS(it, "sk"), "U#"),
			Email:             getS(it, "email"),
			Status:            domain.UserStatus(getS(it, "st")),
			Source:            domain.UserSource(getS(it, "src")),
			ExternalID:        getS(it, "xid"),
			ExternalTenantID:  getS(it, "xtid"),
			Protected:         getBool(it, "prot"),
			DeactivatedBySync: getBool(it, "dbs"),
			Attributes:        attrsFromAV(it["a"]),
			Revision:          getN(it, "rev"),
		},
		CreatedAt: getTime(it, "cat"),
		UpdatedAt: getTime(it, "uat"),
	}
	return u
}

func displayNameOf(a domain.Attrs) string {
	v, _ := a.Get("displayName")
	return v
}

// searchText is what the text filter q matches: email and display name,
// lower-cased once at write time.
func searchText(email, displayName string) string {
	return strings.ToLower(email + " " + displayName)
}

// LoadDirectory reads the tenant's whole directory (users, groups and
// memberships) for the plan engine: every shard's users, groups and
// memberships queried in parallel, then put in id order, as one key's
// queries returned them.
func (s *Store) LoadDirectory(ctx context.Context, tenant string) (*domain.Directory, error) {
	n := s.directoryShards()
	users := make([][]domain.PlatformUser, n)
	var groups []domain.PlatformGroup
	type membership struct{ sk, groupID, userID string }
	members := make([][]membership, n)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		err := s.queryEveryShard(gctx, tenant, "U#", func(d int, it item) {
			users[d] = append(users[d], userFromItem(it).PlatformUser)
		})
		if err != nil {
			return fmt.Errorf("store: load users: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		all, err := s.loadGroups(gctx, tenant)
		for _, gr := range all {
			groups = append(groups, platformGroup(gr))
		}
		return err
	})
	g.Go(func() error {
		err := s.queryEveryShard(gctx, tenant, "M#", func(d int, it item) {
			sk := getS(it, "sk")
			if gid, uid, ok := strings.Cut(strings.TrimPrefix(sk, "M#"), "#"); ok {
				members[d] = append(members[d], membership{sk: sk, groupID: gid, userID: uid})
			}
		})
		if err != nil {
			return fmt.Errorf("store: load memberships: %w", err)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// Sort keys share their prefix, so sort key order is id order.
	d := &domain.Directory{Users: slices.Concat(users...), Groups: groups}
	slices.SortFunc(d.Users, func(a, b domain.PlatformUser) int { return strings.Compare(a.ID, b.ID) })
	groupIndex := make(map[string]int, len(d.Groups))
	for i, gr := range d.Groups {
		groupIndex[gr.ID] = i
	}
	all := slices.Concat(members...)
	slices.SortFunc(all, func(a, b membership) int { return strings.Compare(a.sk, b.sk) })
	for _, m := range all {
		if i, found := groupIndex[m.groupID]; found {
			d.Groups[i].MemberIDs = append(d.Groups[i].MemberIDs, m.userID)
		}
	}
	return d, nil
}

// loadGroups reads every group of the tenant, in id order.
func (s *Store) loadGroups(ctx context.Context, tenant string) ([]domain.Group, error) {
	groups := make([][]domain.Group, s.directoryShards())
	err := s.queryEveryShard(ctx, tenant, "G#", func(d int, it item) {
		groups[d] = append(groups[d], groupFromItem(it))
	})
	if err != nil {
		return nil, fmt.Errorf("store: load groups: %w", err)
	}
	all := slices.Concat(groups...)
	slices.SortFunc(all, func(a, b domain.Group) int { return strings.Compare(a.ID, b.ID) })
	return all, nil
}

// platformGroup is a group as the plan engine takes it, without members.
func platformGroup(g domain.Group) domain.PlatformGroup {
	return domain.PlatformGroup{
		ID: g.ID, DisplayName: g.DisplayName, Description: g.Description, Source: g.Source,
		ExternalID: g.ExternalID, ExternalTenantID: g.ExternalTenantID, Revision: g.Revision,
	}
}

// queryPageLimit bounds each Query page of a full read. Real DynamoDB pages
// at 1 MB (about 1,600 users) anyway; DynamoDB Local without a limit works
// through the whole remaining key range for every page, which makes a
// 100k-user load quadratic (measured: 9 s without, 1.3 s with).
const queryPageLimit = 1000

// queryAll runs a Query over every item of pk whose sk starts with prefix.
// It asks for the range from prefix to prefix followed by the largest code
// point, which is every such sort key (the ids after these prefixes are
// ASCII): DynamoDB reads the same items either way, but DynamoDB Local
// answers begins_with by walking the rest of the partition, so one user's
// groups in a 50k-user directory cost 14 ms instead of 1 ms (measured).
func (s *Store) queryAll(ctx context.Context, table, pk, prefix string, fn func(item)) error {
	in := &dynamodb.QueryInput{
		TableName:              aws.String(table),
		Limit:                  aws.Int32(queryPageLimit),
		KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :p AND :end"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(pk), ":p": avS(prefix), ":end": avS(prefix + string(utf8.MaxRune)),
		},
	}
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return err
		}
		for _, it := range out.Items {
			fn(it)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// queryPage returns up to limit items whose sk starts with prefix, after
// the cursor, from the partition keys pks merged in sort key order
// (descending unless forward), keeping only those accepted by keep (nil
// keeps all). Each key is queried in parallel for at most limit+1 matching
// items: whatever the page holds is among them. The next cursor is set
// only when more matching items exist.
func (s *Store) queryPage(ctx context.Context, table string, pks []string, prefix string, p domain.Page, forward bool, filter *filterExpr, keep func(item) bool) ([]item, string, error) {
	after, err := decodeCursor(p.Cursor, prefix)
	if err != nil {
		return nil, "", err
	}
	found := make([][]item, len(pks))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.readConcurrency())
	for i, pk := range pks {
		g.Go(func() error {
			items, err := s.queryFirst(gctx, table, pk, prefix, after, p.Limit+1, forward, filter, keep)
			found[i] = items
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, "", err
	}
	items := mergeBySortKey(found, forward)
	if len(items) > p.Limit {
		return items[:p.Limit], encodeCursor(getS(items[p.Limit-1], "sk")), nil
	}
	return items, "", nil
}

// queryFirst returns the first n items of pk whose sk starts with prefix,
// after the sort key after ("": from the start), that pass the filter and
// keep.
func (s *Store) queryFirst(ctx context.Context, table, pk, prefix, after string, n int, forward bool, filter *filterExpr, keep func(item) bool) ([]item, error) {
	values := map[string]types.AttributeValue{":pk": avS(pk), ":p": avS(prefix)}
	in := &dynamodb.QueryInput{
		TableName:              aws.String(table),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
		ScanIndexForward:       aws.Bool(forward),
		Limit:                  aws.Int32(int32(min(n, 1000))),
	}
	if filter != nil && filter.expr != "" {
		in.FilterExpression = aws.String(filter.expr)
		for k, v := range filter.values {
			values[k] = v
		}
		if len(filter.names) > 0 {
			in.ExpressionAttributeNames = filter.names
		}
	}
	in.ExpressionAttributeValues = values
	if after != "" {
		in.ExclusiveStartKey = key(pk, after)
	}
	var items []item
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, it := range out.Items {
			if keep != nil && !keep(it) {
				continue
			}
			if items = append(items, it); len(items) == n {
				return items, nil
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return items, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

type filterExpr struct {
	expr   string
	names  map[string]string
	values map[string]types.AttributeValue
}

func (f *filterExpr) and(expr string, valueName string, v types.AttributeValue) {
	if f.expr != "" {
		f.expr += " AND "
	}
	f.expr += expr
	if valueName == "" { // an expression without a value
		return
	}
	if f.values == nil {
		f.values = map[string]types.AttributeValue{}
	}
	f.values[valueName] = v
}

// ListUsers pages through the tenant's users in id order.
func (s *Store) ListUsers(ctx context.Context, tenant string, f domain.UserFilter, p domain.Page) ([]domain.User, string, error) {
	var fe filterExpr
	if f.Status != "" {
		fe.and("st = :st", ":st", avS(string(f.Status)))
	}
	if q := strings.ToLower(strings.TrimSpace(f.Q)); q != "" {
		fe.and("contains(q, :q)", ":q", avS(q))
	}
	items, next, err := s.queryPage(ctx, s.dirTable, s.dirShardPKs(tenant), "U#", p, true, &fe, nil)
	if err != nil {
		return nil, "", fmt.Errorf("store: list users: %w", err)
	}
	users := make([]domain.User, len(items))
	for i, it := range items {
		users[i] = userFromItem(it)
	}
	if err := s.withGroups(ctx, tenant, users); err != nil {
		return nil, "", err
	}
	return users, next, nil
}

// GetUser returns one user; another tenant's user is not found, exactly
// like a missing one.
func (s *Store) GetUser(ctx context.Context, tenant, id string) (*domain.User, error) {
	u, _, err := s.getUser(ctx, tenant, id)
	return u, err
}

// getUser returns the user and its item as stored.
func (s *Store) getUser(ctx context.Context, tenant, id string) (*domain.User, item, error) {
	it, err := s.rawUser(ctx, tenant, id)
	if err != nil {
		return nil, nil, err
	}
	if it == nil {
		return nil, nil, domain.Errorf(domain.ENotFound, "user %q not found", id)
	}
	users := []domain.User{userFromItem(it)}
	if err := s.withGroups(ctx, tenant, users); err != nil {
		return nil, nil, err
	}
	return &users[0], it, nil
}

// CreateUser creates a manual user, claiming its email atomically; the
// write is counted in the directory version.
func (s *Store) CreateUser(ctx context.Context, tenant string, nu domain.NewUser) (*domain.User, error) {
	now := s.now().UTC()
	status := nu.Status
	if status == "" {
		status = domain.StatusActive
	}
	u := &domain.User{
		PlatformUser: domain.PlatformUser{
			ID: domain.NewID(now), Email: nu.Email, Status: status, Source: domain.SourceManual,
			Protected: nu.Protected, Attributes: nu.Attributes, Revision: 1,
		},
		CreatedAt: now, UpdatedAt: now,
	}
	if err := s.bumpDirectoryVersion(ctx, tenant); err != nil {
		return nil, err
	}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{
			TableName: aws.String(s.dirTable), Item: s.userItem(tenant, u),
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}},
		{Put: &types.Put{
			TableName: aws.String(s.dirTable), Item: s.claimItem(tenant, emailSK(u.Email), u.ID),
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}},
	}})
	if conditionFailed(err, 1) {
		return nil, domain.Errorf(domain.EConflict, "email %q is already used by another user", nu.Email)
	}
	if err != nil {
		return nil, fmt.Errorf("store: create user: %w", err)
	}
	return u, nil
}

func (s *Store) claimItem(tenant, sk, userID string) item {
	it := s.dirKey(tenant, sk)
	it["uid"] = avS(userID)
	return it
}

// UpdateUser stores the user as p edits it (domain.UserPatch.ApplyTo) with
// its revision bumped, conditional on the revision it read (and on
// p.IfRevision); an email change moves the email claim in the same
// transaction. The write is counted in the directory version.
func (s *Store) UpdateUser(ctx context.Context, tenant, id string, p domain.UserPatch) (*domain.User, error) {
	cur, stored, err := s.getUser(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if p.IfRevision != nil && *p.IfRevision != cur.Revision {
		return nil, domain.Errorf(domain.EConflict, "user %q changed since revision %d (now %d)", id, *p.IfRevision, cur.Revision)
	}
	next := p.ApplyTo(*cur)
	next.Revision = cur.Revision + 1
	next.UpdatedAt = s.now().UTC()

	put := s.userItem(tenant, &next)
	// The apply marker says which sync change last wrote the user; it
	// survives an edit, so a retried batch still knows its change applied.
	if marker, ok := stored["ls"]; ok {
		put["ls"] = marker
	}
	txn := []types.TransactWriteItem{{Put: &types.Put{
		TableName: aws.String(s.dirTable), Item: put,
		ConditionExpression:       aws.String("rev = :rev"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":rev": avN(cur.Revision)},
	}}}
	// A claim moves exactly when its key does: a respelling of the same
	// address keeps it, a look-alike is another address.
	emailMoved := emailSK(cur.Email) != emailSK(next.Email)
	if emailMoved {
		txn = append(txn,
			types.TransactWriteItem{Put: &types.Put{
				TableName: aws.String(s.dirTable), Item: s.claimItem(tenant, emailSK(next.Email), id),
				ConditionExpression: aws.String("attribute_not_exists(pk)"),
			}},
			types.TransactWriteItem{Delete: &types.Delete{
				TableName: aws.String(s.dirTable), Key: s.dirKey(tenant, emailSK(cur.Email)),
			}})
	}
	if err := s.bumpDirectoryVersion(ctx, tenant); err != nil {
		return nil, err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: txn})
	switch {
	case emailMoved && conditionFailed(err, 1):
		return nil, domain.Errorf(domain.EConflict, "email %q is already used by another user", next.Email)
	case conditionFailed(err, 0):
		return nil, domain.Errorf(domain.EConflict, "user %q was changed concurrently; retry", id)
	case err != nil:
		return nil, fmt.Errorf("store: update user: %w", err)
	}
	return &next, nil
}

func (s *Store) groupItem(tenant string, g *domain.Group) item {
	it := s.dirKey(tenant, groupSK(g.ID))
	it["dn"] = avS(g.DisplayName)
	it["src"] = avS(string(g.Source))
	it["rev"] = avN(g.Revision)
	it["mc"] = avN(int64(g.MemberCount))
	it["uat"] = avTime(g.UpdatedAt)
	if g.Description != "" {
		it["desc"] = avS(g.Description)
	}
	if g.ExternalID != "" {
		it["xid"] = avS(g.ExternalID)
		it["xtid"] = avS(g.ExternalTenantID)
	}
	return it
}

func groupFromItem(it item) domain.Group {
	return domain.Group{
		ID:               strings.TrimPrefix(getS(it, "sk"), "G#"),
		DisplayName:      getS(it, "dn"),
		Description:      getS(it, "desc"),
		Source:           domain.UserSource(getS(it, "src")),
		ExternalID:       getS(it, "xid"),
		ExternalTenantID: getS(it, "xtid"),
		MemberCount:      int(getN(it, "mc")),
		Revision:         getN(it, "rev"),
		UpdatedAt:        getTime(it, "uat"),
	}
}

// ListGroups pages through the tenant's groups.
func (s *Store) ListGroups(ctx context.Context, tenant string, p domain.Page) ([]domain.Group, string, error) {
	items, next, err := s.queryPage(ctx, s.dirTable, s.dirShardPKs(tenant), "G#", p, true, nil, nil)
	if err != nil {
		return nil, "", fmt.Errorf("store: list groups: %w", err)
	}
	out := make([]domain.Group, len(items))
	for i, it := range items {
		out[i] = groupFromItem(it)
	}
	return out, next, nil
}

// GetGroup returns one group.
func (s *Store) GetGroup(ctx context.Context, tenant, id string) (*domain.Group, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.dirTable), Key: s.dirKey(tenant, groupSK(id)),
	})
	if err != nil {
		return nil, fmt.Errorf("store: get group: %w", err)
	}
	if out.Item == nil {
		return nil, domain.Errorf(domain.ENotFound, "group %q not found", id)
	}
	g := groupFromItem(out.Item)
	return &g, nil
}

// ListGroupMembers pages through a group's members (404 for an unknown
// group).
func (s *Store) ListGroupMembers(ctx context.Context, tenant, groupID string, p domain.Page) ([]domain.User, string, error) {
	if _, err := s.GetGroup(ctx, tenant, groupID); err != nil {
		return nil, "", err
	}
	items, next, err := s.queryPage(ctx, s.dirTable, s.dirShardPKs(tenant), "M#"+groupID+"#", p, true, nil, nil)
	if err != nil {
		return nil, "", fmt.Errorf("store: list members: %w", err)
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = strings.TrimPrefix(getS(it, "sk"), "M#"+groupID+"#")
	}
	users, err := s.getUsers(ctx, tenant, ids)
	if err != nil {
		return nil, "", err
	}
	return users, next, nil
}

// getUsers reads users by id (BatchGetItem, 100 at a time), in ids order,
// leaving out ids that no longer exist.
func (s *Store) getUsers(ctx context.Context, tenant string, ids []string) ([]domain.User, error) {
	keys := make([]item, len(ids))
	for i, id := range ids {
		keys[i] = s.dirKey(tenant, userSK(id))
	}
	found, err := s.batchGet(ctx, s.dirTable, keys)
	if err != nil {
		return nil, fmt.Errorf("store: get users: %w", err)
	}
	out := make([]domain.User, 0, len(ids))
	for _, id := range ids {
		if it, ok := found[userSK(id)]; ok {
			out = append(out, userFromItem(it))
		}
	}
	if err := s.withGroups(ctx, tenant, out); err != nil {
		return nil, err
	}
	return out, nil
}

// SeedUsers bulk-writes users with their email and link claims, without the
// per-user uniqueness transactions: for loading a directory the caller knows
// to be consistent (the local demo, tests and benchmarks). Ids, revisions
// and timestamps are filled in when empty. The write is counted in the
// directory version.
func (s *Store) SeedUsers(ctx context.Context, tenant string, users []domain.User) error {
	now := s.now().UTC()
	items := make([]item, 0, len(users)*2)
	for i := range users {
		u := &users[i]
		if u.ID == "" {
			u.ID = domain.NewID(now)
		}
		if u.Revision == 0 {
			u.Revision = 1
		}
		if u.CreatedAt.IsZero() {
			u.CreatedAt, u.UpdatedAt = now, now
		}
		if u.Status == "" {
			u.Status = domain.StatusActive
		}
		if u.Source == "" {
			u.Source = domain.SourceManual
		}
		items = append(items, s.userItem(tenant, u), s.claimItem(tenant, emailSK(u.Email), u.ID))
		if u.ExternalID != "" {
			items = append(items, s.claimItem(tenant, linkSK(u.ExternalTenantID, u.ExternalID), u.ID))
		}
	}
	if err := s.bumpDirectoryVersion(ctx, tenant); err != nil {
		return err
	}
	if err := s.putAll(ctx, s.dirTable, items); err != nil {
		return fmt.Errorf("store: seed users: %w", err)
	}
	return nil
}

// SeedGroup writes a group with its memberships (both items of each)
// without conditions, as SeedUsers does users: for a directory the caller
// knows to be consistent (tests and the local demo). Revision, source and
// time are filled in when empty; the member count is that of memberIDs.
// The write is counted in the directory version.
func (s *Store) SeedGroup(ctx context.Context, tenant string, g domain.Group, memberIDs []string) error {
	if g.Revision == 0 {
		g.Revision = 1
	}
	if g.Source == "" {
		g.Source = domain.SourceManual
	}
	if g.UpdatedAt.IsZero() {
		g.UpdatedAt = s.now().UTC()
	}
	g.MemberCount = len(memberIDs)
	items := []item{s.groupItem(tenant, &g)}
	if g.ExternalID != "" {
		claim := s.dirKey(tenant, groupLinkSK(g.ExternalTenantID, g.ExternalID))
		claim["gid"] = avS(g.ID)
		items = append(items, claim)
	}
	for _, uid := range memberIDs {
		ug := s.dirKey(tenant, userGroupSK(uid, g.ID))
		ug["dn"] = avS(g.DisplayName)
		items = append(items, s.dirKey(tenant, memberSK(g.ID, uid)), ug)
	}
	if err := s.bumpDirectoryVersion(ctx, tenant); err != nil {
		return err
	}
	if err := s.writeDirectoryByKey(ctx, putRequests(items)); err != nil {
		return fmt.Errorf("store: seed group %s: %w", g.ID, err)
	}
	return nil
}

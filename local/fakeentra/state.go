package fakeentra

import (
	"cmp"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
)

// tombstone remembers a deleted object for delta queries: soft while it is
// in the tenant's deleted items, restorable.
type tombstone struct {
	id      string
	version uint64
	soft    bool
}

// objIndex keeps a tenant's users or groups sorted by id, with the
// directory version each was last changed at. Sorting happens once per
// directory version, so paging is a slice of it.
type objIndex[T any] struct {
	items  []*T     // sorted by id
	ver    []uint64 // version of last change, parallel to items
	hashes []uint64 // content hashes, parallel to items; nil until the first Update needs them
	tombs  []tombstone
	idOf   func(*T) string
	hashOf func(maphash.Seed, *T) uint64

	// positions maps ids to positions in items. It is built on first use
	// (membership of a large group looks up every member) and dropped when
	// items change.
	positionsOnce *sync.Once
	positions     map[string]int32
}

func (ix *objIndex[T]) build(items []T, version uint64) {
	ix.setItems(sortedPointers(items, ix.idOf))
	ix.ver = make([]uint64, len(ix.items))
	for i := range ix.ver {
		ix.ver[i] = version
	}
	ix.hashes = nil
}

func (ix *objIndex[T]) setItems(items []*T) {
	ix.items = items
	ix.positionsOnce = new(sync.Once)
	ix.positions = nil
}

func sortedPointers[T any](items []T, idOf func(*T) string) []*T {
	ptrs := make([]*T, len(items))
	sorted := true
	for i := range items {
		ptrs[i] = &items[i]
		if i > 0 && idOf(ptrs[i-1]) > idOf(ptrs[i]) {
			sorted = false
		}
	}
	if !sorted {
		slices.SortStableFunc(ptrs, func(a, b *T) int { return cmp.Compare(idOf(a), idOf(b)) })
	}
	return ptrs
}

func (ix *objIndex[T]) computeHashes(seed maphash.Seed) []uint64 {
	hs := make([]uint64, len(ix.items))
	// Large directories are hashed in parallel chunks: a million users is
	// tens of millions of field hashes.
	const chunk = 1 << 16
	var wg sync.WaitGroup
	for start := 0; start < len(ix.items); start += chunk {
		end := min(start+chunk, len(ix.items))
		wg.Go(func() {
			for i := start; i < end; i++ {
				hs[i] = ix.hashOf(seed, ix.items[i])
			}
		})
	}
	wg.Wait()
	return hs
}

// snapshotIDs captures ids and hashes before a mutation that may rewrite
// the objects in place.
func (ix *objIndex[T]) snapshotIDs(seed maphash.Seed) (ids []string, hashes []uint64) {
	if ix.hashes == nil {
		ix.hashes = ix.computeHashes(seed)
	}
	ids = make([]string, len(ix.items))
	for i, it := range ix.items {
		ids[i] = ix.idOf(it)
	}
	return ids, ix.hashes
}

// rebuild re-indexes items after a mutation and stamps what changed since
// the snapshot with version: new and changed objects get it, vanished ones
// become tombstones (soft when deleted holds their id), and ids that left
// the deleted items (wasDeleted) for good turn their tombstones hard. It
// returns the ids that appeared and vanished, whose memberships changed
// with them.
func (ix *objIndex[T]) rebuild(items []T, oldIDs []string, oldHashes []uint64, seed maphash.Seed, version uint64,
	wasDeleted, deleted map[string]bool) (appeared, vanished []string) {
	oldVer := ix.ver
	ix.setItems(sortedPointers(items, ix.idOf))
	ix.hashes = ix.computeHashes(seed)
	ix.ver = make([]uint64, len(ix.items))
	i, j := 0, 0
	for i < len(oldIDs) || j < len(ix.items) {
		switch {
		case j == len(ix.items) || (i < len(oldIDs) && oldIDs[i] < ix.idOf(ix.items[j])):
			vanished = append(vanished, oldIDs[i])
			i++
		case i == len(oldIDs) || ix.idOf(ix.items[j]) < oldIDs[i]:
			ix.ver[j] = version
			appeared = append(appeared, ix.idOf(ix.items[j]))
			j++
		default:
			if oldHashes[i] == ix.hashes[j] {
				ix.ver[j] = oldVer[i]
			} else {
				ix.ver[j] = version
			}
			i++
			j++
		}
	}
	var purged []string
	for id := range wasDeleted {
		if _, present := ix.find(id); !present && !deleted[id] {
			purged = append(purged, id)
		}
	}
	slices.Sort(purged)
	// One tombstone an id: the latest removal is the one a round reports.
	gone := make(map[string]bool, len(appeared)+len(vanished)+len(purged))
	for _, id := range appeared {
		gone[id] = true
	}
	for _, id := range vanished {
		gone[id] = true
	}
	for _, id := range purged {
		gone[id] = true
	}
	if len(gone) > 0 {
		ix.tombs = slices.DeleteFunc(ix.tombs, func(t tombstone) bool { return gone[t.id] })
	}
	for _, id := range vanished {
		ix.tombs = append(ix.tombs, tombstone{id: id, version: version, soft: deleted[id]})
	}
	for _, id := range purged {
		ix.tombs = append(ix.tombs, tombstone{id: id, version: version})
	}
	return appeared, vanished
}

// forgetBefore drops tombstones no honoured token can ask about: those at
// or before floor.
func (ix *objIndex[T]) forgetBefore(floor uint64) {
	ix.tombs = slices.DeleteFunc(ix.tombs, func(t tombstone) bool { return t.version <= floor })
}

// find returns the position of the object with the given id.
func (ix *objIndex[T]) find(id string) (int, bool) {
	ix.positionsOnce.Do(func() {
		ix.positions = make(map[string]int32, len(ix.items))
		for i, it := range ix.items {
			ix.positions[ix.idOf(it)] = int32(i)
		}
	})
	i, ok := ix.positions[id]
	return int(i), ok
}

func (ix *objIndex[T]) get(id string) *T {
	if i, ok := ix.find(id); ok {
		return ix.items[i]
	}
	return nil
}

// deltaEntry is one object in a delta round: present (changed or new) or
// removed.
type deltaEntry[T any] struct {
	obj       *T
	removedID string
	soft      bool // removed to the deleted items: @removed reason "changed"
}

// changedSince lists, in id order, the objects changed after version since,
// then the objects deleted after it.
func (ix *objIndex[T]) changedSince(since uint64) []deltaEntry[T] {
	var out []deltaEntry[T]
	for i, v := range ix.ver {
		if v > since {
			out = append(out, deltaEntry[T]{obj: ix.items[i]})
		}
	}
	for _, t := range ix.tombs {
		if t.version > since {
			out = append(out, deltaEntry[T]{removedID: t.id, soft: t.soft})
		}
	}
	return out
}

// dirObject is a user or a group in a membership listing.
type dirObject struct {
	user  *User
	group *Group
}

func (o dirObject) id() string {
	if o.user != nil {
		return o.user.ID
	}
	return o.group.ID
}

type memberKey struct {
	groupID    string
	transitive bool
	filter     memberFilter
}

// tenantState is a tenant's directory with its sorted indexes, change
// versions and caches. mu guards the directory: requests hold it for
// reading while they encode a page, Update holds it for writing.
type tenantState struct {
	id     string
	domain string
	seed   maphash.Seed

	mu      sync.RWMutex
	t       *Tenant
	version uint64
	users   objIndex[User]
	groups  objIndex[Group]

	// memberLog records, per group id and member id, the versions at which
	// the member joined or left the group's effective direct members, so
	// a groups delta round can report the net change since its token.
	memberLog     map[string]map[string]*memberHistory
	memberChanges int
	// deltaFloor is the oldest version a delta token may start from; older
	// tokens answer 410 syncStateNotFound, their history forgotten.
	deltaFloor uint64

	// cacheMu guards the caches, which hold results for the current version
	// only and are filled by readers.
	cacheMu     sync.Mutex
	members     map[memberKey][]dirObject
	usersByUPN  map[string][]*User // filtered user listings, by lower-case prefix
	groupRows   map[rowKey][]deltaRow
	userDeltas  map[uint64][]deltaEntry[User]
	groupDeltas map[uint64][]deltaEntry[Group]
}

func newTenantState(t *Tenant, seed maphash.Seed) *tenantState {
	st := &tenantState{
		id:      t.ID,
		domain:  t.Domain,
		seed:    seed,
		t:       t,
		version: 1,
		users:   objIndex[User]{idOf: userID, hashOf: hashUser},
		groups:  objIndex[Group]{idOf: groupID, hashOf: hashGroup},
	}
	st.users.build(t.Users, st.version)
	st.groups.build(t.Groups, st.version)
	st.resetCaches()
	return st
}

func userID(u *User) string   { return u.ID }
func groupID(g *Group) string { return g.ID }

func (st *tenantState) resetCaches() {
	st.cacheMu.Lock()
	defer st.cacheMu.Unlock()
	st.members = make(map[memberKey][]dirObject)
	st.usersByUPN = make(map[string][]*User)
	st.groupRows = make(map[rowKey][]deltaRow)
	st.userDeltas = make(map[uint64][]deltaEntry[User])
	st.groupDeltas = make(map[uint64][]deltaEntry[Group])
}

func (st *tenantState) domainOrID() string {
	if st.domain != "" {
		return st.domain
	}
	return st.id
}

func (st *tenantState) app(clientID string) (App, bool) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	for _, a := range st.t.Apps {
		if strings.EqualFold(a.ClientID, clientID) {
			return a, true
		}
	}
	return App{}, false
}

func (st *tenantState) update(fn func(t *Tenant)) {
	st.mu.Lock()
	defer st.mu.Unlock()
	oldUserIDs, oldUserHashes := st.users.snapshotIDs(st.seed)
	oldGroupIDs, oldGroupHashes := st.groups.snapshotIDs(st.seed)
	oldMembers := snapshotMemberships(st.t.Groups)
	wasDeletedUsers, wasDeletedGroups := idSet(st.t.DeletedUsers, userID), idSet(st.t.DeletedGroups, groupID)
	fn(st.t)
	st.version++
	appearedUsers, vanishedUsers := st.users.rebuild(st.t.Users, oldUserIDs, oldUserHashes, st.seed, st.version,
		wasDeletedUsers, idSet(st.t.DeletedUsers, userID))
	appearedGroups, vanishedGroups := st.groups.rebuild(st.t.Groups, oldGroupIDs, oldGroupHashes, st.seed, st.version,
		wasDeletedGroups, idSet(st.t.DeletedGroups, groupID))
	st.recordMembershipChanges(oldMembers, oldUserIDs, oldGroupIDs,
		setOf(appearedUsers, vanishedUsers), setOf(appearedGroups, vanishedGroups))
	if st.deltaHistorySize() > maxDeltaHistory {
		st.forgetDeltaHistory()
	}
	st.resetCaches()
}

func idSet[T any](items []T, idOf func(*T) string) map[string]bool {
	if len(items) == 0 {
		return nil
	}
	m := make(map[string]bool, len(items))
	for i := range items {
		m[idOf(&items[i])] = true
	}
	return m
}

func setOf(lists ...[]string) map[string]bool {
	m := make(map[string]bool)
	for _, l := range lists {
		for _, id := range l {
			m[id] = true
		}
	}
	return m
}

// usersMatching lists, in id order, the users a filter passes; the listing
// is kept for the directory version, so paging it costs O(page). The
// caller holds st.mu for reading.
func (st *tenantState) usersMatching(f userFilter) []*User {
	key := strings.ToLower(f.prefix)
	st.cacheMu.Lock()
	defer st.cacheMu.Unlock()
	if m, ok := st.usersByUPN[key]; ok {
		return m
	}
	out := make([]*User, 0, 64)
	for _, u := range st.users.items {
		if f.matches(u) {
			out = append(out, u)
		}
	}
	st.usersByUPN[key] = out
	return out
}

// userDelta returns the entries of a user delta round reporting changes
// after since; since 0 is an initial round listing every user. The caller
// holds st.mu for reading.
func (st *tenantState) userDelta(since uint64) []deltaEntry[User] {
	st.cacheMu.Lock()
	defer st.cacheMu.Unlock()
	if d, ok := st.userDeltas[since]; ok {
		return d
	}
	d := st.users.changedSince(since)
	st.userDeltas[since] = d
	return d
}

// deltaRow is one entry of a groups delta round that selects members: a
// group with part of its members@delta, or a removed group (group nil). In
// an initial round the part is members[from:to] of its direct members; in
// a later one, diff[from:to] of its membership changes. A group with more
// of them than a page holds is several rows, each with the next part, as
// Graph repeats a large group over several pages of a round.
type deltaRow struct {
	group       *Group
	removedID   string
	removedSoft bool
	incremental bool // a later round's row: diff, not members
	members     []dirObject
	diff        []memberDelta
	from, to    int
}

type rowKey struct {
	since   uint64
	perPage int
}

// groupDeltaRows returns the rows of a groups delta round with members
// reporting changes after since (0: every group with all its members;
// later: each group whose properties or membership changed, with its
// selected properties and the net membership changes, then the removed
// groups), at most perPage members a row. The caller holds st.mu for
// reading.
func (st *tenantState) groupDeltaRows(since uint64, perPage int) []deltaRow {
	key := rowKey{since: since, perPage: perPage}
	st.cacheMu.Lock()
	rows, ok := st.groupRows[key]
	st.cacheMu.Unlock()
	if ok {
		return rows
	}
	rows = make([]deltaRow, 0, 64)
	split := func(row deltaRow, n int) {
		for from := 0; ; from += perPage {
			row.from, row.to = from, min(from+perPage, n)
			rows = append(rows, row)
			if row.to == n {
				break
			}
		}
	}
	if since == 0 {
		for _, g := range st.groups.items {
			members := st.membersOf(g, false, membersAll)
			split(deltaRow{group: g, members: members}, len(members))
		}
	} else {
		for i, g := range st.groups.items {
			diff := st.memberDiff(g.ID, since)
			if st.groups.ver[i] > since || len(diff) > 0 {
				split(deltaRow{group: g, incremental: true, diff: diff}, len(diff))
			}
		}
		for _, e := range st.groupDelta(since) {
			if e.obj == nil {
				rows = append(rows, deltaRow{removedID: e.removedID, removedSoft: e.soft})
			}
		}
	}
	st.cacheMu.Lock()
	st.groupRows[key] = rows
	st.cacheMu.Unlock()
	return rows
}

// groupDelta is userDelta for groups.
func (st *tenantState) groupDelta(since uint64) []deltaEntry[Group] {
	st.cacheMu.Lock()
	defer st.cacheMu.Unlock()
	if d, ok := st.groupDeltas[since]; ok {
		return d
	}
	d := st.groups.changedSince(since)
	st.groupDeltas[since] = d
	return d
}

// membersOf lists a group's direct or transitive members in id order,
// restricted by filter. Transitive listings follow nested groups
// breadth-first, visiting each group once, so cycles end and a group never
// lists itself. The caller holds st.mu for reading.
func (st *tenantState) membersOf(g *Group, transitive bool, filter memberFilter) []dirObject {
	key := memberKey{groupID: g.ID, transitive: transitive, filter: filter}
	st.cacheMu.Lock()
	defer st.cacheMu.Unlock()
	if m, ok := st.members[key]; ok {
		return m
	}
	if !transitive {
		out := st.directMembers(g, filter)
		st.members[key] = out
		return out
	}
	userSeen := make([]bool, len(st.users.items))
	groupSeen := make([]bool, len(st.groups.items))
	start, _ := st.groups.find(g.ID)
	queue := []*Group{g}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, id := range cur.MemberUserIDs {
			if i, ok := st.users.find(id); ok {
				userSeen[i] = true
			}
		}
		for _, id := range cur.MemberGroupIDs {
			i, ok := st.groups.find(id)
			if !ok || groupSeen[i] || i == start {
				continue
			}
			groupSeen[i] = true
			if transitive {
				queue = append(queue, st.groups.items[i])
			}
		}
	}
	var out []dirObject
	if filter != membersUsers {
		for i, seen := range groupSeen {
			if seen {
				out = append(out, dirObject{group: st.groups.items[i]})
			}
		}
	}
	if filter != membersGroups {
		for i, seen := range userSeen {
			if seen {
				out = append(out, dirObject{user: st.users.items[i]})
			}
		}
	}
	slices.SortFunc(out, func(a, b dirObject) int { return cmp.Compare(a.id(), b.id()) })
	st.members[key] = out
	return out
}

// directMembers lists a group's direct members in id order, restricted by
// filter, without the transitive walk's per-call marks over the whole
// directory (a groups delta round asks for every group's). The caller
// holds st.mu for reading and st.cacheMu.
func (st *tenantState) directMembers(g *Group, filter memberFilter) []dirObject {
	var out []dirObject
	if filter != membersUsers {
		for _, id := range g.MemberGroupIDs {
			if i, ok := st.groups.find(id); ok && id != g.ID {
				out = append(out, dirObject{group: st.groups.items[i]})
			}
		}
	}
	if filter != membersGroups {
		for _, id := range g.MemberUserIDs {
			if i, ok := st.users.find(id); ok {
				out = append(out, dirObject{user: st.users.items[i]})
			}
		}
	}
	slices.SortFunc(out, func(a, b dirObject) int { return cmp.Compare(a.id(), b.id()) })
	return slices.CompactFunc(out, func(a, b dirObject) bool { return a.id() == b.id() })
}

// Content hashes combine a seeded hash of each field, so Update can tell
// changed objects from unchanged ones without keeping a copy of the
// directory.
func hashUser(seed maphash.Seed, u *User) uint64 {
	h := uint64(len(u.BusinessPhones))
	for _, s := range [...]string{
		u.ID, u.DisplayName, u.GivenName, u.Surname, u.UserPrincipalName, u.UserType,
		u.JobTitle, u.Department, u.OfficeLocation, u.MobilePhone, u.EmployeeID, u.EmployeeType,
		u.CompanyName, u.Country, u.City, u.State, u.StreetAddress, u.PostalCode, u.UsageLocation,
		u.PreferredLanguage, u.OnPremisesSamAccountName, u.ManagerID,
	} {
		h = mixHash(h, maphash.String(seed, s))
	}
	h = mixHash(h, hashOptional(seed, u.Mail))
	if u.AccountEnabled {
		h = mixHash(h, 1)
	}
	for _, p := range u.BusinessPhones {
		h = mixHash(h, maphash.String(seed, p))
	}
	return h
}

// hashGroup covers a group's properties only: its memberships are tracked
// member by member (deltahistory.go), so a membership change alone does
// not make the group's properties count as changed.
func hashGroup(seed maphash.Seed, g *Group) uint64 {
	var h uint64
	for _, s := range [...]string{g.ID, g.DisplayName, g.Description} {
		h = mixHash(h, maphash.String(seed, s))
	}
	return mixHash(h, hashOptional(seed, g.Mail))
}

func hashOptional(seed maphash.Seed, s *string) uint64 {
	if s == nil {
		return 0x6e756c6c // distinct from the hash of any string, in practice
	}
	return maphash.String(seed, *s)
}

// mixHash folds v into h; the order of fields matters, as it should.
func mixHash(h, v uint64) uint64 {
	return splitmix64(h ^ v)
}

package fakeentra

import (
	"cmp"
	"slices"
)

// maxDeltaHistory bounds what a tenant remembers for delta rounds (member
// changes and tombstones). Past it the history is forgotten and older
// tokens expire, as Graph's tokens do after their lifetime.
var maxDeltaHistory = 1 << 20

// memberChange is a member joining (present) or leaving a group at a
// directory version.
type memberChange struct {
	version uint64
	present bool
}

// memberHistory is one member's changes in one group, oldest first.
type memberHistory struct {
	isGroup bool
	changes []memberChange
}

// presentAt reports whether the member belonged to the group at version v.
func (h *memberHistory) presentAt(v uint64) bool {
	i, _ := slices.BinarySearchFunc(h.changes, v+1, func(c memberChange, v uint64) int { return cmp.Compare(c.version, v) })
	if i == 0 {
		// Before its first recorded change it was in the opposite state.
		return !h.changes[0].present
	}
	return h.changes[i-1].present
}

func (h *memberHistory) presentNow() bool { return h.changes[len(h.changes)-1].present }

// memberDelta is one entry of a group's members@delta in an incremental
// round: a member added, or removed.
type memberDelta struct {
	id      string
	isGroup bool
	removed bool
}

// rawMembers is a group's member id lists as Update found them.
type rawMembers struct {
	users, groups []string
}

// snapshotMemberships copies every group's member ids before an Update,
// which may rewrite them in place.
func snapshotMemberships(groups []Group) map[string]rawMembers {
	m := make(map[string]rawMembers, len(groups))
	for i := range groups {
		g := &groups[i]
		m[g.ID] = rawMembers{users: slices.Clone(g.MemberUserIDs), groups: slices.Clone(g.MemberGroupIDs)}
	}
	return m
}

// recordMembershipChanges compares each group's effective direct members
// (those that exist, a group never its own) before and after an Update
// and logs the differences at the new version. A group that appeared or
// vanished gains or loses all its members; an unchanged member list only
// changes where a member itself appeared or vanished (usersChanged,
// groupsChanged). The caller holds st.mu.
func (st *tenantState) recordMembershipChanges(old map[string]rawMembers, oldUserIDs, oldGroupIDs []string, usersChanged, groupsChanged map[string]bool) {
	existedUser := func(id string) bool { _, ok := slices.BinarySearch(oldUserIDs, id); return ok }
	existedGroup := func(id string) bool { _, ok := slices.BinarySearch(oldGroupIDs, id); return ok }
	existsUser := func(id string) bool { _, ok := st.users.find(id); return ok }
	existsGroup := func(id string) bool { _, ok := st.groups.find(id); return ok }

	for gid, raw := range old {
		g := st.groups.get(gid)
		var now rawMembers
		if g != nil {
			now = rawMembers{users: g.MemberUserIDs, groups: g.MemberGroupIDs}
		}
		if g != nil && slices.Equal(raw.users, now.users) && slices.Equal(raw.groups, now.groups) {
			if len(usersChanged) == 0 && len(groupsChanged) == 0 {
				continue
			}
			for _, id := range raw.users {
				if usersChanged[id] {
					st.recordMember(gid, id, false, existedUser(id), existsUser(id))
				}
			}
			for _, id := range raw.groups {
				if groupsChanged[id] && id != gid {
					st.recordMember(gid, id, true, existedGroup(id), existsGroup(id))
				}
			}
			continue
		}
		before := effectiveMembers(gid, raw, existedUser, existedGroup)
		var after map[memberKeyID]bool
		if g != nil {
			after = effectiveMembers(gid, now, existsUser, existsGroup)
		}
		st.recordDifference(gid, before, after)
	}
	for i := range st.groups.items {
		g := st.groups.items[i]
		if _, known := old[g.ID]; known {
			continue
		}
		after := effectiveMembers(g.ID, rawMembers{users: g.MemberUserIDs, groups: g.MemberGroupIDs}, existsUser, existsGroup)
		st.recordDifference(g.ID, nil, after)
	}
}

// memberKeyID names a member: users and groups are told apart, as their
// ids come from different lists.
type memberKeyID struct {
	id      string
	isGroup bool
}

func effectiveMembers(gid string, raw rawMembers, userExists, groupExists func(string) bool) map[memberKeyID]bool {
	m := make(map[memberKeyID]bool, len(raw.users)+len(raw.groups))
	for _, id := range raw.users {
		if userExists(id) {
			m[memberKeyID{id: id}] = true
		}
	}
	for _, id := range raw.groups {
		if id != gid && groupExists(id) {
			m[memberKeyID{id: id, isGroup: true}] = true
		}
	}
	return m
}

func (st *tenantState) recordDifference(gid string, before, after map[memberKeyID]bool) {
	for k := range before {
		if !after[k] {
			st.recordMember(gid, k.id, k.isGroup, true, false)
		}
	}
	for k := range after {
		if !before[k] {
			st.recordMember(gid, k.id, k.isGroup, false, true)
		}
	}
}

// recordMember logs a member's move from was to is at the current version;
// a repeated call in one Update (a duplicate id) changes nothing.
func (st *tenantState) recordMember(gid, id string, isGroup, was, is bool) {
	if was == is {
		return
	}
	if st.memberLog == nil {
		st.memberLog = make(map[string]map[string]*memberHistory)
	}
	members := st.memberLog[gid]
	if members == nil {
		members = make(map[string]*memberHistory)
		st.memberLog[gid] = members
	}
	h := members[id]
	if h == nil {
		h = &memberHistory{isGroup: isGroup}
		members[id] = h
	}
	if n := len(h.changes); n > 0 && h.changes[n-1].version == st.version {
		return
	}
	h.changes = append(h.changes, memberChange{version: st.version, present: is})
	st.memberChanges++
}

// memberDiff lists, in id order, the net membership changes of a group
// after version since: a member added and removed again in between is not
// among them. The caller holds st.mu for reading.
func (st *tenantState) memberDiff(gid string, since uint64) []memberDelta {
	var out []memberDelta
	for id, h := range st.memberLog[gid] {
		if before, now := h.presentAt(since), h.presentNow(); before != now {
			out = append(out, memberDelta{id: id, isGroup: h.isGroup, removed: !now})
		}
	}
	slices.SortFunc(out, func(a, b memberDelta) int { return cmp.Compare(a.id, b.id) })
	return out
}

func (st *tenantState) deltaHistorySize() int {
	return st.memberChanges + len(st.users.tombs) + len(st.groups.tombs)
}

// forgetDeltaHistory expires every delta token issued so far: the version
// moves on (so tokens issued from now on are honoured) and becomes the
// floor, and the history only older tokens needed is dropped. The caller
// holds st.mu.
func (st *tenantState) forgetDeltaHistory() {
	st.version++
	st.deltaFloor = st.version
	st.memberLog = nil
	st.memberChanges = 0
	st.users.forgetBefore(st.deltaFloor)
	st.groups.forgetBefore(st.deltaFloor)
}

func (st *tenantState) expireDeltaTokens() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.forgetDeltaHistory()
	st.resetCaches()
}

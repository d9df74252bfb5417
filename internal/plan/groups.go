package plan

import (
	"cmp"
	"slices"
	"strings"

	"dirsync/internal/domain"
)

// planGroups mirrors the chosen Entra groups onto the platform groups the
// sync owns (Source entra, this tenant). Manual groups are never touched.
func (c *computation) planGroups() {
	pgs := c.dir.Groups
	owned := make(map[string]int)
	var removals []int
	for gi := range pgs {
		g := &pgs[gi]
		if g.Source != domain.SourceEntra || g.ExternalTenantID != c.tenant {
			continue
		}
		// The removal safeguards' bases: every owned group and membership.
		c.ownedGroups++
		c.heldMemberships += len(g.MemberIDs)
		if g.ExternalID == "" {
			removals = append(removals, gi) // owned, but mirrors nothing
			continue
		}
		prev, dup := owned[g.ExternalID]
		if !dup {
			owned[g.ExternalID] = gi
			continue
		}
		// Two owned groups mirror one Entra group: keep the smallest id, so
		// the result does not depend on input order, and remove the other.
		if g.ID < pgs[prev].ID {
			owned[g.ExternalID], gi = gi, prev
		}
		removals = append(removals, gi)
	}

	// Pair each mirrored group with the owned platform group mirroring it.
	paired := make([]*domain.PlatformGroup, len(c.mirrored))
	for i, sgi := range c.mirrored {
		id := c.snap.Groups[sgi].ID
		if pgi, ok := owned[id]; ok {
			paired[i] = &pgs[pgi]
			delete(owned, id)
		}
	}
	m := c.newMembership(paired)

	for i, sgi := range c.mirrored {
		sg := &c.snap.Groups[sgi]
		subject := domain.Subject{ExternalID: sg.ID, Email: sg.Mail, DisplayName: sg.DisplayName}
		pg := paired[i]
		if pg == nil {
			var attrs domain.Attrs
			if sg.Description != "" {
				attrs = domain.Attrs{{Name: "description", Value: sg.Description}}
			}
			c.groupChanges = append(c.groupChanges, domain.Change{
				ObjectType:   domain.ObjectGroup,
				Kind:         domain.KindAdd,
				Subject:      subject,
				Attributes:   attrs,
				MembersAdded: m.all(i),
			})
			continue
		}
		var fields []domain.FieldChange
		if pg.DisplayName != sg.DisplayName {
			fields = append(fields, domain.FieldChange{Name: "displayName", Before: pg.DisplayName, After: sg.DisplayName})
		}
		if pg.Description != sg.Description {
			fields = append(fields, domain.FieldChange{Name: "description", Before: pg.Description, After: sg.Description})
		}
		added, removed := m.diff(i, pg)
		if len(fields) == 0 && len(added) == 0 && len(removed) == 0 {
			continue
		}
		c.groupChanges = append(c.groupChanges, domain.Change{
			ObjectType:     domain.ObjectGroup,
			Kind:           domain.KindUpdate,
			Subject:        subject,
			TargetID:       pg.ID,
			BaseRevision:   pg.Revision,
			Fields:         fields,
			MembersAdded:   added,
			MembersRemoved: removed,
		})
	}

	// What is left of owned mirrors no chosen Entra group any more.
	for _, gi := range owned {
		removals = append(removals, gi)
	}
	for _, gi := range removals {
		c.groupChanges = append(c.groupChanges, groupRemoval(&pgs[gi]))
	}
	c.sortGroupChanges()
}

// groupRemoval is the removal of platform group pg. It lists every
// membership the group holds, whoever the member (a user gone, ignored or
// skipped alike): they all go with the group, so the preview shows and
// counts them, and an undo can add the group back with them. The
// description rides in Attributes for the same undo.
func groupRemoval(pg *domain.PlatformGroup) domain.Change {
	var attrs domain.Attrs
	if pg.Description != "" {
		attrs = domain.Attrs{{Name: "description", Value: pg.Description}}
	}
	return domain.Change{
		ObjectType:     domain.ObjectGroup,
		Kind:           domain.KindRemove,
		Subject:        domain.Subject{ExternalID: pg.ExternalID, DisplayName: pg.DisplayName},
		TargetID:       pg.ID,
		BaseRevision:   pg.Revision,
		Attributes:     attrs,
		MembersRemoved: memberRefs(pg.MemberIDs),
	}
}

// memberRefs references platform users by id, sorted and unique.
func memberRefs(userIDs []string) []domain.MemberRef {
	if len(userIDs) == 0 {
		return nil
	}
	refs := make([]domain.MemberRef, len(userIDs))
	for i, id := range userIDs {
		refs[i] = domain.MemberRef{UserID: id}
	}
	return slices.CompactFunc(sortRefs(refs), sameRef)
}

// membership computes group membership changes. A group's desired and
// current members are marked in per-platform-user arrays with the group's
// epoch, so comparing a group sorts only its differences and looks nothing
// up beyond the one join that resolved every current member in advance.
type membership struct {
	c *computation
	// current holds, per mirrored group with a platform group, the platform
	// user index of each of that group's MemberIDs (-1 when no platform
	// user has the id).
	current [][]int32
	desired []uint32 // epoch of the group that desires the platform user
	held    []uint32 // epoch of the group that holds the platform user
	epoch   uint32
	users   []int32 // scratch: desired platform users of the group
}

// newMembership resolves the current members of the platform groups
// paired (by mirrored group index, nil for none) with mirrored groups.
func (c *computation) newMembership(paired []*domain.PlatformGroup) *membership {
	m := &membership{c: c, current: make([][]int32, len(paired))}
	n, existing := 0, 0
	for _, pg := range paired {
		if pg != nil {
			n += len(pg.MemberIDs)
			existing++
		}
	}
	if existing == 0 {
		return m // every mirrored group is new: nothing to compare with
	}
	pus := c.dir.Users
	ids := make([]string, 0, n)
	for _, pg := range paired {
		if pg != nil {
			ids = append(ids, pg.MemberIDs...)
		}
	}
	res := join(
		keySource[platformKey]{n: len(pus), key: func(i int) (platformKey, string, keyKind) { return platformIDKey(pus[i].ID) }},
		keySource[platformKey]{n: len(ids), key: func(i int) (platformKey, string, keyKind) { return platformIDKey(ids[i]) }},
		joinOptions{},
	)
	flat := res.match
	for i, pg := range paired {
		if pg != nil {
			n := len(pg.MemberIDs)
			m.current[i], flat = flat[:n:n], flat[n:]
		}
	}
	m.desired = make([]uint32, len(pus))
	m.held = make([]uint32, len(pus))
	return m
}

// collect gathers the members the platform group of mirrored group i
// should have: in-scope source users that are added, updated, reactivated
// or unchanged (never skipped or out of scope). Matched users go to
// m.users; users this plan adds are returned as references by external id,
// sorted.
func (m *membership) collect(i int, mark bool) []domain.MemberRef {
	ids := m.c.snap.Groups[m.c.mirrored[i]].MemberIDs
	var added []domain.MemberRef
	if !mark {
		// A new group lists every member: room for all of them at once.
		added = make([]domain.MemberRef, 0, len(ids))
	}
	m.users = m.users[:0]
	for j, si := range m.c.memberSource[i] {
		if si < 0 {
			continue
		}
		st := &m.c.src[si]
		switch st.outcome {
		case outAdd:
			added = append(added, domain.MemberRef{ExternalID: ids[j]})
		case outUpdate, outReactivate, outUnchanged:
			if !mark {
				m.users = append(m.users, st.platform)
			} else if m.desired[st.platform] != m.epoch {
				m.desired[st.platform] = m.epoch
				m.users = append(m.users, st.platform)
			}
		}
	}
	return sortRefs(added)
}

// all returns every desired member of mirrored group i, for a platform
// group that does not exist yet.
func (m *membership) all(i int) []domain.MemberRef {
	refs := m.collect(i, false)
	start := len(refs)
	for _, pi := range m.users {
		refs = append(refs, domain.MemberRef{UserID: m.c.dir.Users[pi].ID})
	}
	slices.SortFunc(refs[start:], compareRefs)
	return slices.CompactFunc(refs, sameRef)
}

// diff compares mirrored group i's desired members with pg's current ones.
// Current members linked to a skipped source user stay: the source says
// nothing reliable about them. So do those linked to an ignored user: the
// sync leaves them alone.
func (m *membership) diff(i int, pg *domain.PlatformGroup) (added, removed []domain.MemberRef) {
	m.epoch++
	added = m.collect(i, true)
	pus := m.c.dir.Users
	for j, pi := range m.current[i] {
		if pi < 0 {
			// Not a platform user any more: nothing can desire it.
			removed = append(removed, domain.MemberRef{UserID: pg.MemberIDs[j]})
			continue
		}
		if m.held[pi] == m.epoch {
			continue // listed twice
		}
		m.held[pi] = m.epoch
		if m.desired[pi] != m.epoch && !m.c.linkedToSkipped(pi) && !m.c.ignoredPlatform(int(pi)) {
			removed = append(removed, domain.MemberRef{UserID: pus[pi].ID})
		}
	}
	start := len(added)
	for _, pi := range m.users {
		if m.held[pi] != m.epoch {
			added = append(added, domain.MemberRef{UserID: pus[pi].ID})
		}
	}
	slices.SortFunc(added[start:], compareRefs)
	return slices.CompactFunc(added, sameRef), slices.CompactFunc(sortRefs(removed), sameRef)
}

func sameRef(a, b domain.MemberRef) bool { return a == b }

// linkedToSkipped reports whether platform user pi is linked to a source
// user this plan skips.
func (c *computation) linkedToSkipped(pi int32) bool {
	si := c.platformSource[pi]
	return si >= 0 && c.src[si].outcome == outSkip
}

// compareRefs orders member references by platform id, then external id,
// so references to users this plan adds (no platform id yet) come first.
func compareRefs(a, b domain.MemberRef) int {
	return cmp.Or(strings.Compare(a.UserID, b.UserID), strings.Compare(a.ExternalID, b.ExternalID))
}

func sortRefs(refs []domain.MemberRef) []domain.MemberRef {
	if !slices.IsSortedFunc(refs, compareRefs) {
		slices.SortFunc(refs, compareRefs)
	}
	return refs
}

var groupKindRank = map[domain.ChangeKind]int{
	domain.KindAdd:    0,
	domain.KindUpdate: 1,
	domain.KindRemove: 2,
}

// sortGroupChanges orders group changes by kind, then case-insensitive
// display name, then external id, then platform id.
func (c *computation) sortGroupChanges() {
	type keyed struct {
		rank int
		name string
		ch   domain.Change
	}
	keys := make([]keyed, len(c.groupChanges))
	for i, ch := range c.groupChanges {
		keys[i] = keyed{rank: groupKindRank[ch.Kind], name: strings.ToLower(ch.Subject.DisplayName), ch: ch}
	}
	slices.SortFunc(keys, func(a, b keyed) int {
		return cmp.Or(
			cmp.Compare(a.rank, b.rank),
			strings.Compare(a.name, b.name),
			strings.Compare(a.ch.Subject.ExternalID, b.ch.Subject.ExternalID),
			strings.Compare(a.ch.TargetID, b.ch.TargetID),
		)
	})
	for i := range keys {
		c.groupChanges[i] = keys[i].ch
	}
}

package plan

import (
	"dirsync/internal/domain"
)

// assemble orders the changes, numbers them and adds counts and safeguards.
func (c *computation) assemble() *domain.Plan {
	c.sortUserKeys()
	total := len(c.groupChanges)
	for _, keys := range c.userKeys {
		total += len(keys)
	}
	p := &domain.Plan{
		Changes:  make([]domain.Change, total),
		Warnings: c.warnings,
	}
	c.buildUserChanges(p.Changes)
	copy(p.Changes[total-len(c.groupChanges):], c.groupChanges)
	for i := range p.Changes {
		p.Changes[i].Seq = i + 1
	}

	p.Counts = domain.Counts{
		Users: domain.UserCounts{
			Add:        len(c.userKeys[kindAdd]),
			Update:     len(c.userKeys[kindUpdate]),
			Deactivate: len(c.userKeys[kindDeactivate]),
			Reactivate: len(c.userKeys[kindReactivate]),
			Skip:       len(c.userKeys[kindSkip]),
			Unchanged:  c.unchanged,
			OutOfScope: c.outOfScope,
			Ignored:    len(c.userKeys[kindIgnored]) + len(c.userKeys[kindIgnoredGone]),
		},
	}
	for i := range c.groupChanges {
		ch := &c.groupChanges[i]
		switch ch.Kind {
		case domain.KindAdd:
			p.Counts.Groups.Add++
		case domain.KindUpdate:
			p.Counts.Groups.Update++
		case domain.KindRemove:
			p.Counts.Groups.Remove++
		}
		p.Counts.Memberships.Add += len(ch.MembersAdded)
		p.Counts.Memberships.Remove += len(ch.MembersRemoved)
	}
	p.Bases = domain.SafeguardBases{ActiveLinked: c.activeLinked, OwnedGroups: c.ownedGroups, HeldMemberships: c.heldMemberships}
	p.BasesAfter = domain.SafeguardBases{
		ActiveLinked:    c.activeLinked + c.activeLinkedChange(),
		OwnedGroups:     c.ownedGroups + p.Counts.Groups.Add - p.Counts.Groups.Remove,
		HeldMemberships: c.heldMemberships + p.Counts.Memberships.Add - p.Counts.Memberships.Remove,
	}
	p.LeftActive = c.leftActive
	p.Safeguards = domain.EvaluateSafeguards(p.Counts, p.Bases, c.opts.DeactivationThreshold)
	linkMemberships(p.Changes)
	return p
}

// buildUserChanges fills the user part of changes. Source users are read
// in input order, each change written straight to its sorted position:
// reading a million users in sorted order would chase a pointer into
// scattered memory for every one of them.
func (c *computation) buildUserChanges(changes []domain.Change) {
	var base [userKindCount]int
	for k := 1; k < userKindCount; k++ {
		base[k] = base[k-1] + len(c.userKeys[k-1])
	}
	sourceChanges := 0
	for k, keys := range c.userKeys {
		if !fromPlatform(k) {
			sourceChanges += len(keys)
		}
	}
	if sourceChanges > 0 {
		position := make([]int32, len(c.snap.Users))
		for k, keys := range c.userKeys {
			if fromPlatform(k) {
				continue
			}
			for r := range keys {
				position[keys[r].ref] = int32(base[k] + r)
			}
		}
		forEachRange(len(c.src), workerCount(len(c.src)), func(_, lo, hi int) {
			var slab attrSlab
			for si := lo; si < hi; si++ {
				if k := kindOf(c.src[si].outcome); k >= 0 {
					changes[position[si]] = c.sourceChange(k, si, &slab)
				}
			}
		})
	}
	for r, key := range c.userKeys[kindDeactivate] {
		changes[base[kindDeactivate]+r] = c.deactivation(int(key.ref))
	}
	for r, key := range c.userKeys[kindIgnoredGone] {
		changes[base[kindIgnoredGone]+r] = c.ignoredGone(int(key.ref))
	}
}

// linkMemberships records on each user change the group changes whose
// membership changes name the user (by platform id, or by Entra id for a
// user the plan adds), so excluding the user can drop them with it. A
// group removal's memberships are not linked: they go with the group
// whatever becomes of their users (domain.MembershipsFollowUsers). One
// map from the users' ids to their changes, then two passes over the
// membership references (count, then fill one shared array): a million
// references cost a few map lookups each and two allocations in all.
// Platform ids and Entra object ids never look alike, so one map holds
// both.
func linkMemberships(changes []domain.Change) {
	refs := 0
	for i := range changes {
		if g := &changes[i]; domain.MembershipsFollowUsers(g) {
			refs += len(g.MembersAdded) + len(g.MembersRemoved)
		}
	}
	if refs == 0 {
		return
	}
	byID := make(map[string]int32, len(changes))
	for i := range changes {
		c := &changes[i]
		if c.ObjectType != domain.ObjectUser || c.Kind == domain.KindSkip {
			continue
		}
		if c.TargetID != "" {
			byID[c.TargetID] = int32(i)
		}
		if c.Kind == domain.KindAdd && c.Subject.ExternalID != "" {
			byID[c.Subject.ExternalID] = int32(i)
		}
	}
	userOf := func(r domain.MemberRef) (int32, bool) {
		if r.UserID != "" {
			i, ok := byID[r.UserID]
			return i, ok
		}
		i, ok := byID[r.ExternalID]
		return i, ok
	}
	counts := make([]int32, len(changes))
	forRefs := func(fn func(u int32, m domain.MembershipOf)) {
		for i := range changes {
			g := &changes[i]
			if !domain.MembershipsFollowUsers(g) {
				continue
			}
			for _, r := range g.MembersAdded {
				if u, ok := userOf(r); ok {
					fn(u, domain.MembershipOf{Group: g.Seq})
				}
			}
			for _, r := range g.MembersRemoved {
				if u, ok := userOf(r); ok {
					fn(u, domain.MembershipOf{Group: g.Seq, Remove: true})
				}
			}
		}
	}
	total := 0
	forRefs(func(u int32, _ domain.MembershipOf) { counts[u]++; total++ })
	all := make([]domain.MembershipOf, 0, total)
	for i := range changes {
		if n := int(counts[i]); n > 0 {
			changes[i].MemberOf = all[len(all) : len(all) : len(all)+n]
			all = all[:len(all)+n]
		}
	}
	forRefs(func(u int32, m domain.MembershipOf) { changes[u].MemberOf = append(changes[u].MemberOf, m) })
}

// activeLinkedChange is how applying every user change of the plan moves
// the deactivation safeguard's base (the active users the sync owns), as
// apply writes them: an add creates one; a reactivation or update leaves
// the user's source as it was unless the update links it by email; a
// deactivation removes one.
func (c *computation) activeLinkedChange() int {
	n := len(c.userKeys[kindAdd]) - len(c.userKeys[kindDeactivate])
	for si := range c.src {
		st := &c.src[si]
		if st.outcome != outReactivate && st.outcome != outUpdate {
			continue
		}
		p := &c.dir.Users[st.platform]
		before := p.Source == domain.SourceEntra && linkedTo(p, c.tenant) && p.Status == domain.StatusActive
		after := (st.byEmail || p.Source == domain.SourceEntra) &&
			(st.outcome == outReactivate || p.Status == domain.StatusActive)
		switch {
		case after && !before:
			n++
		case before && !after:
			n--
		}
	}
	return n
}

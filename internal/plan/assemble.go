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
// user the plan adds), so excluding the user can drop them with it. The
// index is over the membership changes, not the users: a plan of a
// million users with few membership changes builds a small one.
func linkMemberships(changes []domain.Change) {
	byRef := map[domain.MemberRef][]domain.MembershipOf{}
	for i := range changes {
		g := &changes[i]
		if g.ObjectType != domain.ObjectGroup {
			continue
		}
		for _, r := range g.MembersAdded {
			byRef[r] = append(byRef[r], domain.MembershipOf{Group: g.Seq})
		}
		for _, r := range g.MembersRemoved {
			byRef[r] = append(byRef[r], domain.MembershipOf{Group: g.Seq, Remove: true})
		}
	}
	if len(byRef) == 0 {
		return
	}
	for i := range changes {
		c := &changes[i]
		if c.ObjectType != domain.ObjectUser || c.Kind == domain.KindSkip {
			continue
		}
		if c.TargetID != "" {
			c.MemberOf = append(c.MemberOf, byRef[domain.MemberRef{UserID: c.TargetID}]...)
		}
		if c.Kind == domain.KindAdd && c.Subject.ExternalID != "" {
			c.MemberOf = append(c.MemberOf, byRef[domain.MemberRef{ExternalID: c.Subject.ExternalID}]...)
		}
	}
}

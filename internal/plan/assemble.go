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
	p.Safeguards = c.safeguards(&p.Counts)
	return p
}

// safeguards evaluates the thresholds: deactivations against the active
// linked users, group removals against the owned groups and membership
// removals against the memberships those groups hold, each by share and by
// count with the same limits. Every check is always reported so a preview
// shows how close it came.
func (c *computation) safeguards(counts *domain.Counts) []domain.Safeguard {
	t := c.opts.DeactivationThreshold
	percentLimit := t.Percent
	if percentLimit == 0 {
		percentLimit = domain.DefaultThresholdPercent
	}
	countLimit := t.Count
	if countLimit == 0 {
		countLimit = domain.DefaultThresholdCount
	}
	out := make([]domain.Safeguard, 0, 6)
	threshold := func(percentName, countName string, n, base int) {
		percent := 0.0
		if base > 0 {
			percent = float64(n) * 100 / float64(base)
		}
		out = append(out,
			domain.Safeguard{Name: percentName, Tripped: percent > percentLimit, Limit: percentLimit, Actual: percent},
			domain.Safeguard{Name: countName, Tripped: n > countLimit, Limit: float64(countLimit), Actual: float64(n)},
		)
	}
	threshold(domain.SafeguardDeactivationPercent, domain.SafeguardDeactivationCount, counts.Users.Deactivate, c.activeLinked)
	threshold(domain.SafeguardGroupRemovalPercent, domain.SafeguardGroupRemovalCount, counts.Groups.Remove, c.ownedGroups)
	threshold(domain.SafeguardMembershipRemovalPercent, domain.SafeguardMembershipRemovalCount, counts.Memberships.Remove, c.heldMemberships)
	return out
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
		if k != kindDeactivate {
			sourceChanges += len(keys)
		}
	}
	if sourceChanges > 0 {
		position := make([]int32, len(c.snap.Users))
		for k, keys := range c.userKeys {
			if k == kindDeactivate {
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
}

package review

import "dirsync/internal/domain"

// Decide decides the exclusion writes that set targets excluded (or
// included back) in sync sy, whose excluded changes are current: the
// flips, in writes of at most domain.MaxExclusionsPerWrite, each with the
// counts, safeguards and apply total as they stand after it. Targets
// already in the wanted state are left alone. Tenant, SyncID, Version and
// RetainUntil are the caller's to set.
//
// The counts stay what a plan of the included changes would count:
// memberships are those of the included groups whose user is not
// excluded, and every membership of an included group removal. A user
// flip moves its memberships in included groups (the plan links none to a
// removal); a group flip moves its memberships whose user is not
// excluded, a removal all of them.
func Decide(sy *domain.Sync, targets []domain.Change, current []domain.Exclusion, excluded bool) []domain.ExclusionWrite {
	isExcluded := map[int]bool{}
	excludedUser := map[domain.MemberRef]bool{}
	for _, e := range current {
		isExcluded[e.Seq] = true
		for _, r := range e.User {
			excludedUser[r] = true
		}
	}
	counts := sy.Counts
	sign := 1 // +1 includes, -1 excludes
	if excluded {
		sign = -1
	}
	var steps []domain.ExclusionWrite
	step := domain.ExclusionWrite{}
	flush := func() {
		step.Counts = counts
		step.Safeguards = domain.EvaluateSafeguards(counts, sy.Bases, sy.Options.DeactivationThreshold)
		steps = append(steps, step)
		step = domain.ExclusionWrite{}
	}
	for i := range targets {
		c := &targets[i]
		if isExcluded[c.Seq] == excluded || c.Kind == domain.KindSkip {
			continue
		}
		switch c.ObjectType {
		case domain.ObjectUser:
			addKind(&counts, c, sign)
			counts.Users.Excluded -= sign
			for _, m := range c.MemberOf {
				if !isExcluded[m.Group] {
					addMembership(&counts, m.Remove, sign)
				}
			}
			for _, r := range domain.ExclusionOf(c).User {
				excludedUser[r] = excluded
			}
		case domain.ObjectGroup:
			addKind(&counts, c, sign)
			counts.Groups.Excluded -= sign
			follow := domain.MembershipsFollowUsers(c)
			for _, r := range c.MembersAdded {
				if !follow || !excludedUser[r] {
					addMembership(&counts, false, sign)
				}
			}
			for _, r := range c.MembersRemoved {
				if !follow || !excludedUser[r] {
					addMembership(&counts, true, sign)
				}
			}
		}
		isExcluded[c.Seq] = excluded
		step.ApplyTotalDelta += sign
		if excluded {
			step.Exclude = append(step.Exclude, domain.ExclusionOf(c))
		} else {
			step.Include = append(step.Include, c.Seq)
		}
		if len(step.Exclude)+len(step.Include) == domain.MaxExclusionsPerWrite {
			flush()
		}
	}
	if len(step.Exclude)+len(step.Include) > 0 {
		flush()
	}
	return steps
}

// addKind counts change c's kind sign times.
func addKind(counts *domain.Counts, c *domain.Change, sign int) {
	if c.ObjectType == domain.ObjectGroup {
		switch c.Kind {
		case domain.KindAdd:
			counts.Groups.Add += sign
		case domain.KindUpdate:
			counts.Groups.Update += sign
		case domain.KindRemove:
			counts.Groups.Remove += sign
		}
		return
	}
	switch c.Kind {
	case domain.KindAdd:
		counts.Users.Add += sign
	case domain.KindUpdate:
		counts.Users.Update += sign
	case domain.KindDeactivate:
		counts.Users.Deactivate += sign
	case domain.KindReactivate:
		counts.Users.Reactivate += sign
	}
}

func addMembership(counts *domain.Counts, remove bool, sign int) {
	if remove {
		counts.Memberships.Remove += sign
	} else {
		counts.Memberships.Add += sign
	}
}

package plan

import (
	"slices"

	"dirsync/internal/domain"
)

// ComputePart computes the plan of part of a tenant. While the part needs
// more it returns no plan and the needs; the caller adds them (the source
// users to Users with their platform users, the groups to FullGroups)
// and calls again. The plan it returns equals Compute's over the whole
// directory: the same changes in the same order, counts (settled users
// counted unchanged or out of scope), safeguards and bases.
func ComputePart(in domain.PartInput) (*domain.Plan, domain.PartNeeds, error) {
	if err := validateOptions(in.Options); err != nil {
		return nil, domain.PartNeeds{}, err
	}
	if err := validateSnapshot(in.Snapshot); err != nil {
		return nil, domain.PartNeeds{}, err
	}
	if len(in.Snapshot.Users) == 0 {
		return nil, domain.PartNeeds{}, domain.ErrPartOfEmptySource
	}
	dir := in.Directory
	if dir == nil {
		dir = &domain.Directory{}
	}
	whole := newComputation(in.PlanInput, dir)
	if err := whole.findScope(); err != nil {
		return nil, domain.PartNeeds{}, err
	}
	users := in.Snapshot.Users
	position := make(map[string]int32, len(users))
	for i := range users {
		if _, dup := position[users[i].ID]; dup {
			return nil, domain.PartNeeds{}, duplicateUserError(users)
		}
		position[users[i].ID] = int32(i)
	}
	covered := make([]bool, len(users))
	for _, id := range in.Users {
		if si, ok := position[id]; ok {
			covered[si] = true
		}
	}
	inScope := whole.scopeMembers(position)

	// The users every plan lists, those sharing an email with a covered
	// user, and those linked to a platform user of the part.
	var needs domain.PartNeeds
	need := func(si int32) {
		if !covered[si] {
			covered[si] = true
			needs.Users = append(needs.Users, users[si].ID)
		}
	}
	emails := newEmailSet()
	for si := range users {
		u := &users[si]
		if o, _ := whole.sourceOutcome(u, inScope == nil || inScope[si]); o == outIgnored || o == outSkip {
			need(int32(si))
		}
		if covered[si] {
			emails.add(sourceEmail(u))
		}
	}
	for i := range dir.Users {
		emails.add(dir.Users[i].Email)
	}
	for si := range users {
		if !covered[si] && emails.has(sourceEmail(&users[si])) {
			need(int32(si))
		}
	}
	// The holders of every covered user's email.
	held := newEmailSet()
	for _, e := range in.Emails {
		held.add(e)
	}
	for si := range users {
		if e := sourceEmail(&users[si]); covered[si] && e != "" && !held.has(e) {
			held.add(e)
			needs.Emails = append(needs.Emails, e)
		}
	}
	for i := range dir.Users {
		if p := &dir.Users[i]; linkedTo(p, whole.tenant) {
			if si, ok := position[p.ExternalID]; ok {
				need(si)
			}
		}
	}
	if !needs.Empty() {
		slices.Sort(needs.Users)
		slices.Sort(needs.Emails)
		slices.Sort(needs.Groups)
		return nil, needs, nil
	}

	c := newComputation(domain.PlanInput{
		Snapshot: restrictSnapshot(in.Snapshot, covered, position), Directory: dir,
		Options: in.Options, ActorEmail: in.ActorEmail,
	}, dir)
	if err := c.findScope(); err != nil {
		return nil, domain.PartNeeds{}, err
	}
	if err := c.resolveIDs(); err != nil {
		return nil, domain.PartNeeds{}, err
	}
	c.classifySourceUsers()
	c.planDeactivations()
	c.planGroups()

	// A group the plan adds lists every member; one it removes lists every
	// membership it held.
	full := make(map[string]bool, len(in.FullGroups))
	for _, id := range in.FullGroups {
		full[id] = true
	}
	groupAt := make(map[string]int, len(in.Snapshot.Groups))
	for i := range in.Snapshot.Groups {
		groupAt[in.Snapshot.Groups[i].ID] = i
	}
	for i := range c.groupChanges {
		ch := &c.groupChanges[i]
		switch ch.Kind {
		case domain.KindAdd:
			for _, id := range in.Snapshot.Groups[groupAt[ch.Subject.ExternalID]].MemberIDs {
				if si, ok := position[id]; ok {
					need(si)
				}
			}
		case domain.KindRemove:
			if !full[ch.TargetID] {
				full[ch.TargetID] = true
				needs.Groups = append(needs.Groups, ch.TargetID)
			}
		}
	}
	if !needs.Empty() {
		slices.Sort(needs.Users)
		slices.Sort(needs.Emails)
		slices.Sort(needs.Groups)
		return nil, needs, nil
	}

	p := c.assemble()
	settledOutOfScope, settledUnchanged := 0, 0
	for si := range users {
		if covered[si] {
			continue
		}
		// Every other outcome is a change, which the part covers.
		if o, _ := whole.sourceOutcome(&users[si], inScope == nil || inScope[si]); o == outPending {
			settledUnchanged++
		} else {
			settledOutOfScope++
		}
	}
	p.Counts.Users.Unchanged += settledUnchanged
	p.Counts.Users.OutOfScope += settledOutOfScope
	p.BasesAfter = domain.SafeguardBases{
		ActiveLinked:    in.Bases.ActiveLinked + p.BasesAfter.ActiveLinked - p.Bases.ActiveLinked,
		OwnedGroups:     in.Bases.OwnedGroups + p.BasesAfter.OwnedGroups - p.Bases.OwnedGroups,
		HeldMemberships: in.Bases.HeldMemberships + p.BasesAfter.HeldMemberships - p.Bases.HeldMemberships,
	}
	p.Bases = in.Bases
	p.Safeguards = domain.EvaluateSafeguards(p.Counts, p.Bases, in.Options.DeactivationThreshold)
	return p, domain.PartNeeds{}, nil
}

// scopeMembers marks, when there is a scope, the source users in a scope
// group present in the snapshot (nil: every user is in scope), as
// resolveIDs does for the users it plans.
func (c *computation) scopeMembers(position map[string]int32) []bool {
	if len(c.opts.Scope.Groups) == 0 {
		return nil
	}
	in := make([]bool, len(c.snap.Users))
	for _, gi := range c.mirrored {
		for _, id := range c.snap.Groups[gi].MemberIDs {
			if si, ok := position[id]; ok {
				in[si] = true
			}
		}
	}
	return in
}

// restrictSnapshot is snap with only the covered users, every group
// listing its members among them.
func restrictSnapshot(snap *domain.Snapshot, covered []bool, position map[string]int32) *domain.Snapshot {
	part := &domain.Snapshot{DirectoryTenantID: snap.DirectoryTenantID, UserProperties: snap.UserProperties}
	for si := range snap.Users {
		if covered[si] {
			part.Users = append(part.Users, snap.Users[si])
		}
	}
	part.Groups = make([]domain.SourceGroup, len(snap.Groups))
	for i, g := range snap.Groups {
		// Built anew rather than filtered from a copy: a million users'
		// groups hold tens of millions of members, the part a few.
		var members []string
		for _, id := range g.MemberIDs {
			if si, ok := position[id]; !ok || covered[si] {
				members = append(members, id)
			}
		}
		g.MemberIDs = members
		part.Groups[i] = g
	}
	return part
}

// emailSet holds normalised emails (domain.NormalizeEmail) by the keys
// the plan compares them with.
type emailSet struct {
	packed map[textKey]struct{}
	long   map[string]struct{}
}

func newEmailSet() emailSet {
	return emailSet{packed: map[textKey]struct{}{}, long: map[string]struct{}{}}
}

func (s emailSet) add(email string) {
	switch k, str, kind := emailText(email); kind {
	case packedKey:
		s.packed[k] = struct{}{}
	case stringKey:
		s.long[str] = struct{}{}
	}
}

func (s emailSet) has(email string) bool {
	switch k, str, kind := emailText(email); kind {
	case packedKey:
		_, ok := s.packed[k]
		return ok
	case stringKey:
		_, ok := s.long[str]
		return ok
	}
	return false
}

package plan

import (
	"cmp"
	"slices"

	"dirsync/internal/domain"
)

// Invert returns the undo plan of in.Target: the inverse of what it
// applied. Whom it added is deactivated (never deleted), whom it
// deactivated reactivated and the reverse (each field a reactivation
// changed restored with it), each updated field restored to its before, a
// link it made by email undone, a group it added removed, a group it
// removed added back with its description and the memberships it held, a
// group it updated restored with its memberships reverted. A membership
// of a user who is gone is not restored. The plan is reviewed, excluded
// from and confirmed like any preview. An inverse is conditional on its
// target being as the sync left it: one edited since is marked
// changed_since_sync and its apply is a conflict, leaving it untouched.
func Invert(in domain.UndoInput) *domain.Plan {
	users := map[string]*domain.PlatformUser{}
	for i := range in.Directory.Users {
		users[in.Directory.Users[i].ID] = &in.Directory.Users[i]
	}
	groups := map[string]*domain.PlatformGroup{}
	for i := range in.Directory.Groups {
		groups[in.Directory.Groups[i].ID] = &in.Directory.Groups[i]
	}
	var changes []domain.Change
	for i := range in.Applied {
		c := &in.Applied[i]
		var inv *domain.Change
		switch c.ObjectType {
		case domain.ObjectUser:
			inv = invertUser(c, in.Target.ID, users)
		case domain.ObjectGroup:
			inv = invertGroup(c, in.Target.ID, users, groups)
		}
		if inv != nil {
			inv.Seq = c.Seq // the order among equals, renumbered below
			changes = append(changes, *inv)
		}
	}
	slices.SortStableFunc(changes, func(a, b domain.Change) int {
		return cmp.Or(cmp.Compare(undoRank(a), undoRank(b)), cmp.Compare(a.Seq, b.Seq))
	})
	p := &domain.Plan{Changes: changes}
	for i := range p.Changes {
		p.Changes[i].Seq = i + 1
		countUndo(&p.Counts, &p.Changes[i])
	}
	p.Bases = undoBases(in.Directory, in.Target.DirectoryTenantID)
	p.Safeguards = domain.EvaluateSafeguards(p.Counts, p.Bases, in.Target.Options.DeactivationThreshold)
	// As in any plan: excluding a user from the undo leaves its membership
	// changes out with it, and the recount knows which they are.
	linkMemberships(p.Changes)
	return p
}

// invertUser is the inverse of a user change that applied, nil when there
// is nothing to undo (the user is gone).
func invertUser(c *domain.Change, targetSync string, users map[string]*domain.PlatformUser) *domain.Change {
	id, after := c.TargetID, c.BaseRevision+1 // every sync write bumps the revision by one
	if c.Kind == domain.KindAdd {
		id, after = domain.DerivedID(targetSync, c.Seq), 1 // created at revision 1
	}
	cur := users[id]
	if cur == nil {
		return nil
	}
	inv := &domain.Change{ObjectType: domain.ObjectUser, TargetID: id, BaseRevision: after, Reason: domain.ReasonUndo,
		Subject: domain.Subject{ExternalID: c.Subject.ExternalID, Email: cur.Email, DisplayName: undoDisplayName(cur, c)}}
	switch c.Kind {
	case domain.KindAdd:
		inv.Kind = domain.KindDeactivate
	case domain.KindReactivate:
		// A reactivation also brings the user's fields up to date: the
		// deactivation undoing it puts their befores back.
		inv.Kind = domain.KindDeactivate
		inv.Fields = reversedFields(c.Fields)
	case domain.KindDeactivate:
		inv.Kind = domain.KindReactivate
		inv.Fields = reversedFields(c.Fields)
	case domain.KindUpdate:
		inv.Kind = domain.KindUpdate
		inv.Fields = reversedFields(c.Fields)
		inv.Unlink = c.Link
	default:
		return nil
	}
	if cur.Revision != after {
		inv.Reason = domain.ReasonChangedSinceSync
	}
	return inv
}

// invertGroup is the inverse of a group change that applied, nil when
// there is nothing to undo.
func invertGroup(c *domain.Change, targetSync string, users map[string]*domain.PlatformUser, groups map[string]*domain.PlatformGroup) *domain.Change {
	inv := &domain.Change{ObjectType: domain.ObjectGroup, Subject: c.Subject, Reason: domain.ReasonUndo}
	switch c.Kind {
	case domain.KindAdd:
		id := domain.DerivedID(targetSync, c.Seq)
		cur := groups[id]
		if cur == nil {
			return nil
		}
		inv.Kind, inv.TargetID, inv.BaseRevision = domain.KindRemove, id, 1
		inv.MembersRemoved = memberRefs(cur.MemberIDs) // as any removal lists them
		if cur.Revision != 1 {
			inv.Reason = domain.ReasonChangedSinceSync
		}
	case domain.KindUpdate:
		cur := groups[c.TargetID]
		if cur == nil {
			return nil
		}
		inv.Kind, inv.TargetID, inv.BaseRevision = domain.KindUpdate, c.TargetID, c.BaseRevision+1
		inv.Subject.DisplayName = cur.DisplayName
		inv.Fields = reversedFields(c.Fields)
		inv.MembersAdded, inv.MembersRemoved = restorable(c.MembersRemoved, users), c.MembersAdded
		if cur.Revision != inv.BaseRevision {
			inv.Reason = domain.ReasonChangedSinceSync
		}
	case domain.KindRemove:
		// Added back as the sync found it: its description and the
		// memberships the removal listed (and dropped). The add creates it
		// under the id the undo's change derives, and writes its
		// memberships to that id.
		inv.Kind = domain.KindAdd
		inv.Attributes = c.Attributes
		inv.MembersAdded = restorable(c.MembersRemoved, users)
	default:
		return nil
	}
	return inv
}

// restorable are the memberships of removed that an undo can add back:
// those of platform users that still exist, whatever their status (an
// inactive member held the membership too, and the undo may be
// reactivating it). A membership of a user who is gone is dropped; one
// named by Entra id is resolved, or missed, when applied.
func restorable(removed []domain.MemberRef, users map[string]*domain.PlatformUser) []domain.MemberRef {
	var out []domain.MemberRef
	for _, r := range removed {
		if r.UserID == "" || users[r.UserID] != nil {
			out = append(out, r)
		}
	}
	return out
}

func reversedFields(fields []domain.FieldChange) []domain.FieldChange {
	if len(fields) == 0 {
		return nil
	}
	out := make([]domain.FieldChange, len(fields))
	for i, f := range fields {
		out[i] = domain.FieldChange{Name: f.Name, Before: f.After, After: f.Before}
	}
	return out
}

func undoDisplayName(u *domain.PlatformUser, c *domain.Change) string {
	if n, ok := u.Attributes.Get("displayName"); ok {
		return n
	}
	return c.Subject.DisplayName
}

// rank orders a plan's changes as the store keeps them: users, then
// groups, each kind one contiguous range.
func undoRank(c domain.Change) int {
	order := map[domain.ChangeKind]int{domain.KindAdd: 0, domain.KindUpdate: 1, domain.KindReactivate: 2, domain.KindDeactivate: 3, domain.KindSkip: 4, domain.KindRemove: 5}
	if c.ObjectType == domain.ObjectGroup {
		return 10 + order[c.Kind]
	}
	return order[c.Kind]
}

func countUndo(counts *domain.Counts, c *domain.Change) {
	if c.ObjectType == domain.ObjectGroup {
		switch c.Kind {
		case domain.KindAdd:
			counts.Groups.Add++
		case domain.KindUpdate:
			counts.Groups.Update++
		case domain.KindRemove:
			counts.Groups.Remove++
		}
		counts.Memberships.Add += len(c.MembersAdded)
		counts.Memberships.Remove += len(c.MembersRemoved)
		return
	}
	switch c.Kind {
	case domain.KindUpdate:
		counts.Users.Update++
	case domain.KindReactivate:
		counts.Users.Reactivate++
	case domain.KindDeactivate:
		counts.Users.Deactivate++
	}
}

// bases are the safeguards' bases in the directory as it is now: the
// active users linked to the sync's Entra directory, the groups mirrored
// from it and their memberships.
func undoBases(dir *domain.Directory, entraDir string) domain.SafeguardBases {
	var b domain.SafeguardBases
	for _, u := range dir.Users {
		if u.ExternalTenantID == entraDir && u.ExternalID != "" && u.Status == domain.StatusActive {
			b.ActiveLinked++
		}
	}
	for _, g := range dir.Groups {
		if g.ExternalTenantID == entraDir && g.ExternalID != "" {
			b.OwnedGroups++
			b.HeldMemberships += len(g.MemberIDs)
		}
	}
	return b
}

package domain

import "time"

// Exclusion is a change the admin left out of a ready preview's plan, as
// apply and the exclusion rules need it: its seq and type and, for a user
// change, the references the plan's membership changes name the user by
// (its platform id, or its Entra id for a user the plan adds).
type Exclusion struct {
	Seq        int
	ObjectType ObjectType
	User       []MemberRef
}

// ExclusionOf is the exclusion record of change c.
func ExclusionOf(c *Change) Exclusion {
	e := Exclusion{Seq: c.Seq, ObjectType: c.ObjectType}
	if c.ObjectType == ObjectUser {
		if c.TargetID != "" {
			e.User = append(e.User, MemberRef{UserID: c.TargetID})
		}
		if c.Kind == KindAdd && c.Subject.ExternalID != "" {
			e.User = append(e.User, MemberRef{ExternalID: c.Subject.ExternalID})
		}
	}
	return e
}

// MaxExclusionsPerWrite is how many changes one ExclusionWrite may flip: a
// DynamoDB transaction holds 100 items, two per change plus the sync and
// its progress counter.
const MaxExclusionsPerWrite = 49

// ExclusionWrite is one step of excluding (or including back) changes of a
// ready preview: the changes it flips and the sync's counts, safeguards and
// apply total recomputed over what stays included. It is made on condition
// that the sync is still PREVIEW_READY at Version, which becomes
// Version+1, so concurrent edits never lose a count.
type ExclusionWrite struct {
	Tenant, SyncID string
	Version        int64
	// RetainUntil is when the plan's items expire (Sync.RetainUntil).
	RetainUntil time.Time
	Exclude     []Exclusion // changes now excluded
	Include     []int       // seqs of changes now included again
	Counts      Counts
	Safeguards  []Safeguard
	// ApplyTotalDelta changes the number of changes apply does something
	// with (the progress counter's total).
	ApplyTotalDelta int
}

// MembershipsFollowUsers reports whether the membership changes of change
// c go with their users' changes: excluding a user leaves its memberships
// out of a group add or update. A group removal's memberships do not:
// they go with the group whatever becomes of their users, so the removal
// lists and counts all of them.
func MembershipsFollowUsers(c *Change) bool {
	return c.ObjectType == ObjectGroup && c.Kind != KindRemove
}

// DropExcludedMembers leaves out of the group changes the membership
// changes of users the admin excluded: an excluded user's memberships go
// with it (MembershipsFollowUsers). The excluded set is frozen once the
// sync is confirmed, so every attempt of a batch filters the same
// references (the membership checkpoint counts positions in the filtered
// lists).
func DropExcludedMembers(changes []Change, excluded []Exclusion) {
	users := map[MemberRef]bool{}
	for _, e := range excluded {
		for _, r := range e.User {
			users[r] = true
		}
	}
	if len(users) == 0 {
		return
	}
	keep := func(refs []MemberRef) []MemberRef {
		out := refs[:0:0]
		for _, r := range refs {
			if !users[r] {
				out = append(out, r)
			}
		}
		return out
	}
	for i := range changes {
		c := &changes[i]
		if MembershipsFollowUsers(c) {
			c.MembersAdded, c.MembersRemoved = keep(c.MembersAdded), keep(c.MembersRemoved)
		}
	}
}

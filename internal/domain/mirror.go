package domain

import (
	"errors"
	"slices"
	"strings"
	"time"
)

// SourceMirror is what the service keeps of an Entra tenant between two
// reads, so that a re-sync can read only what changed (Graph delta) and
// plan from the mirror brought up to date. It holds every user and every
// group with its direct members, whatever the scope: a scope is applied
// when a snapshot is taken from it (Snapshot), so changing the scope
// needs no full read.
type SourceMirror struct {
	DirectoryTenantID string
	// UserProperties names the Graph user properties whose values every
	// user's Values holds, in that order.
	UserProperties []string
	// Users are sorted by id.
	Users []SourceUser
	// Groups are every group of the tenant with its direct members.
	Groups []DirectGroup
	// DeltaLinks continue Graph's change tracking from this mirror.
	DeltaLinks DeltaLinks
	// FullReadAt is when the last full read of the tenant started; a
	// periodic full read reconciles whatever the deltas missed.
	FullReadAt time.Time
	// Basis names what shaped the read (MirrorBasis): a mirror read on
	// another basis cannot be brought up to date by a delta.
	Basis string
	// Round is the sync whose preview produced the mirror. Changed lists
	// the users that may have changed since the mirror of sync
	// ChangedSince (ChangedUsers, accumulated over the rounds between):
	// what a re-sync plans from when that sync is the plan basis.
	Round        string
	ChangedSince string
	Changed      []string
}

// DirectGroup is one Entra ID group with its direct members, as Graph's
// groups delta lists them.
type DirectGroup struct {
	ID          string
	DisplayName string
	Description string
	Mail        string
	// UserIDs are the group's direct user members; GroupIDs its direct
	// nested groups. Neither is ordered.
	UserIDs  []string
	GroupIDs []string
}

// DeltaLinks are Graph @odata.deltaLink URLs: following one lists what
// changed in its collection since it was issued.
type DeltaLinks struct {
	// Users was taken before the users were read, so a change made during
	// the read shows up in the next round rather than being lost.
	Users string
	// Groups ends the groups delta round the groups and memberships were
	// read from.
	Groups string
}

// ErrNoMirror: no usable mirror of the tenant is kept (never read, expired,
// or not whole); the next preview reads the tenant in full.
var ErrNoMirror = errors.New("no mirror of the source tenant")

// MirrorBasis names what a read of directory with these user properties
// depends on. The scope is not part of it: every user and group is read
// whatever the scope.
func MirrorBasis(directoryTenantID string, userProperties []string) string {
	return strings.ToLower(directoryTenantID) + "|" + strings.Join(userProperties, ",")
}

// AbsentGroups returns the ids among ids that name no group of the
// mirror (compared case-insensitively), each once, in the order given.
func (m *SourceMirror) AbsentGroups(ids []string) []string {
	have := make(map[string]struct{}, len(m.Groups))
	for i := range m.Groups {
		have[strings.ToLower(m.Groups[i].ID)] = struct{}{}
	}
	var absent []string
	for _, id := range ids {
		if _, ok := have[strings.ToLower(id)]; !ok && id != "" && !slices.Contains(absent, id) {
			absent = append(absent, id)
		}
	}
	return absent
}

// Snapshot is the mirror as a complete read: its users (shared, not
// copied) and the groups it mirrors, all of them or the scope groups in
// scope order, each with its transitive user members: nested groups
// followed, each group once, so a cycle ends. MemberIDs are sorted and
// unique, and a member that is one of the users shares its id's memory.
// Scope groups the mirror does not hold are left out (AbsentGroups names
// them; a reader refuses such a read).
func (m *SourceMirror) Snapshot(scope []string) *Snapshot {
	return &Snapshot{
		DirectoryTenantID: m.DirectoryTenantID,
		UserProperties:    m.UserProperties,
		Users:             m.Users,
		Groups:            m.flatten(scope),
	}
}

func (m *SourceMirror) flatten(scope []string) []SourceGroup {
	position := make(map[string]int32, len(m.Groups))
	for i := range m.Groups {
		position[m.Groups[i].ID] = int32(i)
	}
	chosen := make([]int32, 0, len(m.Groups))
	if len(scope) == 0 {
		for i := range m.Groups {
			chosen = append(chosen, int32(i))
		}
	} else {
		byLower := make(map[string]int32, len(m.Groups))
		for i := range m.Groups {
			byLower[strings.ToLower(m.Groups[i].ID)] = int32(i)
		}
		for _, id := range scope {
			if i, ok := byLower[strings.ToLower(id)]; ok && !slices.Contains(chosen, i) {
				chosen = append(chosen, i)
			}
		}
	}

	userIDs := make([]string, len(m.Users))
	for i := range m.Users {
		userIDs[i] = m.Users[i].ID
	}
	known := newIDIndex(userIDs)
	// stamp marks, per user and per group, the group whose closure last
	// reached it, so each closure visits each once without clearing.
	userStamp := make([]int32, len(m.Users))
	groupStamp := make([]int32, len(m.Groups))
	var positions []int32
	var strangers []string // members not among the users
	var stack []int32
	out := make([]SourceGroup, 0, len(chosen))
	for n, gi := range chosen {
		stamp := int32(n + 1)
		positions, strangers = positions[:0], strangers[:0]
		stack = append(stack[:0], gi)
		groupStamp[gi] = stamp
		for len(stack) > 0 {
			g := &m.Groups[stack[len(stack)-1]]
			stack = stack[:len(stack)-1]
			for _, id := range g.UserIDs {
				if p, ok := known.position(id); ok {
					if userStamp[p] != stamp {
						userStamp[p] = stamp
						positions = append(positions, int32(p))
					}
				} else {
					strangers = append(strangers, id)
				}
			}
			for _, id := range g.GroupIDs {
				// A nested group the mirror does not hold (deleted
				// meanwhile) brings no members.
				if child, ok := position[id]; ok && groupStamp[child] != stamp {
					groupStamp[child] = stamp
					stack = append(stack, child)
				}
			}
		}
		// Users are sorted by id, so positions order the members by id.
		slices.Sort(positions)
		slices.Sort(strangers)
		strangers = slices.Compact(strangers)
		members := make([]string, 0, len(positions)+len(strangers))
		for _, p := range positions {
			members = append(members, userIDs[p])
		}
		if len(strangers) > 0 {
			members = append(members, strangers...)
			slices.Sort(members)
		}
		g := &m.Groups[gi]
		out = append(out, SourceGroup{ID: g.ID, DisplayName: g.DisplayName, Description: g.Description, Mail: g.Mail, MemberIDs: members})
	}
	return out
}

// Why a mirror cannot be brought up to date by a delta, so the tenant is
// read in full instead.
var (
	// ErrDeltaExpired: the source no longer knows the mirror's delta token.
	ErrDeltaExpired = errors.New("the source no longer knows the mirror's delta token")
	// ErrMirrorDrift: the mirror brought up to date does not add up to the
	// source's own counts.
	ErrMirrorDrift = errors.New("the mirror does not add up to the source's counts")
)

package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
)

// PlanInput is everything a plan is computed from: what the preview worker
// hands the plan engine.
type PlanInput struct {
	// Snapshot is the complete read of the Entra tenant.
	Snapshot *Snapshot
	// Directory is the platform's current directory for this platform
	// tenant; nil means an empty directory.
	Directory *Directory
	Options   Options
	// ActorEmail is the email of the admin running the sync, who is never
	// deactivated by it.
	ActorEmail string
}

// PartInput is the input of a plan of part of a tenant: a re-sync planning
// from what changed. Snapshot is the whole read; Directory holds only the
// part's platform users (linked to one of Users, holding one of Emails, or
// named by the caller), with every platform group, each listing its members
// among those users; FullGroups list every member.
//
// The part must cover every user a full plan could change: the source
// users touched since the directory was last settled, and the users and
// platform users the last plan listed. Everything else is settled: its
// platform user is what a full plan would leave unchanged. The plan engine
// grows the part to what it needs for the plan to equal the full plan and
// reports what the Directory is missing (PartNeeds).
type PartInput struct {
	PlanInput
	// Users are the source object ids the part covers; ids gone from the
	// source are the users whose platform users may be deactivated.
	Users []string
	// Emails are the emails whose holders Directory holds.
	Emails []string
	// FullGroups are the platform groups Directory holds with every member.
	FullGroups []string
	// Bases are the whole directory's safeguard bases.
	Bases SafeguardBases
}

// PartNeeds is what a part's Directory is missing: the platform users
// linked to these source users, those holding these emails, and these
// platform groups with every member.
type PartNeeds struct {
	Users  []string
	Emails []string
	Groups []string
}

// Empty reports whether nothing is missing.
func (n PartNeeds) Empty() bool { return len(n.Users) == 0 && len(n.Emails) == 0 && len(n.Groups) == 0 }

// ErrPartOfEmptySource refuses to plan part of a read without users: only
// a full plan can tell an emptied tenant from a fault.
var ErrPartOfEmptySource = errors.New("plan: a read without users is planned in full")

// The plan engine's refusals, checked with errors.Is by the preview worker,
// which ends the preview with a reason for each.
var (
	// ErrSourceEmpty refuses a snapshot without users while the platform
	// holds users linked to that Entra tenant: an empty read is far more
	// likely a fault than an emptied tenant.
	ErrSourceEmpty = errors.New("plan: the source directory has no users while the platform holds users linked to it")
	// ErrInvalidOptions is wrapped with the detail of what is wrong.
	ErrInvalidOptions = errors.New("plan: invalid sync options")
	// ErrScopeGroupsMissing refuses a scope none of whose groups exists in
	// the source: it would put every user out of scope.
	ErrScopeGroupsMissing = errors.New("plan: none of the scope groups exists in the source directory")
	// ErrInvalidSnapshot is wrapped with the detail of a malformed snapshot
	// (missing tenant id, empty or duplicate object ids), which a reader
	// never returns for a complete read.
	ErrInvalidSnapshot = errors.New("plan: invalid snapshot")
)

// Unsettled lists what the changes of a plan leave unsettled until they
// are applied, and a plan of part after their apply must cover: the
// source users they name (user changes' subjects, members by object id)
// and the platform users (their targets, members by platform id).
func Unsettled(changes []Change) (sources, platform []string) {
	for i := range changes {
		c := &changes[i]
		if c.ObjectType == ObjectUser {
			sources = append(sources, c.Subject.ExternalID)
			if c.TargetID != "" {
				platform = append(platform, c.TargetID)
			}
			continue
		}
		for _, refs := range [][]MemberRef{c.MembersAdded, c.MembersRemoved} {
			for _, r := range refs {
				if r.UserID != "" {
					platform = append(platform, r.UserID)
				} else {
					sources = append(sources, r.ExternalID)
				}
			}
		}
	}
	return sources, platform
}

// OptionsHash identifies options as a plan used them: a plan basis holds
// only for a re-sync with the same options (scope, mapping, ignored
// users and the rest).
func OptionsHash(o Options) string {
	b, err := json.Marshal(o)
	if err != nil {
		return "" // Options always marshal; "" matches no basis's hash
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

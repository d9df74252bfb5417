package domain

// ObjectType is what a change is about.
type ObjectType string

const (
	ObjectUser  ObjectType = "user"
	ObjectGroup ObjectType = "group"
)

// ChangeKind is what a change does. Users: add, update, deactivate,
// reactivate, skip. Groups: add, update, remove.
type ChangeKind string

const (
	KindAdd        ChangeKind = "add"
	KindUpdate     ChangeKind = "update"
	KindDeactivate ChangeKind = "deactivate"
	KindReactivate ChangeKind = "reactivate"
	KindSkip       ChangeKind = "skip"
	KindRemove     ChangeKind = "remove"
)

// Reasons carried by changes. Skip reasons explain why a source user is not
// applied; deactivate reasons why an owned user is leaving.
const (
	ReasonNoEmail           = "no_email"             // neither mail nor userPrincipalName usable
	ReasonDuplicateEmail    = "duplicate_email"      // several source users share the email
	ReasonEmailOwnedByOther = "email_owned_by_other" // a different linked platform user has it
	ReasonLinkedElsewhere   = "linked_elsewhere"     // platform user linked to another Entra tenant
	ReasonDeleted           = "deleted"              // not in the source any more
	ReasonDisabled          = "disabled"             // accountEnabled=false
	ReasonOutOfScope        = "out_of_scope"         // not a member of the scope groups, or a guest
	ReasonLinkByEmail       = "link_by_email"        // update that links a manual user by email
	ReasonBackInScope       = "back_in_scope"        // reactivation
	ReasonIgnoredByAdmin    = "ignored_by_admin"     // listed in the connection's ignoredUsers
)

// Subject names the source object a change is about.
type Subject struct {
	ExternalID  string `json:"externalId"`
	Email       string `json:"email"`
	DisplayName string `json:"displayName"`
}

// FieldChange is one changed attribute.
type FieldChange struct {
	Name   string `json:"name"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// MemberRef names a group member: by platform user id when the user exists
// on the platform already, else by Entra object id (a user this plan adds).
type MemberRef struct {
	UserID     string `json:"userId,omitempty"`
	ExternalID string `json:"externalId,omitempty"`
}

// Change is one planned change. Seq is its position in the plan.
type Change struct {
	Seq        int        `json:"seq"`
	ObjectType ObjectType `json:"objectType"`
	Kind       ChangeKind `json:"kind"`
	Subject    Subject    `json:"subject"`
	// TargetID is the platform user or group touched ("" for an add).
	TargetID string `json:"targetId,omitempty"`
	// BaseRevision is the target's revision seen at preview; apply writes
	// only if it is unchanged (otherwise the change is a conflict).
	BaseRevision int64         `json:"baseRevision,omitempty"`
	Fields       []FieldChange `json:"fields,omitempty"`
	Reason       string        `json:"reason,omitempty"`
	// Attributes is the complete mapped attribute set after the change, for
	// user add/update/reactivate (so apply never needs the source again).
	Attributes Attrs `json:"attributes,omitempty"`
	// Link asks apply to link the target to Subject.ExternalID (source
	// becomes entra); Unlink to undo such a link (source becomes manual).
	Link   bool `json:"link,omitempty"`
	Unlink bool `json:"unlink,omitempty"`
	// MembersAdded and MembersRemoved are a group's membership changes.
	MembersAdded   []MemberRef `json:"membersAdded,omitempty"`
	MembersRemoved []MemberRef `json:"membersRemoved,omitempty"`
	// MemberOf lists, for a user change, the group changes of the same
	// plan whose membership changes name this user: excluding the user
	// drops those with it.
	MemberOf []MembershipOf `json:"memberOf,omitempty"`
	// Excluded: the admin left the change out of the plan before
	// confirming; apply skips it.
	Excluded bool `json:"-"`
	// MembersDone and MembersMissed checkpoint a group change's membership
	// writes across apply attempts (references done; members not found).
	MembersDone   int `json:"-"`
	MembersMissed int `json:"-"`
	// Outcome (applied, conflict, failed) and its reason, once applied.
	Outcome       string `json:"outcome,omitempty"`
	OutcomeReason string `json:"outcomeReason,omitempty"`
}

// MembershipOf is one membership change of a user, by the seq of the group
// change holding it.
type MembershipOf struct {
	Group  int  `json:"g"`
	Remove bool `json:"r,omitempty"`
}

// UserCounts counts the included user changes by kind, plus users needing
// no change and source users outside the scope (which are not changes),
// and the user changes the admin excluded. Ignored counts the users the
// connection's ignoredUsers leave out (skips with reason ignored_by_admin,
// which Skip does not count).
type UserCounts struct {
	Add        int `json:"add"`
	Update     int `json:"update"`
	Deactivate int `json:"deactivate"`
	Reactivate int `json:"reactivate"`
	Skip       int `json:"skip"`
	Unchanged  int `json:"unchanged"`
	OutOfScope int `json:"outOfScope"`
	Ignored    int `json:"ignored"`
	Excluded   int `json:"excluded"`
}

// GroupCounts counts the included group changes by kind, and the excluded
// ones.
type GroupCounts struct {
	Add      int `json:"add"`
	Update   int `json:"update"`
	Remove   int `json:"remove"`
	Excluded int `json:"excluded"`
}

// MembershipCounts counts membership additions and removals.
type MembershipCounts struct {
	Add    int `json:"add"`
	Remove int `json:"remove"`
}

// Counts summarise a plan.
type Counts struct {
	Users       UserCounts       `json:"users"`
	Groups      GroupCounts      `json:"groups"`
	Memberships MembershipCounts `json:"memberships"`
}

// Safeguard names. Each threshold is reported twice, as a share of its
// base and as a count, with the same limits (Options.DeactivationThreshold):
// deactivations of the active linked users, removals of the owned groups,
// and membership removals of the memberships those groups hold.
const (
	SafeguardDeactivationPercent      = "deactivation_percent"
	SafeguardDeactivationCount        = "deactivation_count"
	SafeguardGroupRemovalPercent      = "group_removal_percent"
	SafeguardGroupRemovalCount        = "group_removal_count"
	SafeguardMembershipRemovalPercent = "membership_removal_percent"
	SafeguardMembershipRemovalCount   = "membership_removal_count"
)

// Safeguard is one safety check and its state in a preview.
type Safeguard struct {
	Name    string  `json:"name"`
	Tripped bool    `json:"tripped"`
	Limit   float64 `json:"limit"`
	Actual  float64 `json:"actual"`
}

// SafeguardBases are what the thresholds are measured against: the active
// users linked to the Entra tenant, the groups the sync owns and the
// memberships those groups hold, as the plan found them.
type SafeguardBases struct {
	ActiveLinked    int `json:"activeLinked"`
	OwnedGroups     int `json:"ownedGroups"`
	HeldMemberships int `json:"heldMemberships"`
}

// EvaluateSafeguards checks counts against the thresholds t: deactivations
// against the active linked users, group removals against the owned groups
// and membership removals against the memberships those groups hold, each
// by share and by count with the same limits. Every check is always
// reported, so a preview shows how close it came.
func EvaluateSafeguards(counts Counts, bases SafeguardBases, t Threshold) []Safeguard {
	percentLimit := t.Percent
	if percentLimit == 0 {
		percentLimit = DefaultThresholdPercent
	}
	countLimit := t.Count
	if countLimit == 0 {
		countLimit = DefaultThresholdCount
	}
	out := make([]Safeguard, 0, 6)
	threshold := func(percentName, countName string, n, base int) {
		percent := 0.0
		if base > 0 {
			percent = float64(n) * 100 / float64(base)
		}
		out = append(out,
			Safeguard{Name: percentName, Tripped: percent > percentLimit, Limit: percentLimit, Actual: percent},
			Safeguard{Name: countName, Tripped: n > countLimit, Limit: float64(countLimit), Actual: float64(n)},
		)
	}
	threshold(SafeguardDeactivationPercent, SafeguardDeactivationCount, counts.Users.Deactivate, bases.ActiveLinked)
	threshold(SafeguardGroupRemovalPercent, SafeguardGroupRemovalCount, counts.Groups.Remove, bases.OwnedGroups)
	threshold(SafeguardMembershipRemovalPercent, SafeguardMembershipRemovalCount, counts.Memberships.Remove, bases.HeldMemberships)
	return out
}

// Plan is the full result of comparing a snapshot with the directory.
type Plan struct {
	Changes    []Change       `json:"changes"`
	Counts     Counts         `json:"counts"`
	Safeguards []Safeguard    `json:"safeguards"`
	Bases      SafeguardBases `json:"bases"`
	// BasesAfter are the bases once every change is applied: what a
	// re-sync that plans only what changed measures against.
	BasesAfter SafeguardBases `json:"-"`
	// LeftActive are the Entra object ids of the linked users leaving the
	// scope left active because deactivateMissing is off (no change lists
	// them), sorted.
	LeftActive []string `json:"-"`
	Warnings   []string `json:"warnings,omitempty"`
}

// Tripped reports whether any safeguard tripped.
func (p *Plan) Tripped() bool {
	for _, s := range p.Safeguards {
		if s.Tripped {
			return true
		}
	}
	return false
}

// Package domain holds the vocabulary shared by the plan engine, the Entra ID
// reader and the stores: source snapshots read from Entra ID, the platform's
// directory, connection options and the plan computed between them.
//
// It imports no AWS or Graph package, so every layer can depend on it.
package domain

import (
	"sort"
	"time"
)

// SourceUser is one Entra ID user, compacted to what a sync needs. Values
// holds the Graph properties named by Snapshot.UserProperties, in that order,
// so a million users cost one slice each rather than one map each.
type SourceUser struct {
	ID                string // Entra object id
	UserPrincipalName string
	Mail              string // may be empty (no mailbox)
	AccountEnabled    bool
	Guest             bool // userType == "Guest"
	Values            []string
	// ManagerID is the Entra object id of the user's manager when the
	// mapping reads the manager ("" otherwise, or without one): a re-sync
	// derives the manager's value again when the manager changed.
	ManagerID string
}

// SourceGroup is one Entra ID group with its transitive user members.
type SourceGroup struct {
	ID          string // Entra object id
	DisplayName string
	Description string
	Mail        string
	// MemberIDs are the Entra object ids of the group's transitive user
	// members (nested groups flattened), sorted and unique.
	MemberIDs []string
}

// Snapshot is a complete read of one Entra ID tenant. A partial read is never
// a Snapshot: the reader returns an error instead.
type Snapshot struct {
	DirectoryTenantID string
	// UserProperties names the Graph user properties whose values every
	// SourceUser.Values holds, in the same order.
	UserProperties []string
	Users          []SourceUser
	Groups         []SourceGroup
}

// Value returns the value of a Graph user property for u, or "" when the
// snapshot did not read that property.
func (s *Snapshot) Value(u *SourceUser, property string) string {
	for i, p := range s.UserProperties {
		if p == property && i < len(u.Values) {
			return u.Values[i]
		}
	}
	return ""
}

// UserStatus is a platform user's status.
type UserStatus string

const (
	StatusActive   UserStatus = "active"
	StatusInactive UserStatus = "inactive"
)

// UserSource says who owns a platform user or group.
type UserSource string

const (
	SourceManual UserSource = "manual"
	SourceEntra  UserSource = "entra"
)

// Attr is one named attribute value. Slices of Attr are kept sorted by Name.
type Attr struct {
	Name  string
	Value string
}

// Attrs is a name-sorted attribute list; small enough that a scan beats a map.
type Attrs []Attr

// Get returns the value of the named attribute and whether it is set.
func (a Attrs) Get(name string) (string, bool) {
	for _, at := range a {
		if at.Name == name {
			return at.Value, true
		}
	}
	return "", false
}

// Merge returns a with patch applied: each patched name set to its value,
// or removed when the value is empty. Without a patch it returns a itself.
func (a Attrs) Merge(patch map[string]string) Attrs {
	if len(patch) == 0 {
		return a
	}
	m := make(map[string]string, len(a)+len(patch))
	for _, at := range a {
		m[at.Name] = at.Value
	}
	for k, v := range patch {
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	out := make(Attrs, 0, len(m))
	for k, v := range m {
		out = append(out, Attr{Name: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// PlatformUser is a user in the platform's own directory.
type PlatformUser struct {
	ID     string
	Email  string // unique per platform tenant, compared as NormalizeEmail gives it
	Status UserStatus
	Source UserSource
	// ExternalID is the Entra object id this user is linked to ("" if none);
	// ExternalTenantID the Entra directory it belongs to.
	ExternalID       string
	ExternalTenantID string
	// Protected users are never deactivated by a sync.
	Protected bool
	// DeactivatedBySync is set when a sync deactivated the user, which is
	// what makes it eligible for reactivation.
	DeactivatedBySync bool
	Attributes        Attrs
	// Revision increases on every write; apply writes are conditional on it.
	Revision int64
}

// PlatformGroup is a group in the platform's directory.
type PlatformGroup struct {
	ID               string
	DisplayName      string
	Description      string
	Source           UserSource
	ExternalID       string
	ExternalTenantID string
	// MemberIDs are platform user ids, sorted and unique.
	MemberIDs []string
	Revision  int64
}

// Directory is the platform's current directory for one platform tenant.
type Directory struct {
	Users  []PlatformUser
	Groups []PlatformGroup
}

// Scope limits which source users a sync considers.
type Scope struct {
	// Groups are Entra group object ids; when non-empty only their transitive
	// members are in scope, and only these groups are mirrored.
	Groups []string `json:"groups,omitempty"`
}

// Threshold bounds how many deactivations a preview may plan before it needs
// explicit consent. Zero values mean "use the default".
type Threshold struct {
	Percent float64 `json:"percent,omitempty"`
	Count   int     `json:"count,omitempty"`
}

// Default threshold values (DESIGN.md section 3).
const (
	DefaultThresholdPercent = 20
	DefaultThresholdCount   = 500
)

// Mapping maps one platform attribute to one Graph user property.
type Mapping struct {
	Attribute string `json:"attribute"` // platform attribute name
	Source    string `json:"source"`    // Graph user property
}

// Options are a connection's sync options.
type Options struct {
	Scope                 Scope     `json:"scope"`
	IncludeGuests         bool      `json:"includeGuests"`
	DeactivateMissing     bool      `json:"deactivateMissing"`
	DeactivationThreshold Threshold `json:"deactivationThreshold"`
	// Mapping replaces the default attribute mapping when non-empty.
	Mapping []Mapping `json:"mapping,omitempty"`
	// IgnoredUsers are Entra user object ids the admin chose to leave out
	// of every sync (lower case, unique, at most MaxIgnoredUsers).
	IgnoredUsers []string `json:"ignoredUsers,omitempty"`
}

// MaxIgnoredUsers bounds Options.IgnoredUsers (DESIGN.md section 3).
const MaxIgnoredUsers = 10000

// GroupRef names a group a user belongs to.
type GroupRef struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

// User is a platform user as the directory API shows it.
type User struct {
	PlatformUser
	Groups    []GroupRef
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Group is a platform group as the directory API shows it.
type Group struct {
	ID               string
	DisplayName      string
	Description      string
	Source           UserSource
	ExternalID       string
	ExternalTenantID string
	MemberCount      int
	Revision         int64
	UpdatedAt        time.Time
}

package httpapi

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"dirsync/internal/domain"
)

// The response shapes of DESIGN.md section 2. Every documented key is
// always present; a value that does not apply is null rather than absent,
// except nextCursor, which is absent on the last page.

// listView is a page of a listing.
type listView[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"nextCursor,omitempty"`
}

// viewsOf is the view of each item of a listing's page.
func viewsOf[T, V any](items []T, view func(*T) V) []V {
	out := make([]V, len(items))
	for i := range items {
		out[i] = view(&items[i])
	}
	return out
}

func newList[T any](items []T, next string) listView[T] {
	if items == nil {
		items = []T{}
	}
	return listView[T]{Items: items, NextCursor: next}
}

// utc returns t in UTC, or nil for the zero time.
func utc(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	return utc(*t)
}

// orNull returns nil for "" so optional strings are null.
func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

type thresholdView struct {
	Percent float64 `json:"percent"`
	Count   int     `json:"count"`
}

type scopeView struct {
	Groups []string `json:"groups"`
}

// optionsView shows a connection's options as stored: zero thresholds and
// an empty mapping mean the defaults.
type optionsView struct {
	Scope                 scopeView        `json:"scope"`
	IncludeGuests         bool             `json:"includeGuests"`
	DeactivateMissing     bool             `json:"deactivateMissing"`
	DeactivationThreshold thresholdView    `json:"deactivationThreshold"`
	Mapping               []domain.Mapping `json:"mapping"`
}

// connectionOptionsView is a connection's options with its ignored users.
type connectionOptionsView struct {
	optionsView
	IgnoredUsers []string `json:"ignoredUsers"`
}

// syncOptionsView is the options a sync started with. The ignored users
// are pinned by version and shown as a count: at up to 10,000 ids each,
// a page of syncs carrying the lists would pass Lambda's 6 MB response.
type syncOptionsView struct {
	optionsView
	IgnoredUserCount int `json:"ignoredUserCount"`
}

func newOptionsView(o domain.Options) optionsView {
	v := optionsView{
		Scope:                 scopeView{Groups: o.Scope.Groups},
		IncludeGuests:         o.IncludeGuests,
		DeactivateMissing:     o.DeactivateMissing,
		DeactivationThreshold: thresholdView{Percent: o.DeactivationThreshold.Percent, Count: o.DeactivationThreshold.Count},
		Mapping:               o.Mapping,
	}
	if v.Scope.Groups == nil {
		v.Scope.Groups = []string{}
	}
	// Zero thresholds mean the defaults: show what is in force.
	if v.DeactivationThreshold.Percent == 0 {
		v.DeactivationThreshold.Percent = domain.DefaultThresholdPercent
	}
	if v.DeactivationThreshold.Count == 0 {
		v.DeactivationThreshold.Count = domain.DefaultThresholdCount
	}
	if v.Mapping == nil {
		v.Mapping = []domain.Mapping{}
	}
	return v
}

// connectionView never carries the secret: only its last four characters.
type connectionView struct {
	DirectoryTenantID string                `json:"directoryTenantId"`
	ClientID          string                `json:"clientId"`
	Cloud             domain.Cloud          `json:"cloud"`
	SecretHint        string                `json:"secretHint"`
	SecretSetAt       *time.Time            `json:"secretSetAt"`
	Options           connectionOptionsView `json:"options"`
	// ScopeGroups names options.scope.groups, in the same order.
	ScopeGroups []scopeGroupView `json:"scopeGroups"`
	UpdatedAt   *time.Time       `json:"updatedAt"`
}

// scopeGroupView is a scope group's id and its display name in Entra ID,
// null when Graph could not say (unknown id, Graph unreachable).
type scopeGroupView struct {
	ID          string  `json:"id"`
	DisplayName *string `json:"displayName"`
}

// newConnectionView shows c with its scope groups named by names (keyed by
// lower-case id; nil when they could not be looked up).
func newConnectionView(c *domain.Connection, names map[string]string) connectionView {
	v := connectionView{
		DirectoryTenantID: c.DirectoryTenantID, ClientID: c.ClientID, Cloud: c.Cloud,
		SecretHint: c.SecretHint, SecretSetAt: utc(c.SecretSetAt),
		Options:     connectionOptionsView{optionsView: newOptionsView(c.Options), IgnoredUsers: c.Options.IgnoredUsers},
		UpdatedAt:   utc(c.UpdatedAt),
		ScopeGroups: make([]scopeGroupView, len(c.Options.Scope.Groups)),
	}
	if v.Options.IgnoredUsers == nil {
		v.Options.IgnoredUsers = []string{}
	}
	for i, id := range c.Options.Scope.Groups {
		v.ScopeGroups[i] = scopeGroupView{ID: id}
		if name, ok := names[strings.ToLower(id)]; ok {
			v.ScopeGroups[i].DisplayName = &name
		}
	}
	return v
}

// entraGroupView is a group found in Entra ID; memberCount is absent when
// Graph did not count it.
type entraGroupView struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	MemberCount *int   `json:"memberCount,omitempty"`
}

func newEntraGroupView(g *domain.DirectoryGroup) entraGroupView {
	return entraGroupView{ID: g.ID, DisplayName: g.DisplayName, MemberCount: g.MemberCount}
}

type connectionTestView struct {
	OK     bool                     `json:"ok"`
	Checks []domain.ConnectionCheck `json:"checks"`
}

type progressView struct {
	Status     domain.SyncStatus `json:"status"`
	Total      int               `json:"total"`
	Processed  int               `json:"processed"`
	Succeeded  int               `json:"succeeded"`
	Failed     int               `json:"failed"`
	Conflicts  int               `json:"conflicts"`
	Percent    float64           `json:"percent"`
	StartedAt  *time.Time        `json:"startedAt"`
	UpdatedAt  *time.Time        `json:"updatedAt"`
	FinishedAt *time.Time        `json:"finishedAt"`
}

func newProgressView(p *domain.Progress) *progressView {
	if p == nil {
		return nil
	}
	return &progressView{
		Status: p.Status, Total: p.Total, Processed: p.Processed, Succeeded: p.Succeeded,
		Failed: p.Failed, Conflicts: p.Conflicts, Percent: p.Percent,
		StartedAt: utcPtr(p.StartedAt), UpdatedAt: utcPtr(p.UpdatedAt), FinishedAt: utcPtr(p.FinishedAt),
	}
}

type syncStartedView struct {
	ID     string            `json:"id"`
	Status domain.SyncStatus `json:"status"`
}

type syncView struct {
	ID          string             `json:"id"`
	Kind        domain.SyncKind    `json:"kind"`
	Undoes      *string            `json:"undoes"`
	Status      domain.SyncStatus  `json:"status"`
	CreatedAt   *time.Time         `json:"createdAt"`
	CreatedBy   string             `json:"createdBy"`
	ConfirmedAt *time.Time         `json:"confirmedAt"`
	ConfirmedBy *string            `json:"confirmedBy"`
	ExpiresAt   *time.Time         `json:"expiresAt"`
	Options     syncOptionsView    `json:"options"`
	Counts      domain.Counts      `json:"counts"`
	Safeguards  []domain.Safeguard `json:"safeguards"`
	Warnings    []string           `json:"warnings"`
	Error       *domain.SyncError  `json:"error"`
	// ReadKind is how the preview read Entra ID ("full" or "delta"), and
	// ReadReason why in full; null before the read and for an undo.
	ReadKind   *domain.ReadKind `json:"readKind"`
	ReadReason *string          `json:"readReason"`
	// PlannedUsers is how many users a plan from the changes compared;
	// null when the plan compared every user (or for an undo).
	PlannedUsers *int            `json:"plannedUsers"`
	Progress     *progressView   `json:"progress"`
	Events       []syncEventView `json:"events"`
}

// syncEventView is a lifecycle event published for the sync.
type syncEventView struct {
	Type domain.EventType `json:"type"`
	Time time.Time        `json:"time"`
}

func newSyncView(s *domain.Sync, p *domain.Progress) syncView {
	v := syncView{
		ID: s.ID, Kind: s.EffectiveKind(), Undoes: orNull(s.Undoes), Status: s.Status, CreatedAt: utc(s.CreatedAt), CreatedBy: s.CreatedBy,
		ConfirmedAt: utcPtr(s.ConfirmedAt), ConfirmedBy: orNull(s.ConfirmedBy), ExpiresAt: utcPtr(s.ExpiresAt),
		Options: syncOptionsView{optionsView: newOptionsView(s.Options), IgnoredUserCount: s.IgnoredUserCount}, Counts: s.Counts, Safeguards: s.Safeguards, Warnings: s.Warnings,
		Error: s.Error, ReadReason: orNull(s.ReadReason), Progress: newProgressView(p), Events: make([]syncEventView, 0, len(s.Events)),
	}
	if s.ReadKind != "" {
		kind := s.ReadKind
		v.ReadKind = &kind
	}
	if s.PlannedUsers > 0 {
		n := s.PlannedUsers
		v.PlannedUsers = &n
	}
	for _, e := range s.Events {
		v.Events = append(v.Events, syncEventView{Type: e.Type, Time: e.Time.UTC()})
	}
	if v.Safeguards == nil {
		v.Safeguards = []domain.Safeguard{}
	}
	if v.Warnings == nil {
		v.Warnings = []string{}
	}
	return v
}

// changeView leaves out what only apply needs (attribute set, membership
// references, base revision).
type changeView struct {
	Seq           int                  `json:"seq"`
	ObjectType    domain.ObjectType    `json:"objectType"`
	Kind          domain.ChangeKind    `json:"kind"`
	Subject       domain.Subject       `json:"subject"`
	TargetID      *string              `json:"targetId"`
	Fields        []domain.FieldChange `json:"fields"`
	Reason        *string              `json:"reason"`
	Excluded      bool                 `json:"excluded"`
	Outcome       *string              `json:"outcome"`
	OutcomeReason *string              `json:"outcomeReason"`
}

func newChangeView(c *domain.Change) changeView {
	v := changeView{
		Seq: c.Seq, ObjectType: c.ObjectType, Kind: c.Kind, Subject: c.Subject,
		TargetID: orNull(c.TargetID), Fields: c.Fields, Reason: orNull(c.Reason), Excluded: c.Excluded,
		Outcome: orNull(c.Outcome), OutcomeReason: orNull(c.OutcomeReason),
	}
	if v.Fields == nil {
		v.Fields = []domain.FieldChange{}
	}
	return v
}

type groupView struct {
	ID          string            `json:"id"`
	DisplayName string            `json:"displayName"`
	Description *string           `json:"description"`
	Source      domain.UserSource `json:"source"`
	ExternalID  *string           `json:"externalId"`
	MemberCount int               `json:"memberCount"`
	UpdatedAt   *time.Time        `json:"updatedAt"`
}

func newGroupView(g *domain.Group) groupView {
	return groupView{
		ID: g.ID, DisplayName: g.DisplayName, Description: orNull(g.Description), Source: g.Source,
		ExternalID: orNull(g.ExternalID), MemberCount: g.MemberCount, UpdatedAt: utc(g.UpdatedAt),
	}
}

// displayNameAttribute is the attribute shown as a user's displayName.
const displayNameAttribute = "displayName"

// userFixedKeys are the keys of a user's JSON shape that are not mapped
// attributes; an attribute of the same name is never shown over them, and
// new attributes may not take these names.
var userFixedKeys = []string{
	"id", "email", displayNameAttribute, "status", "source", "externalId", "protected",
	"groups", "revision", "createdAt", "updatedAt",
}

func isUserFixedKey(name string) bool {
	for _, k := range userFixedKeys {
		if k == name {
			return true
		}
	}
	return false
}

// userView is a user with its mapped attributes flattened into the object.
type userView struct {
	user *domain.User
}

type userFixed struct {
	ID          string            `json:"id"`
	Email       string            `json:"email"`
	DisplayName *string           `json:"displayName"`
	Status      domain.UserStatus `json:"status"`
	Source      domain.UserSource `json:"source"`
	ExternalID  *string           `json:"externalId"`
	Protected   bool              `json:"protected"`
	Groups      []domain.GroupRef `json:"groups"`
	Revision    int64             `json:"revision"`
	CreatedAt   *time.Time        `json:"createdAt"`
	UpdatedAt   *time.Time        `json:"updatedAt"`
}

// MarshalJSON writes the fixed keys, then the attributes in name order.
func (v userView) MarshalJSON() ([]byte, error) {
	u := v.user
	dn, _ := u.Attributes.Get(displayNameAttribute)
	fixed := userFixed{
		ID: u.ID, Email: u.Email, DisplayName: orNull(dn), Status: u.Status, Source: u.Source,
		ExternalID: orNull(u.ExternalID), Protected: u.Protected, Groups: u.Groups, Revision: u.Revision,
		CreatedAt: utc(u.CreatedAt), UpdatedAt: utc(u.UpdatedAt),
	}
	if fixed.Groups == nil {
		fixed.Groups = []domain.GroupRef{}
	}
	b, err := json.Marshal(fixed)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(b) + 32*len(u.Attributes))
	buf.Write(b[:len(b)-1]) // without the closing brace
	for _, a := range u.Attributes {
		if isUserFixedKey(a.Name) {
			continue
		}
		name, err := json.Marshal(a.Name)
		if err != nil {
			return nil, err
		}
		val, err := json.Marshal(a.Value)
		if err != nil {
			return nil, err
		}
		buf.WriteByte(',')
		buf.Write(name)
		buf.WriteByte(':')
		buf.Write(val)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func newUserView(u *domain.User) userView { return userView{u} }

package apply

import (
	"errors"
	"fmt"
	"strconv"

	"dirsync/internal/domain"
)

// The rules of applying one change, as pure functions: each decides, from
// the change and the directory as read, the write to make or the outcome
// when there is nothing to write, and what a write's failed condition
// means for the change. changes.go does the reading and writing.

// applyContext is what every change of one sync's apply shares.
type applyContext struct {
	Tenant    string
	SyncID    string
	Directory string // the Entra directory (tenant) id the plan came from
	// ConfirmedBy is the email of the admin who confirmed: never deactivated.
	ConfirmedBy string
}

// marker is stored on every user and group a change writes, so a retried
// write can tell its own earlier success from someone else's edit.
func (ac *applyContext) marker(c *domain.Change) string {
	return ac.SyncID + "#" + strconv.Itoa(c.Seq)
}

func outcome(c *domain.Change, result, reason string) domain.Outcome {
	return domain.Outcome{Seq: c.Seq, Result: result, Reason: reason}
}

// Conflict reasons more than one rule gives.
const (
	reasonUserIDTaken     = "a user with the id this change derives already exists"
	reasonLinkedElsewhere = "the Entra user is now linked to another platform user"
)

func reasonEmailTaken(email string) string {
	return "the email " + email + " is now used by another platform user"
}

// readsUser reports whether deciding a user change of kind needs the user
// as stored (an add creates one; other kinds are not applied).
func readsUser(kind domain.ChangeKind) bool {
	switch kind {
	case domain.KindUpdate, domain.KindReactivate, domain.KindDeactivate:
		return true
	}
	return false
}

// decideUser decides a user change from the user as read (cur and the
// marker of its last sync write; nil for a change that reads none): the
// write to make, or nil and the outcome.
func decideUser(c *domain.Change, cur *domain.User, marker string, ac *applyContext) (*domain.UserWrite, domain.Outcome) {
	switch {
	case c.Kind == domain.KindAdd:
		return newUserWrite(c, ac), domain.Outcome{}
	case readsUser(c.Kind):
		return decideUserEdit(c, cur, marker, ac)
	default:
		return nil, outcome(c, domain.OutcomeFailed, "not an applicable user change: "+string(c.Kind))
	}
}

// newUserWrite is the create an add makes, under the id it derives.
func newUserWrite(c *domain.Change, ac *applyContext) *domain.UserWrite {
	email, attrs := splitEmail(c.Attributes)
	if email == "" {
		email = c.Subject.Email
	}
	u := domain.User{PlatformUser: domain.PlatformUser{
		ID: domain.DerivedID(ac.SyncID, c.Seq), Email: email, Status: domain.StatusActive, Source: domain.SourceEntra,
		ExternalID: c.Subject.ExternalID, ExternalTenantID: ac.Directory, Attributes: attrs,
	}}
	return &domain.UserWrite{User: u, Marker: ac.marker(c), Create: true, ClaimLink: true}
}

// decideUserEdit decides an update, reactivate or deactivate: conditional
// on the revision the preview saw, so a user changed since is a conflict
// and left untouched, while a change this sync already wrote (a retried
// batch) is applied.
func decideUserEdit(c *domain.Change, cur *domain.User, marker string, ac *applyContext) (*domain.UserWrite, domain.Outcome) {
	if cur == nil {
		return nil, outcome(c, domain.OutcomeConflict, "the platform user was deleted since the preview")
	}
	if marker == ac.marker(c) {
		return nil, outcome(c, domain.OutcomeApplied, "")
	}
	if cur.Revision != c.BaseRevision {
		return nil, outcome(c, domain.OutcomeConflict, fmt.Sprintf("the platform user was changed since the preview (revision %d, now %d); left untouched", c.BaseRevision, cur.Revision))
	}
	next := *cur
	switch c.Kind {
	case domain.KindDeactivate:
		if admin := domain.NormalizeEmail(ac.ConfirmedBy); admin != "" && domain.NormalizeEmail(cur.Email) == admin {
			return nil, outcome(c, domain.OutcomeConflict, "the admin who confirmed the sync is never deactivated")
		}
		if cur.Protected {
			return nil, outcome(c, domain.OutcomeConflict, "the user is protected")
		}
		next.Status, next.DeactivatedBySync = domain.StatusInactive, true
		// A plan's deactivation changes the status alone; an undo's of a
		// reactivation also restores the fields the reactivation changed.
		next.Attributes = applyFields(cur.Attributes, c.Fields)
	case domain.KindReactivate:
		next.Status, next.DeactivatedBySync = domain.StatusActive, false
		next.Attributes = applyFields(cur.Attributes, c.Fields)
	default:
		next.Attributes = applyFields(cur.Attributes, c.Fields)
	}
	if e, ok := fieldAfter(c, domain.EmailAttribute); ok && e != "" {
		next.Email = e
	}
	w := &domain.UserWrite{User: next, Marker: ac.marker(c), ExpectedRevision: cur.Revision, PreviousEmail: cur.Email, ClaimLink: c.Link}
	switch {
	case c.Link:
		w.User.Source, w.User.ExternalID, w.User.ExternalTenantID = domain.SourceEntra, c.Subject.ExternalID, ac.Directory
	case c.Unlink && cur.ExternalID != "":
		// An undo of a link made by email: the user is manual again.
		w.ReleaseLink = &domain.EntraLink{Directory: cur.ExternalTenantID, ObjectID: cur.ExternalID}
		w.User.Source, w.User.ExternalID, w.User.ExternalTenantID = domain.SourceManual, "", ""
	}
	return w, domain.Outcome{}
}

// decideAdd decides an add from who holds the keys its create would take:
// write it, or not and the outcome.
func decideAdd(c *domain.Change, w *domain.UserWrite, h domain.UserKeyHolders) (bool, domain.Outcome) {
	switch {
	case h.UserExists:
		return false, existingAddOutcome(c, w, h.Marker)
	case h.EmailHolder != "" && h.EmailHolder != w.User.ID:
		return false, outcome(c, domain.OutcomeConflict, reasonEmailTaken(w.User.Email))
	case h.LinkHolder != "" && h.LinkHolder != w.User.ID:
		return false, outcome(c, domain.OutcomeConflict, reasonLinkedElsewhere)
	}
	return true, domain.Outcome{}
}

// existingAddOutcome is the outcome of an add whose derived id is taken by
// a user carrying marker: its own earlier write, or someone else's.
func existingAddOutcome(c *domain.Change, w *domain.UserWrite, marker string) domain.Outcome {
	if marker == w.Marker {
		return outcome(c, domain.OutcomeApplied, "")
	}
	return outcome(c, domain.OutcomeConflict, reasonUserIDTaken)
}

// userWriteOutcome is the outcome of a user write that returned err. A
// create refused because its id exists is for existingAddOutcome: whose
// user it is takes another read. Errors that are no condition are
// returned.
func userWriteOutcome(c *domain.Change, w *domain.UserWrite, err error) (domain.Outcome, error) {
	switch {
	case err == nil:
		return outcome(c, domain.OutcomeApplied, ""), nil
	case errors.Is(err, domain.ErrRevisionChanged):
		return outcome(c, domain.OutcomeConflict, "the platform user was changed while applying; left untouched"), nil
	case errors.Is(err, domain.ErrEmailClaimed):
		return outcome(c, domain.OutcomeConflict, reasonEmailTaken(w.User.Email)), nil
	case errors.Is(err, domain.ErrLinkClaimed):
		return outcome(c, domain.OutcomeConflict, reasonLinkedElsewhere), nil
	default:
		return domain.Outcome{}, fmt.Errorf("apply: %s user (change %d): %w", c.Kind, c.Seq, err)
	}
}

// groupSteps is what a group change does to the directory.
type groupSteps struct {
	// write is the group itself; nil when a retry finds its own write.
	write *domain.GroupWrite
	// remove is the group to delete with its memberships; nothing else
	// follows.
	remove *domain.Group
	// renamed says the members' items take the group's new name
	// (members.GroupName).
	renamed bool
	members domain.MembershipWrite
}

// decideGroup decides a group change from the group as read (cur and the
// marker of its last sync write; nil for an add, which reads none): the
// steps to take, or nil and the outcome.
func decideGroup(c *domain.Change, cur *domain.Group, marker string, ac *applyContext) (*groupSteps, domain.Outcome) {
	mine := ac.marker(c)
	if c.Kind != domain.KindAdd {
		if cur == nil {
			if c.Kind == domain.KindRemove {
				return nil, outcome(c, domain.OutcomeApplied, "") // gone already
			}
			return nil, outcome(c, domain.OutcomeConflict, "the platform group was deleted since the preview")
		}
		if marker != mine && cur.Revision != c.BaseRevision {
			return nil, outcome(c, domain.OutcomeConflict, fmt.Sprintf("the platform group was changed since the preview (revision %d, now %d); left untouched", c.BaseRevision, cur.Revision))
		}
	}
	steps := &groupSteps{}
	gid := c.TargetID
	switch c.Kind {
	case domain.KindAdd:
		gid = domain.DerivedID(ac.SyncID, c.Seq)
		g := domain.Group{ID: gid, DisplayName: c.Subject.DisplayName, Source: domain.SourceEntra,
			ExternalID: c.Subject.ExternalID, ExternalTenantID: ac.Directory}
		g.Description, _ = c.Attributes.Get("description")
		steps.write = &domain.GroupWrite{Group: g, Marker: mine, Create: true}
	case domain.KindUpdate:
		if marker != mine {
			g := *cur
			for _, f := range c.Fields {
				switch f.Name {
				case "displayName":
					g.DisplayName = f.After
				case "description":
					g.Description = f.After
				}
			}
			steps.write = &domain.GroupWrite{Group: g, Marker: mine, ExpectedRevision: c.BaseRevision}
		}
		// Even after its own write: the retry may follow a rename that
		// stopped half way.
		_, steps.renamed = fieldAfter(c, "displayName")
	case domain.KindRemove:
		return &groupSteps{remove: cur}, domain.Outcome{}
	default:
		return nil, outcome(c, domain.OutcomeFailed, "not an applicable group change: "+string(c.Kind))
	}
	name := c.Subject.DisplayName
	if cur != nil && name == "" {
		name = cur.DisplayName
	}
	if n, ok := fieldAfter(c, "displayName"); ok {
		name = n
	}
	steps.members = domain.MembershipWrite{
		SyncID: ac.SyncID, Seq: c.Seq, GroupID: gid, GroupName: name, Directory: ac.Directory,
		Added: c.MembersAdded, Removed: c.MembersRemoved, Done: c.MembersDone, Missed: c.MembersMissed,
	}
	return steps, domain.Outcome{}
}

// groupWriteConflict is the outcome of a group write refused on a
// condition the change conflicts on; false for any other error.
func groupWriteConflict(c *domain.Change, err error) (domain.Outcome, bool) {
	switch {
	case errors.Is(err, domain.ErrLinkClaimed):
		return outcome(c, domain.OutcomeConflict, "the Entra group is now mirrored by another platform group"), true
	case errors.Is(err, domain.ErrExists):
		return outcome(c, domain.OutcomeConflict, "a group with the id this change derives already exists"), true
	case errors.Is(err, domain.ErrRevisionChanged):
		return outcome(c, domain.OutcomeConflict, "the platform group was changed while applying; left untouched"), true
	}
	return domain.Outcome{}, false
}

// membershipsOutcome is the outcome of a group change whose memberships
// were written: applied, naming the members left out because their user
// changes did not apply (an add that conflicted has no user to add).
func membershipsOutcome(c *domain.Change, missed int) domain.Outcome {
	if missed > 0 {
		return outcome(c, domain.OutcomeApplied, fmt.Sprintf("%d members were not added: their user changes did not apply", missed))
	}
	return outcome(c, domain.OutcomeApplied, "")
}

// changeObject is the user or group a change writes: its target, or the
// id an add derives.
func changeObject(c *domain.Change, ac *applyContext) domain.ObjectRef {
	id := c.TargetID
	if c.Kind == domain.KindAdd {
		id = domain.DerivedID(ac.SyncID, c.Seq)
	}
	return domain.ObjectRef{Type: c.ObjectType, ID: id}
}

// wasWritten reports whether this sync already wrote a change, from its
// object as read (whether it exists, and the marker of its last sync
// write): the object carries the change's marker, or, for a group
// removal, the group is gone.
func wasWritten(c *domain.Change, exists bool, marker string, ac *applyContext) bool {
	if c.ObjectType == domain.ObjectGroup && c.Kind == domain.KindRemove {
		return !exists
	}
	return exists && marker == ac.marker(c)
}

// applyFields applies a change's attribute fields (not email, status or
// source, which are first-class) to the current attributes, keeping any
// attribute the mapping does not own.
func applyFields(cur domain.Attrs, fields []domain.FieldChange) domain.Attrs {
	patch := map[string]string{}
	for _, f := range fields {
		switch f.Name {
		case domain.EmailAttribute, "status", "source":
			continue
		}
		patch[f.Name] = f.After
	}
	return cur.Merge(patch)
}

// splitEmail takes the email out of a change's attribute set (the plan
// carries it as the "email" attribute).
func splitEmail(a domain.Attrs) (string, domain.Attrs) {
	out := make(domain.Attrs, 0, len(a))
	email := ""
	for _, at := range a {
		if at.Name == domain.EmailAttribute {
			email = at.Value
			continue
		}
		out = append(out, at)
	}
	return email, out
}

// fieldAfter returns the After of a named field change.
func fieldAfter(c *domain.Change, name string) (string, bool) {
	for _, f := range c.Fields {
		if f.Name == name {
			return f.After, true
		}
	}
	return "", false
}

package domain

import (
	"errors"
	"fmt"
)

// The writes apply makes to the platform directory, as it decides them and
// the store makes them. Every write carries the marker of the sync change
// making it, stored with the object, so a retried batch recognises its
// own earlier write.

// UserWrite is one conditional write of a platform user.
type UserWrite struct {
	// User is the user as it is to be stored; the store sets its revision
	// and timestamps.
	User   User
	Marker string
	// Create needs the user's id to be free. Otherwise the write replaces
	// the user, on condition that it is still at ExpectedRevision.
	Create           bool
	ExpectedRevision int64
	// PreviousEmail is the email a replaced user holds now: its claim moves
	// when User.Email is another address.
	PreviousEmail string
	// ClaimLink claims the user's Entra link (ExternalTenantID, ExternalID)
	// for it.
	ClaimLink bool
	// ReleaseLink gives up the Entra link the user holds now (an undo of a
	// link made by email): its claim is deleted with the write.
	ReleaseLink *EntraLink
}

// EntraLink names an Entra object: its directory and object id.
type EntraLink struct {
	Directory, ObjectID string
}

// UserKeyHolders is who holds the keys a new user would take: its id, its
// email's claim and its Entra link's claim.
type UserKeyHolders struct {
	// UserExists says a user with the id exists; its Marker is the marker of
	// the last write a sync change made to it ("" if none).
	UserExists bool
	Marker     string
	// EmailHolder and LinkHolder are the ids of the users holding the
	// claims ("" when free).
	EmailHolder, LinkHolder string
}

// GroupWrite is one conditional write of a platform group.
type GroupWrite struct {
	// Group is the group as it is to be stored; the store sets its revision
	// and timestamp.
	Group  Group
	Marker string
	// Create writes a new group with its Entra link's claim; a group with
	// its id must not exist unless this write's marker is on it. Otherwise
	// the write replaces the group, on condition that it is still at
	// ExpectedRevision.
	Create           bool
	ExpectedRevision int64
}

// MembershipWrite is a group change's membership changes. They are
// written a slice at a time, each checkpointed on the change (Done,
// Missed), so a retried batch continues where the last attempt stopped.
type MembershipWrite struct {
	SyncID    string
	Seq       int // the change
	GroupID   string
	GroupName string // carried on each member's item
	// Directory is the Entra directory: members named by Entra id are found
	// through their link claims.
	Directory      string
	Added, Removed []MemberRef
	// Done is how many references (added, then removed) earlier attempts
	// wrote; Missed how many of them named no user.
	Done, Missed int
}

// ObjectRef names a platform user or group.
type ObjectRef struct {
	Type ObjectType
	ID   string
}

// ErrConditionFailed says a conditional write found the directory (or a
// sync) other than its condition expects, and wrote nothing. Directory
// writes return it as the errors below, which say whose condition it was;
// what that means is the caller's to decide.
var ErrConditionFailed = errors.New("a write's condition failed")

var (
	// ErrExists: the user or group a write creates exists.
	ErrExists = fmt.Errorf("%w: the object exists", ErrConditionFailed)
	// ErrRevisionChanged: the user or group a write replaces is not at the
	// expected revision, or is gone.
	ErrRevisionChanged = fmt.Errorf("%w: the object is not at the expected revision", ErrConditionFailed)
	// ErrEmailClaimed: another user holds the email's claim.
	ErrEmailClaimed = fmt.Errorf("%w: another user holds the email's claim", ErrConditionFailed)
	// ErrLinkClaimed: another user or group holds the Entra link's claim.
	ErrLinkClaimed = fmt.Errorf("%w: another object holds the Entra link's claim", ErrConditionFailed)
)

// ErrOutOfTime says the invocation's deadline is near. The work done so far
// is checkpointed, so the retry the state machine makes continues from it:
// a group of any size is applied over as many invocations as it needs.
var ErrOutOfTime = errors.New("the invocation is running out of time; a retry continues from the checkpoint")

// Tally counts the outcomes of a batch.
type Tally struct {
	Applied, Conflicts, Failed int
}

// Add counts one outcome.
func (t *Tally) Add(result string) {
	switch result {
	case OutcomeApplied:
		t.Applied++
	case OutcomeConflict:
		t.Conflicts++
	default:
		t.Failed++
	}
}

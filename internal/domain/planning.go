package domain

import "errors"

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

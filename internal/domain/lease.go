package domain

import (
	"errors"
	"time"
)

// Lease is a preview worker's hold on its sync's lock. Owner "" is the
// starter, before any worker claimed the lease.
type Lease struct {
	Tenant, SyncID, Owner string
}

// Lease sentinels, checked with errors.Is.
var (
	// ErrLeaseHeld: another live worker holds the preview's lease.
	ErrLeaseHeld = errors.New("another worker holds the preview's lease")
	// ErrLeaseLost: the worker no longer holds the preview's lease (it
	// lapsed and the sync failed as worker_lost, or the sync was cancelled).
	ErrLeaseLost = errors.New("the preview's lease was lost")
)

// PlanWrite says how to store a plan.
type PlanWrite struct {
	// Batches are the plan's apply batches, as CutBatches cuts them:
	// indexed from 0, the user batches first. The store keeps exactly these
	// and cuts none itself: a plan with changes to apply and no batches is
	// refused.
	Batches     []Batch
	ExpiresAt   time.Time // the preview can be confirmed until then
	RetainUntil time.Time // TTL of the per-sync items (changes, batches, progress)
	// ReadKind and ReadReason record how the preview read the tenant
	// (empty for an undo, which reads nothing).
	ReadKind   ReadKind
	ReadReason string
	// PlannedUsers and NextBasis are the sync's (Sync.PlannedUsers,
	// Sync.NextBasis).
	PlannedUsers int
	NextBasis    *PlanBasis
}

package domain

import (
	"errors"
	"time"
)

// ReadKind says how a preview read the source tenant.
type ReadKind string

const (
	// ReadFull read every user and group.
	ReadFull ReadKind = "full"
	// ReadDelta read only what changed since the tenant's mirror.
	ReadDelta ReadKind = "delta"
)

// Why a preview read the tenant in full (Sync.ReadReason).
const (
	ReadReasonNoMirror     = "no_mirror"     // never read, or its mirror expired or is not whole
	ReadReasonRequested    = "requested"     // the admin asked for a full read
	ReadReasonBasisChanged = "basis_changed" // another directory, or other mapped properties
	ReadReasonReconcile    = "reconcile"     // the periodic full read is due
	ReadReasonDeltaExpired = "delta_expired" // the source no longer knew the delta token
	ReadReasonDrift        = "drift"         // the changes did not add up to the source's counts
)

// DefaultReconcileEvery is how long re-syncs read only changes before the
// next preview reads the tenant in full again, reconciling whatever the
// deltas missed.
const DefaultReconcileEvery = 7 * 24 * time.Hour

// ReadRequest is what decides how a preview reads the tenant.
type ReadRequest struct {
	// Mirror is the tenant's mirror, nil when none is kept.
	Mirror            *SourceMirror
	DirectoryTenantID string
	Options           Options
	// FullRead: the admin asked for a full read.
	FullRead       bool
	Now            time.Time
	ReconcileEvery time.Duration
}

// ChooseRead decides between a delta from the mirror and a full read, and
// why a full one: the admin asked, no mirror, a mirror of another
// directory or of other properties, or one whose last full read is
// ReconcileEvery (default DefaultReconcileEvery) old.
func ChooseRead(r ReadRequest) (ReadKind, string) {
	every := r.ReconcileEvery
	if every <= 0 {
		every = DefaultReconcileEvery
	}
	switch {
	case r.FullRead:
		return ReadFull, ReadReasonRequested
	case r.Mirror == nil || r.Mirror.DeltaLinks.Users == "" || r.Mirror.DeltaLinks.Groups == "":
		return ReadFull, ReadReasonNoMirror
	case r.Mirror.Basis != MirrorBasis(r.DirectoryTenantID, UserProperties(r.Options.EffectiveMapping())):
		return ReadFull, ReadReasonBasisChanged
	case !r.Now.Before(r.Mirror.FullReadAt.Add(every)):
		return ReadFull, ReadReasonReconcile
	}
	return ReadDelta, ""
}

// FallbackReason is why a delta that failed with err is replaced by a full
// read, or "" when err is not one a full read fixes.
func FallbackReason(err error) string {
	switch {
	case errors.Is(err, ErrDeltaExpired):
		return ReadReasonDeltaExpired
	case errors.Is(err, ErrMirrorDrift):
		return ReadReasonDrift
	case errors.Is(err, ErrNoMirror):
		return ReadReasonNoMirror
	}
	return ""
}

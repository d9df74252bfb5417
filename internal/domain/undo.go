package domain

import (
	"time"
)

// DefaultUndoWindow is how long after a sync finished it can be undone.
const DefaultUndoWindow = 7 * 24 * time.Hour

// ReasonUndo and ReasonChangedSinceSync are the reasons of an undo's
// changes: the inverse of what the sync applied, and an inverse whose
// target was edited after the sync (its apply is a conflict: left
// untouched).
const (
	ReasonUndo             = "undo"
	ReasonChangedSinceSync = "changed_since_sync"
)

// EffectiveKind is the sync's kind, sync for syncs stored before kinds.
func (s *Sync) EffectiveKind() SyncKind {
	if s.Kind == "" {
		return SyncKindSync
	}
	return s.Kind
}

// Applied reports whether a sync was confirmed, so it may have changed
// the directory.
func (s *Sync) Applied() bool { return s.ConfirmedAt != nil }

// UndoRefusal decides whether target can be undone at now: only the
// tenant's most recent applied sync (later holds the tenant's syncs
// created after it), once it COMPLETED or COMPLETED_WITH_ERRORS, within
// window of when it finished. The error is the caller-facing refusal: 409
// for a sync in another state or with a later applied sync, 410 past the
// window.
func UndoRefusal(target *Sync, later []*Sync, finishedAt time.Time, now time.Time, window time.Duration) error {
	if target.Status != SyncCompleted && target.Status != SyncCompletedWithErrors {
		return Errorf(EConflict, "sync %q is %s; only a COMPLETED or COMPLETED_WITH_ERRORS sync can be undone", target.ID, target.Status)
	}
	for _, l := range later {
		if l.Applied() {
			return Errorf(EConflict, "sync %q was applied after sync %q; only the most recent applied sync can be undone", l.ID, target.ID)
		}
	}
	if deadline := finishedAt.Add(window); !now.Before(deadline) {
		return Errorf(EGone, "sync %q finished at %s; it could be undone until %s", target.ID,
			finishedAt.UTC().Format(time.RFC3339), deadline.UTC().Format(time.RFC3339))
	}
	return nil
}

// UndoInput is what an undo is planned from.
type UndoInput struct {
	// Target is the sync undone.
	Target *Sync
	// Applied are its changes whose outcome is applied, with their
	// membership references (those of users it excluded left out).
	Applied []Change
	// Directory is the platform's directory now.
	Directory *Directory
}

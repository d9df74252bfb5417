package domain

import "time"

// The rules of a sync's life that do not depend on where it is stored:
// what time alone makes of a sync, whether it can be confirmed or
// cancelled, and how an apply ends. The store only makes the transitions,
// each conditional on the state these rules were decided from.

// WorkerLostError is why a preview whose worker stopped renewing its lease
// failed.
func WorkerLostError() SyncError {
	return SyncError{
		Code:    SyncErrWorkerLost,
		Message: "the preview worker stopped (it crashed, timed out or never started) before it stored a plan; start a new preview",
	}
}

// AsOf returns s as time has left it at now: a ready preview past its
// expiry is EXPIRED, and a PREVIEWING sync whose worker's lease is no
// longer held (gone or lapsed) is PREVIEW_FAILED worker_lost. leaseHeld
// matters only for a PREVIEWING sync. Nothing is stored: the write that
// depends on such a state stores it.
func (s Sync) AsOf(now time.Time, leaseHeld bool) Sync {
	switch {
	case s.Status == SyncPreviewReady && s.ExpiresAt != nil && !now.Before(*s.ExpiresAt):
		s.Status = SyncExpired
	case s.Status == SyncPreviewing && !leaseHeld:
		lost := WorkerLostError()
		s.Status, s.Error = SyncPreviewFailed, &lost
	}
	return s
}

// Confirmation is what confirming a sync comes to.
type Confirmation int

const (
	// ConfirmRefused: the sync cannot be confirmed; the error says why.
	ConfirmRefused Confirmation = iota
	// ConfirmBegin: a ready preview within its expiry; the apply begins.
	ConfirmBegin
	// ConfirmRepeated: the sync is APPLYING already. A repeated or
	// concurrent confirm is answered with it as it is.
	ConfirmRepeated
	// ConfirmExpired: the preview expired. The confirm is refused (410)
	// and stores EXPIRED, which reads only derive.
	ConfirmExpired
)

// ConfirmableAt decides a confirm at now from s as read: only a
// PREVIEW_READY sync before its expiry begins an apply. The error is the
// caller-facing refusal (nil for ConfirmBegin and ConfirmRepeated).
func (s *Sync) ConfirmableAt(now time.Time) (Confirmation, error) {
	switch {
	case s.Status == SyncApplying:
		return ConfirmRepeated, nil
	case s.Status == SyncExpired:
		return ConfirmExpired, s.expiredError()
	case s.Status != SyncPreviewReady:
		return ConfirmRefused, s.notConfirmable()
	case s.ExpiresAt != nil && !now.Before(*s.ExpiresAt):
		return ConfirmExpired, s.expiredError()
	}
	return ConfirmBegin, nil
}

// ConfirmAfterLostRace decides a confirm whose move to APPLYING lost its
// condition (to another confirm, a cancel or the expiry), from s read
// again: another confirm won, or what won is the answer. A sync still
// PREVIEW_READY lost on its expiry.
func (s *Sync) ConfirmAfterLostRace() (Confirmation, error) {
	switch s.Status {
	case SyncApplying:
		return ConfirmRepeated, nil
	case SyncExpired, SyncPreviewReady:
		return ConfirmExpired, Errorf(EGone, "the preview expired; start a new one")
	}
	return ConfirmRefused, s.notConfirmable()
}

func (s *Sync) expiredError() error {
	if s.ExpiresAt == nil {
		return Errorf(EGone, "the preview expired; start a new one")
	}
	return Errorf(EGone, "the preview expired at %s; start a new one", s.ExpiresAt.Format(time.RFC3339))
}

func (s *Sync) notConfirmable() error {
	return Errorf(EConflict, "sync %q is %s; only a PREVIEW_READY sync can be confirmed", s.ID, s.Status)
}

// Cancellation is what cancelling a sync comes to.
type Cancellation int

const (
	// CancelRefused: the sync cannot be cancelled; the error says why.
	CancelRefused Cancellation = iota
	// CancelNow: a preview (running or ready) or a running apply; it is
	// cancelled.
	CancelNow
	// CancelRepeated: the sync is CANCELLED already; a repeated cancel is
	// answered with it as it is.
	CancelRepeated
)

// Cancellable decides a cancel from s as read. A running preview's worker
// stops when it next renews its lease; what a running apply applied stays
// applied. Anything that ended cannot be cancelled.
func (s *Sync) Cancellable() (Cancellation, error) {
	switch s.Status {
	case SyncPreviewing, SyncPreviewReady, SyncApplying:
		return CancelNow, nil
	case SyncCancelled:
		return CancelRepeated, nil
	}
	return CancelRefused, Errorf(EConflict, "sync %q is %s; only a preview or a running apply can be cancelled", s.ID, s.Status)
}

// FinalStatus is the status an apply ends with, from its counters: FAILED
// when the execution failed; COMPLETED_WITH_ERRORS when a change failed or
// conflicted, or not every change was processed; COMPLETED otherwise.
func (p Progress) FinalStatus(failed bool) SyncStatus {
	switch {
	case failed:
		return SyncFailed
	case p.Failed > 0 || p.Conflicts > 0 || p.Processed < p.Total:
		return SyncCompletedWithErrors
	}
	return SyncCompleted
}

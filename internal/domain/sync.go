package domain

import "time"

// SyncStatus is where a sync is in its life.
type SyncStatus string

const (
	SyncPreviewing          SyncStatus = "PREVIEWING"
	SyncPreviewReady        SyncStatus = "PREVIEW_READY"
	SyncPreviewFailed       SyncStatus = "PREVIEW_FAILED"
	SyncApplying            SyncStatus = "APPLYING"
	SyncCompleted           SyncStatus = "COMPLETED"
	SyncCompletedWithErrors SyncStatus = "COMPLETED_WITH_ERRORS"
	SyncFailed              SyncStatus = "FAILED"
	SyncCancelled           SyncStatus = "CANCELLED"
	SyncExpired             SyncStatus = "EXPIRED"
)

// Active reports whether the status holds the tenant's one-at-a-time lock.
func (s SyncStatus) Active() bool { return s == SyncPreviewing || s == SyncApplying }

// Final reports whether no further transition can happen.
func (s SyncStatus) Final() bool {
	switch s {
	case SyncPreviewFailed, SyncCompleted, SyncCompletedWithErrors, SyncFailed, SyncCancelled, SyncExpired:
		return true
	}
	return false
}

// SyncError says why a sync failed.
type SyncError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Sync error codes recorded on failed syncs.
const (
	SyncErrSourceEmpty = "source_empty"
	SyncErrSourceRead  = "source_read_failed"
	// SyncErrSourceIncomplete: the read returned fewer objects than Graph's
	// own $count says exist, beyond the tolerance for its eventual consistency.
	SyncErrSourceIncomplete = "source_incomplete"
	// SyncErrWorkerLost: the preview worker stopped renewing its lock (it
	// crashed, timed out or was never started) before it stored a plan.
	SyncErrWorkerLost = "worker_lost"
	// SyncErrTimeout: the preview did not finish within its worker's time
	// limit; the worker recorded so before it was stopped.
	SyncErrTimeout = "preview_timeout"
	// Apply failures: the execution failed, timed out or was stopped
	// outside a cancel.
	SyncErrApplyFailed   = "apply_failed"
	SyncErrApplyTimedOut = "apply_timed_out"
	SyncErrApplyAborted  = "apply_aborted"
	SyncErrCredentials   = "bad_credentials"
	SyncErrPermission    = "permission_denied"
	SyncErrOptions       = "invalid_options"
	SyncErrInternal      = "internal"
)

// SyncKind says what a sync's plan comes from.
type SyncKind string

const (
	// SyncKindSync plans from a read of Entra ID.
	SyncKindSync SyncKind = "sync"
	// SyncKindUndo plans the inverse of what an earlier sync applied.
	SyncKindUndo SyncKind = "undo"
)

// Sync is one preview-confirm-apply cycle of one platform tenant.
type Sync struct {
	ID       string `json:"id"`
	TenantID string `json:"-"`
	// Kind is SyncKindSync or SyncKindUndo ("" reads as sync: syncs stored
	// before undo existed). Undoes names the sync an undo inverts.
	Kind   SyncKind `json:"-"`
	Undoes string   `json:"-"`
	// The connection the sync was started with, pinned: the worker reads
	// exactly this directory, application, cloud and secret version (with
	// Options below), whatever the connection says by then.
	DirectoryTenantID string      `json:"-"`
	ClientID          string      `json:"-"`
	Cloud             Cloud       `json:"-"`
	SecretVersion     string      `json:"-"`
	Status            SyncStatus  `json:"status"`
	CreatedAt         time.Time   `json:"createdAt"`
	CreatedBy         string      `json:"createdBy"`
	ConfirmedAt       *time.Time  `json:"confirmedAt,omitempty"`
	ConfirmedBy       string      `json:"confirmedBy,omitempty"`
	ExpiresAt         *time.Time  `json:"expiresAt,omitempty"`
	UpdatedAt         time.Time   `json:"updatedAt"`
	Options           Options     `json:"options"`
	Counts            Counts      `json:"counts"`
	Safeguards        []Safeguard `json:"safeguards"`
	// Bases are the safeguards' bases, kept so that excluding changes
	// re-evaluates the safeguards over what stays included.
	Bases    SafeguardBases `json:"-"`
	Warnings []string       `json:"warnings"`
	Error    *SyncError     `json:"error,omitempty"`
	// Batches is how many apply batches the stored plan has; the first
	// UserBatches of them hold user changes, the rest group changes.
	Batches     int `json:"-"`
	UserBatches int `json:"-"`
	// ChangeTotal is how many changes the stored plan has (skips included);
	// ApplyTotal how many of them apply does something with.
	ChangeTotal int `json:"-"`
	ApplyTotal  int `json:"-"`
	// ExecutionID names the apply state machine execution once confirmed.
	ExecutionID string `json:"-"`
	// RetainUntil is when the stored plan's items (changes, batches,
	// progress) expire.
	RetainUntil time.Time `json:"-"`
	// Version counts the edits of a ready preview's plan (exclusions): a
	// confirm begins only the plan it decided from.
	Version int64 `json:"-"`
	// Events are the lifecycle events published for the sync, in order.
	Events []SyncEvent `json:"-"`
	// IgnoreVersion and IgnoredUserCount pin the connection's ignored
	// users the sync started with; the list itself is not copied onto
	// every sync (Options.IgnoredUsers is empty), the worker reads it.
	IgnoreVersion    int64 `json:"-"`
	IgnoredUserCount int   `json:"-"`
	// FullRead: the admin asked this preview to read the tenant in full.
	FullRead bool `json:"-"`
	// ReadKind is how the preview read the tenant (once it has), and
	// ReadReason why in full (a ReadReason... constant).
	ReadKind   ReadKind `json:"readKind,omitempty"`
	ReadReason string   `json:"readReason,omitempty"`
	// PlannedUsers is how many source users a plan of part of the tenant
	// covered (0 for a full plan).
	PlannedUsers int `json:"-"`
	// NextBasis is the plan basis this sync leaves once applied cleanly
	// (its SyncID and SavedAt are set then); nil when its apply leaves
	// none (an undo, or a plan that left linked users active).
	NextBasis *PlanBasis `json:"-"`
}

// PinnedConnection is the connection the sync was started with.
func (s *Sync) PinnedConnection() *Connection {
	return &Connection{
		TenantID: s.TenantID, DirectoryTenantID: s.DirectoryTenantID, ClientID: s.ClientID,
		Cloud: s.Cloud, SecretVersion: s.SecretVersion, Options: s.Options, IgnoreVersion: s.IgnoreVersion,
	}
}

// PinConnection records conn as the connection the sync runs with.
func (s *Sync) PinConnection(conn *Connection) {
	s.DirectoryTenantID, s.ClientID, s.Cloud = conn.DirectoryTenantID, conn.ClientID, conn.Cloud
	s.SecretVersion, s.Options = conn.SecretVersion, conn.Options
	s.IgnoreVersion, s.IgnoredUserCount = conn.IgnoreVersion, len(conn.Options.IgnoredUsers)
	s.Options.IgnoredUsers = nil
}

// Tripped reports whether a safeguard of the stored plan tripped.
func (s *Sync) Tripped() bool {
	for _, g := range s.Safeguards {
		if g.Tripped {
			return true
		}
	}
	return false
}

// Progress is the apply counter of a sync.
type Progress struct {
	Status     SyncStatus `json:"status"`
	Total      int        `json:"total"`
	Processed  int        `json:"processed"`
	Succeeded  int        `json:"succeeded"`
	Failed     int        `json:"failed"`
	Conflicts  int        `json:"conflicts"`
	Percent    float64    `json:"percent"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	UpdatedAt  *time.Time `json:"updatedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
}

// Cloud names an Entra ID national cloud.
type Cloud string

const (
	CloudGlobal Cloud = "global"
	CloudUSGov  Cloud = "usgov"
	CloudChina  Cloud = "china"
)

// Connection is a platform tenant's Entra ID connection. The client secret
// itself lives in the secret store; only its last four characters are kept.
type Connection struct {
	TenantID          string    `json:"-"`
	DirectoryTenantID string    `json:"directoryTenantId"`
	ClientID          string    `json:"clientId"`
	Cloud             Cloud     `json:"cloud"`
	SecretHint        string    `json:"secretHint"`
	SecretSetAt       time.Time `json:"secretSetAt"`
	// SecretVersion is the secret store's version id of the secret saved
	// with this connection ("" for connections saved before versions).
	SecretVersion string    `json:"-"`
	Options       Options   `json:"options"`
	UpdatedAt     time.Time `json:"updatedAt"`
	// IgnoreVersion counts the writes of Options.IgnoredUsers, which is
	// stored apart from the rest of the connection (it can be 10,000 ids):
	// a sync pins this version instead of the list.
	IgnoreVersion int64 `json:"-"`
}

// Outcome of an applied change.
const (
	OutcomeApplied  = "applied"
	OutcomeConflict = "conflict"
	OutcomeFailed   = "failed"
)

// Outcome is what applying one change did.
type Outcome struct {
	Seq    int
	Result string // OutcomeApplied, OutcomeConflict, OutcomeFailed
	Reason string
}

// DirectoryGroup is a group of the connection's Entra ID directory, as
// the admin picks scope groups: its object id, its name and, when Graph
// could count them, its transitive user members (nil otherwise).
type DirectoryGroup struct {
	ID          string
	DisplayName string
	MemberCount *int
}

// ConnectionCheck is one step of testing a connection (token, read a user,
// read a group) and what is wrong when it fails.
type ConnectionCheck struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

// Actor is the admin calling the API, from the token's claims.
type Actor struct {
	TenantID string
	Subject  string
	Email    string
}

// Name is how the actor is recorded (createdBy, confirmedBy): the email,
// else the subject.
func (a Actor) Name() string {
	if a.Email != "" {
		return a.Email
	}
	return a.Subject
}

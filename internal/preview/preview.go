// Package preview starts previews and computes them: the preview Lambda
// records a PREVIEWING sync and hands it to the worker, which reads the
// Entra tenant, runs the plan engine it is given against the platform
// directory and stores the plan, or records why it could not. It links
// neither the Graph reader nor the plan engine: the worker's wiring gives
// both.
package preview

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"dirsync/internal/domain"
	"dirsync/internal/lifecycle"
)

// Store is what previews need from the storage.
type Store interface {
	GetConnection(ctx context.Context, tenant string) (*domain.Connection, error)
	CreateSync(ctx context.Context, sy *domain.Sync, lockFor time.Duration) error
	GetSync(ctx context.Context, tenant, id string) (*domain.Sync, error)
	ClaimPreview(ctx context.Context, tenant, syncID, owner string, d time.Duration) (domain.Lease, error)
	RenewPreview(ctx context.Context, l domain.Lease, d time.Duration) error
	HandBackPreview(ctx context.Context, l domain.Lease) error
	FailPreview(ctx context.Context, l domain.Lease, reason domain.SyncError) error
	// FailLostPreview reports whether it ended the sync (false: it was no
	// longer previewing).
	FailLostPreview(ctx context.Context, tenant, id string, reason domain.SyncError) (bool, error)
	LoadDirectory(ctx context.Context, tenant string) (*domain.Directory, error)
	SavePlan(ctx context.Context, l domain.Lease, p *domain.Plan, w domain.PlanWrite) error
	// What starting and planning an undo read of the sync undone.
	ListSyncs(ctx context.Context, tenant string, p domain.Page) ([]*domain.Sync, string, error)
	GetProgress(ctx context.Context, tenant, syncID string) (*domain.Progress, error)
	AppliedChanges(ctx context.Context, tenant, syncID string) ([]domain.Change, error)
	Exclusions(ctx context.Context, tenant, syncID string) ([]domain.Exclusion, error)
	// RecordEvents appends to the sync the lifecycle events published for it.
	RecordEvents(ctx context.Context, tenant, syncID string, evs []domain.SyncEvent) error
	// The tenant's source mirror, which a re-sync brings up to date;
	// LoadMirror answers domain.ErrNoMirror when none is kept.
	LoadMirror(ctx context.Context, tenant string) (*domain.SourceMirror, error)
	SaveMirror(ctx context.Context, tenant string, m *domain.SourceMirror) error
	// What a plan of part of the tenant reads and leaves: the basis the
	// last preview or clean apply left (not found when none), the
	// directory's version, the basis sync's plan and part of the directory.
	LoadPlanBasis(ctx context.Context, tenant string) (*domain.PlanBasis, error)
	SavePlanBasis(ctx context.Context, tenant string, b domain.PlanBasis) error
	DirectoryVersion(ctx context.Context, tenant string) (int64, error)
	PlanChanges(ctx context.Context, tenant, syncID string) ([]domain.Change, error)
	LoadDirectoryPart(ctx context.Context, tenant string, part domain.DirectoryPart) (*domain.Directory, error)
}

// Publisher publishes lifecycle events (EventBridge in AWS).
type Publisher interface {
	Publish(ctx context.Context, evs []domain.Event) error
}

// Reader reads an Entra tenant completely: in full (ReadMirror), or the
// changes since an earlier read (ReadChanges), which fails with an error
// domain.FallbackReason names when only a full read can do.
type Reader interface {
	ReadMirror(ctx context.Context, opts domain.Options) (*domain.SourceMirror, error)
	ReadChanges(ctx context.Context, opts domain.Options, prev *domain.SourceMirror) (*domain.SourceMirror, error)
}

// ReaderFactory builds a Reader for a connection (the one a sync pinned,
// with its secret version). Implementations fetch the client secret
// themselves, so it never passes through this package. An error that is a
// domain error (no such secret version, a connection the reader refuses)
// fails the preview; any other (the secret store unreachable) is
// transient and returned, so the invocation is retried.
type ReaderFactory func(ctx context.Context, conn *domain.Connection) (Reader, error)

// Job is the worker's input: which sync to compute. It names the sync
// only; everything else is read from the store.
type Job struct {
	TenantID   string `json:"tenantId"`
	SyncID     string `json:"syncId"`
	ActorEmail string `json:"actorEmail"`
}

// Dispatcher hands a job to the worker (an asynchronous Lambda invoke in
// AWS, a goroutine in the local stack).
type Dispatcher interface {
	Dispatch(ctx context.Context, job Job) error
}

// Planner computes the plan of a sync from the read and the platform's
// directory: the plan engine (internal/plan), given by the wiring, so that
// only the worker links it.
type Planner func(domain.PlanInput) (*domain.Plan, error)

// Inverter computes the plan of an undo: the inverse of what a sync
// applied (plan.Invert), given by the wiring like the Planner.
type Inverter func(domain.UndoInput) *domain.Plan

// ReadErrorClassifier turns a reader failure into the error recorded on the
// sync, in words an admin can act on.
type ReadErrorClassifier func(error) domain.SyncError

// Service starts and computes previews.
type Service struct {
	Store      Store
	Dispatcher Dispatcher
	NewReader  ReaderFactory
	Classify   ReadErrorClassifier
	Plan       Planner
	// PlanPart plans part of a tenant, for a re-sync from a plan basis;
	// nil plans every preview in full.
	PlanPart PartPlanner
	Invert   Inverter
	// UndoWindow is how long after a sync finished it can be undone
	// (default domain.DefaultUndoWindow).
	UndoWindow time.Duration
	// Events publishes the lifecycle events of the previews this service
	// ends (the worker and the failure recorder).
	Events Publisher
	// TTL is how long a ready preview can be confirmed.
	TTL time.Duration
	// Retention is how long the plan's items are kept after expiry.
	Retention time.Duration
	// LockFor is the preview's lease: how long a PREVIEWING sync holds the
	// tenant's lock without its worker renewing it. The worker renews it
	// every RenewEvery (default a quarter of LockFor, at most 10 s), so a
	// crashed worker's sync is failed as worker_lost within LockFor, and a
	// cancelled preview's worker stops within RenewEvery.
	LockFor    time.Duration
	RenewEvery time.Duration
	// DeadlineMargin is how long before its invocation's deadline the
	// worker stops working and records that it ran out of time (default
	// 30 s), so a preview too big for one invocation fails with a reason
	// instead of being killed without a trace.
	DeadlineMargin time.Duration
	// UserBatchSize is the number of user changes per apply batch.
	UserBatchSize int
	// ReconcileEvery is how long re-syncs read only what changed before a
	// preview reads the tenant in full again (default
	// domain.DefaultReconcileEvery).
	ReconcileEvery time.Duration
	Now            func() time.Time
	Logger         *slog.Logger
}

// Actor is the admin calling the API, from the token.
type Actor = domain.Actor

// Start records a PREVIEWING sync and dispatches the worker: 422 without a
// connection, 409 while another sync is active. fullRead asks the worker
// to read the tenant in full even where it could read only the changes.
func (s *Service) Start(ctx context.Context, actor Actor, fullRead bool) (*domain.Sync, error) {
	conn, err := s.Store.GetConnection(ctx, actor.TenantID)
	if domain.ErrorCode(err) == domain.ENotFound {
		return nil, domain.Errorf(domain.EUnprocessable, "no Entra ID connection is configured: PUT /v1/connection first")
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	sy := &domain.Sync{
		ID: domain.NewID(now), TenantID: actor.TenantID,
		Status: domain.SyncPreviewing, CreatedAt: now, CreatedBy: actor.Name(), UpdatedAt: now,
		Safeguards: []domain.Safeguard{}, Warnings: []string{}, FullRead: fullRead,
	}
	sy.PinConnection(conn)
	if err := s.Store.CreateSync(ctx, sy, s.LockFor); err != nil {
		return nil, err
	}
	return sy, s.dispatch(ctx, sy, actor)
}

// dispatch hands a recorded PREVIEWING sync to the worker.
func (s *Service) dispatch(ctx context.Context, sy *domain.Sync, actor Actor) error {
	job := Job{TenantID: actor.TenantID, SyncID: sy.ID, ActorEmail: actor.Email}
	if err := s.Dispatcher.Dispatch(ctx, job); err != nil {
		// The worker will never run: end the sync so the tenant is not locked.
		failErr := s.Store.FailPreview(context.WithoutCancel(ctx), domain.Lease{Tenant: actor.TenantID, SyncID: sy.ID},
			domain.SyncError{Code: domain.SyncErrInternal, Message: "the preview could not be started; try again"})
		return errors.Join(fmt.Errorf("preview: dispatch %s: %w", sy.ID, err), failErr)
	}
	return nil
}

// StartUndo records a PREVIEWING undo of sync targetID and dispatches the
// worker, which plans the inverse of what it applied. Only the tenant's
// most recent applied sync, COMPLETED or COMPLETED_WITH_ERRORS, within
// UndoWindow of its end can be undone (domain.UndoRefusal).
func (s *Service) StartUndo(ctx context.Context, actor Actor, targetID string) (*domain.Sync, error) {
	target, err := s.Store.GetSync(ctx, actor.TenantID, targetID)
	if err != nil {
		return nil, err
	}
	later, err := s.syncsAfter(ctx, actor.TenantID, target.ID)
	if err != nil {
		return nil, err
	}
	finished := target.UpdatedAt
	if p, err := s.Store.GetProgress(ctx, actor.TenantID, target.ID); err == nil && p.FinishedAt != nil {
		finished = *p.FinishedAt
	} else if err != nil && domain.ErrorCode(err) != domain.ENotFound {
		return nil, err
	}
	window := s.UndoWindow
	if window <= 0 {
		window = domain.DefaultUndoWindow
	}
	now := s.now()
	if err := domain.UndoRefusal(target, later, finished, now, window); err != nil {
		return nil, err
	}
	sy := &domain.Sync{
		ID: domain.NewID(now), TenantID: actor.TenantID, Kind: domain.SyncKindUndo, Undoes: target.ID,
		Status: domain.SyncPreviewing, CreatedAt: now, CreatedBy: actor.Name(), UpdatedAt: now,
		Safeguards: []domain.Safeguard{}, Warnings: []string{},
	}
	// The undo applies to the directory the sync came from, with its options.
	sy.PinConnection(target.PinnedConnection())
	if err := s.Store.CreateSync(ctx, sy, s.LockFor); err != nil {
		return nil, err
	}
	return sy, s.dispatch(ctx, sy, actor)
}

// syncsAfter returns the tenant's syncs created after sync id, newest
// first.
func (s *Service) syncsAfter(ctx context.Context, tenant, id string) ([]*domain.Sync, error) {
	var out []*domain.Sync
	for page := (domain.Page{Limit: 100}); ; {
		syncs, next, err := s.Store.ListSyncs(ctx, tenant, page)
		if err != nil {
			return nil, err
		}
		for _, sy := range syncs {
			if sy.ID == id {
				return out, nil
			}
			out = append(out, sy)
		}
		if next == "" {
			return out, nil
		}
		page.Cursor = next
	}
}

// Run computes one preview. It first claims the preview's lease (waiting
// while another live worker of the same sync holds it) and renews it while
// it works; losing it (cancelled, or failed as worker_lost) stops the run,
// and every write that ends the preview is fenced by it. Failures of the
// source, the options or the safeguards end the sync as PREVIEW_FAILED with
// a reason and are not returned as errors (retrying would not help);
// storage and secret store failures are returned so the invocation can be
// retried.
func (s *Service) Run(ctx context.Context, job Job) error {
	log := s.logger().With("tenant_id", job.TenantID, "sync_id", job.SyncID)
	sy, err := s.Store.GetSync(ctx, job.TenantID, job.SyncID)
	if err != nil {
		return fmt.Errorf("preview: load sync: %w", err)
	}
	if sy.Status != domain.SyncPreviewing {
		log.Info("preview job for a sync that is not previewing; nothing to do", "status", sy.Status)
		if sy.Status == domain.SyncPreviewReady {
			// A retry after a crash between storing the plan and publishing:
			// what is not recorded as published is sent now. (A failed
			// preview may only be derived from a lapsed lease, which no
			// worker stored, so it is not announced here.)
			s.announce(ctx, domain.Unsent(domain.PreviewEvents(*sy, s.now()), sy.Events), log)
		}
		return nil
	}
	lease, err := s.claim(ctx, job)
	if errors.Is(err, domain.ErrLeaseLost) {
		log.Info("preview job for a sync this worker cannot hold; nothing to do", "reason", err.Error())
		return nil
	}
	if err != nil {
		return err
	}
	ctx, stop := s.keepLease(ctx, lease, log)
	defer stop()
	work, cancelWork := s.beforeDeadline(ctx)
	defer cancelWork()
	err = s.compute(work, sy, lease, job, log)
	if errors.Is(context.Cause(work), errOutOfTime) && ctx.Err() == nil {
		reason := domain.SyncError{Code: domain.SyncErrTimeout, Message: "the preview did not finish within the worker's time limit " +
			"(its invocation's timeout); the directory is too large to read and plan in one invocation"}
		log.Warn("preview failed", "code", reason.Code, "reason", reason.Message)
		if ferr := s.failPreview(ctx, sy, lease, reason, log); ferr != nil && !errors.Is(ferr, domain.ErrLeaseLost) {
			return fmt.Errorf("preview: record the timeout: %w", ferr)
		}
		return nil
	}
	if cause := context.Cause(ctx); errors.Is(cause, domain.ErrLeaseLost) || errors.Is(err, domain.ErrLeaseLost) {
		// Cancelled, or taken over after the lease lapsed: whoever did that
		// recorded the sync's state; this worker has nothing left to write.
		log.Warn("preview stopped: the worker lost its lease", "reason", errors.Join(cause, err).Error())
		return nil
	}
	if err != nil {
		// The invocation fails: Lambda retries it, and the retry must not
		// wait for this dead worker's lease to lapse.
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if herr := s.Store.HandBackPreview(hctx, lease); herr != nil && !errors.Is(herr, domain.ErrLeaseLost) {
			log.Warn("preview: could not hand the lease back; a retry waits for it to lapse", "error", herr.Error())
		}
	}
	return err
}

// pinnedOptions are the options the sync started with, its ignored users
// read at the version it pinned (a sync carries the version, not the up to
// 10,000 ids). The list cannot change while the sync holds the tenant's
// lock; if it did (the lock lapsed), the preview fails rather than plan
// with a list the admin did not start it with.
func (s *Service) pinnedOptions(ctx context.Context, sy *domain.Sync) (domain.Options, error) {
	opts := sy.Options
	if sy.IgnoreVersion == 0 && (sy.IgnoredUserCount == 0 || len(opts.IgnoredUsers) > 0) {
		return opts, nil // none, or a sync that carries its list itself
	}
	conn, err := s.Store.GetConnection(ctx, sy.TenantID)
	switch {
	case domain.ErrorCode(err) == domain.ENotFound:
		return opts, domain.Errorf(domain.EConflict, "the connection was removed after this preview started; start a new preview")
	case err != nil:
		return opts, fmt.Errorf("preview: read ignored users: %w", err)
	case conn.IgnoreVersion != sy.IgnoreVersion:
		return opts, domain.Errorf(domain.EConflict, "the ignored users changed after this preview started; start a new preview")
	}
	opts.IgnoredUsers = conn.Options.IgnoredUsers
	return opts, nil
}

func (s *Service) compute(ctx context.Context, sy *domain.Sync, lease domain.Lease, job Job, log *slog.Logger) error {
	fail := func(code, msg string) error {
		log.Warn("preview failed", "code", code, "reason", msg)
		if err := s.failPreview(ctx, sy, lease, domain.SyncError{Code: code, Message: msg}, log); err != nil {
			return fmt.Errorf("preview: record failure: %w", err)
		}
		return nil
	}
	if sy.EffectiveKind() == domain.SyncKindUndo {
		return s.computeUndo(ctx, sy, lease, log)
	}
	if sy.ClientID == "" {
		return fail(domain.SyncErrOptions, "this preview was started before syncs pinned their connection; start a new preview")
	}
	// Exactly the connection the sync was started with, never the current
	// one: a connection replaced meanwhile must not mix two directories.
	reader, err := s.NewReader(ctx, sy.PinnedConnection())
	if err != nil {
		if domain.ErrorCode(err) == domain.EInternal {
			return fmt.Errorf("preview: build reader: %w", err)
		}
		return fail(domain.SyncErrCredentials, "cannot use the stored connection: "+domain.ErrorMessage(err))
	}
	opts, err := s.pinnedOptions(ctx, sy)
	if err != nil {
		if domain.ErrorCode(err) == domain.EInternal {
			return err
		}
		return fail(domain.SyncErrOptions, domain.ErrorMessage(err))
	}
	basis, err := s.planBasis(ctx, sy.TenantID)
	if err != nil {
		return err
	}
	src, err := s.read(ctx, sy, reader, opts, basis, log)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("preview: read source: %w", err)
		}
		if !src.sourceFailed {
			return err // the store: retried
		}
		reason := s.classify(err)
		return fail(reason.Code, reason.Message)
	}
	defer src.mirrorSaved()
	snap := src.mirror.Snapshot(opts.Scope.Groups)

	// Read before the directory: a write after it moves the version, so
	// the basis this plan leaves is refused rather than trusted.
	version, err := s.Store.DirectoryVersion(ctx, job.TenantID)
	if err != nil {
		return fmt.Errorf("preview: directory version: %w", err)
	}
	started := s.now()
	p, plannedUsers, err := s.planPart(ctx, job.TenantID, src, snap, opts, job.ActorEmail, basis, version, log)
	if errors.Is(err, errPlanInFull) {
		var dir *domain.Directory
		if dir, err = s.Store.LoadDirectory(ctx, job.TenantID); err != nil {
			return fmt.Errorf("preview: load directory: %w", err)
		}
		p, err = s.Plan(domain.PlanInput{Snapshot: snap, Directory: dir, Options: opts, ActorEmail: job.ActorEmail})
	}
	if err == nil {
		log.Info("planned", "part_users", plannedUsers, "changes", len(p.Changes), "seconds", s.now().Sub(started).Seconds())
	}
	switch {
	case errors.Is(err, domain.ErrSourceEmpty):
		return fail(domain.SyncErrSourceEmpty, "Entra ID returned no users while the platform holds users linked to it; refusing to treat that as everyone leaving")
	case errors.Is(err, domain.ErrInvalidOptions), errors.Is(err, domain.ErrScopeGroupsMissing):
		return fail(domain.SyncErrOptions, err.Error())
	case err != nil:
		return fmt.Errorf("preview: plan: %w", err)
	}
	if job.ActorEmail == "" {
		p.Warnings = append(p.Warnings, NoEmailWarning)
	}
	next := nextBasis(p, opts, version)
	s.keepBasis(ctx, sy, p, next, log)
	return s.savePlan(ctx, sy, lease, p, domain.PlanWrite{ReadKind: src.kind, ReadReason: src.reason,
		PlannedUsers: plannedUsers, NextBasis: next}, log)
}

// sourceRead is the outcome of a preview's read of the tenant.
type sourceRead struct {
	mirror *domain.SourceMirror
	kind   domain.ReadKind
	reason string
	// sourceFailed: the error came from reading Entra ID, not from the
	// store.
	sourceFailed bool
	// mirrorSaved waits for the mirror's save, which runs while the plan
	// is computed and stored.
	mirrorSaved func()
}

// read reads the tenant: only what changed since its mirror when
// domain.ChooseRead allows, else, or when the delta cannot be used (its
// token expired, the changes do not add up), in full. The mirror brought
// up to date is saved for the next re-sync, meanwhile; failing to save it
// costs that re-sync a full read (or a delta from the older mirror), not
// this preview.
func (s *Service) read(ctx context.Context, sy *domain.Sync, reader Reader, opts domain.Options, basis *domain.PlanBasis, log *slog.Logger) (sourceRead, error) {
	var prev *domain.SourceMirror
	var err error
	if !sy.FullRead { // a requested full read needs no mirror (tens of MB at a million users)
		prev, err = s.Store.LoadMirror(ctx, sy.TenantID)
		if errors.Is(err, domain.ErrNoMirror) {
			prev, err = nil, nil
		}
		if err != nil {
			return sourceRead{}, fmt.Errorf("preview: load the source mirror: %w", err)
		}
	}
	kind, reason := domain.ChooseRead(domain.ReadRequest{
		Mirror: prev, DirectoryTenantID: sy.DirectoryTenantID, Options: opts,
		FullRead: sy.FullRead, Now: s.now(), ReconcileEvery: s.ReconcileEvery,
	})
	started := s.now()
	var m *domain.SourceMirror
	if kind == domain.ReadDelta {
		m, err = reader.ReadChanges(ctx, opts, prev)
		if fallback := domain.FallbackReason(err); fallback != "" && ctx.Err() == nil {
			log.Info("the changes could not be read from the mirror; reading in full", "reason", fallback, "error", firstLine(err.Error()))
			kind, reason = domain.ReadFull, fallback
		} else if err != nil {
			return sourceRead{sourceFailed: true}, err
		}
	}
	if kind == domain.ReadFull {
		if m, err = reader.ReadMirror(ctx, opts); err != nil {
			return sourceRead{sourceFailed: true}, err
		}
	}
	chainMirror(m, prev, basis, sy.ID)
	log.Info("source read", "read_kind", kind, "reason", reason, "users", len(m.Users), "groups", len(m.Groups),
		"changed_since_basis", len(m.Changed), "seconds", s.now().Sub(started).Seconds())
	saved := make(chan struct{})
	go func() {
		defer close(saved)
		if err := s.Store.SaveMirror(ctx, sy.TenantID, m); err != nil {
			log.Warn("the source mirror could not be saved; the next preview reads from the one kept before, or in full", "error", err.Error())
		}
	}()
	return sourceRead{mirror: m, kind: kind, reason: reason, mirrorSaved: func() { <-saved }}, nil
}

// savePlan stores a computed plan with its batches: the preview is ready,
// and announced.
// w gives how the tenant was read; savePlan fills in the rest.
func (s *Service) savePlan(ctx context.Context, sy *domain.Sync, lease domain.Lease, p *domain.Plan, w domain.PlanWrite, log *slog.Logger) error {
	now := s.now()
	w.Batches = domain.CutBatches(p.Changes, domain.BatchSizes{Users: s.UserBatchSize})
	w.ExpiresAt, w.RetainUntil = now.Add(s.TTL), now.Add(s.TTL+s.Retention)
	if err := s.Store.SavePlan(ctx, lease, p, w); err != nil {
		return fmt.Errorf("preview: save plan: %w", err)
	}
	log.Info("preview ready", "changes", len(p.Changes), "tripped", p.Tripped())
	ready := *sy
	ready.Status, ready.Counts, ready.Safeguards = domain.SyncPreviewReady, p.Counts, p.Safeguards
	ready.ReadKind, ready.ReadReason = w.ReadKind, w.ReadReason
	s.announce(ctx, domain.PreviewEvents(ready, now), log)
	return nil
}

// computeUndo plans an undo: the inverse of what the sync it undoes
// applied, against the directory as it is now. Nothing is read from Entra
// ID.
func (s *Service) computeUndo(ctx context.Context, sy *domain.Sync, lease domain.Lease, log *slog.Logger) error {
	target, err := s.Store.GetSync(ctx, sy.TenantID, sy.Undoes)
	if err != nil {
		return fmt.Errorf("preview: load the sync undone: %w", err)
	}
	applied, err := s.Store.AppliedChanges(ctx, sy.TenantID, target.ID)
	if err != nil {
		return fmt.Errorf("preview: changes of the sync undone: %w", err)
	}
	excluded, err := s.Store.Exclusions(ctx, sy.TenantID, target.ID)
	if err != nil {
		return fmt.Errorf("preview: exclusions of the sync undone: %w", err)
	}
	domain.DropExcludedMembers(applied, excluded)
	dir, err := s.Store.LoadDirectory(ctx, sy.TenantID)
	if err != nil {
		return fmt.Errorf("preview: load directory: %w", err)
	}
	p := s.Invert(domain.UndoInput{Target: target, Applied: applied, Directory: dir})
	log.Info("undo planned", "undoes", target.ID, "applied", len(applied))
	return s.savePlan(ctx, sy, lease, p, domain.PlanWrite{}, log)
}

// failPreview ends the preview as PREVIEW_FAILED with reason, fenced by
// the lease, and announces it.
func (s *Service) failPreview(ctx context.Context, sy *domain.Sync, lease domain.Lease, reason domain.SyncError, log *slog.Logger) error {
	if err := s.Store.FailPreview(ctx, lease, reason); err != nil {
		return err
	}
	failed := *sy
	failed.Status, failed.Error = domain.SyncPreviewFailed, &reason
	s.announce(ctx, domain.PreviewEvents(failed, s.now()), log)
	return nil
}

// announce publishes and records the events of a transition already made.
func (s *Service) announce(ctx context.Context, evs []domain.Event, log *slog.Logger) {
	if s.Events == nil {
		return
	}
	lifecycle.Announce(ctx, s.Events, s.Store, evs, log)
}

// errOutOfTime ends the work of a worker whose invocation nears its deadline.
var errOutOfTime = errors.New("preview: the invocation is about to reach its deadline")

// beforeDeadline returns a context for the work that ends DeadlineMargin
// before ctx's deadline (Lambda's), with errOutOfTime as its cause.
func (s *Service) beforeDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	margin := s.DeadlineMargin
	if margin <= 0 {
		margin = 30 * time.Second
	}
	return context.WithDeadlineCause(ctx, deadline.Add(-margin), errOutOfTime)
}

// WorkerFailed records that Lambda gave up on a preview's worker (its
// retries ran out, or its event was too old to run): the sync, if still
// PREVIEWING, ends PREVIEW_FAILED worker_lost with what Lambda reported.
func (s *Service) WorkerFailed(ctx context.Context, tenant, syncID, why string) error {
	reason := domain.SyncError{Code: domain.SyncErrWorkerLost, Message: "the preview worker failed: " + why + "; start a new preview"}
	ended, err := s.Store.FailLostPreview(ctx, tenant, syncID, reason)
	if err != nil {
		return fmt.Errorf("preview: record the worker's failure: %w", err)
	}
	log := s.logger().With("tenant_id", tenant, "sync_id", syncID)
	log.Warn("preview worker failed", "reason", why, "ended", ended)
	if !ended {
		return nil // already ended by whoever ended it, who announced it
	}
	sy, err := s.Store.GetSync(ctx, tenant, syncID)
	if err != nil {
		log.Error("lifecycle events not published: the failed preview could not be read", "error", err.Error())
		return nil
	}
	s.announce(ctx, domain.PreviewEvents(*sy, s.now()), log)
	return nil
}

// NoEmailWarning is the preview's warning when the token that started it
// had no email claim: the plan cannot tell which platform user is the
// admin, so a confirm that deactivates anyone needs a token with one.
const NoEmailWarning = "the token that started this preview carries no email claim, so the preview cannot recognise your own account among the users it would deactivate; confirming a plan that deactivates anyone needs a token with an email claim"

func (s *Service) classify(err error) domain.SyncError {
	if s.Classify != nil {
		return s.Classify(err)
	}
	return domain.SyncError{Code: domain.SyncErrSourceRead, Message: "reading Entra ID failed: " + firstLine(err.Error())}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

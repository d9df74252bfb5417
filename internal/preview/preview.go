// Package preview starts previews and computes them: the preview Lambda
// records a PREVIEWING sync and hands it to the worker, which reads the
// Entra tenant, runs the plan engine against the platform directory and
// stores the plan, or records why it could not.
package preview

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"dirsync/internal/domain"
	"dirsync/internal/plan"
	"dirsync/internal/store"
)

// Store is what previews need from the storage.
type Store interface {
	GetConnection(ctx context.Context, tenant string) (*domain.Connection, error)
	CreateSync(ctx context.Context, sy *domain.Sync, lockFor time.Duration) error
	GetSync(ctx context.Context, tenant, id string) (*domain.Sync, error)
	FailPreview(ctx context.Context, tenant, id string, reason domain.SyncError) error
	LoadDirectory(ctx context.Context, tenant string) (*domain.Directory, error)
	SavePlan(ctx context.Context, tenant, syncID string, p *domain.Plan, w store.PlanWrite) error
}

// Reader reads a complete snapshot of an Entra tenant.
type Reader interface {
	Read(ctx context.Context, opts domain.Options) (*domain.Snapshot, error)
}

// ReaderFactory builds a Reader for a connection. Implementations fetch the
// client secret themselves, so it never passes through this package.
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

// ReadErrorClassifier turns a reader failure into the error recorded on the
// sync, in words an admin can act on.
type ReadErrorClassifier func(error) domain.SyncError

// Service starts and computes previews.
type Service struct {
	Store      Store
	Dispatcher Dispatcher
	NewReader  ReaderFactory
	Classify   ReadErrorClassifier
	// TTL is how long a ready preview can be confirmed.
	TTL time.Duration
	// Retention is how long the plan's items are kept after expiry.
	Retention time.Duration
	// LockFor bounds how long a PREVIEWING sync holds the tenant's lock
	// (longer than the worker's timeout).
	LockFor time.Duration
	// UserBatchSize is the number of user changes per apply batch.
	UserBatchSize int
	Now           func() time.Time
	Logger        *slog.Logger
}

// Actor is the admin calling the API, from the token.
type Actor = domain.Actor

// Start records a PREVIEWING sync and dispatches the worker: 422 without a
// connection, 409 while another sync is active.
func (s *Service) Start(ctx context.Context, actor Actor) (*domain.Sync, error) {
	conn, err := s.Store.GetConnection(ctx, actor.TenantID)
	if domain.ErrorCode(err) == domain.ENotFound {
		return nil, domain.Errorf(domain.EUnprocessable, "no Entra ID connection is configured: PUT /v1/connection first")
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	by := actor.Email
	if by == "" {
		by = actor.Subject
	}
	sy := &domain.Sync{
		ID: store.NewID(now), TenantID: actor.TenantID, DirectoryTenantID: conn.DirectoryTenantID,
		Status: domain.SyncPreviewing, CreatedAt: now, CreatedBy: by, UpdatedAt: now,
		Options: conn.Options, Safeguards: []domain.Safeguard{}, Warnings: []string{},
	}
	if err := s.Store.CreateSync(ctx, sy, s.LockFor); err != nil {
		return nil, err
	}
	job := Job{TenantID: actor.TenantID, SyncID: sy.ID, ActorEmail: actor.Email}
	if err := s.Dispatcher.Dispatch(ctx, job); err != nil {
		// The worker will never run: end the sync so the tenant is not locked.
		failErr := s.Store.FailPreview(context.WithoutCancel(ctx), actor.TenantID, sy.ID,
			domain.SyncError{Code: domain.SyncErrInternal, Message: "the preview could not be started; try again"})
		return nil, errors.Join(fmt.Errorf("preview: dispatch %s: %w", sy.ID, err), failErr)
	}
	return sy, nil
}

// Run computes one preview. Failures of the source, the options or the
// safeguards end the sync as PREVIEW_FAILED with a reason and are not
// returned as errors (retrying would not help); storage failures are
// returned so the invocation can be retried.
func (s *Service) Run(ctx context.Context, job Job) error {
	log := s.logger().With("tenant_id", job.TenantID, "sync_id", job.SyncID)
	sy, err := s.Store.GetSync(ctx, job.TenantID, job.SyncID)
	if err != nil {
		return fmt.Errorf("preview: load sync: %w", err)
	}
	if sy.Status != domain.SyncPreviewing {
		log.Info("preview job for a sync that is not previewing; nothing to do", "status", sy.Status)
		return nil
	}
	fail := func(code, msg string) error {
		log.Warn("preview failed", "code", code, "reason", msg)
		if err := s.Store.FailPreview(ctx, job.TenantID, job.SyncID, domain.SyncError{Code: code, Message: msg}); err != nil {
			return fmt.Errorf("preview: record failure: %w", err)
		}
		return nil
	}
	conn, err := s.Store.GetConnection(ctx, job.TenantID)
	if domain.ErrorCode(err) == domain.ENotFound {
		return fail(domain.SyncErrOptions, "the Entra ID connection was removed")
	}
	if err != nil {
		return fmt.Errorf("preview: load connection: %w", err)
	}
	reader, err := s.NewReader(ctx, conn)
	if err != nil {
		return fail(domain.SyncErrCredentials, "cannot use the stored connection: "+domain.ErrorMessage(err))
	}
	started := s.now()
	snap, err := reader.Read(ctx, sy.Options)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("preview: read source: %w", err)
		}
		reason := s.classify(err)
		return fail(reason.Code, reason.Message)
	}
	log.Info("source read", "users", len(snap.Users), "groups", len(snap.Groups), "seconds", s.now().Sub(started).Seconds())

	dir, err := s.Store.LoadDirectory(ctx, job.TenantID)
	if err != nil {
		return fmt.Errorf("preview: load directory: %w", err)
	}
	p, err := plan.Compute(plan.Input{Snapshot: snap, Directory: dir, Options: sy.Options, ActorEmail: job.ActorEmail})
	switch {
	case errors.Is(err, plan.ErrSourceEmpty):
		return fail(domain.SyncErrSourceEmpty, "Entra ID returned no users while the platform holds users linked to it; refusing to treat that as everyone leaving")
	case errors.Is(err, plan.ErrInvalidOptions), errors.Is(err, plan.ErrScopeGroupsMissing):
		return fail(domain.SyncErrOptions, err.Error())
	case err != nil:
		return fmt.Errorf("preview: plan: %w", err)
	}
	now := s.now()
	w := store.PlanWrite{UserBatchSize: s.UserBatchSize, ExpiresAt: now.Add(s.TTL), RetainUntil: now.Add(s.TTL + s.Retention)}
	if err := s.Store.SavePlan(ctx, job.TenantID, job.SyncID, p, w); err != nil {
		return fmt.Errorf("preview: save plan: %w", err)
	}
	log.Info("preview ready", "changes", len(p.Changes), "tripped", p.Tripped())
	return nil
}

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

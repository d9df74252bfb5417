package preview

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"dirsync/internal/domain"
)

// NewStarter is the preview function's service: it records a PREVIEWING
// sync holding the tenant's lock for lockFor, and dispatches the worker.
func NewStarter(st Store, d Dispatcher, lockFor, undoWindow time.Duration, logger *slog.Logger) (*Service, error) {
	errs := []error{need(st != nil, "starter", "Store"), need(d != nil, "starter", "Dispatcher"),
		positive("starter", "LockFor", lockFor), positive("starter", "UndoWindow", undoWindow)}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Service{Store: st, Dispatcher: d, LockFor: lockFor, UndoWindow: undoWindow, Logger: logger}, nil
}

// WorkerConfig is how the worker computes and keeps previews.
type WorkerConfig struct {
	TTL, Retention, LockFor time.Duration
	UserBatchSize           int
}

// Engine is the plan engine as the worker uses it (internal/plan): a
// plan of the whole tenant, of part of it, and of an undo.
type Engine struct {
	Plan     Planner
	PlanPart PartPlanner
	Invert   Inverter
}

// NewWorker is the preview worker's service: it reads the directory a
// sync pinned (newReader), plans it (engine) and stores the plan; for an
// undo it plans the inverse of what the sync undone applied. newReader
// may build any Reader type; an error it returns that is a domain error
// (a connection the reader refuses, a secret version gone) fails the
// preview, any other is transient and retried.
func NewWorker[R Reader](st Store, newReader func(context.Context, *domain.Connection) (R, error), classify ReadErrorClassifier,
	engine Engine, events Publisher, cfg WorkerConfig, logger *slog.Logger) (*Service, error) {
	errs := []error{need(st != nil, "worker", "Store"), need(newReader != nil, "worker", "NewReader"), need(events != nil, "worker", "Events"),
		need(classify != nil, "worker", "Classify"), need(engine.Plan != nil, "worker", "Planner"), need(engine.PlanPart != nil, "worker", "PartPlanner"),
		need(engine.Invert != nil, "worker", "Inverter"), positive("worker", "TTL", cfg.TTL),
		positive("worker", "Retention", cfg.Retention), positive("worker", "LockFor", cfg.LockFor)}
	if cfg.UserBatchSize < 1 {
		errs = append(errs, fmt.Errorf("preview: worker: UserBatchSize %d, want at least 1", cfg.UserBatchSize))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	readers := func(ctx context.Context, conn *domain.Connection) (Reader, error) {
		r, err := newReader(ctx, conn)
		if err != nil {
			return nil, err
		}
		return r, nil
	}
	return &Service{Store: st, NewReader: readers, Classify: classify, Plan: engine.Plan, PlanPart: engine.PlanPart, Invert: engine.Invert,
		Events: events, TTL: cfg.TTL, Retention: cfg.Retention,
		LockFor: cfg.LockFor, UserBatchSize: cfg.UserBatchSize, Logger: logger}, nil
}

// NewFailureRecorder is what finalize uses of previews: ending a sync whose
// worker Lambda gave up on, and announcing it (events).
func NewFailureRecorder(st Store, events Publisher, logger *slog.Logger) (*Service, error) {
	if err := errors.Join(need(st != nil, "failure recorder", "Store"), need(events != nil, "failure recorder", "Events")); err != nil {
		return nil, err
	}
	return &Service{Store: st, Events: events, Logger: logger}, nil
}

func need(given bool, role, what string) error {
	if given {
		return nil
	}
	return fmt.Errorf("preview: %s: %w: %s", role, domain.ErrMissingDependency, what)
}

func positive(role, what string, d time.Duration) error {
	if d > 0 {
		return nil
	}
	return fmt.Errorf("preview: %s: %s %s, want more than 0", role, what, d)
}

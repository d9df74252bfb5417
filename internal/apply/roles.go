package apply

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"dirsync/internal/domain"
)

// NewConfirmer is the confirm function's service: it confirms a preview
// (starting the apply state machine with maxConcurrency batches at once)
// and cancels syncs (keeping the tenant locked for cancelDrain).
func NewConfirmer(st Store, executions Executions, maxConcurrency int, cancelDrain time.Duration, logger *slog.Logger) (*Service, error) {
	var errs []error
	if st == nil {
		errs = append(errs, fmt.Errorf("apply: confirmer: %w: Store", domain.ErrMissingDependency))
	}
	if executions == nil {
		errs = append(errs, fmt.Errorf("apply: confirmer: %w: Executions", domain.ErrMissingDependency))
	}
	if maxConcurrency < 1 {
		errs = append(errs, fmt.Errorf("apply: confirmer: MaxConcurrency %d, want at least 1", maxConcurrency))
	}
	if cancelDrain <= 0 {
		errs = append(errs, fmt.Errorf("apply: confirmer: CancelDrain %s, want more than 0", cancelDrain))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Service{Store: st, Executions: executions, MaxConcurrency: maxConcurrency, CancelDrain: cancelDrain, Logger: logger}, nil
}

// NewBatchApplier is the apply function's service: it applies one batch,
// writing up to concurrency of its changes at once.
func NewBatchApplier(st Store, concurrency int, logger *slog.Logger) (*Service, error) {
	var errs []error
	if st == nil {
		errs = append(errs, fmt.Errorf("apply: batch applier: %w: Store", domain.ErrMissingDependency))
	}
	if concurrency < 1 {
		errs = append(errs, fmt.Errorf("apply: batch applier: Concurrency %d, want at least 1", concurrency))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Service{Store: st, Concurrency: concurrency, Logger: logger}, nil
}

// NewFinalizer is the finalize function: it ends syncs from the state
// machine, from EventBridge and from the preview worker's OnFailure
// destination (previews), and publishes the lifecycle events of the
// applies it ends (events).
func NewFinalizer(st Store, previews PreviewFailures, events Publisher, logger *slog.Logger) (*Finalizer, error) {
	var errs []error
	if st == nil {
		errs = append(errs, fmt.Errorf("apply: finalizer: %w: Store", domain.ErrMissingDependency))
	}
	if previews == nil {
		errs = append(errs, fmt.Errorf("apply: finalizer: %w: Previews", domain.ErrMissingDependency))
	}
	if events == nil {
		errs = append(errs, fmt.Errorf("apply: finalizer: %w: Events", domain.ErrMissingDependency))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Finalizer{Apply: &Service{Store: st, Events: events, Logger: logger}, Previews: previews}, nil
}

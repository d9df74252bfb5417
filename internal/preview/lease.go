package preview

import (
	"context"
	"crypto/rand"
	"dirsync/internal/domain"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// claim takes the preview's lease for this invocation. While another live
// worker of the same sync holds it (a duplicate or overlapping delivery of
// the job), it waits for that lease to end, polling, rather than run
// beside it.
func (s *Service) claim(ctx context.Context, job Job) (domain.Lease, error) {
	owner := newOwner()
	poll := min(s.renewEvery(), 5*time.Second)
	for {
		lease, err := s.Store.ClaimPreview(ctx, job.TenantID, job.SyncID, owner, s.LockFor)
		if !errors.Is(err, domain.ErrLeaseHeld) {
			if err != nil && !errors.Is(err, domain.ErrLeaseLost) {
				err = fmt.Errorf("preview: claim lease: %w", err)
			}
			return lease, err
		}
		select {
		case <-ctx.Done():
			return domain.Lease{}, fmt.Errorf("preview: claim lease: %w", ctx.Err())
		case <-time.After(poll):
		}
	}
}

// newOwner names one invocation of the worker. Lambda gives a retried
// asynchronous event the same request id, so the owner is random.
func newOwner() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Service) renewEvery() time.Duration {
	if s.RenewEvery > 0 {
		return s.RenewEvery
	}
	return min(s.LockFor/4, 10*time.Second)
}

// keepLease renews the lease every renewEvery until stop is called. The
// returned context is cancelled with domain.ErrLeaseLost as its cause when
// the lease is lost (the sync was cancelled or taken over), or when renewals
// kept failing for half the lease, so the worker stops before anyone could
// take its lease over.
func (s *Service) keepLease(ctx context.Context, lease domain.Lease, log *slog.Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(s.renewEvery())
		defer tick.Stop()
		renewed := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			err := s.Store.RenewPreview(ctx, lease, s.LockFor)
			switch {
			case err == nil:
				renewed = time.Now()
			case errors.Is(err, domain.ErrLeaseLost):
				cancel(err)
				return
			case ctx.Err() != nil:
				return
			default:
				log.Warn("renewing the preview's lease failed", "error", err.Error())
				if time.Since(renewed) > s.LockFor/2 {
					cancel(fmt.Errorf("%w: no renewal for %s", domain.ErrLeaseLost, time.Since(renewed).Round(time.Second)))
					return
				}
			}
		}
	}()
	return ctx, func() { cancel(nil); <-done }
}

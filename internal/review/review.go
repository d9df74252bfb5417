// Package review lets an admin shape a ready preview before confirming it:
// changes are excluded from the plan (or included back), and the sync's
// counts, the apply total and the safeguards are recomputed over what
// stays included. An excluded user's membership changes go with it.
package review

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"dirsync/internal/domain"
)

// MaxSeqs is how many changes one request may exclude or include.
const MaxSeqs = 1000

// attempts bounds the retries of an exclusion that raced another edit of
// the same plan.
const attempts = 5

// Store is what reviewing needs from the storage.
type Store interface {
	GetSync(ctx context.Context, tenant, id string) (*domain.Sync, error)
	GetChanges(ctx context.Context, tenant, syncID string, seqs []int) ([]domain.Change, error)
	Exclusions(ctx context.Context, tenant, syncID string) ([]domain.Exclusion, error)
	WriteExclusions(ctx context.Context, w domain.ExclusionWrite) error
}

// Service excludes and includes changes of ready previews.
type Service struct {
	store  Store
	logger *slog.Logger
	now    func() time.Time
}

// New is the review service of the preview function.
func New(st Store, logger *slog.Logger) (*Service, error) {
	if st == nil {
		return nil, fmt.Errorf("review: %w: Store", domain.ErrMissingDependency)
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Service{store: st, logger: logger, now: time.Now}, nil
}

// SetExcluded excludes the changes seqs of a ready preview (excluded
// true) or includes them back, and returns the sync and the changes as
// they then are. Only a PREVIEW_READY sync can be edited (409); a seq the
// plan does not have is 404, a skip (never applied) 422.
func (s *Service) SetExcluded(ctx context.Context, actor domain.Actor, syncID string, seqs []int, excluded bool) (*domain.Sync, []domain.Change, error) {
	seqs = slices.Compact(slices.Sorted(slices.Values(seqs)))
	if len(seqs) == 0 || len(seqs) > MaxSeqs {
		return nil, nil, domain.Errorf(domain.EInvalid, "seqs: between 1 and %d changes, got %d", MaxSeqs, len(seqs))
	}
	for attempt := 1; ; attempt++ {
		sy, changes, err := s.setExcluded(ctx, actor.TenantID, syncID, seqs, excluded)
		if !errors.Is(err, domain.ErrConditionFailed) {
			return sy, changes, err
		}
		if attempt == attempts {
			return nil, nil, domain.Errorf(domain.EConflict, "sync %q changed while excluding; look again", syncID)
		}
		s.logger.Info("exclusion raced another edit; deciding again", "sync_id", syncID, "attempt", attempt)
	}
}

func (s *Service) setExcluded(ctx context.Context, tenant, syncID string, seqs []int, excluded bool) (*domain.Sync, []domain.Change, error) {
	sy, err := s.store.GetSync(ctx, tenant, syncID)
	if err != nil {
		return nil, nil, err
	}
	if sy.Status != domain.SyncPreviewReady {
		return nil, nil, domain.Errorf(domain.EConflict, "sync %q is %s; changes can be excluded only while it is PREVIEW_READY", syncID, sy.Status)
	}
	targets, err := s.store.GetChanges(ctx, tenant, syncID, seqs)
	if err != nil {
		return nil, nil, err
	}
	if err := checkTargets(seqs, targets); err != nil {
		return nil, nil, err
	}
	current, err := s.store.Exclusions(ctx, tenant, syncID)
	if err != nil {
		return nil, nil, err
	}
	steps := Decide(sy, targets, current, excluded)
	for i, step := range steps {
		w := step
		w.Tenant, w.SyncID, w.Version, w.RetainUntil = tenant, syncID, sy.Version+int64(i), sy.RetainUntil
		if err := s.store.WriteExclusions(ctx, w); err != nil {
			return nil, nil, err
		}
	}
	if sy, err = s.store.GetSync(ctx, tenant, syncID); err != nil {
		return nil, nil, err
	}
	for i := range targets {
		targets[i].Excluded = excluded
	}
	return sy, targets, nil
}

// checkTargets refuses seqs the plan does not have and skips.
func checkTargets(seqs []int, found []domain.Change) error {
	if len(found) < len(seqs) {
		have := map[int]bool{}
		for _, c := range found {
			have[c.Seq] = true
		}
		var missing []string
		for _, seq := range seqs {
			if !have[seq] {
				missing = append(missing, fmt.Sprint(seq))
			}
		}
		return domain.Errorf(domain.ENotFound, "the plan has no change %s", strings.Join(missing, ", "))
	}
	for _, c := range found {
		if c.Kind == domain.KindSkip {
			return domain.Errorf(domain.EUnprocessable, "change %d is a skip: it is never applied, so there is nothing to exclude", c.Seq)
		}
	}
	return nil
}

// Package apply confirms previews and applies them: confirm moves a ready
// preview to APPLYING and starts the apply state machine, whose Map calls
// ApplyBatch once per batch and Finalize at the end; cancel stops it.
// Every step is idempotent, so retries and duplicate requests leave the
// directory and the counters right.
package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"dirsync/internal/domain"
	"dirsync/internal/lifecycle"
)

// Store is what applying needs from the storage: the syncs with their
// plans and counters, and the directory the changes are applied to.
type Store interface {
	GetSync(ctx context.Context, tenant, id string) (*domain.Sync, error)
	GetProgress(ctx context.Context, tenant, syncID string) (*domain.Progress, error)
	SetExecution(ctx context.Context, tenant, id, executionID string) error
	// The transitions write only while the sync is where the caller
	// decided from, and report a lost condition as
	// domain.ErrConditionFailed: deciding again is the caller's.
	BeginApply(ctx context.Context, tenant, syncID, confirmedBy string, version int64) error
	ExpirePreview(ctx context.Context, tenant, syncID string) error
	CancelSync(ctx context.Context, sy *domain.Sync, drain time.Duration) error
	FinishApply(ctx context.Context, tenant, syncID string, status domain.SyncStatus, failure *domain.SyncError) error
	// ReleaseLock frees the tenant's lock if the sync holds it: the end of
	// a cancelled apply's drain.
	ReleaseLock(ctx context.Context, tenant, syncID string) error
	GetBatch(ctx context.Context, tenant, syncID string, index int) (*domain.Batch, bool, error)
	BatchChanges(ctx context.Context, tenant, syncID string, b *domain.Batch) ([]domain.Change, error)
	Exclusions(ctx context.Context, tenant, syncID string) ([]domain.Exclusion, error)
	RecordOutcomes(ctx context.Context, tenant, syncID string, outcomes []domain.Outcome) error
	CompleteBatch(ctx context.Context, tenant, syncID string, index int, t domain.Tally) (bool, error)
	// RecordEvents appends to the sync the lifecycle events published for it.
	RecordEvents(ctx context.Context, tenant, syncID string, evs []domain.SyncEvent) error
	// The plan basis re-syncs plan from (held or dropped before any apply
	// writes, released by a clean end), and the directory version it is
	// valid at.
	LoadPlanBasis(ctx context.Context, tenant string) (*domain.PlanBasis, error)
	SavePlanBasis(ctx context.Context, tenant string, b domain.PlanBasis) error
	DeletePlanBasis(ctx context.Context, tenant string) error
	DirectoryVersion(ctx context.Context, tenant string) (int64, error)
	Directory
}

// Publisher publishes lifecycle events (EventBridge in AWS).
type Publisher interface {
	Publish(ctx context.Context, evs []domain.Event) error
}

// Executions starts and stops runs of the apply state machine.
type Executions interface {
	// Start starts an execution named name with input. Starting again with
	// the same name and input is not an error and returns the same id.
	Start(ctx context.Context, name string, input []byte) (executionID string, err error)
	// Stop stops a running execution (no error if it already ended).
	Stop(ctx context.Context, executionID string, cause string) error
}

// Service confirms, cancels and applies syncs.
type Service struct {
	Store      Store
	Executions Executions
	// MaxConcurrency is how many batches the Map runs at once.
	MaxConcurrency int
	// CancelDrain is how long a cancelled apply keeps the tenant's lock: at
	// least as long as one apply batch may run (its function's timeout), so
	// no new sync starts while a batch already running still writes.
	CancelDrain time.Duration
	// Concurrency is how many changes of one batch are written at once.
	Concurrency int
	// Events publishes the lifecycle events of the applies finalize ends.
	Events Publisher
	Logger *slog.Logger
	// Now is the clock confirms are decided by (nil: time.Now).
	Now func() time.Time
}

// ExecutionName names a sync's execution, so ops find it in the console by
// the sync id and a repeated confirm cannot start a second one.
func ExecutionName(syncID string) string { return "sync-" + syncID }

// ExecutionInput is the state machine's input. Batches are named by ranges
// of indexes: per object type at most MaxChunks ranges of at most
// MaxChunkBatches batches each, which the state machine expands with
// States.ArrayRange (itself limited to 1,000 items). Its size is bounded
// whatever the tenant's size: far below the 256 KiB payload limit.
type ExecutionInput struct {
	TenantID string `json:"tenantId"`
	SyncID   string `json:"syncId"`
	// UserChunks and GroupChunks are inclusive [from, to] batch ranges.
	UserChunks     [][2]int `json:"userChunks"`
	GroupChunks    [][2]int `json:"groupChunks"`
	MaxConcurrency int      `json:"maxConcurrency"`
}

// The bounds of ExecutionInput's ranges, set by States.ArrayRange's limit of
// 1,000 items.
const (
	MaxChunks       = 1000
	MaxChunkBatches = domain.MaxApplyBatchesPerType / MaxChunks
)

// chunks covers n batches from index first with as few ranges as keep
// each range small: ranges of one batch up to MaxChunks batches (so the
// Map's concurrency applies batch by batch), longer ranges beyond.
func chunks(first, n int) ([][2]int, error) {
	if n > domain.MaxApplyBatchesPerType {
		return nil, fmt.Errorf("apply: %d batches of one type; at most %d fit one execution", n, domain.MaxApplyBatchesPerType)
	}
	size := max(1, (n+MaxChunks-1)/MaxChunks)
	out := make([][2]int, 0, (n+size-1)/size)
	for from := 0; from < n; from += size {
		out = append(out, [2]int{first + from, first + min(from+size, n) - 1})
	}
	return out, nil
}

func (s *Service) input(sy *domain.Sync) ([]byte, error) {
	return NewExecutionInput(sy, s.MaxConcurrency)
}

// NewExecutionInput is the state machine's input for a sync's stored plan.
func NewExecutionInput(sy *domain.Sync, maxConcurrency int) ([]byte, error) {
	users, err := chunks(0, sy.UserBatches)
	if err != nil {
		return nil, err
	}
	groups, err := chunks(sy.UserBatches, sy.Batches-sy.UserBatches)
	if err != nil {
		return nil, err
	}
	return json.Marshal(ExecutionInput{TenantID: sy.TenantID, SyncID: sy.ID, MaxConcurrency: max(1, maxConcurrency),
		UserChunks: users, GroupChunks: groups})
}

// Confirm applies exactly the stored plan: 202 APPLYING. A repeated or
// concurrent confirm answers the same and starts nothing new; 410 when the
// preview expired; 422 when a safeguard tripped without allowDeactivations.
func (s *Service) Confirm(ctx context.Context, actor domain.Actor, syncID string, allowDeactivations bool) (*domain.Sync, error) {
	sy, err := s.Store.GetSync(ctx, actor.TenantID, syncID)
	if err != nil {
		return nil, err
	}
	if sy.Status == domain.SyncPreviewReady && sy.Tripped() && !allowDeactivations {
		return nil, domain.Errorf(domain.EUnprocessable, "%s; to confirm anyway send {\"allowDeactivations\": true}", trippedMessage(sy))
	}
	// Apply never deactivates the confirming admin, whom it recognises by
	// the token's email: without one that protection would silently lapse.
	if sy.Status == domain.SyncPreviewReady && sy.Counts.Users.Deactivate > 0 && !domain.ValidEmail(actor.Email) {
		return nil, domain.Errorf(domain.EUnprocessable,
			"the token carries no usable email claim (email, preferred_username or upn), so this plan's %d deactivations cannot be checked against your own account; confirm with a token that has an email claim",
			sy.Counts.Users.Deactivate)
	}
	// The input depends only on the stored plan: computed before the lock
	// is taken, so a plan that cannot run never blocks the tenant.
	input, err := s.input(sy)
	if err != nil {
		return nil, fmt.Errorf("apply: encode input: %w", err)
	}
	if sy, err = s.begin(ctx, sy, actor.Name()); err != nil {
		return nil, err
	}
	// Starting is idempotent by name and input: after a crash between
	// begin and here, the next confirm starts the execution.
	id, err := s.Executions.Start(ctx, ExecutionName(syncID), input)
	if err != nil {
		return nil, fmt.Errorf("apply: start execution of %s (confirm again to retry): %w", syncID, err)
	}
	if sy.ExecutionID != id {
		if err := s.Store.SetExecution(ctx, actor.TenantID, syncID, id); err != nil {
			return nil, err
		}
		sy.ExecutionID = id
	}
	return sy, nil
}

// begin moves sy, as read, to APPLYING if it can be confirmed
// (domain.Sync.ConfirmableAt) and returns it as it then is. A move that
// lost its condition to another confirm, a cancel or the expiry is decided
// again from the sync read anew.
func (s *Service) begin(ctx context.Context, sy *domain.Sync, confirmedBy string) (*domain.Sync, error) {
	c, refusal := sy.ConfirmableAt(s.now())
	if c == domain.ConfirmBegin {
		if err := s.holdBasis(ctx, sy); err != nil {
			return nil, err
		}
		err := s.Store.BeginApply(ctx, sy.TenantID, sy.ID, confirmedBy, sy.Version)
		switch {
		case err == nil:
			return s.Store.GetSync(ctx, sy.TenantID, sy.ID)
		case !errors.Is(err, domain.ErrConditionFailed):
			return nil, err
		}
		if sy, err = s.Store.GetSync(ctx, sy.TenantID, sy.ID); err != nil {
			return nil, err
		}
		c, refusal = sy.ConfirmAfterLostRace()
	}
	switch c {
	case domain.ConfirmRepeated:
		return sy, nil
	case domain.ConfirmExpired:
		// Reads only derive EXPIRED; the refused confirm stores it. The
		// answer is 410 either way, so a failure here is only logged.
		if err := s.Store.ExpirePreview(ctx, sy.TenantID, sy.ID); err != nil && !errors.Is(err, domain.ErrConditionFailed) {
			s.logger().Warn("storing the expiry failed", "sync_id", sy.ID, "error", err.Error())
		}
	}
	return nil, refusal
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func trippedMessage(sy *domain.Sync) string {
	for _, g := range sy.Safeguards {
		if !g.Tripped {
			continue
		}
		switch g.Name {
		case domain.SafeguardDeactivationPercent:
			return fmt.Sprintf("this sync would deactivate %.1f%% of the active linked users, more than the %.0f%% safeguard", g.Actual, g.Limit)
		case domain.SafeguardDeactivationCount:
			return fmt.Sprintf("this sync would deactivate %.0f users, more than the safeguard of %.0f", g.Actual, g.Limit)
		case domain.SafeguardGroupRemovalPercent:
			return fmt.Sprintf("this sync would remove %.1f%% of the owned groups, more than the %.0f%% safeguard", g.Actual, g.Limit)
		case domain.SafeguardGroupRemovalCount:
			return fmt.Sprintf("this sync would remove %.0f groups, more than the safeguard of %.0f", g.Actual, g.Limit)
		case domain.SafeguardMembershipRemovalPercent:
			return fmt.Sprintf("this sync would remove %.1f%% of the owned groups' memberships, more than the %.0f%% safeguard", g.Actual, g.Limit)
		case domain.SafeguardMembershipRemovalCount:
			return fmt.Sprintf("this sync would remove %.0f group memberships, more than the safeguard of %.0f", g.Actual, g.Limit)
		}
	}
	return "a safeguard tripped"
}

// Cancel cancels a preview (running or ready), or stops a running apply:
// what was applied stays applied and the counters report it.
func (s *Service) Cancel(ctx context.Context, actor domain.Actor, syncID string) (*domain.Sync, error) {
	before, err := s.Store.GetSync(ctx, actor.TenantID, syncID)
	if err != nil {
		return nil, err
	}
	switch c, refusal := before.Cancellable(); c {
	case domain.CancelRefused:
		return nil, refusal
	case domain.CancelNow:
		// A running apply keeps the tenant's lock for CancelDrain: batches
		// already running may still write.
		err := s.Store.CancelSync(ctx, before, s.CancelDrain)
		if errors.Is(err, domain.ErrConditionFailed) {
			return nil, domain.Errorf(domain.EConflict, "sync %q changed while cancelling; look again", syncID)
		}
		if err != nil {
			return nil, err
		}
	}
	if before.Status == domain.SyncApplying && before.ExecutionID != "" {
		if err := s.Executions.Stop(ctx, before.ExecutionID, "cancelled by "+actor.Name()); err != nil {
			// The sync is CANCELLED: batches still in flight find it so and do
			// nothing, so a failed stop only wastes invocations.
			s.logger().Warn("stop execution failed", "sync_id", syncID, "error", err.Error())
		}
	}
	return s.Store.GetSync(ctx, actor.TenantID, syncID)
}

// StepError is the error a state machine Catch hands on.
type StepError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// BatchEvent is the apply function's input from the Map.
type BatchEvent struct {
	TenantID string `json:"tenantId"`
	SyncID   string `json:"syncId"`
	Batch    int    `json:"batch"`
	// Failed is set on the Catch path: the batch failed for good and its
	// remaining changes are recorded as failed.
	Failed bool       `json:"failed,omitempty"`
	Error  *StepError `json:"error,omitempty"`
}

// BatchResult is what one batch did.
type BatchResult struct {
	Batch     int    `json:"batch"`
	Applied   int    `json:"applied"`
	Conflicts int    `json:"conflicts"`
	Failed    int    `json:"failed"`
	Skipped   string `json:"skipped,omitempty"` // why nothing was done
}

// RetryableError marks a failure worth retrying (storage throttling or
// unavailability); the state machine's Retry matches its type name.
type RetryableError struct{ Err error }

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// ApplyBatch applies one batch. A batch already done, or of a sync that is
// no longer APPLYING (cancelled), does nothing. Outcomes are recorded per
// change; the counter moves once per batch, with the done marker.
func (s *Service) ApplyBatch(ctx context.Context, ev BatchEvent) (BatchResult, error) {
	res := BatchResult{Batch: ev.Batch}
	sy, err := s.Store.GetSync(ctx, ev.TenantID, ev.SyncID)
	if err != nil {
		return res, retryable(err)
	}
	if sy.Status != domain.SyncApplying {
		res.Skipped = "sync is " + string(sy.Status)
		return res, nil
	}
	b, done, err := s.Store.GetBatch(ctx, ev.TenantID, ev.SyncID, ev.Batch)
	if err != nil {
		return res, retryable(err)
	}
	if done {
		res.Skipped = "batch already applied"
		return res, nil
	}
	changes, err := s.Store.BatchChanges(ctx, ev.TenantID, ev.SyncID, b)
	if err != nil {
		return res, retryable(err)
	}
	if b.ObjectType == domain.ObjectGroup && sy.Counts.Users.Excluded > 0 {
		excluded, err := s.Store.Exclusions(ctx, ev.TenantID, ev.SyncID)
		if err != nil {
			return res, retryable(err)
		}
		domain.DropExcludedMembers(changes, excluded)
	}
	ap := &applier{dir: s.Store, ac: applyContext{Tenant: ev.TenantID, SyncID: ev.SyncID, Directory: sy.DirectoryTenantID, ConfirmedBy: sy.ConfirmedBy}}

	var (
		mu       sync.Mutex
		outcomes []domain.Outcome // new ones, to record
		tally    domain.Tally
	)
	record := func(o domain.Outcome, isNew bool) {
		mu.Lock()
		defer mu.Unlock()
		tally.Add(o.Result)
		if isNew {
			outcomes = append(outcomes, o)
		}
	}
	var todo, adds, unrecorded []*domain.Change
	for i := range changes {
		c := &changes[i]
		switch {
		case c.Kind == domain.KindSkip, c.Excluded: // never applied, not counted
		case c.Outcome != "": // recorded by an earlier attempt of this batch
			record(domain.Outcome{Seq: c.Seq, Result: c.Outcome, Reason: c.OutcomeReason}, false)
		case ev.Failed:
			unrecorded = append(unrecorded, c)
		case c.ObjectType == domain.ObjectUser && c.Kind == domain.KindAdd:
			adds = append(adds, c) // written together: far fewer round trips
		default:
			todo = append(todo, c)
		}
	}
	if len(unrecorded) > 0 {
		outcomes, err := s.failedForGood(ctx, ap, unrecorded, ev.Error)
		if err != nil {
			return res, retryable(err)
		}
		for _, o := range outcomes {
			record(o, true)
		}
	}
	var addErr error
	if len(adds) > 0 {
		added, err := ap.applyUserAdds(ctx, adds)
		for _, o := range added {
			record(o, true)
		}
		addErr = err
	}
	// A change that fails to write does not stop the others (no shared
	// cancel): what they decide is recorded, and the retry redoes the rest.
	var g errgroup.Group
	g.SetLimit(max(1, s.Concurrency))
	for _, c := range todo {
		g.Go(func() error {
			var o domain.Outcome
			var err error
			if c.ObjectType == domain.ObjectGroup {
				o, err = ap.applyGroupChange(ctx, c)
			} else {
				o, err = ap.applyUserChange(ctx, c)
			}
			if err != nil {
				return err
			}
			record(o, true)
			return nil
		})
	}
	err = errors.Join(addErr, g.Wait())
	// Whatever was decided is recorded even if some change failed to write,
	// so the retry only redoes what is left.
	if rerr := s.Store.RecordOutcomes(ctx, ev.TenantID, ev.SyncID, outcomes); rerr != nil {
		return res, retryable(errors.Join(err, rerr))
	}
	if err != nil {
		return res, retryable(err)
	}
	if _, err := s.Store.CompleteBatch(ctx, ev.TenantID, ev.SyncID, ev.Batch, tally); err != nil {
		return res, retryable(err)
	}
	res.Applied, res.Conflicts, res.Failed = tally.Applied, tally.Conflicts, tally.Failed
	s.logger().Info("batch applied", "tenant_id", ev.TenantID, "sync_id", ev.SyncID, "batch", ev.Batch,
		"applied", res.Applied, "conflicts", res.Conflicts, "failed", res.Failed)
	return res, nil
}

// failedForGood decides the outcomes of a batch that failed after its
// retries, for the changes no attempt recorded: what an attempt wrote is
// applied (a user change is one write), a group written without the
// certainty that its memberships followed is failed with that said, and
// the rest failed.
func (s *Service) failedForGood(ctx context.Context, ap *applier, changes []*domain.Change, cause *StepError) ([]domain.Outcome, error) {
	written, err := ap.writtenChanges(ctx, changes)
	if err != nil {
		return nil, err
	}
	out := make([]domain.Outcome, 0, len(changes))
	for _, c := range changes {
		o := domain.Outcome{Seq: c.Seq, Result: domain.OutcomeFailed, Reason: failureReason(cause)}
		switch {
		case !written[c.Seq]:
		case c.ObjectType == domain.ObjectUser || c.Kind == domain.KindRemove:
			o.Result, o.Reason = domain.OutcomeApplied, ""
		default:
			o.Reason = "the group was written but its memberships may be incomplete; " + o.Reason
		}
		out = append(out, o)
	}
	return out, nil
}

func failureReason(e *StepError) string {
	if e == nil {
		return "the batch failed after its retries"
	}
	msg := e.Cause
	var payload struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(e.Cause), &payload) == nil && payload.ErrorMessage != "" {
		msg = payload.ErrorMessage
	}
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return "the batch failed after its retries: " + e.Error + ": " + msg
}

func retryable(err error) error {
	if err == nil || domain.ErrorCode(err) != domain.EInternal {
		return err
	}
	return &RetryableError{Err: err}
}

// FinalizeEvent is the finalize function's input.
type FinalizeEvent struct {
	TenantID string     `json:"tenantId"`
	SyncID   string     `json:"syncId"`
	Failed   bool       `json:"failed,omitempty"`
	Error    *StepError `json:"error,omitempty"`
}

// FinalizeResult is the sync's final status.
type FinalizeResult struct {
	Status domain.SyncStatus `json:"status"`
}

// Finalize sets COMPLETED or COMPLETED_WITH_ERRORS from the counters, or
// FAILED on the state machine's failure path.
func (s *Service) Finalize(ctx context.Context, ev FinalizeEvent) (FinalizeResult, error) {
	var failure *domain.SyncError
	if ev.Failed {
		failure = &domain.SyncError{Code: domain.SyncErrApplyFailed, Message: "the apply could not complete: " + failureReason(ev.Error)}
	}
	st, err := s.finish(ctx, ev.TenantID, ev.SyncID, failure)
	if err != nil {
		return FinalizeResult{}, retryable(err)
	}
	s.logger().Info("sync finished", "tenant_id", ev.TenantID, "sync_id", ev.SyncID, "status", st)
	return FinalizeResult{Status: st}, nil
}

// finish ends an APPLYING sync with the status its counters decide
// (domain.Progress.FinalStatus), FAILED with failure's reason when failure
// is not nil, and releases the tenant's lock. It returns the status the
// sync ends with.
//
// A sync no longer APPLYING (cancelled meanwhile, or finished by an
// earlier attempt) is left as it is. A cancelled one kept the lock for its
// drain; its execution reaching its end means no batch of it runs any
// more, so the drain ends now.
func (s *Service) finish(ctx context.Context, tenant, syncID string, failure *domain.SyncError) (domain.SyncStatus, error) {
	p, err := s.Store.GetProgress(ctx, tenant, syncID)
	if err != nil {
		return "", err
	}
	status := p.FinalStatus(failure != nil)
	// Saved before the end releases the tenant's lock, so the next preview
	// finds it.
	basisSaved, err := s.leaveBasis(ctx, tenant, syncID, status, p)
	if err != nil {
		return "", err
	}
	err = s.Store.FinishApply(ctx, tenant, syncID, status, failure)
	if err != nil && !errors.Is(err, domain.ErrConditionFailed) {
		return "", err
	}
	ended := err == nil
	sy, err := s.Store.GetSync(ctx, tenant, syncID)
	if basisSaved && !ended && (err != nil || sy.Status != domain.SyncCompleted) {
		// Cancelled meanwhile: what it left is not what the plan says.
		if derr := s.Store.DeletePlanBasis(ctx, tenant); derr != nil {
			return "", derr
		}
	}
	switch {
	case err != nil && ended:
		// The transition is made; only its announcement is lost.
		s.logger().Error("lifecycle events not published: the finished sync could not be read",
			"tenant_id", tenant, "sync_id", syncID, "error", err.Error())
		return status, nil
	case err != nil:
		return "", err
	}
	if !ended && sy.Status == domain.SyncCancelled {
		if err := s.Store.ReleaseLock(ctx, tenant, syncID); err != nil {
			return "", err
		}
	}
	// Whether this attempt or an earlier one ended the apply, what is not
	// recorded as published yet is sent: an attempt that crashed after the
	// transition loses no event, and one that published sends nothing twice.
	s.announce(ctx, domain.Unsent(domain.ApplyEvents(*sy, *p, s.now()), sy.Events))
	return sy.Status, nil
}

// holdBasis marks the plan basis the confirmed sync's preview left as
// applying, so nothing is planned from it while the directory changes;
// a basis of another sync (an undo's confirm, or a basis the preview
// could not save) is dropped: no clean end of this apply accounts for it.
func (s *Service) holdBasis(ctx context.Context, sy *domain.Sync) error {
	b, err := s.Store.LoadPlanBasis(ctx, sy.TenantID)
	switch {
	case domain.ErrorCode(err) == domain.ENotFound:
		return nil
	case err != nil:
		return err
	case b.SyncID != sy.ID || sy.EffectiveKind() == domain.SyncKindUndo:
		return s.Store.DeletePlanBasis(ctx, sy.TenantID)
	}
	b.Applying = true
	return s.Store.SavePlanBasis(ctx, sy.TenantID, *b)
}

// leaveBasis releases the plan basis an apply ending with status held:
// with the bases after it when the sync applied every change of its plan
// (none excluded, none in conflict or failed) to a directory nothing else
// wrote since it was planned, else by dropping it. It reports whether it
// left one.
func (s *Service) leaveBasis(ctx context.Context, tenant, syncID string, status domain.SyncStatus, p *domain.Progress) (bool, error) {
	b, err := s.Store.LoadPlanBasis(ctx, tenant)
	switch {
	case domain.ErrorCode(err) == domain.ENotFound:
		return false, nil
	case err != nil:
		return false, err
	case b.SyncID != syncID || !b.Applying:
		return false, nil // released by an earlier attempt
	}
	clean, err := s.appliedCleanly(ctx, tenant, syncID, status, p, b)
	if err != nil {
		return false, err
	}
	if clean == nil {
		return false, s.Store.DeletePlanBasis(ctx, tenant)
	}
	b.Applying, b.Bases, b.SavedAt = false, *clean, s.now().UTC()
	return true, s.Store.SavePlanBasis(ctx, tenant, *b)
}

// appliedCleanly returns the directory's bases after the sync when it
// applied every change of its plan to a directory nothing else wrote since
// it was planned (held basis b's version); nil otherwise.
func (s *Service) appliedCleanly(ctx context.Context, tenant, syncID string, status domain.SyncStatus, p *domain.Progress, b *domain.PlanBasis) (*domain.SafeguardBases, error) {
	if status != domain.SyncCompleted || p.Failed > 0 || p.Conflicts > 0 {
		return nil, nil
	}
	sy, err := s.Store.GetSync(ctx, tenant, syncID)
	if err != nil {
		return nil, err
	}
	if sy.NextBasis == nil || sy.Counts.Users.Excluded > 0 || sy.Counts.Groups.Excluded > 0 {
		return nil, nil
	}
	version, err := s.Store.DirectoryVersion(ctx, tenant)
	if err != nil {
		return nil, err
	}
	if version != b.DirectoryVersion || version != sy.NextBasis.DirectoryVersion {
		s.logger().Info("no plan basis: the directory was written outside the sync since it was planned", "tenant_id", tenant, "sync_id", syncID)
		return nil, nil
	}
	return &sy.NextBasis.Bases, nil
}

// announce publishes and records the events of a transition already made.
func (s *Service) announce(ctx context.Context, evs []domain.Event) {
	if s.Events == nil || len(evs) == 0 {
		return
	}
	d := evs[0].Detail
	lifecycle.Announce(ctx, s.Events, s.Store, evs, s.logger().With("tenant_id", d.TenantID, "sync_id", d.SyncID))
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

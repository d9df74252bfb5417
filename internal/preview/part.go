package preview

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"dirsync/internal/domain"
)

// PartPlanner computes the plan of part of a tenant (plan.ComputePart),
// given by the wiring like the Planner.
type PartPlanner func(domain.PartInput) (*domain.Plan, domain.PartNeeds, error)

// partRounds bounds how many times a part is loaded again with what it
// needs; each round adds only users an earlier one pulled in, so a few
// suffice.
const partRounds = 6

// maxPartUsers is the largest part worth planning: past it, loading the
// part by key costs more than loading the whole directory.
func maxPartUsers(sourceUsers int) int { return max(2_000, sourceUsers/20) }

// planBasis is the tenant's plan basis, nil when none is kept.
func (s *Service) planBasis(ctx context.Context, tenant string) (*domain.PlanBasis, error) {
	b, err := s.Store.LoadPlanBasis(ctx, tenant)
	if domain.ErrorCode(err) == domain.ENotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("preview: load the plan basis: %w", err)
	}
	return b, nil
}

// chainMirror names next as round's mirror and records the users changed
// since the basis's mirror: those changed since prev, and those prev had
// recorded when it came after the basis too. Without a basis, or with one
// prev does not follow, next records nothing and the next re-sync plans in
// full.
func chainMirror(next, prev *domain.SourceMirror, basis *domain.PlanBasis, round string) {
	next.Round, next.ChangedSince, next.Changed = round, "", nil
	if basis == nil || prev == nil {
		return
	}
	var changed []string
	switch basis.SyncID {
	case prev.Round:
	case prev.ChangedSince:
		changed = prev.Changed
	default:
		return
	}
	changed = append(slices.Clone(changed), domain.ChangedUsers(prev, next)...)
	slices.Sort(changed)
	changed = slices.Compact(changed)
	if len(changed) > maxPartUsers(len(next.Users)) {
		return // too many for a plan of part
	}
	next.ChangedSince, next.Changed = basis.SyncID, changed
}

// basisHolds reports whether a basis naming sync sy can be planned from:
// its plan is stored whole and either it applied cleanly (finalize saved
// the basis) or nothing of it was applied (the worker saved it with the
// plan, and no confirm came, which would have dropped it).
func basisHolds(sy *domain.Sync) bool {
	switch sy.Status {
	case domain.SyncCompleted:
		return true
	case domain.SyncPreviewReady, domain.SyncExpired, domain.SyncCancelled:
		return sy.ConfirmedAt == nil
	}
	return false
}

// maxLeftActive is the most linked users left active a plan basis holds
// (their ids ride in its item, under DynamoDB's 400 KB): a plan leaving
// more leaves no basis.
const maxLeftActive = 5_000

// nextBasis is what a clean apply of plan p leaves as plan basis (its
// sync id and the users left active are the basis item's), nil when it
// can leave none: the plan left too many linked users active to list.
func nextBasis(p *domain.Plan, opts domain.Options, directoryVersion int64) *domain.PlanBasis {
	if len(p.LeftActive) > maxLeftActive {
		return nil
	}
	return &domain.PlanBasis{DirectoryVersion: directoryVersion, OptionsHash: domain.OptionsHash(opts), Bases: p.BasesAfter}
}

// errPlanInFull: the part cannot be planned (too large, or a read without
// users); the tenant is planned in full.
var errPlanInFull = errors.New("preview: plan the tenant in full")

// planPart plans part of the tenant when the plan basis allows: the read
// was a delta from a mirror that follows the basis's, the options and the
// directory are as the basis left them. It covers the users changed since
// and every user and member the basis's plan listed, loads the platform
// users they need, and grows the part with what the engine asks for.
// errPlanInFull says to plan in full instead.
func (s *Service) planPart(ctx context.Context, tenant string, src sourceRead, snap *domain.Snapshot, opts domain.Options,
	actor string, basis *domain.PlanBasis, directoryVersion int64, log *slog.Logger) (*domain.Plan, int, error) {
	m := src.mirror
	switch {
	case s.PlanPart == nil, basis == nil, basis.Applying, src.kind != domain.ReadDelta:
		return nil, 0, errPlanInFull
	case m.ChangedSince != basis.SyncID, basis.OptionsHash != domain.OptionsHash(opts), basis.DirectoryVersion != directoryVersion:
		log.Info("planning in full: the mirror, the options or the directory moved on from the plan basis", "basis", basis.SyncID)
		return nil, 0, errPlanInFull
	}
	limit := maxPartUsers(len(m.Users))
	last, err := s.Store.GetSync(ctx, tenant, basis.SyncID)
	if domain.ErrorCode(err) == domain.ENotFound {
		return nil, 0, errPlanInFull // its plan expired with its items
	}
	if err != nil {
		return nil, 0, fmt.Errorf("preview: load the basis sync: %w", err)
	}
	if !basisHolds(last) || last.ChangeTotal+len(m.Changed) > limit {
		return nil, 0, errPlanInFull
	}
	changes, err := s.Store.PlanChanges(ctx, tenant, basis.SyncID)
	if err != nil {
		return nil, 0, fmt.Errorf("preview: the basis sync's changes: %w", err)
	}
	if len(changes) != last.ChangeTotal {
		return nil, 0, errPlanInFull // some of its items expired
	}
	sources, platform := domain.Unsettled(changes)
	sources = append(sources, basis.LeftActive...)
	in := domain.PartInput{
		PlanInput: domain.PlanInput{Snapshot: snap, Options: opts, ActorEmail: actor},
		Users:     compact(append(sources, m.Changed...)),
		Bases:     basis.Bases,
	}
	// What the source alone says the part needs (users sharing an email,
	// the email holders) is asked for with the first load, and each later
	// round loads only what the rounds before did not.
	if _, first, err := s.PlanPart(in); err == nil {
		in.Users, in.Emails = compact(append(in.Users, first.Users...)), compact(first.Emails)
	}
	ask := domain.DirectoryPart{DirectoryTenantID: snap.DirectoryTenantID, ExternalIDs: in.Users, Emails: in.Emails, UserIDs: compact(platform)}
	for round := range partRounds {
		if len(in.Users)+len(ask.UserIDs) > 2*limit {
			return nil, 0, errPlanInFull
		}
		started := s.now()
		part, err := s.Store.LoadDirectoryPart(ctx, tenant, ask)
		if err != nil {
			return nil, 0, fmt.Errorf("preview: load part of the directory: %w", err)
		}
		in.Directory = mergePart(in.Directory, part, ask.FullGroups)
		log.Info("part of the directory loaded", "round", round+1, "asked_users", len(ask.ExternalIDs), "asked_emails", len(ask.Emails),
			"asked_groups", len(ask.FullGroups), "users", len(in.Directory.Users), "seconds", s.now().Sub(started).Seconds())
		p, needs, err := s.PlanPart(in)
		switch {
		case errors.Is(err, domain.ErrPartOfEmptySource):
			return nil, 0, errPlanInFull
		case err != nil:
			return nil, 0, err
		case needs.Empty():
			return p, len(in.Users), nil
		}
		ask = domain.DirectoryPart{DirectoryTenantID: snap.DirectoryTenantID, ExternalIDs: needs.Users, Emails: needs.Emails, FullGroups: needs.Groups}
		in.Users = compact(append(in.Users, needs.Users...))
		in.Emails = compact(append(in.Emails, needs.Emails...))
		in.FullGroups = compact(append(in.FullGroups, needs.Groups...))
	}
	return nil, 0, errPlanInFull
}

// mergePart adds part, a load of more of the directory, to dir (nil: the
// first load): its users not yet there, in id order, and each group's
// members among them, or every member of the groups in full.
func mergePart(dir, part *domain.Directory, full []string) *domain.Directory {
	if dir == nil {
		return part
	}
	have := make(map[string]bool, len(dir.Users))
	for _, u := range dir.Users {
		have[u.ID] = true
	}
	for _, u := range part.Users {
		if !have[u.ID] {
			dir.Users = append(dir.Users, u)
		}
	}
	slices.SortFunc(dir.Users, func(a, b domain.PlatformUser) int { return strings.Compare(a.ID, b.ID) })
	members := make(map[string][]string, len(part.Groups))
	for _, g := range part.Groups {
		members[g.ID] = g.MemberIDs
	}
	for i := range dir.Groups {
		g := &dir.Groups[i]
		if slices.Contains(full, g.ID) {
			g.MemberIDs = members[g.ID]
		} else if m := members[g.ID]; len(m) > 0 {
			g.MemberIDs = compact(append(slices.Clone(g.MemberIDs), m...))
		}
	}
	return dir
}

// compact sorts ids and drops repeats.
func compact(ids []string) []string {
	slices.Sort(ids)
	return slices.Compact(ids)
}

// keepBasis saves, before the plan is stored (so no confirm can come
// between), the basis a re-sync can plan from while this plan is not
// applied: nothing it lists or leaves active is settled, everything else
// is, and the directory's bases are the plan's. Its confirm holds it
// (Applying) and a clean end of its apply releases it with the bases
// after (next); any other confirm or end drops it.
func (s *Service) keepBasis(ctx context.Context, sy *domain.Sync, p *domain.Plan, next *domain.PlanBasis, log *slog.Logger) {
	if next == nil {
		return
	}
	b := *next
	b.SyncID, b.Bases, b.LeftActive, b.SavedAt = sy.ID, p.Bases, p.LeftActive, s.now()
	if err := s.Store.SavePlanBasis(ctx, sy.TenantID, b); err != nil {
		log.Warn("the plan basis could not be saved; the next re-sync compares every user", "error", err.Error())
	}
}

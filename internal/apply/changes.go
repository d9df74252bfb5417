package apply

import (
	"context"
	"errors"
	"fmt"

	"dirsync/internal/domain"
)

// Directory is what applying changes needs of the platform directory: the
// state each decision is made on, and the conditional writes decided. A
// write refused on a condition writes nothing and returns the store's
// condition errors (domain.ErrConditionFailed: ErrExists,
// ErrRevisionChanged, ErrEmailClaimed, ErrLinkClaimed), joined when
// several failed.
type Directory interface {
	// ReadUser and ReadGroup return nil for an absent object, and the
	// marker of the last write a sync change made to it.
	ReadUser(ctx context.Context, tenant, id string) (*domain.User, string, error)
	ReadGroup(ctx context.Context, tenant, id string) (*domain.Group, string, error)
	ReadUserKeyHolders(ctx context.Context, tenant string, users []domain.PlatformUser) ([]domain.UserKeyHolders, error)
	// ReadMarkers leaves out the objects that do not exist.
	ReadMarkers(ctx context.Context, tenant string, objects []domain.ObjectRef) (map[domain.ObjectRef]string, error)
	WriteUser(ctx context.Context, tenant string, w domain.UserWrite) error
	// CreateUsers writes creates in shared transactions; a transaction
	// refused on a condition writes none of its users (written false).
	CreateUsers(ctx context.Context, tenant string, ws []domain.UserWrite) (written []bool, err error)
	WriteGroup(ctx context.Context, tenant string, w domain.GroupWrite) error
	DeleteGroup(ctx context.Context, tenant string, g *domain.Group) error
	RenameMemberships(ctx context.Context, tenant, groupID, name string) error
	// WriteMemberships returns how many member references named no user.
	WriteMemberships(ctx context.Context, tenant string, w domain.MembershipWrite) (missed int, err error)
}

// applier applies the changes of one sync: it reads what a decision needs,
// decides (decide.go) and makes the write decided.
type applier struct {
	dir Directory
	ac  applyContext
}

// applyUserChange applies one user change. Only storage failures are
// returned as errors; a conflict is an outcome.
func (ap *applier) applyUserChange(ctx context.Context, c *domain.Change) (domain.Outcome, error) {
	var cur *domain.User
	var marker string
	if readsUser(c.Kind) {
		var err error
		if cur, marker, err = ap.dir.ReadUser(ctx, ap.ac.Tenant, c.TargetID); err != nil {
			return domain.Outcome{}, err
		}
	}
	w, o := decideUser(c, cur, marker, &ap.ac)
	if w == nil {
		return o, nil
	}
	return ap.writeUser(ctx, c, w)
}

func (ap *applier) writeUser(ctx context.Context, c *domain.Change, w *domain.UserWrite) (domain.Outcome, error) {
	err := ap.dir.WriteUser(ctx, ap.ac.Tenant, *w)
	if w.Create && errors.Is(err, domain.ErrExists) {
		// The id derives from the change: the user may be this change's
		// own earlier write.
		_, marker, err := ap.dir.ReadUser(ctx, ap.ac.Tenant, w.User.ID)
		if err != nil {
			return domain.Outcome{}, err
		}
		return existingAddOutcome(c, w, marker), nil
	}
	return userWriteOutcome(c, w, err)
}

// applyUserAdds applies a batch's adds together: one read of the keys
// they would take, then shared transactions. Conflicts the read finds are
// decided without writing; the adds of a transaction that still fails on
// a condition (a race with another writer) are redone one at a time, so
// one conflict never fails its neighbours. After an error, the outcomes
// decided so far are returned with it.
func (ap *applier) applyUserAdds(ctx context.Context, changes []*domain.Change) ([]domain.Outcome, error) {
	writes := make([]*domain.UserWrite, len(changes))
	users := make([]domain.PlatformUser, len(changes))
	for i, c := range changes {
		writes[i] = newUserWrite(c, &ap.ac)
		users[i] = writes[i].User.PlatformUser
	}
	holders, err := ap.dir.ReadUserKeyHolders(ctx, ap.ac.Tenant, users)
	if err != nil {
		return nil, err
	}
	var (
		outcomes []domain.Outcome
		todo     []int // indexes of the adds to write
		creates  []domain.UserWrite
	)
	for i, c := range changes {
		if write, o := decideAdd(c, writes[i], holders[i]); !write {
			outcomes = append(outcomes, o)
			continue
		}
		todo = append(todo, i)
		creates = append(creates, *writes[i])
	}
	written, err := ap.dir.CreateUsers(ctx, ap.ac.Tenant, creates)
	var refused []int
	for j, i := range todo {
		if j < len(written) && written[j] {
			outcomes = append(outcomes, outcome(changes[i], domain.OutcomeApplied, ""))
		} else {
			refused = append(refused, i)
		}
	}
	if err != nil {
		return outcomes, err
	}
	for _, i := range refused {
		o, err := ap.writeUser(ctx, changes[i], writes[i])
		if err != nil {
			return outcomes, err
		}
		outcomes = append(outcomes, o)
	}
	return outcomes, nil
}

// applyGroupChange applies one group change and its memberships. Members
// named by Entra id are found through the link claims the user batches
// wrote; a member that cannot be found (its add conflicted) is left out
// and reported in the outcome's reason.
func (ap *applier) applyGroupChange(ctx context.Context, c *domain.Change) (domain.Outcome, error) {
	tenant := ap.ac.Tenant
	var cur *domain.Group
	var marker string
	if c.Kind != domain.KindAdd {
		var err error
		if cur, marker, err = ap.dir.ReadGroup(ctx, tenant, c.TargetID); err != nil {
			return domain.Outcome{}, err
		}
	}
	steps, o := decideGroup(c, cur, marker, &ap.ac)
	if steps == nil {
		return o, nil
	}
	if steps.remove != nil {
		if err := ap.dir.DeleteGroup(ctx, tenant, steps.remove); err != nil {
			return domain.Outcome{}, err
		}
		return outcome(c, domain.OutcomeApplied, ""), nil
	}
	if steps.write != nil {
		if err := ap.dir.WriteGroup(ctx, tenant, *steps.write); err != nil {
			if o, conflict := groupWriteConflict(c, err); conflict {
				return o, nil
			}
			return domain.Outcome{}, fmt.Errorf("apply: %s group (change %d): %w", c.Kind, c.Seq, err)
		}
	}
	if steps.renamed {
		if err := ap.dir.RenameMemberships(ctx, tenant, steps.members.GroupID, steps.members.GroupName); err != nil {
			return domain.Outcome{}, err
		}
	}
	missed, err := ap.dir.WriteMemberships(ctx, tenant, steps.members)
	if err != nil {
		return domain.Outcome{}, err
	}
	return membershipsOutcome(c, missed), nil
}

// writtenChanges reports which changes this sync already wrote to the
// directory. It is how a batch that failed for good tells what an earlier
// attempt wrote but never recorded.
func (ap *applier) writtenChanges(ctx context.Context, changes []*domain.Change) (map[int]bool, error) {
	objects := make([]domain.ObjectRef, len(changes))
	for i, c := range changes {
		objects[i] = changeObject(c, &ap.ac)
	}
	markers, err := ap.dir.ReadMarkers(ctx, ap.ac.Tenant, objects)
	if err != nil {
		return nil, err
	}
	written := make(map[int]bool, len(changes))
	for i, c := range changes {
		marker, exists := markers[objects[i]]
		written[c.Seq] = wasWritten(c, exists, marker, &ap.ac)
	}
	return written, nil
}

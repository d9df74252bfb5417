// Package plan computes what a directory sync would change: it compares a
// complete read of an Entra ID tenant with the platform's directory and
// returns every user and group change, the counts and the safeguards a
// preview shows (DESIGN.md section 3).
//
// Compute is pure: it does no I/O and never modifies its input. It is built
// for tenants of a million users: it joins each kind of key (object ids,
// emails, platform ids) once, partitioned so every table stays in cache;
// keeps one small pointer-free state record per user; sorts compact keys
// rather than whole changes; and spreads the heavy passes over the
// available cores.
package plan

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"dirsync/internal/domain"
)

// Input is everything a plan is computed from.
type Input struct {
	// Snapshot is the complete read of the Entra tenant.
	Snapshot *domain.Snapshot
	// Directory is the platform's current directory for this platform
	// tenant; nil means an empty directory.
	Directory *domain.Directory
	Options   domain.Options
	// ActorEmail is the email of the admin running the sync, who is never
	// deactivated by it.
	ActorEmail string
}

var (
	// ErrSourceEmpty refuses a snapshot without users while the platform
	// holds users linked to that Entra tenant: an empty read is far more
	// likely a fault than an emptied tenant.
	ErrSourceEmpty = errors.New("plan: the source directory has no users while the platform holds users linked to it")
	// ErrInvalidOptions is wrapped with the detail of what is wrong.
	ErrInvalidOptions = errors.New("plan: invalid sync options")
	// ErrScopeGroupsMissing refuses a scope none of whose groups exists in
	// the source: it would put every user out of scope.
	ErrScopeGroupsMissing = errors.New("plan: none of the scope groups exists in the source directory")
	// ErrInvalidSnapshot is wrapped with the detail of a malformed snapshot
	// (missing tenant id, empty or duplicate object ids), which a reader
	// never returns for a complete read.
	ErrInvalidSnapshot = errors.New("plan: invalid snapshot")
)

// Compute compares in.Snapshot with in.Directory and returns the plan.
// The changes are ordered deterministically, independent of input order:
// users (add, update, reactivate, deactivate, skip) then groups (add,
// update, remove).
func Compute(in Input) (*domain.Plan, error) {
	if err := validateOptions(in.Options); err != nil {
		return nil, err
	}
	if err := validateSnapshot(in.Snapshot); err != nil {
		return nil, err
	}
	dir := in.Directory
	if dir == nil {
		dir = &domain.Directory{}
	}
	if len(in.Snapshot.Users) == 0 && holdsLinkedUsers(dir, in.Snapshot.DirectoryTenantID) {
		return nil, fmt.Errorf("%w (directory tenant %s)", ErrSourceEmpty, in.Snapshot.DirectoryTenantID)
	}

	c := newComputation(in, dir)
	if err := c.findScope(); err != nil {
		return nil, err
	}
	if err := c.resolveIDs(); err != nil {
		return nil, err
	}
	c.classifySourceUsers()
	c.planDeactivations()
	c.planGroups()
	return c.assemble(), nil
}

func validateOptions(o domain.Options) error {
	if err := domain.ValidateMapping(o.EffectiveMapping()); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	t := o.DeactivationThreshold
	if t.Percent < 0 || math.IsNaN(t.Percent) || math.IsInf(t.Percent, 0) {
		return fmt.Errorf("%w: deactivationThreshold.percent: must be a non-negative number, got %v", ErrInvalidOptions, t.Percent)
	}
	if t.Count < 0 {
		return fmt.Errorf("%w: deactivationThreshold.count: must not be negative, got %d", ErrInvalidOptions, t.Count)
	}
	for i, g := range o.Scope.Groups {
		if strings.TrimSpace(g) == "" {
			return fmt.Errorf("%w: scope.groups[%d]: must not be empty", ErrInvalidOptions, i)
		}
	}
	return nil
}

func validateSnapshot(s *domain.Snapshot) error {
	if s == nil {
		return fmt.Errorf("%w: no snapshot", ErrInvalidSnapshot)
	}
	if s.DirectoryTenantID == "" {
		return fmt.Errorf("%w: directory tenant id is empty", ErrInvalidSnapshot)
	}
	seen := make(map[string]struct{}, len(s.Groups))
	for i := range s.Groups {
		id := s.Groups[i].ID
		if id == "" {
			return fmt.Errorf("%w: groups[%d] has no object id", ErrInvalidSnapshot, i)
		}
		if _, dup := seen[id]; dup {
			return fmt.Errorf("%w: group object id %s appears twice", ErrInvalidSnapshot, id)
		}
		seen[id] = struct{}{}
	}
	return nil
}

// holdsLinkedUsers reports whether any platform user, whatever its status,
// is linked to the Entra tenant.
func holdsLinkedUsers(dir *domain.Directory, tenant string) bool {
	for i := range dir.Users {
		if linkedTo(&dir.Users[i], tenant) {
			return true
		}
	}
	return false
}

func linkedTo(p *domain.PlatformUser, tenant string) bool {
	return p.ExternalID != "" && p.ExternalTenantID == tenant
}

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
	"fmt"
	"math"
	"strings"

	"dirsync/internal/domain"
)

// Compute compares in.Snapshot with in.Directory and returns the plan.
// The changes are ordered deterministically, independent of input order:
// users (add, update, reactivate, deactivate, skip) then groups (add,
// update, remove).
func Compute(in domain.PlanInput) (*domain.Plan, error) {
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
		return nil, fmt.Errorf("%w (directory tenant %s)", domain.ErrSourceEmpty, in.Snapshot.DirectoryTenantID)
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
		return fmt.Errorf("%w: %w", domain.ErrInvalidOptions, err)
	}
	t := o.DeactivationThreshold
	if t.Percent < 0 || math.IsNaN(t.Percent) || math.IsInf(t.Percent, 0) {
		return fmt.Errorf("%w: deactivationThreshold.percent: must be a non-negative number, got %v", domain.ErrInvalidOptions, t.Percent)
	}
	if t.Count < 0 {
		return fmt.Errorf("%w: deactivationThreshold.count: must not be negative, got %d", domain.ErrInvalidOptions, t.Count)
	}
	for i, g := range o.Scope.Groups {
		if strings.TrimSpace(g) == "" {
			return fmt.Errorf("%w: scope.groups[%d]: must not be empty", domain.ErrInvalidOptions, i)
		}
	}
	return nil
}

func validateSnapshot(s *domain.Snapshot) error {
	if s == nil {
		return fmt.Errorf("%w: no snapshot", domain.ErrInvalidSnapshot)
	}
	if s.DirectoryTenantID == "" {
		return fmt.Errorf("%w: directory tenant id is empty", domain.ErrInvalidSnapshot)
	}
	seen := make(map[string]struct{}, len(s.Groups))
	for i := range s.Groups {
		id := s.Groups[i].ID
		if id == "" {
			return fmt.Errorf("%w: groups[%d] has no object id", domain.ErrInvalidSnapshot, i)
		}
		if _, dup := seen[id]; dup {
			return fmt.Errorf("%w: group object id %s appears twice", domain.ErrInvalidSnapshot, id)
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

package store

import (
	"context"

	"dirsync/internal/domain"
)

// WrittenChanges reports which changes this sync already wrote to the
// directory: the user or group it targets carries the change's marker (for
// a group removal: the group is gone). It is how a batch that failed for
// good tells what an earlier attempt wrote but never recorded.
func (s *Store) WrittenChanges(ctx context.Context, a *ApplyContext, changes []*domain.Change) (map[int]bool, error) {
	keys := make([]item, 0, len(changes))
	sks := make([]string, len(changes))
	for i, c := range changes {
		id := c.TargetID
		if c.Kind == domain.KindAdd {
			id = DerivedID(a.SyncID, c.Seq)
		}
		sks[i] = userSK(id)
		if c.ObjectType == domain.ObjectGroup {
			sks[i] = groupSK(id)
		}
		keys = append(keys, key(tenantPK(a.Tenant), sks[i]))
	}
	found, err := s.batchGet(ctx, s.dirTable, keys)
	if err != nil {
		return nil, err
	}
	written := make(map[int]bool, len(changes))
	for i, c := range changes {
		it := found[sks[i]]
		if c.ObjectType == domain.ObjectGroup && c.Kind == domain.KindRemove {
			written[c.Seq] = it == nil
			continue
		}
		written[c.Seq] = it != nil && getS(it, "ls") == appliedMarker(a.SyncID, c.Seq)
	}
	return written, nil
}

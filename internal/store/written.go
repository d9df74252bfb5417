package store

import (
	"context"
	"fmt"

	"dirsync/internal/domain"
)

// ReadMarkers reads, for each user or group, the marker of the last write
// a sync change made to it ("" if none). Objects that do not exist are
// left out of the map.
func (s *Store) ReadMarkers(ctx context.Context, tenant string, objects []domain.ObjectRef) (map[domain.ObjectRef]string, error) {
	keys := make([]item, len(objects))
	sks := make([]string, len(objects))
	for i, o := range objects {
		sks[i] = userSK(o.ID)
		if o.Type == domain.ObjectGroup {
			sks[i] = groupSK(o.ID)
		}
		keys[i] = s.dirKey(tenant, sks[i])
	}
	found, err := s.batchGet(ctx, s.dirTable, keys)
	if err != nil {
		return nil, fmt.Errorf("store: read the markers of %d objects: %w", len(objects), err)
	}
	markers := make(map[domain.ObjectRef]string, len(found))
	for i, o := range objects {
		if it, ok := found[sks[i]]; ok {
			markers[o] = getS(it, "ls")
		}
	}
	return markers, nil
}

package plan

import (
	"strings"
)

// ignoreSet holds the connection's ignoredUsers, compared case-insensitively.
// Ids in GUID form (all of them, once validated) are packed, so a lookup
// costs one small-key map probe; anything else stays a lower-case string.
type ignoreSet struct {
	packed map[objectKey]struct{}
	plain  map[string]struct{}
}

func newIgnoreSet(ids []string) ignoreSet {
	if len(ids) == 0 {
		return ignoreSet{}
	}
	s := ignoreSet{packed: make(map[objectKey]struct{}, len(ids))}
	for _, id := range ids {
		id = strings.ToLower(strings.TrimSpace(id))
		if id == "" {
			continue
		}
		k, str, kind := idKey(id)
		if kind == packedKey {
			s.packed[k] = struct{}{}
			continue
		}
		if s.plain == nil {
			s.plain = map[string]struct{}{}
		}
		s.plain[str] = struct{}{}
	}
	return s
}

func (s ignoreSet) empty() bool { return len(s.packed) == 0 && len(s.plain) == 0 }

// has reports whether the Entra object id is ignored. Graph spells ids in
// lower case, the packed fast path; another spelling is folded first.
func (s ignoreSet) has(id string) bool {
	k, _, kind := idKey(id)
	if kind != packedKey {
		id = strings.ToLower(id)
		if k, _, kind = idKey(id); kind != packedKey {
			_, ok := s.plain[id]
			return ok
		}
	}
	_, ok := s.packed[k]
	return ok
}

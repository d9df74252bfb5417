package domain

import "hash/maphash"

// idIndex finds, among a fixed set of ids, the one equal to a given string,
// so that member ids can share the memory of the user ids. It is an
// open-addressing hash set of positions in ids: a few bytes per id, and a
// lookup touches one or two cache lines where a binary search over a
// million scattered strings touches twenty.
type idIndex struct {
	seed  maphash.Seed
	ids   []string
	slots []int32 // position in ids + 1; 0 is an empty slot
	mask  uint64
}

func newIDIndex(ids []string) *idIndex {
	// At most half full, so probe sequences stay short.
	size := 1
	for size < 2*len(ids) {
		size <<= 1
	}
	x := &idIndex{seed: maphash.MakeSeed(), ids: ids, slots: make([]int32, size), mask: uint64(size - 1)}
	for i, id := range ids {
		if slot, found := x.find(id); !found {
			x.slots[slot] = int32(i + 1)
		}
	}
	return x
}

// find returns the position of the first slot holding id, or of the empty
// slot where it would go.
func (x *idIndex) find(id string) (slot uint64, found bool) {
	for slot = maphash.String(x.seed, id) & x.mask; ; slot = (slot + 1) & x.mask {
		pos := x.slots[slot]
		if pos == 0 {
			return slot, false
		}
		if x.ids[pos-1] == id {
			return slot, true
		}
	}
}

// position returns where id is among the indexed ids.
func (x *idIndex) position(id string) (int, bool) {
	if slot, found := x.find(id); found {
		return int(x.slots[slot] - 1), true
	}
	return 0, false
}

// canonical returns the indexed id equal to id, or id itself.
func (x *idIndex) canonical(id string) string {
	if slot, found := x.find(id); found {
		return x.ids[x.slots[slot]-1]
	}
	return id
}

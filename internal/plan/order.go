package plan

import (
	"cmp"
	"slices"
)

// orderKey is what a user change is ordered by: its normalised email, then
// its external id. It carries the email's first bytes packed into integers
// and no pointers, so sorting a million keys is mostly integer compares on
// compact memory; only keys sharing the whole prefix read the strings.
type orderKey struct {
	prefix [prefixWords]uint64
	ref    int32 // source user index, or platform user index for deactivations
}

func newOrderKey(email string, ref int32) orderKey {
	return orderKey{prefix: emailPrefix(email), ref: ref}
}

// sortKeys sorts keys by prefix, then by full (a, b) comparison of the
// referenced users. Large key sets are sorted in runs, one per worker, then
// merged.
func sortKeys(keys []orderKey, full func(a, b int32) int) {
	compare := func(a, b orderKey) int {
		for w := range a.prefix {
			if d := cmp.Compare(a.prefix[w], b.prefix[w]); d != 0 {
				return d
			}
		}
		return full(a.ref, b.ref)
	}
	workers := workerCount(len(keys))
	if workers == 1 {
		slices.SortFunc(keys, compare)
		return
	}
	bounds := make([]int, workers+1)
	for w := range bounds {
		bounds[w] = len(keys) * w / workers
	}
	forEachRange(len(keys), workers, func(_, lo, hi int) { slices.SortFunc(keys[lo:hi], compare) })

	// Merge neighbouring runs pairwise until one is left.
	src, dst := keys, make([]orderKey, len(keys))
	for len(bounds) > 2 {
		var next []int
		for i := 0; i+1 < len(bounds); i += 2 {
			lo, hi := bounds[i], bounds[min(i+2, len(bounds)-1)]
			mid := bounds[i+1]
			if i+2 >= len(bounds) {
				mid = hi // an odd run out: copied as it is
			}
			mergeRuns(dst[lo:hi], src[lo:mid], src[mid:hi], compare)
			next = append(next, lo)
		}
		bounds = append(next, len(keys))
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
}

// mergeRuns merges the sorted runs a and b into dst, a first on ties.
func mergeRuns(dst, a, b []orderKey, compare func(a, b orderKey) int) {
	i, j, n := 0, 0, 0
	for i < len(a) && j < len(b) {
		if compare(b[j], a[i]) < 0 {
			dst[n] = b[j]
			j++
		} else {
			dst[n] = a[i]
			i++
		}
		n++
	}
	n += copy(dst[n:], a[i:])
	copy(dst[n:], b[j:])
}

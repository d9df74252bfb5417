package plan

import "math/bits"

// packed is a key packed into a fixed-size value, with a hash to spread it
// over partitions.
type packed interface {
	comparable
	hash() uint64
}

// keySource is one side of a join: n elements, whose keys key reads by
// index (see keys.go for the forms a key takes).
type keySource[K packed] struct {
	n   int
	key func(i int) (packed K, s string, kind keyKind)
}

// joinResult says, per probe element, which build element has the same key
// (-1 for none) and, when asked for, how many probe elements share its key.
type joinResult struct {
	match  []int32
	shared []int32
}

// joinOptions tune a join.
type joinOptions struct {
	// prefer decides between two build elements with the same key and
	// returns the one that stands; nil keeps the first. It may be called
	// from several goroutines at once.
	prefer func(a, b int32) int32
	// countProbes fills joinResult.shared.
	countProbes bool
}

// partitionTarget is the number of keys per partition: small enough that
// a partition's table stays in cache.
const partitionTarget = 8192

// join matches probe keys to build keys. With a million keys a plain map
// costs a cache miss per probe; join first scatters the keys (packed, no
// pointers) into partitions by hash, then builds and probes one small,
// cache-resident table per partition. Equal keys always share a partition,
// so the result is the one a single map would give.
func join[K packed](build, probe keySource[K], opts joinOptions) joinResult {
	res := joinResult{match: make([]int32, probe.n)}
	for i := range res.match {
		res.match[i] = -1 // probes without a key, or without a match
	}
	if opts.countProbes {
		res.shared = make([]int32, probe.n)
	}
	total := build.n + probe.n
	parts := 1
	if total > partitionTarget {
		parts = 1 << bits.Len(uint(total/partitionTarget))
	}
	// Each worker scatters a contiguous range of each side; partition i is
	// then the workers' lists for i in worker order, which is input order.
	workers := workerCount(total)
	b := make([]scattered[K], workers)
	p := make([]scattered[K], workers)
	forEachRange(build.n, workers, func(w, lo, hi int) { b[w] = scatter(build, lo, hi, parts) })
	forEachRange(probe.n, workers, func(w, lo, hi int) { p[w] = scatter(probe, lo, hi, parts) })

	forEachRange(parts, workers, func(_, lo, hi int) {
		var j joiner[K]
		bs, ps := make([][]entry[K], workers), make([][]entry[K], workers)
		for i := lo; i < hi; i++ {
			for w := range workers {
				bs[w], ps[w] = b[w].packed[i], p[w].packed[i]
			}
			j.run(bs, ps, &res, opts)
		}
	})
	var plain joiner[string]
	bs, ps := make([][]entry[string], workers), make([][]entry[string], workers)
	for w := range workers {
		bs[w], ps[w] = b[w].plain, p[w].plain
	}
	plain.run(bs, ps, &res, opts)
	return res
}

// entry is a key with the index of the element it came from.
type entry[K comparable] struct {
	key K
	idx int32
}

// scattered holds keys of one range of one side: packed ones spread over
// partitions, string ones (rare) in one list.
type scattered[K comparable] struct {
	packed [][]entry[K]
	plain  []entry[string]
}

func scatter[K packed](src keySource[K], lo, hi, parts int) scattered[K] {
	s := scattered[K]{packed: make([][]entry[K], parts)}
	// One allocation for all partitions, each with some slack; a partition
	// that outgrows its share moves to its own array.
	n := hi - lo
	per := n/parts + n/(8*parts) + 16
	backing := make([]entry[K], per*parts)
	for i := range s.packed {
		s.packed[i] = backing[i*per : i*per : (i+1)*per]
	}
	shift := uint(64 - bits.Len(uint(parts-1)))
	for i := lo; i < hi; i++ {
		k, str, kind := src.key(i)
		switch kind {
		case packedKey:
			part := 0
			if parts > 1 {
				part = int(k.hash() >> shift)
			}
			s.packed[part] = append(s.packed[part], entry[K]{key: k, idx: int32(i)})
		case stringKey:
			s.plain = append(s.plain, entry[string]{key: str, idx: int32(i)})
		}
	}
	return s
}

// joiner runs partitions one after another, reusing its table.
type joiner[K comparable] struct {
	table map[K]int32 // key -> index into recs
	recs  []joinRec
	refs  []int32 // per probe entry of the partition: its rec
}

type joinRec struct {
	build  int32 // build element holding the key, -1 for none
	probes int32 // probe elements with the key
}

// run joins one partition, given as lists in input order.
func (j *joiner[K]) run(build, probe [][]entry[K], res *joinResult, opts joinOptions) {
	nb, np := 0, 0
	for _, l := range build {
		nb += len(l)
	}
	for _, l := range probe {
		np += len(l)
	}
	if nb == 0 && (np == 0 || !opts.countProbes) {
		return // nothing to match: every probe stays at -1
	}
	if j.table == nil {
		j.table = make(map[K]int32, nb+np)
	} else {
		clear(j.table)
	}
	j.recs, j.refs = j.recs[:0], j.refs[:0]
	for _, l := range build {
		for _, e := range l {
			if r, ok := j.table[e.key]; ok {
				if opts.prefer != nil {
					j.recs[r].build = opts.prefer(j.recs[r].build, e.idx)
				}
				continue
			}
			j.table[e.key] = int32(len(j.recs))
			j.recs = append(j.recs, joinRec{build: e.idx})
		}
	}
	for _, l := range probe {
		for _, e := range l {
			r, ok := j.table[e.key]
			if !ok {
				if !opts.countProbes {
					continue
				}
				r = int32(len(j.recs))
				j.table[e.key] = r
				j.recs = append(j.recs, joinRec{build: -1})
			}
			j.recs[r].probes++
			res.match[e.idx] = j.recs[r].build
			if opts.countProbes {
				j.refs = append(j.refs, r)
			}
		}
	}
	if opts.countProbes {
		i := 0
		for _, l := range probe {
			for _, e := range l {
				res.shared[e.idx] = j.recs[j.refs[i]].probes
				i++
			}
		}
	}
}

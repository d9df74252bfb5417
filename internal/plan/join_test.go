package plan

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestJoinMatchesAMap checks join against the obvious single-map version,
// with enough keys for many partitions, keys too long to pack, elements
// without keys, repeated build keys and shared probe keys.
func TestJoinMatchesAMap(t *testing.T) {
	for _, tc := range []struct {
		name         string
		build, probe int
		procs        int
	}{
		{"empty", 0, 0, 1},
		{"probes only", 0, 500, 1},
		{"one partition", 300, 400, 1},
		{"many partitions", 40_000, 50_000, 1},
		{"many partitions, several workers", 40_000, 50_000, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(tc.procs))
			rng := rand.New(rand.NewPCG(uint64(tc.build), uint64(tc.probe)))
			pool := max(1, (tc.build+tc.probe)/3) // collisions on both sides
			key := func() string {
				switch n := rng.IntN(pool); {
				case n%97 == 0:
					return "" // no key
				case n%13 == 0:
					return "a-key-much-too-long-to-be-packed-inline-" + strconv.Itoa(n)
				default:
					return "k" + strconv.Itoa(n)
				}
			}
			build := make([]string, tc.build)
			for i := range build {
				build[i] = key()
			}
			probe := make([]string, tc.probe)
			for i := range probe {
				probe[i] = key()
			}
			source := func(keys []string) keySource[textKey] {
				return keySource[textKey]{n: len(keys), key: func(i int) (textKey, string, keyKind) {
					if keys[i] == "" {
						return textKey{}, "", noKey
					}
					return exactText(keys[i])
				}}
			}
			// prefer the largest index: not the default, so it is visibly applied.
			preferLast := func(a, b int32) int32 { return max(a, b) }
			got := join(source(build), source(probe), joinOptions{prefer: preferLast, countProbes: true})

			holder := map[string]int32{}
			for i, k := range build {
				if k != "" {
					holder[k] = int32(i)
				}
			}
			shared := map[string]int32{}
			for _, k := range probe {
				shared[k]++
			}
			for i, k := range probe {
				want, ok := holder[k]
				if !ok || k == "" {
					want = -1
				}
				if got.match[i] != want {
					t.Fatalf("match[%d] (%q) = %d, want %d", i, k, got.match[i], want)
				}
				if k != "" && got.shared[i] != shared[k] {
					t.Fatalf("shared[%d] (%q) = %d, want %d", i, k, got.shared[i], shared[k])
				}
			}

			firsts := map[string]int32{}
			for i := len(build) - 1; i >= 0; i-- {
				firsts[build[i]] = int32(i)
			}
			plain := join(source(build), source(probe), joinOptions{})
			for i, k := range probe {
				first, ok := firsts[k]
				if !ok || k == "" {
					first = -1
				}
				if plain.match[i] != first {
					t.Fatalf("without prefer, match[%d] (%q) = %d, want the first, %d", i, k, plain.match[i], first)
				}
			}
			if plain.shared != nil {
				t.Fatal("shared filled although not asked for")
			}
		})
	}
}

func TestSortKeysMatchesSlicesSort(t *testing.T) {
	emails := make([]string, 5*minParallelWork+7)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range emails {
		// Long shared prefixes, so many keys tie on the packed prefix.
		emails[i] = strings.Repeat("x", rng.IntN(30)) + strconv.Itoa(rng.IntN(len(emails)/2)) + "@Example.com"
	}
	full := func(a, b int32) int {
		if d := compareEmails(emails[a], emails[b]); d != 0 {
			return d
		}
		return int(a) - int(b)
	}
	keys := make([]orderKey, len(emails))
	for i, e := range emails {
		keys[i] = newOrderKey(e, int32(i))
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	sortKeys(keys, full)

	want := make([]int32, len(emails))
	for i := range want {
		want[i] = int32(i)
	}
	slices.SortFunc(want, full)
	for i := range keys {
		if keys[i].ref != want[i] {
			t.Fatalf("position %d holds %d (%q), want %d (%q)", i, keys[i].ref, emails[keys[i].ref], want[i], emails[want[i]])
		}
	}
}

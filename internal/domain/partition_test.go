package domain

import (
	"slices"
	"testing"
)

// initialCounts aligns counts by initial with UPNInitials, 0 elsewhere.
func initialCounts(by map[string]int) []int {
	counts := make([]int, len(upnCharacters))
	for i, c := range upnCharacters {
		counts[i] = by[c]
	}
	return counts
}

func TestUserPartitioning(t *testing.T) {
	graph := UserPartitioning{PageSize: 999, Workers: 16}
	tests := []struct {
		name       string
		shape      UserPartitioning
		total      int
		wantCounts bool
		splitAbove int
	}{
		{"an empty tenant", graph, 0, false, 999},
		{"10,000 users: 11 pages", graph, 10_000, false, 999},
		{"as many pages as workers", graph, 16 * 999, false, 999},
		{"one page more", graph, 16*999 + 1, true, 2 * 999},
		{"100,000 users: 101 pages, 7 a worker", graph, 100_000, true, 7 * 999},
		{"1,000,000 users: 1,002 pages, 63 a worker", graph, 1_000_000, true, 63 * 999},
		{"small pages", UserPartitioning{PageSize: 10, Workers: 4}, 100, true, 30},
		{"no shape given", UserPartitioning{}, 3, true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.shape.CountsInitials(tt.total); got != tt.wantCounts {
				t.Errorf("CountsInitials(%d) = %v, want %v", tt.total, got, tt.wantCounts)
			}
			if got := tt.shape.SplitAbove(tt.total); got != tt.splitAbove {
				t.Errorf("SplitAbove(%d) = %d, want %d", tt.total, got, tt.splitAbove)
			}
		})
	}
}

func TestSubPartitions(t *testing.T) {
	subs := SubPartitions("j")
	if len(subs) != len(upnCharacters)+1 || subs[0] != "ja" || subs[len(subs)-1] != "j@" || !slices.Contains(subs, "j'") || !slices.Contains(subs, "j.") {
		t.Errorf("SubPartitions(j) = %q", subs)
	}
	seen := map[string]bool{}
	for _, s := range subs {
		if seen[s] {
			t.Errorf("%q twice", s)
		}
		seen[s] = true
	}
}

func TestUserPartitions(t *testing.T) {
	graph := UserPartitioning{PageSize: 999, Workers: 16}
	initials := UPNInitials()
	// The generated million-user tenant of the benchmarks, by initial.
	million := initialCounts(map[string]int{
		"a": 96_891, "b": 12_372, "c": 50_081, "d": 31_592, "e": 31_576, "f": 18_762, "g": 20_420, "h": 18_766,
		"i": 18_675, "j": 150_654, "k": 33_474, "l": 93_667, "m": 129_095, "n": 19_745, "o": 5_607, "p": 25_483,
		"r": 71_612, "s": 69_249, "t": 12_309, "u": 8_297, "v": 19_447, "w": 13_143, "y": 34_843, "z": 14_240,
	})
	without := func(drop ...string) []string {
		var out []string
		for _, c := range initials {
			if !slices.Contains(drop, c) {
				out = append(out, c)
			}
		}
		return out
	}
	tests := []struct {
		name   string
		total  int
		counts []int
		// wantSplit are the initials split, in order; wantFirst the whole
		// initials that come first after their sub-partitions.
		wantSplit []string
		wantFirst []string
		wantAll   []string // when set, the exact list
	}{
		{name: "not counted", total: 10_000, wantAll: initials},
		{name: "counts of another list", total: 1_000_000, counts: []int{1, 2, 3}, wantAll: initials},
		{
			name: "nothing above the even share: largest first", total: 17_000,
			counts:    initialCounts(map[string]int{"b": 1998, "a": 1000, "z": 1998, "~": 1}),
			wantFirst: []string{"b", "z", "a", "~"},
		},
		{
			name: "one initial holding most users", total: 17_000,
			counts:    initialCounts(map[string]int{"j": 15_000, "a": 1000, "'": 1000}),
			wantSplit: []string{"j"}, wantFirst: []string{"a", "'"},
		},
		{
			name: "the generated million", total: 1_000_000, counts: million,
			wantSplit: []string{"j", "m", "a", "l", "r", "s"}, wantFirst: []string{"c", "y", "k", "d", "e"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := graph.Partitions(tt.total, tt.counts)
			if tt.wantAll != nil {
				if !slices.Equal(got, tt.wantAll) {
					t.Errorf("Partitions = %q, want %q", got, tt.wantAll)
				}
				return
			}
			var want []string
			for _, s := range tt.wantSplit {
				want = append(want, SubPartitions(s)...)
			}
			want = append(want, tt.wantFirst...)
			if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
				t.Fatalf("Partitions begin %q, want %q", got[:min(len(got), len(want))], want)
			}
			// Every other initial once, the split ones not at all.
			rest := slices.Clone(got[len(want):])
			wantRest := without(append(slices.Clone(tt.wantSplit), tt.wantFirst...)...)
			slices.Sort(rest)
			slices.Sort(wantRest)
			if !slices.Equal(rest, wantRest) {
				t.Errorf("the other partitions %q, want %q", rest, wantRest)
			}
		})
	}
}

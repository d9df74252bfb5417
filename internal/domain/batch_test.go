package domain

import (
	"reflect"
	"strings"
	"testing"
)

// changesOf builds a plan's changes in seq order from one letter each:
// u a user change, s a user skip, g a group change.
func changesOf(kinds string) []Change {
	out := make([]Change, len(kinds))
	for i, k := range kinds {
		c := Change{Seq: i + 1, ObjectType: ObjectUser, Kind: KindAdd}
		switch k {
		case 's':
			c.Kind = KindSkip
		case 'g':
			c.ObjectType = ObjectGroup
		}
		out[i] = c
	}
	return out
}

func TestCutBatches(t *testing.T) {
	user := func(i, from, to, size int) Batch {
		return Batch{Index: i, ObjectType: ObjectUser, From: from, To: to, Size: size}
	}
	group := func(i, from, to, size int) Batch {
		return Batch{Index: i, ObjectType: ObjectGroup, From: from, To: to, Size: size}
	}
	tests := []struct {
		name       string
		changes    string
		sizes      BatchSizes
		maxPerType int
		want       []Batch
	}{
		{"no changes, no batches", "", BatchSizes{}, 10, nil},
		{"skips are never applied", "sss", BatchSizes{}, 10, nil},
		{"skips are left out of the sizes, not out of the ranges", "usuug", BatchSizes{Users: 2, Groups: 1}, 10,
			[]Batch{user(0, 1, 3, 2), user(1, 4, 4, 1), group(2, 5, 5, 1)}},
		{"users first, then groups, each at its size", "uuuggg", BatchSizes{Users: 2, Groups: 2}, 10,
			[]Batch{user(0, 1, 2, 2), user(1, 3, 3, 1), group(2, 4, 5, 2), group(3, 6, 6, 1)}},
		{"a batch holds one object type", "ugu", BatchSizes{Users: 10, Groups: 10}, 10,
			[]Batch{user(0, 1, 1, 1), group(1, 2, 2, 1), user(2, 3, 3, 1)}},
		{"zero sizes are 100 users and 10 groups", strings.Repeat("u", 101) + strings.Repeat("g", 11), BatchSizes{}, 1000,
			[]Batch{user(0, 1, 100, 100), user(1, 101, 101, 1), group(2, 102, 111, 10), group(3, 112, 112, 1)}},
		{"a size too small for the limit grows", strings.Repeat("u", 10) + strings.Repeat("g", 5), BatchSizes{Users: 1, Groups: 1}, 3,
			[]Batch{user(0, 1, 4, 4), user(1, 5, 8, 4), user(2, 9, 10, 2), group(3, 11, 12, 2), group(4, 13, 14, 2), group(5, 15, 15, 1)}},
		{"a size that fits the limit is kept", strings.Repeat("u", 6), BatchSizes{Users: 3}, 3,
			[]Batch{user(0, 1, 3, 3), user(1, 4, 6, 3)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := cutBatches(changesOf(tc.changes), tc.sizes, tc.maxPerType)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("cutBatches(%q, %+v, %d) =\n%+v\nwant\n%+v", tc.changes, tc.sizes, tc.maxPerType, got, tc.want)
			}
		})
	}
}

func TestCutBatchesUsesTheExecutionLimit(t *testing.T) {
	got := CutBatches(changesOf("uug"), BatchSizes{Users: 1})
	want := []Batch{
		{Index: 0, ObjectType: ObjectUser, From: 1, To: 1, Size: 1},
		{Index: 1, ObjectType: ObjectUser, From: 2, To: 2, Size: 1},
		{Index: 2, ObjectType: ObjectGroup, From: 3, To: 3, Size: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("CutBatches = %+v, want %+v", got, want)
	}
}

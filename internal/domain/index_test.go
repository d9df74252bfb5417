package domain

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"
)

func TestIDIndex(t *testing.T) {
	many := make([]string, 5000)
	for i := range many {
		many[i] = fmt.Sprintf("%08x-0000-4000-8000-%012x", i*7919, i)
	}
	tests := []struct {
		name    string
		ids     []string
		present []string
		absent  []string
	}{
		{name: "empty", absent: []string{"a", ""}},
		{name: "one", ids: []string{"a"}, present: []string{"a"}, absent: []string{"b", ""}},
		{name: "duplicates", ids: []string{"x", "y", "x"}, present: []string{"x", "y"}, absent: []string{"z"}},
		{name: "many", ids: many, present: many, absent: []string{"ffffffff-0000-4000-8000-000000000000", many[0][:35]}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := newIDIndex(tc.ids)
			for _, id := range tc.present {
				lookup := strings.Clone(id)
				got := x.canonical(lookup)
				if got != id {
					t.Fatalf("canonical(%q) = %q", id, got)
				}
				if unsafe.StringData(got) == unsafe.StringData(lookup) {
					t.Fatalf("canonical(%q) returned its argument, not the indexed id", id)
				}
				if first := firstIndex(tc.ids, id); unsafe.StringData(got) != unsafe.StringData(tc.ids[first]) {
					t.Fatalf("canonical(%q) is not the first indexed copy", id)
				}
			}
			for _, id := range tc.absent {
				if got := x.canonical(id); got != id || (id != "" && unsafe.StringData(got) != unsafe.StringData(id)) {
					t.Fatalf("canonical(%q) = %q, want the argument itself", id, got)
				}
			}
		})
	}
}

func firstIndex(ids []string, id string) int {
	for i, s := range ids {
		if s == id {
			return i
		}
	}
	return -1
}

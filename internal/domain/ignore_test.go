package domain

import (
	"fmt"
	"slices"
	"testing"
)

func TestEditIgnoredUsers(t *testing.T) {
	full := make([]string, MaxIgnoredUsers)
	for i := range full {
		full[i] = fmt.Sprintf("id-%05d", i)
	}
	tests := []struct {
		name        string
		current     []string
		ids         []string
		ignore      bool
		want        []string
		wantChanged int
		wantCode    string
	}{
		{"add to none", nil, []string{"a", "b"}, true, []string{"a", "b"}, 2, ""},
		{"add keeps the order and appends", []string{"c", "a"}, []string{"b", "a"}, true, []string{"c", "a", "b"}, 1, ""},
		{"add what is ignored already", []string{"a"}, []string{"a"}, true, []string{"a"}, 0, ""},
		{"add the same id twice in one edit", nil, []string{"a", "a"}, true, []string{"a"}, 1, ""},
		{"remove keeps the order of the rest", []string{"a", "b", "c"}, []string{"b", "x"}, false, []string{"a", "c"}, 1, ""},
		{"remove what is not ignored", []string{"a"}, []string{"x"}, false, []string{"a"}, 0, ""},
		{"remove everything", []string{"a", "b"}, []string{"b", "a"}, false, []string{}, 2, ""},
		{"fill to the limit exactly", full[:MaxIgnoredUsers-2], full[MaxIgnoredUsers-2:], true, full, 2, ""},
		{"one past the limit", full, []string{"one-more"}, true, full, 0, EUnprocessable},
		{"a full list takes ids it has", full, full[:3], true, full, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := slices.Clone(tc.current)
			got, changed, err := EditIgnoredUsers(tc.current, tc.ids, tc.ignore)
			if code := ErrorCode(err); err != nil && code != tc.wantCode || err == nil && tc.wantCode != "" {
				t.Fatalf("error = %v (code %q), want code %q", err, code, tc.wantCode)
			}
			if !slices.Equal(got, tc.want) || changed != tc.wantChanged {
				t.Fatalf("got %d ids (changed %d), want %d (changed %d)", len(got), changed, len(tc.want), tc.wantChanged)
			}
			if !slices.Equal(tc.current, before) {
				t.Fatal("the current list was modified")
			}
		})
	}
}

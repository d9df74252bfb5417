package domain

import (
	"reflect"
	"testing"
)

func TestAttrsMerge(t *testing.T) {
	cur := Attrs{{"department", "R&D"}, {"displayName", "Ada"}, {"jobTitle", "Intern"}}
	tests := []struct {
		name  string
		patch map[string]string
		want  Attrs
	}{
		{"no patch keeps them", nil, cur},
		{"a value is set", map[string]string{"jobTitle": "Engineer"}, Attrs{{"department", "R&D"}, {"displayName", "Ada"}, {"jobTitle", "Engineer"}}},
		{"an empty value removes", map[string]string{"department": ""}, Attrs{{"displayName", "Ada"}, {"jobTitle", "Intern"}}},
		{"a new name is added in order", map[string]string{"country": "UK"}, Attrs{{"country", "UK"}, {"department", "R&D"}, {"displayName", "Ada"}, {"jobTitle", "Intern"}}},
		{"removing what is not there changes nothing", map[string]string{"mobilePhone": ""}, cur},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := cur.Merge(tc.patch); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Merge(%v) = %v, want %v", tc.patch, got, tc.want)
			}
		})
	}
}

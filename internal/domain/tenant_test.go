package domain

import "testing"

func TestValidTenantID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"acme", true},
		{"acme.example.com", true},
		{"org_42-eu", true},
		{"A", true},
		{"a234567890123456789012345678901234567890123456789012345678901234", true}, // 64
		{"a2345678901234567890123456789012345678901234567890123456789012345", false},
		{"", false},
		{".", false},
		{"..", false},
		{".hidden", false},
		{"-x", false},
		{"a#b", false},
		{"a/b", false},
		{"a b", false},
		{"ünïcode", false},
		{"a\x00", false},
		{"a\n", false},
	} {
		if got := ValidTenantID(tc.id); got != tc.want {
			t.Errorf("ValidTenantID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

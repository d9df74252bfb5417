package app

import "testing"

func TestSoftMemoryLimit(t *testing.T) {
	tests := []struct {
		memoryMB, gomemlimit string
		want                 int64
	}{
		{"3008", "", 2557 << 20},
		{"128", "", 109 << 20},
		{"3008", "2GiB", -1}, // GOMEMLIMIT wins: the runtime read it already
		{"", "", -1},         // not in Lambda
		{"lots", "", -1},
		{"0", "", -1},
	}
	for _, tt := range tests {
		if got := softMemoryLimit(tt.memoryMB, tt.gomemlimit); got != tt.want {
			t.Errorf("softMemoryLimit(%q, %q) = %d, want %d", tt.memoryMB, tt.gomemlimit, got, tt.want)
		}
	}
}

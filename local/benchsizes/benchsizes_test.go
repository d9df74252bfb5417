package benchsizes

import (
	"slices"
	"testing"
)

func TestFromEnv(t *testing.T) {
	tests := []struct {
		value string
		want  []int
	}{
		{"", []int{10, 20}},
		{"1000000", []int{1_000_000}},
		{" 100000 , 1000000 ", []int{100_000, 1_000_000}},
		{"lots,-3,0", []int{10, 20}},
		{"5,x", []int{5}},
	}
	for _, tt := range tests {
		t.Setenv("BENCH_SIZES_TEST", tt.value)
		if got := FromEnv("BENCH_SIZES_TEST", 10, 20); !slices.Equal(got, tt.want) {
			t.Errorf("FromEnv with %q = %v, want %v", tt.value, got, tt.want)
		}
	}
}

// Package benchsizes reads which tenant sizes a benchmark runs from the
// environment, so a long run (a million users) is asked for, not default.
package benchsizes

import (
	"os"
	"strconv"
	"strings"
)

// FromEnv returns the sizes the environment variable lists
// (comma-separated positive integers, e.g. "100000,1000000"), or defaults
// when it is unset or lists none.
func FromEnv(variable string, defaults ...int) []int {
	var out []int
	for _, s := range strings.Split(os.Getenv(variable), ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return defaults
	}
	return out
}

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

// Groups is how many groups a benchmark tenant of users has: the 20,000
// nested groups of the enterprise tenant of a million users, the
// generator's default count below (0).
func Groups(users int) int {
	if users >= 1_000_000 {
		return 20_000
	}
	return 0
}

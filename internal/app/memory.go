package app

import (
	"math"
	"runtime/debug"
	"strconv"
)

// memoryHeadroom is the share of a function's memory size left outside the
// Go heap's soft limit: the runtime's own memory, goroutine stacks and the
// buffers the kernel counts against the environment.
const memoryHeadroom = 0.15

// softMemoryLimit is the Go heap's soft limit for a function of memoryMB
// (AWS_LAMBDA_FUNCTION_MEMORY_SIZE), or -1 to leave it alone: when
// GOMEMLIMIT is set, or the size is unknown. Without one the garbage
// collector lets the heap grow to twice what is live, so a worker holding
// 1.5 GB of a million users' directory would be killed at 3 GB instead of
// collecting.
func softMemoryLimit(memoryMB, gomemlimit string) int64 {
	if gomemlimit != "" {
		return -1
	}
	mb, err := strconv.Atoi(memoryMB)
	if err != nil || mb <= 0 {
		return -1
	}
	return int64(math.Round(float64(mb)*(1-memoryHeadroom))) << 20
}

// limitMemory sets the soft limit for the function's memory size.
func limitMemory(getenv func(string) string) {
	if limit := softMemoryLimit(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), getenv("GOMEMLIMIT")); limit > 0 {
		debug.SetMemoryLimit(limit)
	}
}

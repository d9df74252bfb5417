package lambdalocal

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// memoryPoll is how often a running invocation's memory is read.
const memoryPoll = 20 * time.Millisecond

// watchMemory follows the resident memory of an instance's runtime (the
// bootstrap and its children) while an invocation runs, as Lambda measures
// an execution environment's: past limitMB, the runtime is killed, as
// Lambda does. The returned func stops watching and tells the peak (MB,
// rounded up) and whether the limit was crossed.
func watchMemory(in *instance, limitMB int) func() (peakMB int, exceeded bool) {
	var (
		mu       sync.Mutex
		peak     int64
		crossed  bool
		stop     = make(chan struct{})
		finished = make(chan struct{})
	)
	limit := int64(limitMB) << 20
	sample := func() {
		rss := runtimeRSS(in.pid())
		mu.Lock()
		defer mu.Unlock()
		peak = max(peak, rss)
		if limit > 0 && rss > limit && !crossed {
			crossed = true
			killRuntime(in.pid())
		}
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(memoryPoll)
		defer t.Stop()
		for {
			sample()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() (int, bool) {
		close(stop)
		<-finished
		sample() // the last word: an allocation since the last tick
		mu.Lock()
		defer mu.Unlock()
		return int((peak + 1<<20 - 1) >> 20), crossed
	}
}

// runtimeRSS is the resident memory, in bytes, of the processes under an
// emulator (its runtime and whatever that started); the emulator itself is
// not part of the function's environment.
func runtimeRSS(emulator int) int64 {
	var total int64
	var walk func(pid int)
	walk = func(pid int) {
		for _, k := range childPIDs(pid) {
			total += residentBytes(k)
			walk(k)
		}
	}
	walk(emulator)
	return total
}

// residentBytes reads VmRSS from /proc/<pid>/status; 0 when it is gone.
func residentBytes(pid int) int64 {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := sc.Bytes()
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(v) // "123456 kB"
			if len(f) == 2 {
				if kb, err := strconv.ParseInt(string(f[0]), 10, 64); err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}

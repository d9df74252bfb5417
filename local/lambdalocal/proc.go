package lambdalocal

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// The emulator runs each bootstrap in a process group of its own (its
// supervisor sets Setpgid), so killing the emulator's group would leave the
// bootstrap running. killTree stops the emulator, kills the process group of
// each of its children, lets the emulator reap them, then kills it.
func killTree(pid int) {
	_ = syscall.Kill(pid, syscall.SIGSTOP) // no new child while we look
	kids := killRuntime(pid)
	_ = syscall.Kill(pid, syscall.SIGCONT) // so that it reaps them
	deadline := time.Now().Add(500 * time.Millisecond)
	for _, k := range kids {
		for Running(k) && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// killRuntime kills, with their process groups, the children of an
// emulator (its runtime), as a dying execution environment does, and
// returns them.
func killRuntime(emulator int) []int {
	kids := childPIDs(emulator)
	for _, k := range kids {
		_ = syscall.Kill(-k, syscall.SIGKILL)
		_ = syscall.Kill(k, syscall.SIGKILL)
	}
	return kids
}

// childPIDs lists the processes whose parent is pid, from /proc.
func childPIDs(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n == pid {
			continue
		}
		if ppid, _, ok := procStat(n); ok && ppid == pid {
			out = append(out, n)
		}
	}
	return out
}

// procStat reads a process's parent and state from /proc/<pid>/stat.
func procStat(pid int) (ppid int, state byte, ok bool) {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, false
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, 0, false
	}
	fields := bytes.Fields(raw[i+1:])
	if len(fields) < 2 || len(fields[0]) != 1 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(string(fields[1]))
	if err != nil {
		return 0, 0, false
	}
	return ppid, fields[0][0], true
}

// Running reports whether the process pid exists and is not a zombie (a
// process that has exited and only waits to be reaped runs nothing).
func Running(pid int) bool {
	if pid <= 0 {
		return false
	}
	_, state, ok := procStat(pid)
	if !ok {
		// No /proc (or the process is gone): fall back to signal 0.
		return syscall.Kill(pid, 0) == nil && !procExists()
	}
	return state != 'Z' && state != 'X'
}

func procExists() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

package lambdalocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"dirsync/local/sfnlocal"
)

// instance is one aws-lambda-rie process running one function's bootstrap:
// one execution environment, serving one invocation at a time.
type instance struct {
	fn   *function
	seq  int    // 1, 2, ... within its function
	addr string // the emulator's invoke endpoint (host:port)
	cmd  *exec.Cmd
	out  *lineWriter

	done     chan struct{} // closed once the process has exited and been reaped
	killOnce sync.Once
	started  time.Time
	ready    time.Duration // from exec to the invoke endpoint accepting connections

	mu          sync.Mutex
	busy        bool
	invocations int
}

// errAddrInUse marks a start that lost its free port to another process.
var errAddrInUse = errors.New("address already in use")

// startInstance starts an emulator for fn on free loopback ports and returns
// once its invoke endpoint accepts connections.
func (s *Service) startInstance(fn *function, seq int) (*instance, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port can be taken before the emulator binds it
		in, err := s.startOn(fn, seq)
		if err == nil {
			return in, nil
		}
		lastErr = err
		if !errors.Is(err, errAddrInUse) {
			break
		}
	}
	return nil, lastErr
}

func (s *Service) startOn(fn *function, seq int) (*instance, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	invokeAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	runtimeAddr := fmt.Sprintf("127.0.0.1:%d", ports[1])
	out := newLineWriter(s.output, fmt.Sprintf("%s[%d] ", fn.Name, seq))
	// Not CommandContext: the instance outlives whatever asked for it.
	cmd := exec.Command(s.emulator,
		"--log-level", s.cfg.EmulatorLogLevel,
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", runtimeAddr,
		fn.Bootstrap)
	cmd.Dir = filepath.Dir(fn.Bootstrap) // the bootstrap's folder, as /var/task is in Lambda
	cmd.Env = fn.env
	cmd.Stdout, cmd.Stderr = out, out
	// If this process dies, the emulator gets SIGTERM, on which it kills
	// the bootstrap and exits. (The signal follows the thread that started
	// it: starts happen on the service's one locked thread, see spawn.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	// The bootstrap inherits the output pipe: never wait long for it.
	cmd.WaitDelay = 2 * time.Second
	started := time.Now()
	if err := s.spawn(cmd); err != nil {
		return nil, fmt.Errorf("lambdalocal: start the emulator for %s: %w", fn.Name, err)
	}
	in := &instance{fn: fn, seq: seq, addr: invokeAddr, cmd: cmd, out: out, done: make(chan struct{}), started: started}
	go func() {
		_ = cmd.Wait()
		out.flush()
		close(in.done)
	}()

	deadline := time.Now().Add(s.cfg.StartTimeout)
	dialer := net.Dialer{Timeout: 100 * time.Millisecond}
	listening := func(addr string) bool {
		conn, err := dialer.Dial("tcp", addr)
		if err == nil {
			_ = conn.Close()
		}
		return err == nil
	}
	for {
		// Ready once both of its servers listen: a port taken between
		// freePorts and the emulator's bind leaves the Runtime API
		// unserved, and the bootstrap could never fetch an invocation.
		if listening(invokeAddr) {
			if listening(runtimeAddr) {
				in.ready = time.Since(started)
				return in, nil
			}
			if time.Since(started) > time.Second {
				in.kill()
				return nil, fmt.Errorf("lambdalocal: %s: the Runtime API on %s is not served: %w", fn.Name, runtimeAddr, errAddrInUse)
			}
		}
		select {
		case <-in.done:
			tail := out.tail()
			if strings.Contains(tail, "address already in use") {
				return nil, fmt.Errorf("lambdalocal: %s: %w", fn.Name, errAddrInUse)
			}
			return nil, fmt.Errorf("lambdalocal: the emulator for %s exited on start (%v):\n%s", fn.Name, cmd.ProcessState, tail)
		case <-s.base.Done():
			in.kill()
			return nil, errClosed
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			in.kill()
			return nil, fmt.Errorf("lambdalocal: the emulator for %s did not listen on %s within %s:\n%s", fn.Name, invokeAddr, s.cfg.StartTimeout, out.tail())
		}
	}
}

// exited reports whether the process has ended.
func (in *instance) exited() bool {
	select {
	case <-in.done:
		return true
	default:
		return false
	}
}

// kill ends the emulator and its bootstrap and waits until the emulator has
// been reaped. It may be called more than once.
func (in *instance) kill() {
	in.killOnce.Do(func() {
		if !in.exited() {
			killTree(in.cmd.Process.Pid)
		}
		select {
		case <-in.done:
		case <-time.After(5 * time.Second):
		}
	})
}

// pid is the emulator's process id.
func (in *instance) pid() int { return in.cmd.Process.Pid }

// emulatorResponse is what the emulator answered one invocation.
type emulatorResponse struct {
	status int
	body   []byte
}

// post sends one invocation to the emulator. ctx bounds the whole exchange.
func (in *instance) post(ctx context.Context, client *http.Client, requestID string, payload []byte, h http.Header) (*emulatorResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://"+in.addr+"/2015-03-31/functions/function/invocations", bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amzn-RequestId", requestID)
	for _, k := range []string{"X-Amz-Client-Context", "X-Amzn-Trace-Id", "X-Amz-Cognito-Identity"} {
		if v := h.Get(k); v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, sfnlocal.MaxSyncPayload+1))
	if err != nil {
		return nil, err
	}
	return &emulatorResponse{status: resp.StatusCode, body: body}, nil
}

// freePorts asks the kernel for n distinct free loopback TCP ports.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("lambdalocal: free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// environ renders an environment map as exec wants it, sorted.
func environ(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// lineWriter copies an instance's output (the emulator's and the
// bootstrap's) line by line to a shared writer, each line prefixed, and
// keeps the last lines to explain a failed start.
type lineWriter struct {
	dst    *syncWriter
	prefix string

	mu      sync.Mutex
	partial []byte
	last    []string
}

const keptLines = 30

func newLineWriter(dst *syncWriter, prefix string) *lineWriter {
	return &lineWriter{dst: dst, prefix: prefix}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.emit(string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
	if len(w.partial) > 64*1024 { // a very long line: emit it in pieces
		w.emit(string(w.partial))
		w.partial = nil
	}
	return len(p), nil
}

func (w *lineWriter) emit(line string) {
	w.last = append(w.last, line)
	if len(w.last) > keptLines {
		w.last = w.last[len(w.last)-keptLines:]
	}
	w.dst.writeLine(w.prefix, line)
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.emit(string(w.partial))
		w.partial = nil
	}
}

func (w *lineWriter) tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	lines := append([]string(nil), w.last...)
	if len(w.partial) > 0 {
		lines = append(lines, string(w.partial))
	}
	return strings.Join(lines, "\n")
}

// syncWriter serialises whole lines of every instance onto one writer.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) writeLine(prefix, line string) {
	if s.w == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = io.WriteString(s.w, prefix+line+"\n")
}

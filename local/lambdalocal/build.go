package lambdalocal

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
)

// Build compiles Go packages of the module at root (e.g. "./functions/progress")
// as Lambda bootstraps for this machine, as
//
//	CGO_ENABLED=0 go build -tags lambda.norpc -o <outDir>/<name>/bootstrap <package>
//
// with the host's GOOS/GOARCH, <name> being the package's last path element.
// All packages build in one go command. It returns each package's bootstrap
// path.
func Build(ctx context.Context, root, outDir string, packages ...string) (map[string]string, error) {
	if len(packages) == 0 {
		return map[string]string{}, nil
	}
	out := make(map[string]string, len(packages))
	byName := map[string]string{}
	for _, p := range packages {
		name := path.Base(filepath.ToSlash(p))
		if other, dup := byName[name]; dup && other != p {
			return nil, fmt.Errorf("lambdalocal: build: %s and %s would both be %s/bootstrap", other, p, name)
		}
		byName[name] = p
		out[p] = filepath.Join(outDir, name, "bootstrap")
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("lambdalocal: build: %w", err)
	}
	// go build -o dir/ writes each main package as dir/<name>; then each
	// moves to <name>/bootstrap.
	tmp, err := os.MkdirTemp(outDir, ".build-")
	if err != nil {
		return nil, fmt.Errorf("lambdalocal: build: %w", err)
	}
	defer os.RemoveAll(tmp)
	args := append([]string{"build", "-tags", "lambda.norpc", "-o", tmp + string(filepath.Separator)}, packages...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("lambdalocal: go build %v: %w\n%s", packages, err, b)
	}
	for name := range byName {
		dst := filepath.Join(outDir, name, "bootstrap")
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, fmt.Errorf("lambdalocal: build: %w", err)
		}
		if err := os.Rename(filepath.Join(tmp, name), dst); err != nil {
			return nil, fmt.Errorf("lambdalocal: build: %w", err)
		}
	}
	return out, nil
}

package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dirsync/local/dynamolocal"
	"dirsync/local/localstack"
)

// The Entra app the browser flow connects to: a directory of the fake
// Entra ID that only this test uses, so its secret and ids are typed into
// the page like a real admin would.
const (
	flowDirectoryID = "3c1e9f0a-5b7d-4e2f-a6c8-9d0b1e2f3a4b"
	flowClientID    = "8e7d6c5b-4a3f-4e2d-9c1b-0a9f8e7d6c5b"
	flowSecret      = "console~flow~secret~0123456789ab"
	flowUsers       = 200
)

// flowWidths are the viewport widths the flow runs at; each gets its own
// platform tenant whose first import is still to come.
var flowWidths = []int{1280, 390}

const chromiumPath = "/usr/bin/chromium"

// requireTool skips (or, in CI, fails) when a program the browser test
// needs is missing, saying how to install it.
func requireTool(t *testing.T, path, install string) string {
	t.Helper()
	found, err := exec.LookPath(path)
	if err == nil {
		return found
	}
	msg := fmt.Sprintf("%s is needed for the console's browser test and is missing: %s", path, install)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestConsoleFlowInChromium clicks through the whole admin flow in headless
// Chromium against the local stack: sign in, connect, test, import, inspect
// an update's fields, confirm, watch the progress reach 100 %, see the
// users, at 1280 px and 390 px wide. Screenshots of each step are kept in
// .artifacts/console/<width>/.
func TestConsoleFlowInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	chromium := requireTool(t, chromiumPath, "apt-get install -y chromium")
	node := requireTool(t, "node", "install Node.js 20 or later")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root, err := dynamolocal.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if err := dynamolocal.EnsureTooling(ctx, root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "local", "node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatalf("playwright-core is not installed in local/node_modules: run `make tooling` (npm ci in local/): %v", err)
	}

	stack, err := localstack.Start(ctx, localstack.Options{Addr: "127.0.0.1:0", Root: root, Demo: true})
	if err != nil {
		t.Fatalf("start the local stack: %v", err)
	}
	defer stack.Close()

	directory := localstack.DemoEntraTenant(flowDirectoryID, flowClientID, flowSecret, "console.onmicrosoft.com", 42, flowUsers)
	env := append(os.Environ(),
		"CONSOLE_DIRECTORY_ID="+flowDirectoryID,
		"CONSOLE_CLIENT_ID="+flowClientID,
		"CONSOLE_CLIENT_SECRET="+flowSecret,
		"CONSOLE_ARTIFACTS="+filepath.Join(root, ".artifacts", "console"),
		"CHROMIUM_PATH="+chromium,
	)
	var widths []string
	for _, w := range flowWidths {
		tenant := fmt.Sprintf("console-%d", w)
		// The platform already holds some of the directory's users (linked,
		// stale, gone, manual), as in the demo, so the preview shows every
		// kind of change. No connection yet: the flow enters it.
		users := localstack.DemoPlatformUsers(directory, tenant+".example")
		if err := stack.Store.SeedUsers(ctx, tenant, users); err != nil {
			t.Fatalf("seed %s: %v", tenant, err)
		}
		token, err := stack.Token(tenant, "admin@"+tenant+".example", []string{"admin"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		env = append(env, fmt.Sprintf("CONSOLE_TOKEN_%d=%s", w, token))
		widths = append(widths, fmt.Sprint(w))
	}
	viewer, err := stack.Token(fmt.Sprintf("console-%d", flowWidths[0]), "viewer@console.example", []string{"viewer"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	env = append(env, "CONSOLE_NONADMIN_TOKEN="+viewer)
	stack.Fake.AddTenant(directory)
	env = append(env, "CONSOLE_WIDTHS="+strings.Join(widths, ","))

	// The page on its own origin calling the API on another, through
	// API Gateway's CORS, as when deployed.
	env = append(env, "CONSOLE_URL="+stack.ConsoleURL, "CONSOLE_API_URL="+stack.URL)

	cmd := exec.CommandContext(ctx, node, filepath.Join(root, "local", "console-test", "flow.mjs"))
	cmd.Dir = root
	cmd.Env = env
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the console flow failed (%v); screenshots in .artifacts/console/:\n%s", err, out)
	}
	t.Logf("%s", out)
}

// TestConsoleModulesInNode runs the unit tests of the page's pure modules
// (wording, validation, rate and time remaining, how a sync read Entra ID)
// with Node's test runner.
func TestConsoleModulesInNode(t *testing.T) {
	node := requireTool(t, "node", "install Node.js 20 or later")
	root, err := dynamolocal.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", filepath.Join(root, "local", "console-test", "modules.test.mjs"),
		filepath.Join(root, "internal", "console", "read.test.mjs"))
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test failed (%v):\n%s", err, out)
	}
}

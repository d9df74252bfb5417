// Command devserver runs the whole product locally (make run): every
// function of template.yaml as its real bootstrap under the Lambda Runtime
// Interface Emulator, behind the template's HTTP API on 127.0.0.1:8080
// (JWT authorizer, CORS), DynamoDB Local, Secrets Manager on moto_server,
// the apply state machine on aws-local-stepfunctions, a fake Entra ID
// serving two demo directories, and the admin console on its own origin
// (127.0.0.1:8081). Ctrl-C stops everything.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"dirsync/local/dynamolocal"
	"dirsync/local/localstack"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "devserver:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8080", "address of the HTTP API")
	consoleAddr := flag.String("console-addr", "127.0.0.1:8081", "address of the admin console")
	users := flag.Int("demo-users", 200, "users in the acme demo Entra directory")
	data := flag.String("data", "", "folder for the client secrets and the token key (default local/.data)")
	verbose := flag.Bool("v", false, "log every request, and the functions' output")
	flag.Parse()

	root, err := dynamolocal.RepoRoot()
	if err != nil {
		return err
	}
	if *data == "" {
		*data = filepath.Join(root, "local", ".data")
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Println("building the functions, starting DynamoDB Local, moto, the fake Entra ID and the API (the first run installs the npm tooling)...")
	opts := localstack.Options{
		Addr: *addr, ConsoleAddr: *consoleAddr, Root: root, DataDir: *data, DemoUsers: *users, Demo: true, Logger: logger,
	}
	if *verbose {
		opts.FunctionOutput = os.Stderr
	}
	stack, err := localstack.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer stack.Close()

	acme, err := stack.Token(localstack.DemoTenantAcme, "admin@acme.example", []string{"admin"}, 12*time.Hour)
	if err != nil {
		return err
	}
	globex, err := stack.Token(localstack.DemoTenantGlobex, "admin@globex.example", []string{"admin"}, 12*time.Hour)
	if err != nil {
		return err
	}
	fmt.Printf(`
Directory sync's API is running at %[1]s

Admin console (signed in as the acme admin):
  %[5]s/#token=%[2]s

Admin tokens (valid 12 h):
  acme   (demo Entra directory with %[4]d users; deactivateMissing on)
    export TOKEN=%[2]s
  globex (a smaller demo directory)
    export GLOBEX_TOKEN=%[3]s

Try it (see README.md for the whole flow):
  curl -s -X POST -H "Authorization: Bearer $TOKEN" %[1]s/v1/syncs
  curl -s -H "Authorization: Bearer $TOKEN" %[1]s/v1/syncs

Ctrl-C stops everything.
`, stack.URL, acme, globex, *users, stack.ConsoleURL)

	<-ctx.Done()
	fmt.Println("\nstopping...")
	return nil
}

// Package motolocal runs moto_server (python3 moto, the AWS APIs served
// locally) on a free loopback port: the local stack's Secrets Manager, and
// the tests'. It is part of this kind of machine; elsewhere
// `pip install "moto[server]"`.
//
// With Options.EnforceIAM moto authenticates every request (SigV4 with the
// access key of an IAM user or an assumed role it knows) and authorizes its
// action against that principal's IAM policies, as moto does when started
// with INITIAL_NO_AUTH_ACTION_COUNT: WithoutAuth suspends that while a
// setup creates the principals (local/iamlocal's SetupMoto does). moto
// checks Secrets Manager actions against resource "*" only, and answers a
// refusal in IAM's XML form rather than Secrets Manager's JSON.
package motolocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// ErrMissing: moto_server is not installed.
var ErrMissing = errors.New(`motolocal: moto_server is missing (pip install "moto[server]")`)

// Region is the region local clients use.
const Region = "us-east-1"

// Instance is a running moto_server.
type Instance struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccountID string // the account it serves
	cmd       *exec.Cmd
	done      chan struct{}
	enforce   bool
	authMu    sync.Mutex // one WithoutAuth at a time
}

// Options configure StartWith; the zero value starts moto as Start does.
type Options struct {
	// EnforceIAM has moto authenticate and authorize every request from
	// the first on (INITIAL_NO_AUTH_ACTION_COUNT=0).
	EnforceIAM bool
	// AccountID is the account moto serves (MOTO_ACCOUNT_ID), so ARNs it
	// makes name it; "" = moto's default, DefaultAccountID.
	AccountID string
}

// DefaultAccountID is the account moto serves unless told otherwise.
const DefaultAccountID = "123456789012"

// Start runs moto_server and returns once it answers.
func Start(ctx context.Context) (*Instance, error) { return StartWith(ctx, Options{}) }

// StartWith runs moto_server as opts say and returns once it answers.
func StartWith(ctx context.Context, opts Options) (*Instance, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, ErrMissing
	}
	var lastErr error
	for range 3 { // a free port can be taken before moto binds it
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		inst, err := startOn(ctx, bin, port, opts)
		if err == nil {
			return inst, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startOn(ctx context.Context, bin string, port int, opts Options) (*Instance, error) {
	// Not CommandContext: the server outlives the start-up context.
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Stop ends whatever it starts
	account := DefaultAccountID
	var env []string
	for _, kv := range os.Environ() {
		// Ours alone decide; an inherited one would change what moto enforces.
		if !strings.HasPrefix(kv, "INITIAL_NO_AUTH_ACTION_COUNT=") && !strings.HasPrefix(kv, "MOTO_ACCOUNT_ID=") {
			env = append(env, kv)
		}
	}
	if opts.EnforceIAM {
		env = append(env, "INITIAL_NO_AUTH_ACTION_COUNT=0")
	}
	if opts.AccountID != "" {
		account = opts.AccountID
		env = append(env, "MOTO_ACCOUNT_ID="+opts.AccountID)
	}
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("motolocal: start: %w", err)
	}
	inst := &Instance{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), AccountID: account, cmd: cmd, done: make(chan struct{}), enforce: opts.EnforceIAM}
	go func() { _ = cmd.Wait(); close(inst.done) }()
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, inst.Endpoint+"/moto-api/", nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			return inst, nil
		}
		select {
		case <-inst.done:
			return nil, fmt.Errorf("motolocal: moto_server on port %d exited while starting", port)
		case <-ctx.Done():
			inst.Stop()
			return nil, ctx.Err()
		case <-deadline.C:
			inst.Stop()
			return nil, fmt.Errorf("motolocal: moto_server on port %d did not answer within 60 s", port)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// SecretsManager returns a Secrets Manager client of the instance, with
// static test credentials.
func (i *Instance) SecretsManager() *secretsmanager.Client {
	return i.SecretsManagerAs(credentials.NewStaticCredentialsProvider("test", "test", ""))
}

// SecretsManagerAs returns a Secrets Manager client of the instance signing
// with creds.
func (i *Instance) SecretsManagerAs(creds aws.CredentialsProvider) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:       Region,
		BaseEndpoint: aws.String(i.Endpoint),
		Credentials:  creds,
	})
}

// WithoutAuth runs setup with moto's IAM enforcement suspended (moto's
// /moto-api/reset-auth, as its set_initial_no_auth_action_count does), so
// it can create the principals later requests sign with; afterwards moto
// enforces again if StartWith was told to. Nothing else may call moto
// meanwhile: it would not be authenticated either.
func (i *Instance) WithoutAuth(ctx context.Context, setup func() error) error {
	i.authMu.Lock()
	defer i.authMu.Unlock()
	if err := i.resetAuth(ctx, "inf"); err != nil {
		return err
	}
	err := setup()
	after := "inf"
	if i.enforce {
		after = "0" // authenticate from the next request on
	}
	if rerr := i.resetAuth(ctx, after); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// resetAuth sets how many requests moto serves before it authenticates
// ("0": from now on; "inf": never).
func (i *Instance) resetAuth(ctx context.Context, count string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, i.Endpoint+"/moto-api/reset-auth", strings.NewReader(count))
	if err != nil {
		return fmt.Errorf("motolocal: reset-auth: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("motolocal: reset-auth: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("motolocal: reset-auth %s: HTTP %d: %s", count, res.StatusCode, body)
	}
	return nil
}

// Stop ends the server; it is safe to call more than once.
func (i *Instance) Stop() {
	if i == nil || i.cmd == nil || i.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-i.cmd.Process.Pid, syscall.SIGKILL)
	<-i.done
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("motolocal: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

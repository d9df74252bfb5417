package previewbench

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"dirsync/local/benchsizes"
	"dirsync/local/dynamolocal"
	"dirsync/local/fakeentra"
)

// The benchmark's Entra directory and its app.
const (
	benchDirectory = "8e3f5a2b-1c4d-4e6f-9a0b-7c8d9e0f1a2b"
	benchDomain    = "northwind.onmicrosoft.com"
	benchClientID  = "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a"
	benchSecret    = "Xy8~bench-client-secret-not-real"
	benchSeed      = 42
)

// benchTenant generates the benchmark's Entra directory of n users with
// benchsizes.Groups groups. The same n always gives the same tenant, so the
// platform side (seeded here) and the fake process agree on it.
func benchTenant(n int) *fakeentra.Tenant {
	return fakeentra.Generate(fakeentra.Spec{
		TenantID: benchDirectory, Domain: benchDomain, Seed: benchSeed, Users: n, Groups: benchsizes.Groups(n),
		ClientID: benchClientID, Secret: benchSecret,
	})
}

// The fake Entra ID runs in a child process (this test binary, re-executed
// with fakeProcessEnv set), so the worker's heap figures hold the worker's
// memory alone, not the fake's directory and response buffers.
const fakeProcessEnv = "PREVIEWBENCH_FAKE_USERS"

func TestMain(m *testing.M) {
	if users := os.Getenv(fakeProcessEnv); users != "" {
		os.Exit(serveFake(users))
	}
	code := m.Run()
	closeFixtures()
	if dynamo != nil {
		dynamo.Stop()
	}
	os.Exit(code)
}

type fakeInfo struct {
	URL   string `json:"url"`
	CAPEM []byte `json:"ca"`
}

// serveFake is the child process: it serves the benchmark tenant of the
// given size, prints where on stdout, and stops when stdin closes.
func serveFake(usersText string) int {
	users, err := strconv.Atoi(usersText)
	if err != nil || users < 0 {
		fmt.Fprintf(os.Stderr, "bad %s=%q\n", fakeProcessEnv, usersText)
		return 2
	}
	fake, err := fakeentra.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer fake.Close()
	fake.AddTenant(benchTenant(users))
	runtime.GC()
	if err := json.NewEncoder(os.Stdout).Encode(fakeInfo{URL: fake.URL(), CAPEM: fake.CACertPEM()}); err != nil {
		return 1
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// fakeProcess is a running child serving the fake Entra ID.
type fakeProcess struct {
	url   string
	pool  *x509.CertPool
	cmd   *exec.Cmd
	stdin io.Closer
}

func startFakeProcess(users int) (*fakeProcess, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), fakeProcessEnv+"="+strconv.Itoa(users))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start fake Entra ID process: %w", err)
	}
	p := &fakeProcess{cmd: cmd, stdin: stdin}
	var info fakeInfo
	if err := json.NewDecoder(stdout).Decode(&info); err != nil {
		p.stop()
		return nil, fmt.Errorf("fake Entra ID process: %w", err)
	}
	p.url, p.pool = info.URL, x509.NewCertPool()
	if !p.pool.AppendCertsFromPEM(info.CAPEM) {
		p.stop()
		return nil, errors.New("fake Entra ID process sent no CA certificate")
	}
	return p, nil
}

// stop closes the child's stdin, which ends it, and waits for it.
func (p *fakeProcess) stop() {
	_ = p.stdin.Close()
	_ = p.cmd.Wait()
}

// One DynamoDB Local serves every test and benchmark of the binary; it is
// started on first use, so a run that needs none starts none.
var (
	dynamoOnce sync.Once
	dynamo     *dynamolocal.Instance
	dynamoDB   *dynamodb.Client
	dynamoErr  error
)

func sharedDynamo(tb testing.TB) *dynamodb.Client {
	tb.Helper()
	dynamoOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		dynamo, dynamoErr = dynamolocal.Start(ctx)
		if dynamoErr == nil {
			dynamoDB = dynamolocal.Client(dynamo.Endpoint)
		}
	})
	if dynamoErr != nil {
		tb.Fatalf("DynamoDB Local: %v", dynamoErr)
	}
	return dynamoDB
}

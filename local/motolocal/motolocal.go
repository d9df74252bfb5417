// Package motolocal runs moto_server (python3 moto, the AWS APIs served
// locally) on a free loopback port: the local stack's Secrets Manager, and
// the tests'. It is part of this kind of machine; elsewhere
// `pip install "moto[server]"`.
package motolocal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
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
	Endpoint string // http://127.0.0.1:PORT
	cmd      *exec.Cmd
	done     chan struct{}
}

// Start runs moto_server and returns once it answers.
func Start(ctx context.Context) (*Instance, error) {
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
		inst, err := startOn(ctx, bin, port)
		if err == nil {
			return inst, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startOn(ctx context.Context, bin string, port int) (*Instance, error) {
	// Not CommandContext: the server outlives the start-up context.
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Stop ends whatever it starts
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("motolocal: start: %w", err)
	}
	inst := &Instance{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{})}
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
	return secretsmanager.New(secretsmanager.Options{
		Region:       Region,
		BaseEndpoint: aws.String(i.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
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

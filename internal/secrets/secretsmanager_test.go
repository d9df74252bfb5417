package secrets

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// startMoto runs moto_server (python3 moto, the real Secrets Manager API)
// on a free port. It is part of this kind of machine; elsewhere
// `pip install "moto[server]"`.
func startMoto(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("moto_server is missing (pip install \"moto[server]\")")
		}
		t.Skip("moto_server is missing (pip install \"moto[server]\")")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(endpoint + "/moto-api/")
		if err == nil {
			res.Body.Close()
			return endpoint
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server did not start: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestSecretsManager(t *testing.T) {
	endpoint := startMoto(t)
	client := secretsmanager.New(secretsmanager.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	sm := &SecretsManager{Client: client, Prefix: "directory-sync"}
	testVersions(t, sm, "acme.example.com")

	// One secret per tenant, under the prefix the IAM policy covers.
	out, err := client.ListSecrets(context.Background(), &secretsmanager.ListSecretsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.SecretList) != 1 || aws.ToString(out.SecretList[0].Name) != "directory-sync/acme.example.com/entra-client-credential" {
		t.Fatalf("secrets %v: want one under the prefix", out.SecretList)
	}

	// A secret stored under the former name is still read, by version too,
	// until the connection's secret is saved again.
	ctx := context.Background()
	created, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("directory-sync/legacy/entra-client-secret"), SecretString: aws.String("legacy~secret~value"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, version := range []string{"", aws.ToString(created.VersionId)} {
		if got, err := sm.GetSecretVersion(ctx, "legacy", version); err != nil || got != "legacy~secret~value" {
			t.Fatalf("legacy secret (version %q) = %q, %v", version, got, err)
		}
	}
}

// No secret name may end in a hyphen and six characters, which Secrets
// Manager's partial-ARN matching takes for its random suffix.
func TestSecretNameIsNoPartialARNLookAlike(t *testing.T) {
	sm := &SecretsManager{Prefix: "directory-sync"}
	for _, tenant := range []string{"acme", "a-bcdefg", "x"} {
		name := sm.name(tenant)
		if i := strings.LastIndexByte(name, '-'); i >= 0 && len(name)-i-1 == 6 {
			t.Errorf("%s ends in -%s", name, name[i+1:])
		}
	}
}

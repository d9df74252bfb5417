package secrets

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"dirsync/local/motolocal"
)

// startMoto runs moto_server. The local stack needs it too, so a machine
// without it fails here, with what to install (motolocal.ErrMissing says).
func startMoto(t *testing.T) *motolocal.Instance {
	t.Helper()
	inst, err := motolocal.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(inst.Stop)
	return inst
}

func TestSecretsManager(t *testing.T) {
	client := startMoto(t).SecretsManager()
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

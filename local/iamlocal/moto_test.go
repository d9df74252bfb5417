package iamlocal

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"dirsync/local/motolocal"
	"dirsync/local/sfnlocal"
)

func startMoto(t *testing.T) *motolocal.Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	moto, err := motolocal.StartWith(ctx, motolocal.Options{EnforceIAM: true, AccountID: sfnlocal.LocalAccountID})
	if err != nil {
		t.Fatal(err) // motolocal.ErrMissing says how to install it
	}
	t.Cleanup(moto.Stop)
	return moto
}

func secrets(endpoint string, creds aws.CredentialsProvider) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{Region: sfnlocal.LocalRegion, BaseEndpoint: aws.String(endpoint), Credentials: creds, RetryMaxAttempts: 1})
}

// motoRefuses holds err to moto's own refusal: HTTP 403 in IAM's XML form,
// which the Secrets Manager client cannot parse.
func motoRefuses(t *testing.T, err error) {
	t.Helper()
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 403 {
		t.Errorf("moto answered %v, want its HTTP 403", err)
	}
}

func TestSecretsManagerThroughMotoEnforcingIAM(t *testing.T) {
	ctx := context.Background()
	moto := startMoto(t)
	roles := templateRoles(t)
	ps, err := SetupMoto(ctx, moto, roles)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{Region: sfnlocal.LocalRegion, Principals: ps})
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := Proxy(moto.Endpoint, nil)
	if err != nil {
		t.Fatal(err)
	}
	front := serve(t, a.SecretsManager(proxy))
	created, err := secrets(front, ps.Admin().Provider()).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("directory-sync/tenant-1"), SecretString: aws.String("s1")})
	if err != nil {
		t.Fatalf("the admin creates a secret: %v", err)
	}
	if _, err := secrets(front, ps.Admin().Provider()).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("other/secret"), SecretString: aws.String("o")}); err != nil {
		t.Fatalf("the admin creates a secret: %v", err)
	}
	unknownSuffix := "-??????"
	tenant1 := localARN("secretsmanager", "secret:directory-sync/tenant-1") + unknownSuffix
	get := func(id string) func(c *secretsmanager.Client) error {
		return func(c *secretsmanager.Client) error {
			out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
			if err == nil && aws.ToString(out.SecretString) != "s1" {
				t.Errorf("secret %s = %q", id, aws.ToString(out.SecretString))
			}
			return err
		}
	}
	putValue := func(c *secretsmanager.Client) error {
		_, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("directory-sync/tenant-1"), SecretString: aws.String("s1")})
		return err
	}
	tests := []struct {
		name string
		role string
		call func(c *secretsmanager.Client) error
		want func(p *Principal) *refusal
	}{
		{"GetSecretValue by name allowed", "PreviewWorkerFunctionRole", get("directory-sync/tenant-1"), nil},
		{"GetSecretValue by ARN allowed", "PreviewWorkerFunctionRole", get(aws.ToString(created.ARN)), nil},
		{"PutSecretValue not granted", "PreviewWorkerFunctionRole", putValue,
			func(p *Principal) *refusal { return accessDenied(400, p, "secretsmanager:PutSecretValue", tenant1) }},
		{"PutSecretValue granted", "ConnectionFunctionRole", putValue, nil},
		{"CreateSecret in the prefix", "ConnectionFunctionRole", func(c *secretsmanager.Client) error {
			_, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("directory-sync/tenant-2"), SecretString: aws.String("s2")})
			return err
		}, nil},
		{"a secret outside the prefix", "ConnectionFunctionRole", func(c *secretsmanager.Client) error {
			_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("other/secret")})
			return err
		}, func(p *Principal) *refusal {
			return accessDenied(400, p, "secretsmanager:GetSecretValue", localARN("secretsmanager", "secret:other/secret")+unknownSuffix)
		}},
		{"no secrets at all", "PreviewFunctionRole", get("directory-sync/tenant-1"),
			func(p *Principal) *refusal { return accessDenied(400, p, "secretsmanager:GetSecretValue", tenant1) }},
		{"ListSecrets is on *", "ConnectionFunctionRole", func(c *secretsmanager.Client) error {
			_, err := c.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
			return err
		}, func(p *Principal) *refusal { return accessDenied(400, p, "secretsmanager:ListSecrets", "*") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := principal(t, ps, tt.role)
			var want *refusal
			if tt.want != nil {
				want = tt.want(p)
			}
			checkRefusal(t, tt.call(secrets(front, p.Provider())), want)
		})
	}
	t.Run("unknown access key", func(t *testing.T) {
		checkRefusal(t, get("directory-sync/tenant-1")(secrets(front, unknownKey())), &refusal{400, "UnrecognizedClientException", msgUnrecognized})
	})

	// moto itself knows the same keys and refuses actions not granted.
	worker := principal(t, ps, "PreviewWorkerFunctionRole")
	t.Run("moto allows a granted action", func(t *testing.T) {
		if err := get("directory-sync/tenant-1")(secrets(moto.Endpoint, worker.Provider())); err != nil {
			t.Error(err)
		}
	})
	t.Run("moto refuses an action not granted", func(t *testing.T) {
		motoRefuses(t, putValue(secrets(moto.Endpoint, worker.Provider())))
	})
	t.Run("moto refuses an unknown key", func(t *testing.T) {
		motoRefuses(t, get("directory-sync/tenant-1")(secrets(moto.Endpoint, unknownKey())))
	})
	t.Run("moto refuses the wrong session token", func(t *testing.T) {
		motoRefuses(t, get("directory-sync/tenant-1")(secrets(moto.Endpoint, wrongToken(worker))))
	})
}

// TestMotoChecksActionsOnly holds moto to what SetupMoto assumes of it: a
// Secrets Manager request is authorized against resource "*", so a
// statement naming the secret's ARN does not allow reading it in moto. If
// this fails, moto checks resources and SetupMoto can give it each role's
// statements as they are.
func TestMotoChecksActionsOnly(t *testing.T) {
	ctx := context.Background()
	moto := startMoto(t)
	var creds aws.Credentials
	prefix := localARN("secretsmanager", "secret:directory-sync/*")
	err := moto.WithoutAuth(ctx, func() error {
		if _, err := moto.SecretsManager().CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("directory-sync/t"), SecretString: aws.String("s")}); err != nil {
			return err
		}
		c := &motoIAM{endpoint: moto.Endpoint}
		doc, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{
			map[string]any{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": prefix}}})
		for _, q := range []url.Values{
			{"Action": {"CreateRole"}, "RoleName": {"Exact"}, "AssumeRolePolicyDocument": {`{"Version":"2012-10-17","Statement":[]}`}},
			{"Action": {"PutRolePolicy"}, "RoleName": {"Exact"}, "PolicyName": {"p"}, "PolicyDocument": {string(doc)}},
		} {
			if err := c.call(ctx, q, nil); err != nil {
				return err
			}
		}
		out, err := sts.New(sts.Options{Region: motolocal.Region, BaseEndpoint: aws.String(moto.Endpoint),
			Credentials: credentials.NewStaticCredentialsProvider("setup", "setup", "")}).AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn: aws.String("arn:aws:iam::" + sfnlocal.LocalAccountID + ":role/Exact"), RoleSessionName: aws.String("s")})
		if err != nil {
			return err
		}
		creds = aws.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = secrets(moto.Endpoint, staticCreds(creds)).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("directory-sync/t")})
	motoRefuses(t, err)
}

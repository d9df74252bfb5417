package iamlocal

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"

	"dirsync/internal/samtemplate"
	"dirsync/local/sfnlocal"
)

// guarded is an Authorizer over the template's roles with generated
// credentials.
func guarded(t *testing.T, extra ...Role) (*Authorizer, *Principals) {
	t.Helper()
	roles := append(templateRoles(t), extra...)
	ps, err := GeneratePrincipals(sfnlocal.LocalAccountID, roles)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{Region: sfnlocal.LocalRegion, Principals: ps})
	if err != nil {
		t.Fatal(err)
	}
	return a, ps
}

// customRole is a role of the given statements, assumed by a function of
// the same name without "Role".
func customRole(t *testing.T, id string, sts ...samtemplate.Statement) Role {
	t.Helper()
	p, err := NewPolicy(sts)
	if err != nil {
		t.Fatal(err)
	}
	fn := strings.TrimSuffix(id, "Role")
	return Role{LogicalID: id, Name: id, ARN: "arn:aws:iam::" + sfnlocal.LocalAccountID + ":role/" + id, AccountID: sfnlocal.LocalAccountID,
		AssumedBy: []string{fn}, Session: fn, Policy: p}
}

func principal(t *testing.T, ps *Principals, roleID string) *Principal {
	t.Helper()
	p, err := ps.Role(roleID)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// refusal is what a test expects of a call: nothing (nil) or an API error.
type refusal struct {
	status  int
	code    string
	message string // "" = any
}

// deniedMessage is AWS's AccessDenied message for a role's session.
func deniedMessage(p *Principal, action, resource string) string {
	return "User: " + p.ARN + " is not authorized to perform: " + action + " on resource: " + resource +
		" because no identity-based policy allows the " + action + " action"
}

func accessDenied(status int, p *Principal, action, resource string) *refusal {
	return &refusal{status, "AccessDeniedException", deniedMessage(p, action, resource)}
}

// checkRefusal holds err, returned by an AWS SDK client, to want: the SDK
// must have parsed the answer into an API error of the code, message and
// HTTP status.
func checkRefusal(t *testing.T, err error, want *refusal) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("allowed, want %s", want.code)
	}
	var api smithy.APIError
	if !errors.As(err, &api) {
		t.Fatalf("error %v is not an API error", err)
	}
	if api.ErrorCode() != want.code || (want.message != "" && api.ErrorMessage() != want.message) {
		t.Errorf("API error %s: %q, want %s: %q", api.ErrorCode(), api.ErrorMessage(), want.code, want.message)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != want.status {
		t.Errorf("HTTP status of %v, want %d", err, want.status)
	}
}

// wrongSecret signs as p with another secret.
func wrongSecret(p *Principal) aws.CredentialsProvider {
	c := p.Credentials
	c.SecretAccessKey = strings.Repeat("x", 40)
	return staticCreds(c)
}

func wrongToken(p *Principal) aws.CredentialsProvider {
	c := p.Credentials
	c.SessionToken = "not-the-session-token"
	return staticCreds(c)
}

func unknownKey() aws.CredentialsProvider {
	return staticCreds(aws.Credentials{AccessKeyID: "ASIAUNKNOWNUNKNOWN00", SecretAccessKey: "s", SessionToken: "t"})
}

func staticCreds(c aws.Credentials) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
}

// okHandler answers every request with an empty JSON object and notes
// that one arrived.
func okHandler(reached *bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		*reached = true
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write([]byte("{}"))
	})
}

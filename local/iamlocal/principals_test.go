package iamlocal

import (
	"context"
	"errors"
	"strings"
	"testing"

	"dirsync/local/motolocal"
	"dirsync/local/sfnlocal"
)

func TestPrincipals(t *testing.T) {
	_, ps := guarded(t)
	tests := []struct {
		user, role, arn string
		token           bool
	}{
		{"PreviewFunction", "PreviewFunctionRole", "arn:aws:sts::000000000000:assumed-role/PreviewFunctionRole/PreviewFunction", true},
		{"ApplyStateMachine", "ApplyStateMachineRole", "arn:aws:sts::000000000000:assumed-role/ApplyStateMachineRole/ApplyStateMachine", true},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			p, err := ps.For(tt.user)
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != tt.role || p.ARN != tt.arn {
				t.Errorf("principal of %s = %s %s, want %s %s", tt.user, p.Name, p.ARN, tt.role, tt.arn)
			}
			env := p.Env()
			if env["AWS_ACCESS_KEY_ID"] != p.Credentials.AccessKeyID || env["AWS_SECRET_ACCESS_KEY"] == "" || (env["AWS_SESSION_TOKEN"] != "") != tt.token {
				t.Errorf("environment of %s lacks its credentials", tt.user)
			}
			if byKey, ok := ps.ByAccessKey(p.Credentials.AccessKeyID); !ok || byKey != p {
				t.Errorf("access key of %s does not identify it", tt.user)
			}
		})
	}
	admin := ps.Admin()
	if admin.ARN != "arn:aws:iam::"+sfnlocal.LocalAccountID+":user/admin" || admin.Env()["AWS_SESSION_TOKEN"] != "" || !admin.Policy().Evaluate("any:Thing", "arn:x").Allowed {
		t.Errorf("admin %s may not do everything", admin.ARN)
	}
	if _, err := ps.For("NoSuchFunction"); !errors.Is(err, ErrNoPrincipal) {
		t.Errorf("For(NoSuchFunction) = %v, want ErrNoPrincipal", err)
	}
	if _, err := ps.Role("NoSuchRole"); !errors.Is(err, ErrNoPrincipal) {
		t.Errorf("Role(NoSuchRole) = %v, want ErrNoPrincipal", err)
	}
	if s := ps.String(); strings.Contains(s, admin.Credentials.SecretAccessKey) || strings.Contains(s, admin.Credentials.AccessKeyID) {
		t.Errorf("String shows credentials: %s", s)
	}
	// moto must serve the roles' account, or its ARNs would not be theirs.
	other := &motolocal.Instance{AccountID: motolocal.DefaultAccountID}
	if _, err := SetupMoto(context.Background(), other, templateRoles(t)); err == nil || !strings.Contains(err.Error(), "motolocal.Options.AccountID") {
		t.Errorf("SetupMoto on moto of another account = %v", err)
	}
}

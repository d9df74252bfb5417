package iamlocal

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"dirsync/internal/samtemplate"
	"dirsync/local/sfnlocal"
)

var (
	rolesOnce sync.Once
	rolesVal  []Role
	rolesErr  error
)

// templateRoles are the roles of the repository's template.yaml, named as
// the local stack names things.
func templateRoles(t *testing.T) []Role {
	t.Helper()
	if out, err := exec.Command("python3", "-c", "import samtranslator").CombinedOutput(); err != nil {
		t.Fatalf("python3 module samtranslator is missing (%v: %s): pip install aws-sam-translator", err, bytes.TrimSpace(out))
	}
	rolesOnce.Do(func() {
		rolesVal, rolesErr = LoadRoles(context.Background(), filepath.Join("..", "..", "template.yaml"), LocalTransformOptions(map[string]string{
			"JwtIssuer": "https://auth.localhost/", "JwtAudience": "directory-sync", "CorsAllowedOrigins": "http://127.0.0.1:8080",
		}))
	})
	if rolesErr != nil {
		t.Fatal(rolesErr)
	}
	// Each test gets its own copy: principals point into it.
	out := make([]Role, len(rolesVal))
	copy(out, rolesVal)
	return out
}

func role(t *testing.T, roles []Role, id string) *Role {
	t.Helper()
	for i := range roles {
		if roles[i].LogicalID == id {
			return &roles[i]
		}
	}
	t.Fatalf("no role %s", id)
	return nil
}

func localARN(service, resource string) string {
	return "arn:aws:" + service + ":" + sfnlocal.LocalRegion + ":" + sfnlocal.LocalAccountID + ":" + resource
}

func TestRolesFromTemplate(t *testing.T) {
	roles := templateRoles(t)
	secret := localARN("secretsmanager", "secret:directory-sync/tenant-1-"+strings.Repeat(string(rune(Unknown)), 6))
	tests := []struct {
		role, action, resource string
		allowed                bool
	}{
		{"PreviewFunctionRole", "dynamodb:Query", localARN("dynamodb", "table/SyncTable"), true},
		{"PreviewFunctionRole", "dynamodb:Query", localARN("dynamodb", "table/DirectoryTable"), false},
		{"PreviewFunctionRole", "lambda:InvokeFunction", sfnlocal.LocalARN("PreviewWorkerFunction"), true},
		{"PreviewFunctionRole", "lambda:InvokeFunction", sfnlocal.LocalARN("ApplyFunction"), false},
		{"PreviewFunctionRole", "secretsmanager:GetSecretValue", secret, false},
		{"PreviewFunctionRole", "logs:PutLogEvents", "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/PreviewFunction:*", true},
		{"PreviewWorkerFunctionRole", "secretsmanager:GetSecretValue", secret, true},
		{"PreviewWorkerFunctionRole", "secretsmanager:PutSecretValue", secret, false},
		{"PreviewWorkerFunctionRole", "lambda:InvokeFunction", sfnlocal.LocalARN("FinalizeFunction"), true},
		{"ConnectionFunctionRole", "secretsmanager:CreateSecret", secret, true},
		{"ConfirmFunctionRole", "states:StartExecution", localARN("states", "stateMachine:ApplyStateMachine"), true},
		{"ConfirmFunctionRole", "states:DescribeExecution", localARN("states", "execution:ApplyStateMachine:sync-1"), true},
		{"ConfirmFunctionRole", "states:ListExecutions", localARN("states", "stateMachine:ApplyStateMachine"), false},
		{"ApplyStateMachineRole", "lambda:InvokeFunction", sfnlocal.LocalARN("ApplyFunction"), true},
		{"ApplyStateMachineRole", "lambda:InvokeFunction", sfnlocal.LocalARN("PreviewWorkerFunction"), false},
		{"ProgressFunctionRole", "dynamodb:PutItem", localARN("dynamodb", "table/SyncTable"), false},
	}
	for _, tt := range tests {
		t.Run(tt.role+" "+tt.action+" "+tt.resource, func(t *testing.T) {
			if got := role(t, roles, tt.role).Policy.Evaluate(tt.action, tt.resource).Allowed; got != tt.allowed {
				t.Errorf("allowed = %v, want %v", got, tt.allowed)
			}
		})
	}
	wantRoles := []struct {
		id, name, arn, session string
		assumedBy              []string
	}{
		{"PreviewFunctionRole", "PreviewFunctionRole", "arn:aws:iam::000000000000:role/PreviewFunctionRole", "PreviewFunction", []string{"PreviewFunction"}},
		{"ApplyStateMachineRole", "ApplyStateMachineRole", "arn:aws:iam::000000000000:role/ApplyStateMachineRole", "ApplyStateMachine", []string{"ApplyStateMachine"}},
	}
	for _, w := range wantRoles {
		r := role(t, roles, w.id)
		if r.Name != w.name || r.ARN != w.arn || r.Session != w.session || !slices.Equal(r.AssumedBy, w.assumedBy) {
			t.Errorf("%s = name %s ARN %s session %s assumed by %v; want %s %s %s %v", w.id, r.Name, r.ARN, r.Session, r.AssumedBy, w.name, w.arn, w.session, w.assumedBy)
		}
	}
	if got := role(t, roles, "PreviewFunctionRole").AssumedRoleARN(); got != "arn:aws:sts::000000000000:assumed-role/PreviewFunctionRole/PreviewFunction" {
		t.Errorf("assumed-role ARN %s", got)
	}
}

// roleTemplate is a transformed template of one function's role with the
// given statements and managed policies.
func roleTemplate(statements []any, managed ...any) *samtemplate.Deployed {
	return &samtemplate.Deployed{
		Resources: map[string]samtemplate.DeployedResource{
			"FnRole": {Type: "AWS::IAM::Role", Properties: map[string]any{
				"Policies":          []any{map[string]any{"PolicyName": "FnRolePolicy0", "PolicyDocument": map[string]any{"Statement": statements}}},
				"ManagedPolicyArns": managed,
			}},
			"Fn": {Type: "AWS::Lambda::Function", Properties: map[string]any{"Role": map[string]any{"Fn::GetAtt": []any{"FnRole", "Arn"}}}},
		},
		StackName: "s", Region: "us-east-1", AccountID: "000000000000",
	}
}

func TestRolesFromTemplateRefusesWhatItCannotEvaluate(t *testing.T) {
	tests := []struct {
		name    string
		d       *samtemplate.Deployed
		wantErr error
	}{
		{"a condition", roleTemplate([]any{map[string]any{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
			"Condition": map[string]any{"IpAddress": map[string]any{"aws:SourceIp": "10.0.0.0/8"}}}}), ErrUnsupportedStatement},
		{"an unknown managed policy", roleTemplate([]any{map[string]any{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}},
			"arn:aws:iam::aws:policy/AmazonS3FullAccess"), samtemplate.ErrUnknownManagedPolicy},
		{"an unmodelled intrinsic", roleTemplate([]any{map[string]any{"Effect": "Allow", "Action": "s3:GetObject",
			"Resource": map[string]any{"Fn::ImportValue": "x"}}}), samtemplate.ErrNotModelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			roles, err := RolesFromTemplate(tt.d)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("RolesFromTemplate = %v, %v; want %v", roles, err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), "load role FnRole") {
				t.Errorf("error %q does not name the role", err)
			}
		})
	}
	roles, err := RolesFromTemplate(roleTemplate([]any{map[string]any{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}))
	if err != nil || len(roles) != 1 || roles[0].Session != "s-Fn-"+samtemplate.GeneratedSuffix {
		t.Errorf("a plain role: %+v, %v", roles, err)
	}
}

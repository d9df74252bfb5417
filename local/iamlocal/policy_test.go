package iamlocal

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"dirsync/internal/samtemplate"
)

const table = "arn:aws:dynamodb:us-east-1:000000000000:table/SyncTable"

func mustPolicy(t *testing.T, sts ...samtemplate.Statement) Policy {
	t.Helper()
	p, err := NewPolicy(sts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func allow(actions []string, resources ...string) samtemplate.Statement {
	return samtemplate.Statement{Effect: Allow, Actions: actions, Resources: resources, Source: "p"}
}

func TestEvaluate(t *testing.T) {
	secret := "arn:aws:secretsmanager:us-east-1:000000000000:secret:directory-sync/t1-" + strings.Repeat(string(rune(Unknown)), 6)
	tests := []struct {
		name              string
		statements        []samtemplate.Statement
		action, resource  string
		allowed, explicit bool
		by                []Match
	}{
		{"no statement denies", nil, "dynamodb:GetItem", table, false, false, nil},
		{"exact allow", []samtemplate.Statement{allow([]string{"dynamodb:GetItem"}, table)}, "dynamodb:GetItem", table, true, false,
			[]Match{{0, "dynamodb:GetItem", table}}},
		{"other action", []samtemplate.Statement{allow([]string{"dynamodb:GetItem"}, table)}, "dynamodb:PutItem", table, false, false, nil},
		{"other resource", []samtemplate.Statement{allow([]string{"dynamodb:GetItem"}, table)}, "dynamodb:GetItem", table + "2", false, false, nil},
		{"actions are case-insensitive", []samtemplate.Statement{allow([]string{"DynamoDB:getitem"}, table)}, "dynamodb:GetItem", table, true, false,
			[]Match{{0, "DynamoDB:getitem", table}}},
		{"resources are case-sensitive", []samtemplate.Statement{allow([]string{"dynamodb:GetItem"}, strings.ToLower(table))}, "dynamodb:GetItem", table, false, false, nil},
		{"action wildcard", []samtemplate.Statement{allow([]string{"dynamodb:*Item"}, table)}, "dynamodb:PutItem", table, true, false,
			[]Match{{0, "dynamodb:*Item", table}}},
		{"? is one character", []samtemplate.Statement{allow([]string{"dynamodb:?etItem"}, table)}, "dynamodb:GetItem", table, true, false,
			[]Match{{0, "dynamodb:?etItem", table}}},
		{"? is not two", []samtemplate.Statement{allow([]string{"dynamodb:?tItem"}, table)}, "dynamodb:GetItem", table, false, false, nil},
		{"resource * crosses colons", []samtemplate.Statement{allow([]string{"lambda:InvokeFunction"}, "arn:aws:lambda:us-east-1:000000000000:function:F*")},
			"lambda:InvokeFunction", "arn:aws:lambda:us-east-1:000000000000:function:F:live", true, false,
			[]Match{{0, "lambda:InvokeFunction", "arn:aws:lambda:us-east-1:000000000000:function:F*"}}},
		{"every matching grant is used", []samtemplate.Statement{allow([]string{"dynamodb:GetItem", "dynamodb:*"}, table, "*"), allow([]string{"*"}, "*")},
			"dynamodb:GetItem", table, true, false,
			[]Match{{0, "dynamodb:GetItem", table}, {0, "dynamodb:GetItem", "*"}, {0, "dynamodb:*", table}, {0, "dynamodb:*", "*"}, {1, "*", "*"}}},
		{"explicit deny wins", []samtemplate.Statement{allow([]string{"*"}, "*"), {Effect: Deny, Actions: []string{"dynamodb:DeleteItem"}, Resources: []string{table}}},
			"dynamodb:DeleteItem", table, false, true, nil},
		{"deny elsewhere does not", []samtemplate.Statement{allow([]string{"*"}, "*"), {Effect: Deny, Actions: []string{"dynamodb:DeleteItem"}, Resources: []string{table}}},
			"dynamodb:GetItem", table, true, false, []Match{{0, "*", "*"}}},
		{"NotAction allows the others", []samtemplate.Statement{{Effect: Allow, NotActions: []string{"dynamodb:Delete*"}, Resources: []string{table}}},
			"dynamodb:GetItem", table, true, false, []Match{{0, "NotAction", table}}},
		{"NotAction excludes its own", []samtemplate.Statement{{Effect: Allow, NotActions: []string{"dynamodb:Delete*"}, Resources: []string{table}}},
			"dynamodb:DeleteItem", table, false, false, nil},
		{"NotResource allows the others", []samtemplate.Statement{{Effect: Allow, Actions: []string{"dynamodb:GetItem"}, NotResources: []string{table}}},
			"dynamodb:GetItem", table + "2", true, false, []Match{{0, "dynamodb:GetItem", "NotResource"}}},
		{"NotResource excludes its own", []samtemplate.Statement{{Effect: Allow, Actions: []string{"dynamodb:GetItem"}, NotResources: []string{table}}},
			"dynamodb:GetItem", table, false, false, nil},
		{"Deny NotResource denies the others", []samtemplate.Statement{allow([]string{"*"}, "*"), {Effect: Deny, Actions: []string{"*"}, NotResources: []string{table}}},
			"dynamodb:GetItem", table + "2", false, true, nil},
		{"an unknown suffix is matched by *", []samtemplate.Statement{allow([]string{"secretsmanager:GetSecretValue"}, "arn:aws:secretsmanager:us-east-1:000000000000:secret:directory-sync/*")},
			"secretsmanager:GetSecretValue", secret, true, false,
			[]Match{{0, "secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:000000000000:secret:directory-sync/*"}}},
		{"an unknown suffix is matched by ??????", []samtemplate.Statement{allow([]string{"secretsmanager:GetSecretValue"}, "arn:aws:secretsmanager:us-east-1:000000000000:secret:directory-sync/t1-??????")},
			"secretsmanager:GetSecretValue", secret, true, false,
			[]Match{{0, "secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:000000000000:secret:directory-sync/t1-??????"}}},
		{"an unknown suffix is not surely a literal one", []samtemplate.Statement{allow([]string{"secretsmanager:GetSecretValue"}, "arn:aws:secretsmanager:us-east-1:000000000000:secret:directory-sync/t1-AbCdEf")},
			"secretsmanager:GetSecretValue", secret, false, false, nil},
		{"a deny of a literal suffix may apply", []samtemplate.Statement{allow([]string{"*"}, "*"),
			{Effect: Deny, Actions: []string{"*"}, Resources: []string{"arn:aws:secretsmanager:us-east-1:000000000000:secret:directory-sync/t1-AbCdEf"}}},
			"secretsmanager:GetSecretValue", secret, false, true, nil},
		{"an unknown suffix is not surely outside NotResource", []samtemplate.Statement{{Effect: Allow, Actions: []string{"*"}, NotResources: []string{"arn:aws:secretsmanager:*:*:secret:directory-sync/t1-AbCdEf"}}},
			"secretsmanager:GetSecretValue", secret, false, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustPolicy(t, tt.statements...).Evaluate(tt.action, tt.resource)
			if d.Allowed != tt.allowed || d.ExplicitDeny != tt.explicit {
				t.Errorf("Evaluate(%s, %s) = allowed %v explicit deny %v, want %v %v", tt.action, printable(tt.resource), d.Allowed, d.ExplicitDeny, tt.allowed, tt.explicit)
			}
			if !reflect.DeepEqual(d.By, tt.by) {
				t.Errorf("by %v, want %v", d.By, tt.by)
			}
		})
	}
}

func TestNewPolicyRefusesWhatItCannotEvaluate(t *testing.T) {
	tests := []struct {
		name string
		st   samtemplate.Statement
		says string
	}{
		{"condition", samtemplate.Statement{Effect: Allow, Actions: []string{"s3:GetObject"}, Resources: []string{"*"},
			Condition: map[string]any{"StringEquals": map[string]any{"aws:PrincipalTag/team": "a"}}}, "Condition [StringEquals]"},
		{"deny with a condition", samtemplate.Statement{Effect: Deny, Actions: []string{"*"}, Resources: []string{"*"},
			Condition: map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}}, "Condition [Bool]"},
		{"principal", samtemplate.Statement{Effect: Allow, Actions: []string{"*"}, Resources: []string{"*"}, Principal: "*"}, "Principal"},
		{"unknown element", samtemplate.Statement{Effect: Allow, Actions: []string{"*"}, Resources: []string{"*"}, Unknown: []string{"Resources"}}, "unknown elements [Resources]"},
		{"effect", samtemplate.Statement{Effect: "allow", Actions: []string{"*"}, Resources: []string{"*"}}, `Effect "allow"`},
		{"no action", samtemplate.Statement{Effect: Allow, Resources: []string{"*"}}, "Action and NotAction"},
		{"Action and NotAction", samtemplate.Statement{Effect: Allow, Actions: []string{"a:b"}, NotActions: []string{"a:c"}, Resources: []string{"*"}}, "Action and NotAction"},
		{"no resource", samtemplate.Statement{Effect: Allow, Actions: []string{"*"}}, "Resource and NotResource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.st.Source = "RolePolicy0"
			_, err := NewPolicy([]samtemplate.Statement{allow([]string{"*"}, "*"), tt.st})
			if !errors.Is(err, ErrUnsupportedStatement) {
				t.Fatalf("NewPolicy = %v, want ErrUnsupportedStatement", err)
			}
			if !strings.Contains(err.Error(), "statement 1 (RolePolicy0)") || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not name statement 1 (RolePolicy0) and %q", err, tt.says)
			}
		})
	}
}

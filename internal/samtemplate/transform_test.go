package samtemplate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// evalStack is a small transformed template for the evaluator's tests.
func evalStack(names PhysicalNames) *Deployed {
	return &Deployed{
		Resources: map[string]DeployedResource{
			"Table":   {Type: "AWS::DynamoDB::Table"},
			"Named":   {Type: "AWS::DynamoDB::Table", Properties: map[string]any{"TableName": map[string]any{"Fn::Sub": "${AWS::StackName}-named"}}},
			"Fn":      {Type: "AWS::Lambda::Function", Properties: map[string]any{"FunctionName": "fn"}},
			"Machine": {Type: "AWS::StepFunctions::StateMachine"},
			"Role":    {Type: "AWS::IAM::Role"},
			"Logs":    {Type: "AWS::Logs::LogGroup", Properties: map[string]any{"LogGroupName": "/aws/x"}},
			"Queue":   {Type: "AWS::SQS::Queue"},
		},
		Conditions: map[string]any{
			"HasTopic": map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "Topic"}, ""}}}},
			"Both":     map[string]any{"Fn::And": []any{map[string]any{"Condition": "HasTopic"}, map[string]any{"Fn::Equals": []any{"a", "a"}}}},
			"Either":   map[string]any{"Fn::Or": []any{map[string]any{"Condition": "HasTopic"}, map[string]any{"Fn::Equals": []any{"a", "a"}}}},
		},
		Values:    map[string]any{"Topic": "", "Origins": []string{"https://a", "https://b"}, "Prefix": "p"},
		StackName: "st", Region: "eu-west-1", AccountID: "111122223333", names: names,
	}
}

func TestEvalIntrinsics(t *testing.T) {
	local := func(id, typ string) (string, bool) { return "local-" + id, typ != "AWS::Logs::LogGroup" }
	tests := []struct {
		name  string
		names PhysicalNames
		in    any
		want  any
	}{
		{"Ref parameter", nil, map[string]any{"Ref": "Prefix"}, "p"},
		{"Ref list parameter", nil, map[string]any{"Ref": "Origins"}, []string{"https://a", "https://b"}},
		{"Ref pseudo parameters", nil, map[string]any{"Fn::Sub": "${AWS::Partition}:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}:${AWS::URLSuffix}"},
			"aws:eu-west-1:111122223333:st:amazonaws.com"},
		{"Ref generated name", nil, map[string]any{"Ref": "Table"}, "st-Table-" + GeneratedSuffix},
		{"Ref name property", nil, map[string]any{"Ref": "Named"}, "st-named"},
		{"Ref named by the caller", local, map[string]any{"Ref": "Named"}, "local-Named"},
		{"caller leaves a name to the template", local, map[string]any{"Ref": "Logs"}, "/aws/x"},
		{"Ref state machine is its ARN", LogicalIDNames, map[string]any{"Ref": "Machine"}, "arn:aws:states:eu-west-1:111122223333:stateMachine:Machine"},
		{"GetAtt table Arn", LogicalIDNames, map[string]any{"Fn::GetAtt": []any{"Table", "Arn"}}, "arn:aws:dynamodb:eu-west-1:111122223333:table/Table"},
		{"GetAtt dotted", nil, map[string]any{"Fn::GetAtt": "Fn.Arn"}, "arn:aws:lambda:eu-west-1:111122223333:function:fn"},
		{"GetAtt role Arn", LogicalIDNames, map[string]any{"Fn::GetAtt": []any{"Role", "Arn"}}, "arn:aws:iam::111122223333:role/Role"},
		{"GetAtt log group Arn", nil, map[string]any{"Fn::GetAtt": []any{"Logs", "Arn"}}, "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/x:*"},
		{"GetAtt state machine Name", LogicalIDNames, map[string]any{"Fn::GetAtt": []any{"Machine", "Name"}}, "Machine"},
		{"Sub with variables and GetAtt", LogicalIDNames,
			map[string]any{"Fn::Sub": []any{"${fn}:${Machine.Name}:${!Literal}", map[string]any{"fn": map[string]any{"Ref": "Fn"}}}},
			"Fn:Machine:${Literal}"},
		{"Join", nil, map[string]any{"Fn::Join": []any{",", map[string]any{"Ref": "Origins"}}}, "https://a,https://b"},
		{"Select", nil, map[string]any{"Fn::Select": []any{1.0, map[string]any{"Ref": "Origins"}}}, "https://b"},
		{"Split", nil, map[string]any{"Fn::Split": []any{"-", "a-b"}}, []any{"a", "b"}},
		{"If false", nil, map[string]any{"Fn::If": []any{"HasTopic", "yes", "no"}}, "no"},
		{"If And", nil, map[string]any{"Fn::If": []any{"Both", "yes", "no"}}, "no"},
		{"If Or", nil, map[string]any{"Fn::If": []any{"Either", "yes", "no"}}, "yes"},
		{"NoValue drops a key and an element", nil,
			map[string]any{"a": map[string]any{"Ref": "AWS::NoValue"}, "b": []any{"x", map[string]any{"Fn::If": []any{"HasTopic", "t", map[string]any{"Ref": "AWS::NoValue"}}}}},
			map[string]any{"b": []any{"x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := evalStack(tt.names).Eval(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Eval = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestEvalRefusesWhatItDoesNotModel(t *testing.T) {
	tests := []struct {
		name    string
		in      any
		wantErr error // nil: any error
	}{
		{"unknown intrinsic", map[string]any{"Fn::FindInMap": []any{"M", "k", "v"}}, ErrNotModelled},
		{"unknown attribute", map[string]any{"Fn::GetAtt": []any{"Queue", "Arn"}}, ErrNotModelled},
		{"unknown resource", map[string]any{"Ref": "Nothing"}, nil},
		{"unknown condition", map[string]any{"Fn::If": []any{"Nothing", "a", "b"}}, nil},
		{"select out of range", map[string]any{"Fn::Select": []any{"5", []any{"a"}}}, nil},
		{"malformed join", map[string]any{"Fn::Join": "a"}, nil},
		{"malformed Ref", map[string]any{"Ref": []any{"a"}}, nil},
		{"Sub of an unknown name", map[string]any{"Fn::Sub": "${Nothing}"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := evalStack(nil).Eval(tt.in)
			if err == nil {
				t.Fatalf("Eval = %#v, want an error", got)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestTransformWithLocalNames(t *testing.T) {
	pythonTool(t, "samtranslator", "aws-sam-translator")
	d, err := Transform(context.Background(), filepath.Join(root, "template.yaml"), TransformOptions{
		Parameters: map[string]string{"JwtIssuer": "https://issuer.local/", "JwtAudience": "a", "CorsAllowedOrigins": "http://localhost"},
		Region:     "us-east-1", AccountID: "000000000000", StackName: "local", Names: LogicalIDNames,
	})
	if err != nil {
		t.Fatal(err)
	}
	values := []struct {
		in   any
		want string
	}{
		{map[string]any{"Ref": "ApplyStateMachine"}, "arn:aws:states:us-east-1:000000000000:stateMachine:ApplyStateMachine"},
		{map[string]any{"Fn::GetAtt": []any{"PreviewWorkerFunction", "Arn"}}, "arn:aws:lambda:us-east-1:000000000000:function:PreviewWorkerFunction"},
		{map[string]any{"Ref": "SyncTable"}, "SyncTable"},
		{map[string]any{"Ref": "SecretPrefix"}, "directory-sync"},
	}
	for _, v := range values {
		if got, err := d.Str(v.in); err != nil || got != v.want {
			t.Errorf("%v = %q, %v; want %q", v.in, got, err, v.want)
		}
	}
	sts, err := d.RoleStatements("PreviewFunctionRole")
	if err != nil {
		t.Fatal(err)
	}
	var grants []string
	for _, st := range sts {
		for _, a := range st.Actions {
			for _, r := range st.Resources {
				grants = append(grants, st.Effect+" "+a+" "+r)
			}
		}
	}
	for _, want := range []string{
		"Allow dynamodb:Query arn:aws:dynamodb:us-east-1:000000000000:table/SyncTable",
		"Allow lambda:InvokeFunction arn:aws:lambda:us-east-1:000000000000:function:PreviewWorkerFunction*",
		"Allow logs:CreateLogStream *",
	} {
		if !slices.Contains(grants, want) {
			t.Errorf("PreviewFunctionRole grants %v, want %q among them", grants, want)
		}
	}
}

func TestTransformErrors(t *testing.T) {
	dir := t.TempDir()
	// A python3 without aws-sam-translator: the script's import fails.
	noTranslator := filepath.Join(dir, "python-without-translator")
	if err := os.WriteFile(noTranslator, []byte("#!/bin/sh\necho 'aws-sam-translator is not installed' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "python-broken")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho 'Traceback: boom' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	template := filepath.Join(root, "template.yaml")
	all := map[string]string{"JwtIssuer": "i", "JwtAudience": "a", "CorsAllowedOrigins": "o"}
	tests := []struct {
		name    string
		opts    TransformOptions
		wantErr error // nil: any error
		text    string
	}{
		{"no stack name", TransformOptions{Parameters: all}, nil, "StackName"},
		{"no python", TransformOptions{Parameters: all, StackName: "s", Python: filepath.Join(dir, "absent")}, ErrTranslatorMissing, "pip install aws-sam-translator"},
		{"no translator", TransformOptions{Parameters: all, StackName: "s", Python: noTranslator}, ErrTranslatorMissing, "pip install aws-sam-translator"},
		{"translator fails", TransformOptions{Parameters: all, StackName: "s", Python: broken}, nil, "boom"},
		{"parameter without value", TransformOptions{Parameters: map[string]string{"JwtAudience": "a", "CorsAllowedOrigins": "o"}, StackName: "s", Python: broken}, ErrParameterMissing, "JwtIssuer"},
		{"undeclared parameter", TransformOptions{Parameters: map[string]string{"JwtIssuer": "i", "JwtAudience": "a", "CorsAllowedOrigins": "o", "Nope": "x"}, StackName: "s", Python: broken}, nil, "Nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Transform(context.Background(), template, tt.opts)
			if err == nil {
				t.Fatal("Transform succeeded")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q does not say %q", err, tt.text)
			}
		})
	}
}

package sfnlocal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dirsync/local/dynamolocal"
)

func TestDefinitionFromRepositoryTemplate(t *testing.T) {
	def := templateDefinition(t)
	if bytes.Contains(def, []byte("${")) {
		t.Errorf("definition still holds a ${...} placeholder: %s", def)
	}
	var doc map[string]any
	if err := json.Unmarshal(def, &doc); err != nil {
		t.Fatal(err)
	}
	resources := map[string]string{}
	visitStates(doc["States"].(map[string]any), func(name string, state map[string]any) {
		if r, ok := state["Resource"].(string); ok {
			resources[name] = r
		}
	})
	want := map[string]string{
		"ApplyUserBatch":          LocalARN("ApplyFunction"),
		"RecordUserBatchFailure":  LocalARN("ApplyFunction"),
		"ApplyGroupBatch":         LocalARN("ApplyFunction"),
		"RecordGroupBatchFailure": LocalARN("ApplyFunction"),
		"Finalize":                LocalARN("FinalizeFunction"),
		"MarkFailed":              LocalARN("FinalizeFunction"),
	}
	for name, arn := range want {
		if resources[name] != arn {
			t.Errorf("%s Resource = %q, want %q", name, resources[name], arn)
		}
	}
	if len(resources) != len(want) {
		t.Errorf("Task states %v, want exactly %v", resources, want)
	}
	if got := LocalARN("ApplyFunction"); got != "arn:aws:lambda:us-east-1:000000000000:function:ApplyFunction" {
		t.Errorf("LocalARN = %s", got)
	}
}

func TestDefinitionFromTemplateSubstitutions(t *testing.T) {
	const head = `
Resources:
  Worker:
    Type: AWS::Serverless::Function
  Table:
    Type: AWS::DynamoDB::Table
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
`
	tests := []struct {
		name    string
		props   string
		want    string // substring of the definition
		wantErr string
	}{
		{
			name: "GetAtt Arn of a function",
			props: `      DefinitionSubstitutions: {Fn: !GetAtt Worker.Arn}
      Definition: {StartAt: A, States: {A: {Type: Task, Resource: "${Fn}", End: true}}}`,
			want: `"Resource":"` + LocalARN("Worker") + `"`,
		},
		{
			name: "Ref of a function is its name",
			props: `      DefinitionSubstitutions: {Fn: !Ref Worker}
      Definition: {StartAt: A, States: {A: {Type: Pass, Comment: "calls ${Fn}", End: true}}}`,
			want: `"Comment":"calls Worker"`,
		},
		{
			name: "literal string",
			props: `      DefinitionSubstitutions: {Fn: "arn:aws:lambda:us-east-1:000000000000:function:Other"}
      Definition: {StartAt: A, States: {A: {Type: Task, Resource: "${Fn}", End: true}}}`,
			want: `function:Other"`,
		},
		{
			name:    "placeholder without substitution",
			props:   `      Definition: {StartAt: A, States: {A: {Type: Task, Resource: "${Nope}", End: true}}}`,
			wantErr: "no substitution for ${Nope}",
		},
		{
			name: "GetAtt of a table",
			props: `      DefinitionSubstitutions: {T: !GetAtt Table.Arn}
      Definition: {StartAt: A, States: {A: {Type: Pass, Comment: "${T}", End: true}}}`,
			wantErr: "only functions resolve locally",
		},
		{
			name: "GetAtt of another attribute",
			props: `      DefinitionSubstitutions: {Fn: !GetAtt Worker.FunctionUrl}
      Definition: {StartAt: A, States: {A: {Type: Pass, Comment: "${Fn}", End: true}}}`,
			wantErr: "only the Arn attribute",
		},
		{
			name: "unknown resource",
			props: `      DefinitionSubstitutions: {Fn: !GetAtt Ghost.Arn}
      Definition: {StartAt: A, States: {A: {Type: Pass, Comment: "${Fn}", End: true}}}`,
			wantErr: "no resource Ghost",
		},
		{
			name: "Sub is not resolved",
			props: `      DefinitionSubstitutions: {Fn: !Sub "${Worker}"}
      Definition: {StartAt: A, States: {A: {Type: Pass, Comment: "${Fn}", End: true}}}`,
			wantErr: "does not resolve locally",
		},
		{
			name:    "no inline definition",
			props:   `      DefinitionUri: statemachine.asl.json`,
			wantErr: "no inline Definition",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "template.yaml")
			if err := os.WriteFile(path, []byte(head+tt.props+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			def, err := DefinitionFromTemplate(path, "Machine")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(def), tt.want) {
				t.Errorf("definition %s lacks %s", def, tt.want)
			}
		})
	}
	path := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(path, []byte(head+"      Definition: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := DefinitionFromTemplate(path, "Worker"); err == nil || !strings.Contains(err.Error(), "not a state machine") {
		t.Errorf("a function as state machine: err = %v", err)
	}
	if _, err := DefinitionFromTemplate(path, "Missing"); err == nil || !strings.Contains(err.Error(), "no resource Missing") {
		t.Errorf("a missing state machine: err = %v", err)
	}
}

func TestLocalDefinitionSetsTaskTimeouts(t *testing.T) {
	in := `{"StartAt":"M","States":{
		"M":{"Type":"Map","ItemProcessor":{"StartAt":"Inner","States":{"Inner":{"Type":"Task","Resource":"r","End":true}}},"Next":"P"},
		"P":{"Type":"Parallel","Branches":[{"StartAt":"B","States":{"B":{"Type":"Task","Resource":"r","TimeoutSeconds":5,"End":true}}}],"Next":"T"},
		"T":{"Type":"Task","Resource":"r","TimeoutSecondsPath":"$.t","Next":"U"},
		"U":{"Type":"Task","Resource":"r","End":true}}}`
	out, err := localDefinition([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	timeouts := map[string]any{}
	visitStates(doc["States"].(map[string]any), func(name string, state map[string]any) {
		if state["Type"] == "Task" {
			timeouts[name] = state["TimeoutSeconds"]
		}
	})
	want := map[string]any{"Inner": float64(maxLocalTaskTimeoutSeconds), "B": float64(5), "T": nil, "U": float64(maxLocalTaskTimeoutSeconds)}
	for name, w := range want {
		if timeouts[name] != w {
			t.Errorf("%s TimeoutSeconds = %v, want %v", name, timeouts[name], w)
		}
	}
	if _, err := localDefinition([]byte(`[]`)); err == nil {
		t.Error("a definition that is not an object was accepted")
	}
}

// TestASLValidator runs the pinned asl-validator on the template's
// definition and on broken copies of it.
func TestASLValidator(t *testing.T) {
	root := repoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := dynamolocal.EnsureTooling(ctx, root); err != nil {
		t.Fatal(err)
	}
	validator := filepath.Join(root, "local", "node_modules", ".bin", "asl-validator")
	def := templateDefinition(t)

	breakIt := func(edit func(states map[string]any)) []byte {
		var doc map[string]any
		if err := json.Unmarshal(def, &doc); err != nil {
			t.Fatal(err)
		}
		edit(doc["States"].(map[string]any))
		out, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// inner descends through nested Maps' processors to their states.
	inner := func(states map[string]any, mapStates ...string) map[string]any {
		for _, m := range mapStates {
			states = states[m].(map[string]any)["ItemProcessor"].(map[string]any)["States"].(map[string]any)
		}
		return states
	}
	tests := []struct {
		name       string
		definition []byte
		valid      bool
		wantOutput string
	}{
		{name: "template definition", definition: def, valid: true, wantOutput: "is valid"},
		{
			name:       "Next to a missing state",
			definition: breakIt(func(s map[string]any) { s["ApplyUsers"].(map[string]any)["Next"] = "Nowhere" }),
			wantOutput: "Nowhere",
		},
		{
			name:       "Task without Resource",
			definition: breakIt(func(s map[string]any) { delete(s["Finalize"].(map[string]any), "Resource") }),
			wantOutput: "Resource",
		},
		{
			name: "Catch to a missing state inside the Map",
			definition: breakIt(func(s map[string]any) {
				task := inner(s, "ApplyUsers", "ApplyUserChunk")["ApplyUserBatch"].(map[string]any)
				task["Catch"].([]any)[0].(map[string]any)["Next"] = "RecordSomething"
			}),
			wantOutput: "RecordSomething",
		},
		{
			name:       "bad JSONPath",
			definition: breakIt(func(s map[string]any) { s["ApplyGroups"].(map[string]any)["ItemsPath"] = "groupChunks" }),
			wantOutput: "ItemsPath",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "definition.json")
			if err := os.WriteFile(path, tt.definition, 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.CommandContext(ctx, validator, "--json-path", path)
			cmd.Dir = filepath.Join(root, "local")
			out, err := cmd.CombinedOutput()
			if tt.valid && err != nil {
				t.Fatalf("asl-validator rejected it: %v\n%s", err, out)
			}
			if !tt.valid {
				var exitErr *exec.ExitError
				if !errors.As(err, &exitErr) || exitErr.ExitCode() == 0 {
					t.Fatalf("asl-validator accepted a broken definition (err %v):\n%s", err, out)
				}
			}
			if !strings.Contains(string(out), tt.wantOutput) {
				t.Errorf("output does not mention %q:\n%s", tt.wantOutput, out)
			}
		})
	}
}

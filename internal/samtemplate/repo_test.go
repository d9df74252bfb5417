package samtemplate

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// These tests hold template.yaml to the repository: every function builds
// from its own main package through the Makefile, every route is in the
// OpenAPI description, and every policy names only what its function uses.

const root = "../.."

func repoTemplate(t *testing.T) *Template {
	t.Helper()
	tpl, err := Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func TestEveryFunctionHasItsMainAndBuildTarget(t *testing.T) {
	tpl := repoTemplate(t)
	dirs, _ := filepath.Glob(filepath.Join(root, "functions", "*", "main.go"))
	onDisk := map[string]bool{}
	for _, d := range dirs {
		onDisk[filepath.Base(filepath.Dir(d))] = true
	}
	for _, f := range tpl.Functions() {
		main := filepath.Join(root, "functions", f.Dir, "main.go")
		raw, err := os.ReadFile(main)
		if err != nil {
			t.Errorf("%s: no %s", f.LogicalID, main)
			continue
		}
		if !strings.Contains(string(raw), "package main") || !strings.Contains(string(raw), "lambda.Start(") {
			t.Errorf("%s: %s is not a Lambda main package", f.LogicalID, main)
		}
		delete(onDisk, f.Dir)
		out, err := exec.Command("make", "-s", "-n", "-C", root, "build-"+f.LogicalID, "ARTIFACTS_DIR=/tmp/artifacts").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "./functions/"+f.Dir) || !strings.Contains(string(out), "GOARCH=arm64") {
			t.Errorf("%s: make build-%s does not build ./functions/%s for arm64: %s %v", f.LogicalID, f.LogicalID, f.Dir, out, err)
		}
	}
	for d := range onDisk {
		t.Errorf("functions/%s is not declared in template.yaml", d)
	}
}

func TestEveryRouteIsInTheOpenAPIDescription(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root, "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	inSpec := map[string]bool{}
	for path, ops := range spec.Paths {
		for method := range ops {
			if method != "parameters" {
				inSpec[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	declared := map[string]bool{}
	for _, r := range repoTemplate(t).Routes() {
		declared[r.Pattern()] = true
		if !inSpec[r.Pattern()] {
			t.Errorf("route %s (%s) is not in docs/openapi.yaml", r.Pattern(), r.Function)
		}
	}
	for r := range inSpec {
		if !declared[r] {
			t.Errorf("docs/openapi.yaml describes %s, which template.yaml does not route", r)
		}
	}
}

// refs lists the logical ids a value refers to (Ref and GetAtt), sorted.
func refs(v any) []string {
	set := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				switch k {
				case "Ref":
					if s, ok := val.(string); ok && !strings.HasPrefix(s, "AWS::") {
						set[s] = true
					}
				case "Fn::GetAtt":
					if l, ok := val.([]any); ok && len(l) > 0 {
						set[l[0].(string)] = true
					}
				case "Fn::Sub":
					if s, ok := val.(string); ok {
						for _, part := range strings.Split(s, "${")[1:] {
							name := strings.SplitN(strings.SplitN(part, "}", 2)[0], ".", 2)[0]
							if !strings.HasPrefix(name, "AWS::") {
								set[name] = true
							}
						}
					}
				}
				walk(val)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestPoliciesAreScopedToWhatEachFunctionUses(t *testing.T) {
	// What each function may touch: the resources its code uses.
	want := map[string][]string{
		"ConnectionFunction":    {"SecretPrefix", "SyncTable"},
		"PreviewFunction":       {"PreviewWorkerFunction", "SyncTable"},
		"PreviewWorkerFunction": {"DirectoryTable", "SecretPrefix", "SyncTable"},
		"ProgressFunction":      {"SyncTable"},
		"DirectoryFunction":     {"DirectoryTable"},
		"ConfirmFunction":       {"ApplyStateMachine", "SyncTable"},
		"ApplyFunction":         {"DirectoryTable", "SyncTable"},
		"FinalizeFunction":      {"SyncTable"},
	}
	tpl := repoTemplate(t)
	for _, f := range tpl.OfType("AWS::Serverless::Function") {
		expected, ok := want[f.LogicalID]
		if !ok {
			t.Errorf("%s: no expected policy scope written down for it here", f.LogicalID)
			continue
		}
		got := refs(f.Properties["Policies"])
		if !reflect.DeepEqual(got, expected) {
			t.Errorf("%s policies refer to %v, want exactly %v", f.LogicalID, got, expected)
		}
		policies, _ := f.Properties["Policies"].([]any)
		for _, p := range policies {
			if s, ok := p.(string); ok {
				t.Errorf("%s: managed policy %q is broader than the function needs", f.LogicalID, s)
			}
		}
	}
	if got := tpl.Resources["ProgressFunction"].Properties["Policies"]; !strings.Contains(strings.Join(actions(got), ","), "dynamodb:GetItem") || len(actions(got)) != 1 {
		t.Errorf("ProgressFunction may do %v, want only dynamodb:GetItem", actions(got))
	}
}

func actions(v any) []string {
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				if k == "Action" {
					switch a := val.(type) {
					case string:
						out = append(out, a)
					case []any:
						for _, e := range a {
							out = append(out, e.(string))
						}
					}
				}
				walk(val)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

func TestStateMachineInputNamesBatchesOnly(t *testing.T) {
	sm := repoTemplate(t).Resources["ApplyStateMachine"]
	def, _ := sm.Properties["Definition"].(map[string]any)
	states, _ := def["States"].(map[string]any)
	for _, name := range []string{"ApplyUsers", "ApplyGroups"} {
		m, _ := states[name].(map[string]any)
		if Str(m, "Type") != "Map" || !strings.HasSuffix(Str(m, "ItemsPath"), "Batches") {
			t.Errorf("%s is not a Map over batch indexes: %v", name, m)
		}
		if Str(m, "ItemProcessor", "ProcessorConfig", "Mode") != "DISTRIBUTED" {
			t.Errorf("%s is not a DISTRIBUTED Map", name)
		}
		if Str(m, "MaxConcurrencyPath") == "" {
			t.Errorf("%s has no configurable MaxConcurrency", name)
		}
	}
	for _, s := range states {
		sm, _ := s.(map[string]any)
		if r := Str(sm, "Resource"); strings.Contains(r, "arn:aws:states:::lambda:invoke") {
			t.Errorf("a task uses %s; name the Lambda ARN directly so the local runner can run it", r)
		}
	}
	if tr, _ := Get(sm.Properties, "Tracing", "Enabled").(bool); !tr {
		t.Error("X-Ray tracing is off")
	}
	if Str(sm.Properties, "Logging", "Level") == "" {
		t.Error("execution logging is off")
	}
}

package samtemplate

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// These tests hold template.yaml to the repository: every function builds
// from its own main package through the Makefile and every route is in the
// OpenAPI description (iam_test.go holds each role to its function's code).

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
		starts := strings.Contains(string(raw), "lambda.Start(") || strings.Contains(string(raw), "httpapp.Start(")
		if !strings.Contains(string(raw), "package main") || !starts {
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

func TestStateMachineInputNamesBatchesOnly(t *testing.T) {
	sm := repoTemplate(t).Resources["ApplyStateMachine"]
	def, _ := sm.Properties["Definition"].(map[string]any)
	states, _ := def["States"].(map[string]any)
	for _, name := range []string{"ApplyUsers", "ApplyGroups"} {
		m, _ := states[name].(map[string]any)
		// Batch indexes, or ranges of them (chunks): never user data.
		if items := Str(m, "ItemsPath"); Str(m, "Type") != "Map" || !(strings.HasSuffix(items, "Batches") || strings.HasSuffix(items, "Chunks")) {
			t.Errorf("%s is not a Map over batch indexes: ItemsPath %q", name, Str(m, "ItemsPath"))
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

// A function links only what it uses: msgraph-sdk-go (minutes of compile
// time, tens of MB) only in the two Graph-facing functions, the plan
// engine only in the preview worker, the Secrets Manager client only where
// secrets are read or written, the HTTP handler only in the API's
// functions.
func TestFunctionsLinkOnlyWhatTheyUse(t *testing.T) {
	const (
		graph   = "github.com/microsoftgraph/msgraph-sdk-go"
		secrets = "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
		plan    = "dirsync/internal/plan"
		http    = "dirsync/internal/httpapi"
		preview = "dirsync/internal/preview"
		apply   = "dirsync/internal/apply"
		events  = "github.com/aws/aws-sdk-go-v2/service/eventbridge"
	)
	// Only the worker and finalize publish lifecycle events.
	forbidden := map[string][]string{
		"apply":         {graph, secrets, plan, http, preview, events},
		"confirm":       {graph, secrets, plan, preview, events},
		"connection":    {plan, preview, apply, events},
		"directory":     {graph, secrets, plan, preview, apply, events},
		"finalize":      {graph, secrets, plan, http},
		"preview":       {graph, secrets, plan, apply, events},
		"previewworker": {http, apply},
		"progress":      {graph, secrets, plan, preview, apply, events},
	}
	for fn, pkgs := range forbidden {
		cmd := exec.Command("go", "list", "-deps", "./functions/"+fn)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps ./functions/%s: %v\n%s", fn, err, out)
		}
		deps := strings.Fields(string(out))
		for _, p := range pkgs {
			for _, d := range deps {
				if d == p || strings.HasPrefix(d, p+"/") {
					t.Errorf("functions/%s links %s", fn, d)
					break
				}
			}
		}
	}
}

// Every main is a few lines: building a role belongs to its constructor
// (which refuses a missing dependency) and the wiring in internal/app.
func TestMainsAreThin(t *testing.T) {
	mains, _ := filepath.Glob(filepath.Join(root, "functions", "*", "main.go"))
	if len(mains) == 0 {
		t.Fatal("no functions/*/main.go")
	}
	for _, m := range mains {
		raw, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(raw), "\n"); n > 20 {
			t.Errorf("%s has %d lines, want at most 20", m, n)
		}
	}
}

package samtemplate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// The CloudFormation that `sam deploy` has CloudFormation create from
// template.yaml (Transform, run with the parameters samconfig.toml deploys
// with) and read with fake physical names (Deployed's evaluator).

const account = DefaultAccountID

// pythonTool fails the test, with the command that installs it, when a
// python3 package is missing. CI has them; a developer's machine must too
// (README.md), so the test never skips.
func pythonTool(t *testing.T, module, pip string) {
	t.Helper()
	if out, err := exec.Command("python3", "-c", "import "+module).CombinedOutput(); err != nil {
		t.Fatalf("python3 module %s is missing (%v: %s): pip install %s", module, err, bytes.TrimSpace(out), pip)
	}
}

// samconfig is what samconfig.toml tells sam deploy.
type samconfig struct {
	StackName  string
	Region     string
	Overrides  map[string]string // parameter_overrides
	Build      map[string]any
	Deploy     map[string]any
	Global     map[string]any
	rawDeploys string
}

var (
	samconfigOnce sync.Once
	samconfigVal  *samconfig
	samconfigErr  error
)

func loadSamconfig(t *testing.T) *samconfig {
	t.Helper()
	samconfigOnce.Do(func() {
		// tomllib (python3 >= 3.11) reads TOML exactly as sam does.
		out, err := exec.Command("python3", "-c",
			"import json,sys,tomllib; json.dump(tomllib.load(open(sys.argv[1],'rb')), sys.stdout)",
			filepath.Join(root, "samconfig.toml")).CombinedOutput()
		if err != nil {
			samconfigErr = fmt.Errorf("read samconfig.toml: %v: %s", err, out)
			return
		}
		var doc map[string]any
		if err := json.Unmarshal(out, &doc); err != nil {
			samconfigErr = fmt.Errorf("samconfig.toml: %v", err)
			return
		}
		env, _ := doc["default"].(map[string]any)
		section := func(cmd string) map[string]any {
			m, _ := Get(env, cmd, "parameters").(map[string]any)
			return m
		}
		c := &samconfig{Global: section("global"), Build: section("build"), Deploy: section("deploy")}
		param := func(key string) string {
			for _, m := range []map[string]any{c.Deploy, c.Global} {
				if s, ok := m[key].(string); ok {
					return s
				}
			}
			return ""
		}
		c.StackName, c.Region = param("stack_name"), param("region")
		c.rawDeploys = param("parameter_overrides")
		c.Overrides, samconfigErr = parseOverrides(c.rawDeploys)
		samconfigVal = c
	})
	if samconfigErr != nil {
		t.Fatal(samconfigErr)
	}
	return samconfigVal
}

var overrideRE = regexp.MustCompile(`^([A-Za-z0-9]+)=(?:"([^"]*)"|(\S*))\s*`)

// parseOverrides reads sam's "Key=Value Key2=\"a b\"" form.
func parseOverrides(s string) (map[string]string, error) {
	out := map[string]string{}
	s = strings.TrimSpace(s)
	for s != "" {
		m := overrideRE.FindStringSubmatch(s)
		if m == nil {
			return nil, fmt.Errorf("samconfig.toml parameter_overrides: cannot read %q", s)
		}
		out[m[1]] = m[2] + m[3]
		s = s[len(m[0]):]
	}
	return out, nil
}

// stack is the transformed template with the values it deploys with, and
// the tests' helpers over its evaluator.
type stack struct{ *Deployed }

var (
	deployedOnce sync.Once
	deployedVal  *stack
	deployedErr  error
)

// deployed transforms template.yaml as sam deploy does, once per run.
func deployed(t *testing.T) *stack {
	t.Helper()
	pythonTool(t, "samtranslator", "aws-sam-translator")
	cfg := loadSamconfig(t)
	deployedOnce.Do(func() {
		d, err := Transform(context.Background(), filepath.Join(root, "template.yaml"), TransformOptions{
			Parameters: cfg.Overrides, Region: cfg.Region, AccountID: account, StackName: cfg.StackName,
		})
		deployedVal, deployedErr = &stack{d}, err
	})
	if deployedErr != nil {
		t.Fatal(deployedErr)
	}
	return deployedVal
}

// props returns a resource's evaluated properties.
func (s *stack) props(t *testing.T, id string) map[string]any {
	t.Helper()
	p, err := s.Props(id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// statement is one IAM policy statement with its values resolved.
type statement = Statement

func strList(v any) []string { return StrList(v) }

func asList(v any) []any { return AsList(v) }

// roleStatements returns every statement the role of a resource grants:
// its inline policies and the managed policies it attaches.
func (s *stack) roleStatements(t *testing.T, roleArn any) []statement {
	t.Helper()
	arn, err := s.Str(roleArn)
	if err != nil {
		t.Fatal(err)
	}
	roleID, err := s.RoleByARN(arn)
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.RoleStatements(roleID)
	if err != nil {
		// A managed policy outside the table: these tests cannot know
		// what it grants.
		t.Errorf("%s: %v", roleID, err)
	}
	for _, st := range out {
		if st.Condition != nil {
			t.Errorf("%s %s: conditions are not modelled by these tests", roleID, st.Source)
		}
		if st.NotActions != nil {
			t.Errorf("%s %s: NotAction is not modelled by these tests", roleID, st.Source)
		}
	}
	return out
}

// hole stands for an untraceable part of a requested resource; only a
// policy's * covers it.
const hole = "\x00"

// globMatch matches IAM wildcards (* any run, ? one character) against s,
// where a hole in s is matched by * only.
func globMatch(pattern, s string, fold bool) bool {
	if fold {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	var match func(p, s string) bool
	match = func(p, s string) bool {
		for p != "" {
			switch p[0] {
			case '*':
				for i := 0; i <= len(s); i++ {
					if match(p[1:], s[i:]) {
						return true
					}
				}
				return false
			case '?':
				if s == "" || s[0] == hole[0] {
					return false
				}
			default:
				if s == "" || s[0] != p[0] {
					return false
				}
			}
			p, s = p[1:], s[1:]
		}
		return s == ""
	}
	return match(pattern, s)
}

// allows reports whether statements allow action on resource, and which
// statements do.
func allows(sts []statement, action, resource string) []statement {
	var by []statement
	for _, st := range sts {
		if st.Effect != "Allow" {
			continue
		}
		for _, a := range st.Actions {
			if !globMatch(a, action, true) {
				continue
			}
			for _, r := range st.Resources {
				if globMatch(r, resource, false) {
					by = append(by, st)
				}
			}
		}
	}
	return by
}

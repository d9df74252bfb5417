package samtemplate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The CloudFormation that `sam deploy` has CloudFormation create from
// template.yaml: the real AWS::Serverless transform (aws-sam-translator),
// run by testdata/sam_transform.py with the parameters samconfig.toml
// deploys with, and a small evaluator of the intrinsic functions the tests
// need to read it (Ref, GetAtt, Sub, Join, If, Select, Split and
// conditions) with fake physical names.

const account = "123456789012"

// managedPolicyARNs is the managed-policy loader's map (name -> ARN) for
// policies a template names in Policies; SAM adds AWSLambdaBasicExecutionRole
// and AWSXrayWriteOnlyAccess by ARN itself.
var managedPolicyARNs = map[string]string{
	"AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
	"AWSXrayWriteOnlyAccess":      "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
	"CloudWatchLogsFullAccess":    "arn:aws:iam::aws:policy/CloudWatchLogsFullAccess",
}

// managedStatements are the statements of the AWS managed policies the
// roles may attach (as AWS publishes them); a role attaching any other
// fails the IAM tests, which cannot know what it grants.
var managedStatements = map[string][]statement{
	"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": {
		{Effect: "Allow", Actions: []string{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}, Resources: []string{"*"}},
	},
	"arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": {
		{Effect: "Allow", Actions: []string{"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
			"xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"}, Resources: []string{"*"}},
	},
	"arn:aws:iam::aws:policy/CloudWatchLogsFullAccess": {
		{Effect: "Allow", Actions: []string{"logs:*", "cloudwatch:GenerateQuery", "cloudwatch:GenerateQueryResultsSummary"}, Resources: []string{"*"}},
	},
}

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

// stack is the transformed template with the values it deploys with.
type stack struct {
	Resources  map[string]cfnResource
	Conditions map[string]any
	Parameters map[string]map[string]any
	params     map[string]any // value of each parameter: string or []string
	stackName  string
	region     string
}

type cfnResource struct {
	Type                string         `json:"Type"`
	Properties          map[string]any `json:"Properties"`
	DeletionPolicy      string         `json:"DeletionPolicy"`
	UpdateReplacePolicy string         `json:"UpdateReplacePolicy"`
	Condition           string         `json:"Condition"`
}

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
	deployedOnce.Do(func() { deployedVal, deployedErr = transform(cfg) })
	if deployedErr != nil {
		t.Fatal(deployedErr)
	}
	return deployedVal
}

func transform(cfg *samconfig) (*stack, error) {
	src, err := Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		return nil, err
	}
	values := map[string]any{}
	params := map[string]any{}
	for name, p := range src.Parameters {
		v, ok := cfg.Overrides[name]
		if !ok {
			def, has := p["Default"]
			if !has {
				return nil, fmt.Errorf("parameter %s has no Default and samconfig.toml's parameter_overrides does not set it: sam deploy would ask for it", name)
			}
			v = fmt.Sprint(def)
		}
		values[name] = v
		if Str(p, "Type") == "CommaDelimitedList" {
			params[name] = strings.Split(v, ",")
		} else {
			params[name] = v
		}
	}
	rawValues, _ := json.Marshal(values)
	rawPolicies, _ := json.Marshal(managedPolicyARNs)
	cmd := exec.Command("python3", filepath.Join("testdata", "sam_transform.py"), filepath.Join(root, "template.yaml"), string(rawValues), string(rawPolicies))
	cmd.Env = append(os.Environ(), "AWS_DEFAULT_REGION="+cfg.Region)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("aws-sam-translator rejects template.yaml: %v\n%s", err, stderr.String())
	}
	s := &stack{params: params, stackName: cfg.StackName, region: cfg.Region, Parameters: src.Parameters}
	if err := json.Unmarshal(out, s); err != nil {
		return nil, fmt.Errorf("transformed template: %v", err)
	}
	return s, nil
}

// OfType returns the logical ids of the resources of one type, sorted.
func (s *stack) OfType(typ string) []string {
	var out []string
	for id, r := range s.Resources {
		if r.Type == typ {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

func (s *stack) arn(service, resource string) string {
	return "arn:aws:" + service + ":" + s.region + ":" + account + ":" + resource
}

// name is a resource's physical name: its name property, else one
// generated as CloudFormation does (<stack>-<logical id>-<suffix>).
func (s *stack) name(id string) (string, error) {
	r, ok := s.Resources[id]
	if !ok {
		return "", fmt.Errorf("no resource %s", id)
	}
	prop := map[string]string{
		"AWS::Lambda::Function":            "FunctionName",
		"AWS::DynamoDB::Table":             "TableName",
		"AWS::Logs::LogGroup":              "LogGroupName",
		"AWS::StepFunctions::StateMachine": "StateMachineName",
		"AWS::Events::Rule":                "Name",
		"AWS::IAM::Role":                   "RoleName",
		"AWS::CloudWatch::Alarm":           "AlarmName",
	}[r.Type]
	if v, ok := r.Properties[prop]; ok && prop != "" {
		return s.str(v)
	}
	return s.stackName + "-" + id + "-1A2B3C4D5E6F", nil
}

func (s *stack) ref(name string) (any, error) {
	switch name {
	case "AWS::Region":
		return s.region, nil
	case "AWS::AccountId":
		return account, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	case "AWS::StackName":
		return s.stackName, nil
	case "AWS::NoValue":
		return noValue{}, nil
	}
	if v, ok := s.params[name]; ok {
		return v, nil
	}
	r, ok := s.Resources[name]
	if !ok {
		return nil, fmt.Errorf("Ref %s: no such parameter or resource", name)
	}
	n, err := s.name(name)
	if err != nil {
		return nil, err
	}
	switch r.Type {
	case "AWS::StepFunctions::StateMachine":
		return s.arn("states", "stateMachine:"+n), nil
	case "AWS::SNS::Topic":
		return s.arn("sns", n), nil
	}
	return n, nil
}

func (s *stack) getAtt(id, attr string) (any, error) {
	r, ok := s.Resources[id]
	if !ok {
		return nil, fmt.Errorf("GetAtt %s.%s: no such resource", id, attr)
	}
	n, err := s.name(id)
	if err != nil {
		return nil, err
	}
	switch r.Type + "." + attr {
	case "AWS::Lambda::Function.Arn":
		return s.arn("lambda", "function:"+n), nil
	case "AWS::DynamoDB::Table.Arn":
		return s.arn("dynamodb", "table/"+n), nil
	case "AWS::Logs::LogGroup.Arn":
		return s.arn("logs", "log-group:"+n+":*"), nil
	case "AWS::StepFunctions::StateMachine.Arn":
		return s.arn("states", "stateMachine:"+n), nil
	case "AWS::StepFunctions::StateMachine.Name":
		return n, nil
	case "AWS::IAM::Role.Arn":
		return "arn:aws:iam::" + account + ":role/" + n, nil
	case "AWS::Events::Rule.Arn":
		return s.arn("events", "rule/"+n), nil
	}
	return nil, fmt.Errorf("GetAtt %s.%s (%s) is not modelled here", id, attr, r.Type)
}

type noValue struct{}

var subVar = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

// eval resolves the intrinsic functions in v.
func (s *stack) eval(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				switch k {
				case "Ref":
					return s.ref(arg.(string))
				case "Fn::GetAtt":
					parts, ok := arg.([]any)
					if !ok {
						parts = []any{}
						for _, p := range strings.SplitN(arg.(string), ".", 2) {
							parts = append(parts, p)
						}
					}
					return s.getAtt(parts[0].(string), parts[1].(string))
				case "Fn::Sub":
					return s.sub(arg)
				case "Fn::Join":
					args := arg.([]any)
					list, err := s.eval(args[1])
					if err != nil {
						return nil, err
					}
					var parts []string
					for _, e := range asList(list) {
						str, err := s.str(e)
						if err != nil {
							return nil, err
						}
						parts = append(parts, str)
					}
					return strings.Join(parts, args[0].(string)), nil
				case "Fn::If":
					args := arg.([]any)
					ok, err := s.condition(args[0].(string))
					if err != nil {
						return nil, err
					}
					if ok {
						return s.eval(args[1])
					}
					return s.eval(args[2])
				case "Fn::Select":
					args := arg.([]any)
					list, err := s.eval(args[1])
					if err != nil {
						return nil, err
					}
					var i int
					fmt.Sscan(fmt.Sprint(args[0]), &i)
					return asList(list)[i], nil
				case "Fn::Split":
					args := arg.([]any)
					str, err := s.str(args[1])
					if err != nil {
						return nil, err
					}
					var out []any
					for _, p := range strings.Split(str, args[0].(string)) {
						out = append(out, p)
					}
					return out, nil
				}
			}
		}
		out := map[string]any{}
		for k, e := range x {
			ev, err := s.eval(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if _, skip := ev.(noValue); !skip {
				out[k] = ev
			}
		}
		return out, nil
	case []any:
		var out []any
		for i, e := range x {
			ev, err := s.eval(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			if _, skip := ev.(noValue); !skip {
				out = append(out, ev)
			}
		}
		return out, nil
	case []string:
		var out []any
		for _, e := range x {
			out = append(out, e)
		}
		return out, nil
	}
	return v, nil
}

func asList(v any) []any {
	switch l := v.(type) {
	case nil:
		return nil
	case []any:
		return l
	case []string:
		out := make([]any, len(l))
		for i, e := range l {
			out[i] = e
		}
		return out
	}
	return []any{v}
}

func (s *stack) sub(arg any) (any, error) {
	text, vars := "", map[string]any{}
	switch a := arg.(type) {
	case string:
		text = a
	case []any:
		text = a[0].(string)
		vars, _ = a[1].(map[string]any)
	}
	var err error
	out := subVar.ReplaceAllStringFunc(text, func(m string) string {
		name := m[2 : len(m)-1]
		var v any
		var e error
		if raw, ok := vars[name]; ok {
			v, e = s.eval(raw)
		} else if id, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
			v, e = s.getAtt(id, attr)
		} else {
			v, e = s.ref(name)
		}
		if e == nil {
			var str string
			str, e = s.str(v)
			if e == nil {
				return str
			}
		}
		err = e
		return m
	})
	if err != nil {
		return nil, fmt.Errorf("Fn::Sub %q: %w", text, err)
	}
	return strings.ReplaceAll(out, "${!", "${"), nil
}

// str evaluates v to a string.
func (s *stack) str(v any) (string, error) {
	ev, err := s.eval(v)
	if err != nil {
		return "", err
	}
	switch e := ev.(type) {
	case string:
		return e, nil
	case float64, int, bool:
		return fmt.Sprint(e), nil
	}
	return "", fmt.Errorf("%v is not a string", ev)
}

func (s *stack) condition(name string) (bool, error) {
	c, ok := s.Conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition %s", name)
	}
	return s.cond(c)
}

func (s *stack) cond(c any) (bool, error) {
	m, ok := c.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("condition %v", c)
	}
	for k, arg := range m {
		args, _ := arg.([]any)
		switch k {
		case "Condition":
			return s.condition(arg.(string))
		case "Fn::Equals":
			a, err := s.eval(args[0])
			if err != nil {
				return false, err
			}
			b, err := s.eval(args[1])
			if err != nil {
				return false, err
			}
			return fmt.Sprint(a) == fmt.Sprint(b), nil
		case "Fn::Not":
			v, err := s.cond(args[0])
			return !v, err
		case "Fn::And", "Fn::Or":
			and := k == "Fn::And"
			for _, a := range args {
				v, err := s.cond(a)
				if err != nil {
					return false, err
				}
				if v != and {
					return v, nil
				}
			}
			return and, nil
		}
	}
	return false, fmt.Errorf("condition %v", c)
}

// props returns a resource's evaluated properties.
func (s *stack) props(t *testing.T, id string) map[string]any {
	t.Helper()
	r, ok := s.Resources[id]
	if !ok {
		t.Fatalf("the transformed template has no resource %s", id)
	}
	v, err := s.eval(r.Properties)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	m, _ := v.(map[string]any)
	return m
}

// statement is one IAM policy statement with its values resolved.
type statement struct {
	Effect    string
	Actions   []string
	Resources []string
	Source    string // policy name or managed policy ARN
	Managed   bool
}

func strList(v any) []string {
	var out []string
	for _, e := range asList(v) {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

// roleStatements returns every statement the role of a resource grants:
// its inline policies and the managed policies it attaches.
func (s *stack) roleStatements(t *testing.T, roleArn any) []statement {
	t.Helper()
	arn, err := s.str(roleArn)
	if err != nil {
		t.Fatal(err)
	}
	var roleID string
	for _, id := range s.OfType("AWS::IAM::Role") {
		if a, _ := s.getAtt(id, "Arn"); a == arn {
			roleID = id
		}
	}
	if roleID == "" {
		t.Fatalf("role %s is not declared in the stack", arn)
	}
	props := s.props(t, roleID)
	var out []statement
	for _, p := range asList(props["Policies"]) {
		pm, _ := p.(map[string]any)
		doc, _ := pm["PolicyDocument"].(map[string]any)
		for _, st := range asList(doc["Statement"]) {
			sm, _ := st.(map[string]any)
			if _, ok := sm["Condition"]; ok {
				t.Errorf("%s %v: conditions are not modelled by these tests", roleID, pm["PolicyName"])
			}
			if _, ok := sm["NotAction"]; ok {
				t.Errorf("%s %v: NotAction is not modelled by these tests", roleID, pm["PolicyName"])
			}
			out = append(out, statement{Effect: fmt.Sprint(sm["Effect"]), Actions: strList(sm["Action"]),
				Resources: strList(sm["Resource"]), Source: fmt.Sprint(pm["PolicyName"])})
		}
	}
	for _, m := range strList(props["ManagedPolicyArns"]) {
		sts, ok := managedStatements[m]
		if !ok {
			t.Errorf("%s attaches %s, whose statements these tests do not know", roleID, m)
		}
		for _, st := range sts {
			st.Source, st.Managed = m, true
			out = append(out, st)
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

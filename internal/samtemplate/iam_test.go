package samtemplate

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"dirsync/internal/samtemplate/awscalls"
)

// The roles template.yaml gives the functions, as CloudFormation creates
// them (SAM policy templates expanded), held to the AWS calls each
// function's code can make, as awscalls derives them from functions/<dir>:
// every call its code can reach must be allowed on the resource it names,
// and every grant must serve such a call (or Lambda itself, for the worker's
// OnFailure destination).

var (
	codeOnce  sync.Once
	codeCalls map[string]*awscalls.Function
	codeErr   error
)

// functionCalls analyses every functions/<dir> once, each API function
// with the routes template.yaml gives it.
func functionCalls(t *testing.T) map[string]*awscalls.Function {
	t.Helper()
	codeOnce.Do(func() {
		routes := map[string][]string{}
		for _, f := range repoTemplate(t).Functions() {
			for _, r := range f.Routes {
				pkg := "dirsync/functions/" + f.Dir
				routes[pkg] = append(routes[pkg], r.Pattern())
			}
		}
		codeCalls, codeErr = awscalls.Analyze(root, routes, "./functions/...")
	})
	if codeErr != nil {
		t.Fatal(codeErr)
	}
	return codeCalls
}

// requestARN is the ARN IAM authorizes for a resource named in a request.
func (s *stack) requestARN(service, value string) string {
	if strings.HasPrefix(value, "arn:") {
		return value
	}
	switch service {
	case "dynamodb":
		return s.ARN("dynamodb", "table/"+value)
	case "lambda":
		return s.ARN("lambda", "function:"+value)
	case "eventbridge":
		return s.ARN("events", "event-bus/"+value)
	case "secretsmanager":
		// Secrets Manager appends a random "-XXXXXX" to a secret's ARN.
		return s.ARN("secretsmanager", "secret:"+value+"-"+hole)
	}
	return value
}

// environment is a function's environment as deployed.
func (s *stack) environment(t *testing.T, id string) map[string]string {
	t.Helper()
	env := map[string]string{}
	vars, _ := Get(s.props(t, id), "Environment", "Variables").(map[string]any)
	for k, v := range vars {
		str, err := s.Str(v)
		if err != nil {
			t.Fatalf("%s %s: %v", id, k, err)
		}
		env[k] = str
	}
	return env
}

// need is one action on one resource a function's code needs.
type need struct {
	action, arn string
	call        awscalls.Call
}

func (s *stack) needs(t *testing.T, id string, f *awscalls.Function) []need {
	t.Helper()
	env := s.environment(t, id)
	var out []need
	var starts []string
	for _, c := range f.Calls {
		if c.Operation == "StartExecution" {
			if arn, ok := c.Resource.Resolve(env, hole); ok {
				starts = append(starts, arn)
			}
		}
	}
	for _, c := range f.Calls {
		value, ok := c.Resource.Resolve(env, hole)
		if !ok {
			t.Errorf("%s: its code calls %s on a resource named by %v, which template.yaml does not set (%s)", id, c.Action, c.Resource.Envs(), strings.Join(c.Sites, ", "))
			continue
		}
		// Execution ARNs are derived from the state machine's ARN
		// (sfnexec) or read back from the sync the same function stored,
		// which no static trace follows: they are executions of the state
		// machines this function's code starts.
		if c.Service == "sfn" && c.Resource.AllHole() && len(starts) > 0 {
			for _, sm := range starts {
				out = append(out, need{c.Action, strings.Replace(sm, ":stateMachine:", ":execution:", 1) + ":" + hole, c})
			}
			continue
		}
		out = append(out, need{c.Action, s.requestARN(c.Service, value), c})
	}
	// Two traced values (an env var and its default) may name one ARN.
	seen := map[string]bool{}
	var uniq []need
	for _, n := range out {
		if k := n.action + " " + n.arn; !seen[k] {
			seen[k] = true
			uniq = append(uniq, n)
		}
	}
	return uniq
}

// destinations are the functions Lambda invokes with a function's role for
// its asynchronous invocations' outcomes (EventInvokeConfig).
func (s *stack) destinations(t *testing.T, id string) []string {
	t.Helper()
	name, _ := s.Name(id)
	var out []string
	for _, cfg := range s.OfType("AWS::Lambda::EventInvokeConfig") {
		p := s.props(t, cfg)
		if p["FunctionName"] != name {
			continue
		}
		for _, k := range []string{"OnFailure", "OnSuccess"} {
			if Str(p, "DestinationConfig", k, "Destination") != "" {
				out = append(out, Str(p, "DestinationConfig", k, "Destination"))
			}
		}
	}
	return out
}

func TestFunctionRolesAllowExactlyWhatTheirCodeCalls(t *testing.T) {
	s := deployed(t)
	code := functionCalls(t)
	for _, f := range repoTemplate(t).Functions() {
		t.Run(f.LogicalID, func(t *testing.T) {
			fc := code["dirsync/functions/"+f.Dir]
			if fc == nil {
				t.Fatalf("no analysis of functions/%s", f.Dir)
			}
			props := s.props(t, f.LogicalID)
			sts := s.roleStatements(t, props["Role"])
			needs := s.needs(t, f.LogicalID, fc)
			t.Logf("reachable module functions %d; actions %v", fc.Reachable, fc.Actions())
			t.Logf("by class hierarchy alone %v; with every registered route %v (left out: %v)", fc.CHAActions, fc.AllRoutes, fc.PrunedRoutes)
			if len(fc.Unresolved) > 0 {
				t.Logf("%d callbacks from outside the module resolved by signature or interface", len(fc.Unresolved))
			}
			for _, n := range needs {
				t.Logf("needs %s on %s", n.action, strings.ReplaceAll(n.arn, hole, "*"))
				if len(allows(sts, n.action, n.arn)) == 0 {
					t.Errorf("its code calls %s on %s (%s, %s) but its role does not allow it", n.action,
						strings.ReplaceAll(n.arn, hole, "*"), n.call.Resource, strings.Join(n.call.Sites, ", "))
				}
			}
			runtime := map[string]bool{}
			for _, d := range s.destinations(t, f.LogicalID) {
				runtime["lambda:InvokeFunction "+d] = true
			}
			for _, st := range sts {
				if st.Managed {
					continue // AWSLambdaBasicExecutionRole, AWSXrayWriteOnlyAccess: Lambda's own logging and tracing
				}
				for _, a := range st.Actions {
					for _, r := range st.Resources {
						if runtime[a+" "+r] {
							continue
						}
						if r == "*" || strings.HasSuffix(a, "*") {
							t.Errorf("%s grants %s on %s: name the actions and resources", st.Source, a, r)
						}
						if !servesNeed(a, r, needs) {
							t.Errorf("%s grants %s on %s, which no call its code can reach needs", st.Source, a, r)
						}
					}
				}
			}
			for d := range runtime {
				action, arn, _ := strings.Cut(d, " ")
				if len(allows(sts, action, arn)) == 0 {
					t.Errorf("Lambda cannot deliver its async outcome: the role does not allow %s", d)
				}
			}
		})
	}
}

// servesNeed reports whether the grant of action on resource covers one of
// needs.
func servesNeed(action, resource string, needs []need) bool {
	for _, n := range needs {
		if globMatch(action, n.action, true) && globMatch(resource, n.arn, false) {
			return true
		}
	}
	return false
}

// definition is the state machine's definition as deployed: the
// DefinitionString with its DefinitionSubstitutions made.
func (s *stack) definition(t *testing.T, id string) map[string]any {
	t.Helper()
	p := s.props(t, id)
	text, _ := p["DefinitionString"].(string)
	if text == "" {
		t.Fatalf("%s has no DefinitionString", id)
	}
	subs, _ := p["DefinitionSubstitutions"].(map[string]any)
	for k, v := range subs {
		text = strings.ReplaceAll(text, "${"+k+"}", fmt.Sprint(v))
	}
	var def map[string]any
	if err := json.Unmarshal([]byte(text), &def); err != nil {
		t.Fatalf("%s definition: %v", id, err)
	}
	return def
}

// taskStates returns every Task state of a definition (Map item
// processors and Parallel branches included), by name.
func taskStates(def map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	var walk func(states map[string]any)
	walk = func(states map[string]any) {
		for name, v := range states {
			st, _ := v.(map[string]any)
			if Str(st, "Type") == "Task" {
				out[name] = st
			}
			for _, k := range []string{"ItemProcessor", "Iterator"} {
				if inner, ok := Get(st, k, "States").(map[string]any); ok {
					walk(inner)
				}
			}
			for _, b := range asList(st["Branches"]) {
				if bm, ok := b.(map[string]any); ok {
					if inner, ok := bm["States"].(map[string]any); ok {
						walk(inner)
					}
				}
			}
		}
	}
	states, _ := def["States"].(map[string]any)
	walk(states)
	return out
}

// logDeliveryActions are what Step Functions needs to deliver execution
// logs to CloudWatch Logs (Step Functions Developer Guide, "IAM policies
// for logging to CloudWatch Logs"); these APIs take no resource ARN.
var logDeliveryActions = []string{
	"logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
	"logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
}

func TestStateMachineRoleAllowsItsTasksAndLogDeliveryOnly(t *testing.T) {
	s := deployed(t)
	for _, id := range s.OfType("AWS::StepFunctions::StateMachine") {
		t.Run(id, func(t *testing.T) {
			p := s.props(t, id)
			sts := s.roleStatements(t, p["RoleArn"])
			needs := map[string]bool{}
			for name, task := range taskStates(s.definition(t, id)) {
				res := Str(task, "Resource")
				if !strings.HasPrefix(res, "arn:aws:lambda:") {
					t.Errorf("task %s: resource %s is not modelled here", name, res)
					continue
				}
				needs["lambda:InvokeFunction "+res] = true
			}
			if Get(p, "LoggingConfiguration", "Destinations") != nil {
				for _, a := range logDeliveryActions {
					needs[a+" *"] = true
				}
			}
			if v, _ := Get(p, "TracingConfiguration", "Enabled").(bool); v {
				needs["xray:PutTraceSegments *"] = true
			}
			for n := range needs {
				action, arn, _ := strings.Cut(n, " ")
				if len(allows(sts, action, arn)) == 0 {
					t.Errorf("the role does not allow %s on %s", action, arn)
				}
			}
			for _, st := range sts {
				if st.Source == managedPolicyARNs["CloudWatchLogsFullAccess"] {
					t.Errorf("the role attaches CloudWatchLogsFullAccess: it may read and delete every log group; grant the log delivery actions only")
				}
				for _, a := range st.Actions {
					if strings.HasPrefix(a, "logs:") && !contains(logDeliveryActions, a) {
						t.Errorf("%s grants %s, which log delivery does not need", st.Source, a)
					}
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

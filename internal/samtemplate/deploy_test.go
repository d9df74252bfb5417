package samtemplate

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"dirsync/internal/config"
)

// These tests read the CloudFormation sam deploy creates (see cfn_test.go)
// and hold it to what operating the service needs.

func TestTablesSurviveStackDeletionAndReplacement(t *testing.T) {
	s := deployed(t)
	tables := s.OfType("AWS::DynamoDB::Table")
	if len(tables) == 0 {
		t.Fatal("no tables")
	}
	for _, id := range tables {
		r := s.Resources[id]
		p := s.props(t, id)
		checks := []struct {
			what string
			got  any
			want any
		}{
			{"DeletionPolicy", r.DeletionPolicy, "Retain"},
			{"UpdateReplacePolicy", r.UpdateReplacePolicy, "Retain"},
			{"DeletionProtectionEnabled", p["DeletionProtectionEnabled"], true},
			{"PointInTimeRecoveryEnabled", Get(p, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled"), true},
		}
		for _, c := range checks {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("%s %s = %v, want %v", id, c.what, c.got, c.want)
			}
		}
	}
}

func TestHttpApiAllowsTheConsoleOrigins(t *testing.T) {
	s := deployed(t)
	src := repoTemplate(t)
	if typ := Str(src.Parameters["CorsAllowedOrigins"], "Type"); typ != "CommaDelimitedList" {
		t.Fatalf("parameter CorsAllowedOrigins has type %q, want CommaDelimitedList", typ)
	}
	apis := s.OfType("AWS::ApiGatewayV2::Api")
	if len(apis) != 1 {
		t.Fatalf("HTTP APIs %v, want one", apis)
	}
	p := s.props(t, apis[0])
	// SAM writes CorsConfiguration into the API's OpenAPI body.
	cors, _ := Get(p, "Body", "x-amazon-apigateway-cors").(map[string]any)
	if cors == nil {
		cors, _ = p["CorsConfiguration"].(map[string]any)
	}
	if cors == nil {
		t.Fatal("the HTTP API has no CORS configuration: a console on its own origin cannot call it")
	}
	methods := map[string]bool{}
	for _, r := range src.Routes() {
		methods[r.Method] = true
	}
	lower := func(v any) []string {
		var out []string
		for _, e := range strList(v) {
			out = append(out, strings.ToLower(e))
		}
		sort.Strings(out)
		return out
	}
	checks := []struct {
		what string
		got  any
		want any
	}{
		{"allowOrigins", strList(cors["allowOrigins"]), s.Values["CorsAllowedOrigins"]},
		{"allowHeaders", lower(cors["allowHeaders"]), []string{"authorization", "content-type"}},
		{"allowMethods", lower(cors["allowMethods"]), lower(sortedKeys(methods))},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("CORS %s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if age, _ := cors["maxAge"].(float64); age <= 0 {
		t.Errorf("CORS maxAge = %v: every request would be preceded by a preflight", cors["maxAge"])
	}
	if cred, _ := cors["allowCredentials"].(bool); cred {
		t.Error("CORS allowCredentials is on: the console sends a bearer token, never cookies")
	}
}

// httpIntegrationTimeout is API Gateway HTTP APIs' integration timeout,
// default and maximum.
const httpIntegrationTimeout = 30 * time.Second

func TestFunctionTimeouts(t *testing.T) {
	s := deployed(t)
	for _, f := range repoTemplate(t).Functions() {
		sec, _ := s.props(t, f.LogicalID)["Timeout"].(float64)
		timeout := time.Duration(sec) * time.Second
		switch {
		case len(f.Routes) > 0:
			// Below the integration's limit, so the function's own timeout
			// (logged, counted as its error) fires before API Gateway's 503.
			if timeout >= httpIntegrationTimeout {
				t.Errorf("%s serves the API with a %v timeout: API Gateway gives up at %v", f.LogicalID, timeout, httpIntegrationTimeout)
			}
		case f.LogicalID == "PreviewWorkerFunction":
			if timeout != 15*time.Minute {
				t.Errorf("%s timeout %v, want Lambda's maximum 15m (a million-user read)", f.LogicalID, timeout)
			}
		case f.LogicalID == "ApplyFunction":
			if timeout != 5*time.Minute {
				t.Errorf("%s timeout %v, want 5m (one batch, checkpointed)", f.LogicalID, timeout)
			}
		}
	}
}

// TestStateMachineRetriesLambdaTimeouts: every Lambda task retries
// Lambda's own timeouts, Sandbox.Timedout (the function hit its timeout)
// and Lambda.ClientExecutionTimeoutException (the invoke did), explicitly
// or through States.ALL / States.TaskFailed.
func TestStateMachineRetriesLambdaTimeouts(t *testing.T) {
	s := deployed(t)
	for _, id := range s.OfType("AWS::StepFunctions::StateMachine") {
		for name, task := range taskStates(s.definition(t, id)) {
			if !strings.Contains(Str(task, "Resource"), ":lambda:") {
				continue
			}
			for _, errName := range []string{"Sandbox.Timedout", "Lambda.ClientExecutionTimeoutException"} {
				if !retried(task, errName) {
					t.Errorf("%s task %s does not retry %s", id, name, errName)
				}
			}
		}
	}
}

func retried(task map[string]any, errName string) bool {
	for _, r := range asList(task["Retry"]) {
		rm, _ := r.(map[string]any)
		if n, ok := rm["MaxAttempts"].(float64); ok && n == 0 {
			continue
		}
		for _, e := range strList(rm["ErrorEquals"]) {
			if e == errName || e == "States.ALL" || e == "States.TaskFailed" {
				return true
			}
		}
	}
	return false
}

func TestPreviewWorkerAsyncInvokeFailsToFinalize(t *testing.T) {
	s := deployed(t)
	worker, _ := s.Name("PreviewWorkerFunction")
	finalize, _ := s.GetAtt("FinalizeFunction", "Arn")
	var cfg map[string]any
	for _, id := range s.OfType("AWS::Lambda::EventInvokeConfig") {
		if p := s.props(t, id); p["FunctionName"] == worker {
			cfg = p
		}
	}
	if cfg == nil {
		t.Fatal("the preview worker has no EventInvokeConfig: Lambda's defaults (2 retries, 6 h) apply")
	}
	lease, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	sec, _ := cfg["MaximumEventAgeInSeconds"].(float64)
	age := time.Duration(sec) * time.Second
	checks := []struct {
		what string
		got  any
		want any
	}{
		{"MaximumRetryAttempts", cfg["MaximumRetryAttempts"], 1.0},
		{"MaximumEventAgeInSeconds", cfg["MaximumEventAgeInSeconds"], 600.0},
		{"OnFailure destination", Str(cfg, "DestinationConfig", "OnFailure", "Destination"), finalize},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("worker EventInvokeConfig %s = %v, want %v", c.what, c.got, c.want)
		}
	}
	// An event older than the lease finds its sync already failed as
	// worker_lost; one kept much longer only delays finalize's record.
	if age <= lease.PreviewLock {
		t.Errorf("MaximumEventAgeInSeconds %v is within PREVIEW_LOCK %v: a retry could not even outlive a lapsed lease", age, lease.PreviewLock)
	}
}

// endedRule is the name of the EventBridge rule on the apply state
// machine's executions.
func endedRule(t *testing.T, s *stack) string {
	t.Helper()
	machine, _ := s.Ref("ApplyStateMachine")
	for _, id := range s.OfType("AWS::Events::Rule") {
		if reflect.DeepEqual(strList(Get(s.props(t, id), "EventPattern", "detail", "stateMachineArn")), []string{machine.(string)}) {
			name, _ := s.Name(id)
			return name
		}
	}
	return "(no rule on the apply state machine)"
}

func TestApplyExecutionEndsReachFinalize(t *testing.T) {
	s := deployed(t)
	machine, _ := s.Ref("ApplyStateMachine")
	finalize, _ := s.GetAtt("FinalizeFunction", "Arn")
	finalizeName, _ := s.Name("FinalizeFunction")
	var rule string
	for _, id := range s.OfType("AWS::Events::Rule") {
		p := s.props(t, id)
		pattern, _ := p["EventPattern"].(map[string]any)
		if !reflect.DeepEqual(strList(Get(pattern, "detail", "stateMachineArn")), []string{machine.(string)}) {
			continue
		}
		rule = id
		checks := []struct {
			what string
			got  any
			want any
		}{
			{"source", strList(pattern["source"]), []string{"aws.states"}},
			{"detail-type", strList(pattern["detail-type"]), []string{"Step Functions Execution Status Change"}},
			{"status", sorted(strList(Get(pattern, "detail", "status"))), []string{"ABORTED", "FAILED", "TIMED_OUT"}},
		}
		for _, c := range checks {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("%s pattern %s = %v, want %v", id, c.what, c.got, c.want)
			}
		}
		var targets []string
		for _, tg := range asList(p["Targets"]) {
			targets = append(targets, Str(tg.(map[string]any), "Arn"))
		}
		if !reflect.DeepEqual(targets, []string{finalize.(string)}) {
			t.Errorf("%s targets %v, want only FinalizeFunction", id, targets)
		}
	}
	if rule == "" {
		t.Fatal("no EventBridge rule on the apply state machine's executions: one that fails outside its Catch (timeout, abort) leaves its sync APPLYING")
	}
	ruleArn, _ := s.GetAtt(rule, "Arn")
	permitted := false
	for _, id := range s.OfType("AWS::Lambda::Permission") {
		p := s.props(t, id)
		if p["Principal"] == "events.amazonaws.com" && p["SourceArn"] == ruleArn && (p["FunctionName"] == finalizeName || p["FunctionName"] == finalize) {
			permitted = true
		}
	}
	if !permitted {
		t.Errorf("EventBridge may not invoke FinalizeFunction for %s", rule)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// logRetentions are the RetentionInDays values CloudWatch Logs accepts, as
// cfn-lint's copy of the AWS::Logs::LogGroup schema lists them.
func logRetentions(t *testing.T) []string {
	t.Helper()
	pythonTool(t, "cfnlint", "cfn-lint")
	out, err := exec.Command("python3", "-c", `
import json
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER as m
s = m.get_resource_schema("us-east-1", "AWS::Logs::LogGroup").schema
print(json.dumps(s["properties"]["RetentionInDays"]["enum"]))`).CombinedOutput()
	if err != nil {
		t.Fatalf("cfn-lint's LogGroup schema: %v: %s", err, out)
	}
	var days []int
	if err := json.Unmarshal(out, &days); err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, d := range days {
		s = append(s, fmt.Sprint(d))
	}
	return s
}

func TestEveryFunctionLogsToItsOwnRetainedLogGroup(t *testing.T) {
	s := deployed(t)
	src := repoTemplate(t)
	retention := src.Parameters["LogRetentionDays"]
	if got := strList(retention["AllowedValues"]); !reflect.DeepEqual(got, logRetentions(t)) {
		t.Errorf("LogRetentionDays AllowedValues = %v, want what CloudWatch Logs accepts: %v", got, logRetentions(t))
	}
	days, _ := s.Str(map[string]any{"Ref": "LogRetentionDays"})
	groups := map[string]string{} // name -> logical id
	for _, id := range s.OfType("AWS::Logs::LogGroup") {
		p := s.props(t, id)
		name, _ := s.Name(id)
		groups[name] = id
		if fmt.Sprint(p["RetentionInDays"]) != days {
			t.Errorf("%s keeps logs %v days, want LogRetentionDays (%s)", id, p["RetentionInDays"], days)
		}
	}
	for _, id := range s.OfType("AWS::Lambda::Function") {
		p := s.props(t, id)
		fn, _ := s.Name(id)
		want := "/aws/lambda/" + fn
		got := Str(p, "LoggingConfig", "LogGroup")
		if got != want {
			t.Errorf("%s logs to %q, want its own group %q", id, got, want)
			continue
		}
		if groups[want] == "" {
			t.Errorf("%s: its log group %s is not declared in the template (Lambda would create it without retention)", id, want)
		}
	}
}

// alarm is one alarm's metric as deployed.
type alarm struct {
	id, namespace, metric, description string
	dims                               map[string]string
	actions                            []string
}

func (s *stack) alarms(t *testing.T) []alarm {
	t.Helper()
	var out []alarm
	for _, id := range s.OfType("AWS::CloudWatch::Alarm") {
		p := s.props(t, id)
		a := alarm{id: id, namespace: Str(p, "Namespace"), metric: Str(p, "MetricName"), description: Str(p, "AlarmDescription"),
			dims: map[string]string{}, actions: strList(p["AlarmActions"])}
		if p["Metrics"] != nil {
			a.metric = "(math)"
		}
		for _, d := range asList(p["Dimensions"]) {
			dm, _ := d.(map[string]any)
			a.dims[Str(dm, "Name")] = Str(dm, "Value")
		}
		out = append(out, a)
	}
	return out
}

func TestAlarmsWatchWhatAnOperatorMustActOn(t *testing.T) {
	s := deployed(t)
	fn := func(id string) string { n, _ := s.Name(id); return n }
	machine, _ := s.Ref("ApplyStateMachine")
	want := []struct {
		namespace, metric, dim, value string
	}{
		{"AWS/States", "ExecutionsFailed", "StateMachineArn", machine.(string)},
		{"AWS/States", "ExecutionsTimedOut", "StateMachineArn", machine.(string)},
		{"AWS/Lambda", "Errors", "FunctionName", fn("PreviewWorkerFunction")},
		{"AWS/Lambda", "DestinationDeliveryFailures", "FunctionName", fn("PreviewWorkerFunction")},
		{"AWS/Lambda", "Errors", "FunctionName", fn("FinalizeFunction")},
		{"AWS/Events", "FailedInvocations", "RuleName", endedRule(t, s)},
	}
	alarms := s.alarms(t)
	for _, w := range want {
		found := false
		for _, a := range alarms {
			if a.namespace == w.namespace && a.metric == w.metric && a.dims[w.dim] == w.value {
				found = true
			}
		}
		if !found {
			t.Errorf("no alarm on %s %s of %s", w.namespace, w.metric, w.value)
		}
	}
	for _, a := range alarms {
		if a.metric == "(math)" {
			t.Errorf("%s sums metrics: say which one fired and what to do", a.id)
		}
		// The Map retries apply's throttling errors: they are ordinary.
		if a.namespace == "AWS/Lambda" && a.metric == "Errors" && a.dims["FunctionName"] == fn("ApplyFunction") {
			t.Errorf("%s alarms on ApplyFunction's errors, which the state machine retries", a.id)
		}
		if len(a.description) < 40 {
			t.Errorf("%s description %q does not say what it means and what to do", a.id, a.description)
		}
	}
	// With a topic each alarm notifies it; the default deploys none.
	topic := s.Values["AlarmTopicArn"]
	for _, a := range alarms {
		if topic == "" && len(a.actions) != 0 {
			t.Errorf("%s has actions %v without AlarmTopicArn", a.id, a.actions)
		}
		if topic != "" && !reflect.DeepEqual(a.actions, []string{topic.(string)}) {
			t.Errorf("%s notifies %v, want AlarmTopicArn", a.id, a.actions)
		}
	}
}

func TestSamconfigDeploysWithoutPrompts(t *testing.T) {
	cfg := loadSamconfig(t)
	if cfg.Region == "" || cfg.StackName == "" {
		t.Errorf("samconfig.toml names region %q and stack %q: sam deploy would ask", cfg.Region, cfg.StackName)
	}
	// Function names are "<stack>-<name>", at most 64 characters.
	if len(cfg.StackName) > 50 {
		t.Errorf("stack name %q is longer than 50 characters", cfg.StackName)
	}
	if cfg.Deploy["capabilities"] != "CAPABILITY_IAM" || cfg.Deploy["resolve_s3"] != true {
		t.Errorf("deploy parameters %v: want capabilities CAPABILITY_IAM and resolve_s3 (no bucket to name)", cfg.Deploy)
	}
	// sam build copies the whole source folder (local/node_modules
	// included) into a scratch folder per function unless it builds in
	// the source (aws-lambda-builders' CustomMakeWorkflow).
	if cfg.Build["build_in_source"] != true {
		t.Errorf("build parameters %v: want build_in_source = true", cfg.Build)
	}
	src := repoTemplate(t)
	raw, err := os.ReadFile(filepath.Join(root, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	deploying := section(string(raw), "## Deploying")
	for name, p := range src.Parameters {
		v, set := cfg.Overrides[name]
		if _, def := p["Default"]; !def && !set {
			t.Errorf("parameter %s has no default and samconfig.toml does not set it", name)
		}
		if set && strings.Contains(v, "REPLACE") && !strings.Contains(deploying, "`"+name+"`") {
			t.Errorf("samconfig.toml's placeholder for %s is not named in docs/operations.md's Deploying section", name)
		}
	}
	for name := range cfg.Overrides {
		if _, ok := src.Parameters[name]; !ok {
			t.Errorf("samconfig.toml overrides %s, which template.yaml does not declare", name)
		}
	}
	if strings.Contains(deploying, "--guided") {
		t.Error("docs/operations.md's Deploying section still runs sam deploy --guided")
	}
}

// section returns a markdown section's text, up to the next heading of
// the same level.
func section(doc, heading string) string {
	i := strings.Index(doc, heading+"\n")
	if i < 0 {
		return ""
	}
	rest := doc[i+len(heading):]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

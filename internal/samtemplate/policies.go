package samtemplate

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
)

// ErrUnknownManagedPolicy: a role attaches a managed policy whose
// statements ManagedPolicyStatements does not hold, so what it grants is
// unknown.
var ErrUnknownManagedPolicy = errors.New("samtemplate: managed policy statements unknown")

// managedPolicyARNs is the managed-policy loader's map (name -> ARN) for
// policies a template names in Policies; SAM adds AWSLambdaBasicExecutionRole
// and AWSXrayWriteOnlyAccess by ARN itself.
var managedPolicyARNs = map[string]string{
	"AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
	"AWSXrayWriteOnlyAccess":      "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
	"CloudWatchLogsFullAccess":    "arn:aws:iam::aws:policy/CloudWatchLogsFullAccess",
}

// managedStatements are the statements of the AWS managed policies the
// roles may attach (as AWS publishes them).
var managedStatements = map[string][]Statement{
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

// ManagedPolicyARNs returns the managed-policy loader's map (policy name ->
// ARN) Transform gives aws-sam-translator.
func ManagedPolicyARNs() map[string]string { return maps.Clone(managedPolicyARNs) }

// ManagedPolicyStatements returns the statements of an AWS managed policy,
// false for one not in the table.
func ManagedPolicyStatements(arn string) ([]Statement, bool) {
	sts, ok := managedStatements[arn]
	out := make([]Statement, len(sts))
	for i, st := range sts {
		out[i] = st.clone()
	}
	return out, ok
}

// Statement is one IAM policy statement with its values resolved.
type Statement struct {
	Sid          string
	Effect       string // Allow or Deny
	Actions      []string
	NotActions   []string
	Resources    []string
	NotResources []string
	// Condition, Principal and NotPrincipal as written; an identity
	// policy's evaluator must refuse what it cannot evaluate.
	Condition    map[string]any
	Principal    any
	NotPrincipal any
	// Unknown holds keys IAM does not define for a statement.
	Unknown []string
	// Source is the inline policy's name or the managed policy's ARN;
	// Managed tells which.
	Source  string
	Managed bool
}

func (s Statement) clone() Statement {
	s.Actions, s.NotActions = slices.Clone(s.Actions), slices.Clone(s.NotActions)
	s.Resources, s.NotResources = slices.Clone(s.Resources), slices.Clone(s.NotResources)
	s.Condition = maps.Clone(s.Condition)
	s.Unknown = slices.Clone(s.Unknown)
	return s
}

var statementKeys = map[string]bool{
	"Sid": true, "Effect": true, "Action": true, "NotAction": true, "Resource": true,
	"NotResource": true, "Condition": true, "Principal": true, "NotPrincipal": true,
}

// ParseStatement reads one evaluated statement of a policy document.
func ParseStatement(v any) (Statement, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return Statement{}, fmt.Errorf("samtemplate: statement %v is not a mapping", v)
	}
	st := Statement{
		Sid: Str(m, "Sid"), Effect: Str(m, "Effect"),
		Actions: StrList(m["Action"]), NotActions: StrList(m["NotAction"]),
		Resources: StrList(m["Resource"]), NotResources: StrList(m["NotResource"]),
		Principal: m["Principal"], NotPrincipal: m["NotPrincipal"],
	}
	if c, ok := m["Condition"]; ok {
		cm, ok := c.(map[string]any)
		if !ok {
			return Statement{}, fmt.Errorf("samtemplate: statement Condition %v is not a mapping", c)
		}
		st.Condition = cm
	}
	for k := range m {
		if !statementKeys[k] {
			st.Unknown = append(st.Unknown, k)
		}
	}
	sort.Strings(st.Unknown)
	return st, nil
}

// RoleByARN returns the logical id of the AWS::IAM::Role whose ARN is arn.
func (d *Deployed) RoleByARN(arn string) (string, error) {
	for _, id := range d.OfType("AWS::IAM::Role") {
		if a, err := d.GetAtt(id, "Arn"); err == nil && a == arn {
			return id, nil
		}
	}
	return "", fmt.Errorf("samtemplate: role %s is not declared in the stack", arn)
}

// RoleStatements returns every statement the role roleID grants, resolved:
// those of its inline policies, then those of the managed policies it
// attaches. A managed policy outside the table is ErrUnknownManagedPolicy,
// returned with the statements known.
func (d *Deployed) RoleStatements(roleID string) ([]Statement, error) {
	props, err := d.Props(roleID)
	if err != nil {
		return nil, err
	}
	var out []Statement
	for _, p := range AsList(props["Policies"]) {
		pm, _ := p.(map[string]any)
		name := Str(pm, "PolicyName")
		doc, _ := pm["PolicyDocument"].(map[string]any)
		for i, raw := range AsList(doc["Statement"]) {
			st, err := ParseStatement(raw)
			if err != nil {
				return nil, fmt.Errorf("samtemplate: %s policy %s statement %d: %w", roleID, name, i, err)
			}
			st.Source = name
			out = append(out, st)
		}
	}
	var unknown error
	for _, arn := range StrList(props["ManagedPolicyArns"]) {
		sts, ok := ManagedPolicyStatements(arn)
		if !ok {
			unknown = errors.Join(unknown, fmt.Errorf("%w: %s attaches %s", ErrUnknownManagedPolicy, roleID, arn))
			continue
		}
		for _, st := range sts {
			st.Source, st.Managed = arn, true
			out = append(out, st)
		}
	}
	return out, unknown
}

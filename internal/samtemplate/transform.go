package samtemplate

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// The CloudFormation that `sam deploy` has CloudFormation create from a
// template: the real AWS::Serverless transform (aws-sam-translator, run by
// sam_transform.py with python3), and an evaluator of the intrinsic
// functions (Ref, GetAtt, Sub, Join, If, Select, Split and conditions) with
// the physical names the caller gives.
//
// python3 with aws-sam-translator is a prerequisite (README.md):
// pip install aws-sam-translator.

//go:embed sam_transform.py
var transformScript []byte

// ErrTranslatorMissing: python3 or its aws-sam-translator package is not
// installed. The error's text says how to install it.
var ErrTranslatorMissing = errors.New(`samtemplate: python3 with aws-sam-translator is required (pip install aws-sam-translator)`)

// ErrParameterMissing: a parameter has no Default and no value was given,
// so sam deploy would ask for it.
var ErrParameterMissing = errors.New("samtemplate: parameter has no value")

// Defaults of TransformOptions.
const (
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "123456789012"
	// GeneratedSuffix ends the names CloudFormation generates
	// (<stack>-<logical id>-<suffix>) when PhysicalNames leaves them to it.
	GeneratedSuffix = "1A2B3C4D5E6F"
)

// PhysicalNames names a resource as deployed; ok false leaves the name to
// the template (its name property) or, without one, to CloudFormation's
// rule (<stack>-<logical id>-<suffix>).
type PhysicalNames func(logicalID, resourceType string) (name string, ok bool)

// LogicalIDNames names every resource by its logical id, as the local
// stack does (tables, functions, the state machine, roles).
func LogicalIDNames(logicalID, _ string) (string, bool) { return logicalID, true }

// TransformOptions say how the template is deployed.
type TransformOptions struct {
	// Parameters are the parameter_overrides; a parameter not given takes
	// its Default, and one without Default is ErrParameterMissing.
	Parameters map[string]string
	// Region and AccountID of the stack; "" = DefaultRegion, DefaultAccountID.
	Region    string
	AccountID string
	// StackName is AWS::StackName; required.
	StackName string
	// Names gives resources their physical names; nil = the template's
	// name properties, else CloudFormation's generated names.
	Names PhysicalNames
	// ManagedPolicies is the managed-policy loader's map (policy name ->
	// ARN) for policies named in a function's Policies; nil =
	// ManagedPolicyARNs().
	ManagedPolicies map[string]string
	// Python is the interpreter; "" = python3 from PATH.
	Python string
}

// Deployed is a transformed template with the values it is deployed with.
// Its methods evaluate intrinsic functions.
type Deployed struct {
	Resources  map[string]DeployedResource `json:"Resources"`
	Conditions map[string]any              `json:"Conditions"`
	// Parameters are the source template's declarations.
	Parameters map[string]map[string]any `json:"-"`
	// Values are the parameters' values: string, or []string for a
	// CommaDelimitedList.
	Values    map[string]any `json:"-"`
	StackName string         `json:"-"`
	Region    string         `json:"-"`
	AccountID string         `json:"-"`

	names PhysicalNames
}

// DeployedResource is one resource of the transformed template, its
// properties unevaluated.
type DeployedResource struct {
	Type                string         `json:"Type"`
	Properties          map[string]any `json:"Properties"`
	DeletionPolicy      string         `json:"DeletionPolicy"`
	UpdateReplacePolicy string         `json:"UpdateReplacePolicy"`
	Condition           string         `json:"Condition"`
}

// Transform expands the template at templatePath with aws-sam-translator,
// as `sam deploy` has CloudFormation do (each function's local CodeUri
// replaced by an S3 object, as `sam package` does).
func Transform(ctx context.Context, templatePath string, opts TransformOptions) (*Deployed, error) {
	if opts.StackName == "" {
		return nil, errors.New("samtemplate: transform: TransformOptions.StackName is required")
	}
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.AccountID == "" {
		opts.AccountID = DefaultAccountID
	}
	if opts.ManagedPolicies == nil {
		opts.ManagedPolicies = ManagedPolicyARNs()
	}
	python := opts.Python
	if python == "" {
		python = "python3"
	}
	if _, err := exec.LookPath(python); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrTranslatorMissing, python, err)
	}
	src, err := Load(templatePath)
	if err != nil {
		return nil, err
	}
	raw := map[string]string{}
	values := map[string]any{}
	for _, name := range sortedNames(src.Parameters) {
		p := src.Parameters[name]
		v, ok := opts.Parameters[name]
		if !ok {
			def, has := p["Default"]
			if !has {
				return nil, fmt.Errorf("%w: %s has no Default and TransformOptions.Parameters does not set it", ErrParameterMissing, name)
			}
			v = fmt.Sprint(def)
		}
		raw[name] = v
		if Str(p, "Type") == "CommaDelimitedList" {
			values[name] = strings.Split(v, ",")
		} else {
			values[name] = v
		}
	}
	for name := range opts.Parameters {
		if _, ok := src.Parameters[name]; !ok {
			return nil, fmt.Errorf("samtemplate: transform: parameter %s is not declared in %s", name, templatePath)
		}
	}
	rawValues, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("samtemplate: transform: %w", err)
	}
	rawPolicies, err := json.Marshal(opts.ManagedPolicies)
	if err != nil {
		return nil, fmt.Errorf("samtemplate: transform: %w", err)
	}
	// The script comes on stdin ("-"), so nothing is written to disk.
	cmd := exec.CommandContext(ctx, python, "-", templatePath, string(rawValues), string(rawPolicies))
	cmd.Stdin = bytes.NewReader(transformScript)
	cmd.Env = append(os.Environ(), "AWS_DEFAULT_REGION="+opts.Region)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 3 { // the script's "not installed"
			return nil, fmt.Errorf("%w: %s", ErrTranslatorMissing, strings.TrimSpace(stderr.String()))
		}
		return nil, fmt.Errorf("samtemplate: aws-sam-translator rejects %s: %v\n%s", templatePath, err, stderr.String())
	}
	d := &Deployed{
		Parameters: src.Parameters, Values: values, StackName: opts.StackName,
		Region: opts.Region, AccountID: opts.AccountID, names: opts.Names,
	}
	if err := json.Unmarshal(out, d); err != nil {
		return nil, fmt.Errorf("samtemplate: transformed template: %w", err)
	}
	return d, nil
}

// WithNames returns a copy of d whose resources take their physical names
// from names, so one transform serves several naming schemes.
func (d *Deployed) WithNames(names PhysicalNames) *Deployed {
	c := *d
	c.names = names
	c.Values = maps.Clone(d.Values)
	return &c
}

// OfType returns the logical ids of the resources of one type, sorted.
func (d *Deployed) OfType(typ string) []string {
	var out []string
	for id, r := range d.Resources {
		if r.Type == typ {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

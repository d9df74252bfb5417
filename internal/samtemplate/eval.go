package samtemplate

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ErrNotModelled: an intrinsic function, pseudo parameter or attribute the
// evaluator does not know, rather than a guessed value.
var ErrNotModelled = errors.New("samtemplate: not modelled")

// nameProperty is the property naming a resource of each type.
var nameProperty = map[string]string{
	"AWS::Lambda::Function":            "FunctionName",
	"AWS::DynamoDB::Table":             "TableName",
	"AWS::Logs::LogGroup":              "LogGroupName",
	"AWS::StepFunctions::StateMachine": "StateMachineName",
	"AWS::Events::Rule":                "Name",
	"AWS::IAM::Role":                   "RoleName",
	"AWS::CloudWatch::Alarm":           "AlarmName",
}

// ARN is an ARN of the stack's region and account.
func (d *Deployed) ARN(service, resource string) string {
	return "arn:aws:" + service + ":" + d.Region + ":" + d.AccountID + ":" + resource
}

// Name is a resource's physical name: the one PhysicalNames gives, else
// its name property, else one generated as CloudFormation does
// (<stack>-<logical id>-<suffix>).
func (d *Deployed) Name(id string) (string, error) {
	r, ok := d.Resources[id]
	if !ok {
		return "", fmt.Errorf("samtemplate: no resource %s", id)
	}
	if d.names != nil {
		if n, ok := d.names(id, r.Type); ok {
			return n, nil
		}
	}
	if prop := nameProperty[r.Type]; prop != "" {
		if v, ok := r.Properties[prop]; ok {
			return d.Str(v)
		}
	}
	return d.StackName + "-" + id + "-" + GeneratedSuffix, nil
}

// Ref is the value of !Ref name: a pseudo parameter, a parameter's value or
// a resource's (its name, or its ARN for the types whose Ref is one).
func (d *Deployed) Ref(name string) (any, error) {
	switch name {
	case "AWS::Region":
		return d.Region, nil
	case "AWS::AccountId":
		return d.AccountID, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	case "AWS::StackName":
		return d.StackName, nil
	case "AWS::NoValue":
		return noValue{}, nil
	}
	if v, ok := d.Values[name]; ok {
		return v, nil
	}
	r, ok := d.Resources[name]
	if !ok {
		return nil, fmt.Errorf("samtemplate: Ref %s: no such parameter or resource", name)
	}
	n, err := d.Name(name)
	if err != nil {
		return nil, err
	}
	switch r.Type {
	case "AWS::StepFunctions::StateMachine":
		return d.ARN("states", "stateMachine:"+n), nil
	case "AWS::SNS::Topic":
		return d.ARN("sns", n), nil
	}
	return n, nil
}

// GetAtt is the value of !GetAtt id.attr.
func (d *Deployed) GetAtt(id, attr string) (any, error) {
	r, ok := d.Resources[id]
	if !ok {
		return nil, fmt.Errorf("samtemplate: GetAtt %s.%s: no such resource", id, attr)
	}
	n, err := d.Name(id)
	if err != nil {
		return nil, err
	}
	switch r.Type + "." + attr {
	case "AWS::Lambda::Function.Arn":
		return d.ARN("lambda", "function:"+n), nil
	case "AWS::DynamoDB::Table.Arn":
		return d.ARN("dynamodb", "table/"+n), nil
	case "AWS::Logs::LogGroup.Arn":
		return d.ARN("logs", "log-group:"+n+":*"), nil
	case "AWS::StepFunctions::StateMachine.Arn":
		return d.ARN("states", "stateMachine:"+n), nil
	case "AWS::StepFunctions::StateMachine.Name":
		return n, nil
	case "AWS::IAM::Role.Arn":
		return "arn:aws:iam::" + d.AccountID + ":role/" + n, nil
	case "AWS::Events::Rule.Arn":
		return d.ARN("events", "rule/"+n), nil
	}
	return nil, fmt.Errorf("%w: GetAtt %s.%s (%s)", ErrNotModelled, id, attr, r.Type)
}

// noValue is AWS::NoValue: the property or list element is left out.
type noValue struct{}

var subVar = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

// Eval resolves the intrinsic functions in v.
func (d *Deployed) Eval(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if fn, ok := intrinsics[k]; ok {
					out, err := fn(d, arg)
					if err != nil {
						return nil, fmt.Errorf("%s: %w", k, err)
					}
					return out, nil
				}
				if strings.HasPrefix(k, "Fn::") {
					return nil, fmt.Errorf("%w: %s", ErrNotModelled, k)
				}
			}
		}
		out := map[string]any{}
		for k, e := range x {
			ev, err := d.Eval(e)
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
			ev, err := d.Eval(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			if _, skip := ev.(noValue); !skip {
				out = append(out, ev)
			}
		}
		return out, nil
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out, nil
	}
	return v, nil
}

var intrinsics map[string]func(d *Deployed, arg any) (any, error)

func init() {
	// Assigned here: the functions call Eval, which reads the map.
	intrinsics = map[string]func(d *Deployed, arg any) (any, error){
		"Ref":        (*Deployed).evalRef,
		"Fn::GetAtt": (*Deployed).evalGetAtt,
		"Fn::Sub":    (*Deployed).sub,
		"Fn::Join":   (*Deployed).join,
		"Fn::If":     (*Deployed).evalIf,
		"Fn::Select": (*Deployed).evalSelect,
		"Fn::Split":  (*Deployed).split,
	}
}

func (d *Deployed) evalRef(arg any) (any, error) {
	name, ok := arg.(string)
	if !ok {
		return nil, fmt.Errorf("argument %v is not a name", arg)
	}
	return d.Ref(name)
}

func (d *Deployed) evalGetAtt(arg any) (any, error) {
	var parts []string
	switch a := arg.(type) {
	case string:
		parts = strings.SplitN(a, ".", 2)
	case []any:
		for _, p := range a {
			s, err := d.Str(p)
			if err != nil {
				return nil, err
			}
			parts = append(parts, s)
		}
	}
	if len(parts) != 2 {
		return nil, fmt.Errorf("argument %v is not [resource, attribute]", arg)
	}
	return d.GetAtt(parts[0], parts[1])
}

// args checks that arg is a list of n elements.
func args(arg any, n int) ([]any, error) {
	l, ok := arg.([]any)
	if !ok || len(l) != n {
		return nil, fmt.Errorf("argument %v is not a list of %d", arg, n)
	}
	return l, nil
}

func (d *Deployed) join(arg any) (any, error) {
	a, err := args(arg, 2)
	if err != nil {
		return nil, err
	}
	sep, ok := a[0].(string)
	if !ok {
		return nil, fmt.Errorf("delimiter %v is not a string", a[0])
	}
	list, err := d.Eval(a[1])
	if err != nil {
		return nil, err
	}
	var parts []string
	for _, e := range AsList(list) {
		s, err := d.Str(e)
		if err != nil {
			return nil, err
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, sep), nil
}

func (d *Deployed) evalIf(arg any) (any, error) {
	a, err := args(arg, 3)
	if err != nil {
		return nil, err
	}
	name, ok := a[0].(string)
	if !ok {
		return nil, fmt.Errorf("condition name %v is not a string", a[0])
	}
	yes, err := d.Condition(name)
	if err != nil {
		return nil, err
	}
	if yes {
		return d.Eval(a[1])
	}
	return d.Eval(a[2])
}

func (d *Deployed) evalSelect(arg any) (any, error) {
	a, err := args(arg, 2)
	if err != nil {
		return nil, err
	}
	is, err := d.Str(a[0])
	if err != nil {
		return nil, err
	}
	i, err := strconv.Atoi(is)
	if err != nil {
		return nil, fmt.Errorf("index %q: %w", is, err)
	}
	list, err := d.Eval(a[1])
	if err != nil {
		return nil, err
	}
	l := AsList(list)
	if i < 0 || i >= len(l) {
		return nil, fmt.Errorf("index %d out of a list of %d", i, len(l))
	}
	return l[i], nil
}

func (d *Deployed) split(arg any) (any, error) {
	a, err := args(arg, 2)
	if err != nil {
		return nil, err
	}
	sep, ok := a[0].(string)
	if !ok {
		return nil, fmt.Errorf("delimiter %v is not a string", a[0])
	}
	s, err := d.Str(a[1])
	if err != nil {
		return nil, err
	}
	var out []any
	for _, p := range strings.Split(s, sep) {
		out = append(out, p)
	}
	return out, nil
}

func (d *Deployed) sub(arg any) (any, error) {
	text, vars := "", map[string]any{}
	switch a := arg.(type) {
	case string:
		text = a
	case []any:
		if len(a) != 2 {
			return nil, fmt.Errorf("argument %v is not [text, variables]", arg)
		}
		s, ok := a[0].(string)
		if !ok {
			return nil, fmt.Errorf("text %v is not a string", a[0])
		}
		text = s
		if m, ok := a[1].(map[string]any); ok {
			vars = m
		}
	default:
		return nil, fmt.Errorf("argument %v is not text", arg)
	}
	var err error
	out := subVar.ReplaceAllStringFunc(text, func(m string) string {
		name := m[2 : len(m)-1]
		var v any
		var e error
		if raw, ok := vars[name]; ok {
			v, e = d.Eval(raw)
		} else if id, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
			v, e = d.GetAtt(id, attr)
		} else {
			v, e = d.Ref(name)
		}
		if e == nil {
			var s string
			if s, e = d.Str(v); e == nil {
				return s
			}
		}
		if err == nil {
			err = e
		}
		return m
	})
	if err != nil {
		return nil, fmt.Errorf("%q: %w", text, err)
	}
	return strings.ReplaceAll(out, "${!", "${"), nil
}

// Str evaluates v to a string.
func (d *Deployed) Str(v any) (string, error) {
	ev, err := d.Eval(v)
	if err != nil {
		return "", err
	}
	switch e := ev.(type) {
	case string:
		return e, nil
	case float64, int, bool:
		return fmt.Sprint(e), nil
	}
	return "", fmt.Errorf("samtemplate: %v is not a string", ev)
}

// Condition evaluates the template's condition name.
func (d *Deployed) Condition(name string) (bool, error) {
	c, ok := d.Conditions[name]
	if !ok {
		return false, fmt.Errorf("samtemplate: no condition %s", name)
	}
	return d.cond(c)
}

func (d *Deployed) cond(c any) (bool, error) {
	m, ok := c.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("samtemplate: condition %v", c)
	}
	for k, arg := range m {
		a, _ := arg.([]any)
		switch k {
		case "Condition":
			name, ok := arg.(string)
			if !ok {
				return false, fmt.Errorf("samtemplate: condition name %v", arg)
			}
			return d.Condition(name)
		case "Fn::Equals":
			if len(a) != 2 {
				return false, fmt.Errorf("samtemplate: Fn::Equals %v", arg)
			}
			x, err := d.Eval(a[0])
			if err != nil {
				return false, err
			}
			y, err := d.Eval(a[1])
			if err != nil {
				return false, err
			}
			return fmt.Sprint(x) == fmt.Sprint(y), nil
		case "Fn::Not":
			if len(a) != 1 {
				return false, fmt.Errorf("samtemplate: Fn::Not %v", arg)
			}
			v, err := d.cond(a[0])
			return !v, err
		case "Fn::And", "Fn::Or":
			and := k == "Fn::And"
			for _, e := range a {
				v, err := d.cond(e)
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
	return false, fmt.Errorf("%w: condition %v", ErrNotModelled, c)
}

// Props returns a resource's evaluated properties.
func (d *Deployed) Props(id string) (map[string]any, error) {
	r, ok := d.Resources[id]
	if !ok {
		return nil, fmt.Errorf("samtemplate: the transformed template has no resource %s", id)
	}
	v, err := d.Eval(r.Properties)
	if err != nil {
		return nil, fmt.Errorf("samtemplate: %s: %w", id, err)
	}
	m, _ := v.(map[string]any)
	return m, nil
}

// AsList is v as a list: a list as it is, nil as empty, anything else as a
// list of one.
func AsList(v any) []any {
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

// StrList is v as a list of strings.
func StrList(v any) []string {
	var out []string
	for _, e := range AsList(v) {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

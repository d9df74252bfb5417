package lambdalocal

import (
	"fmt"
	"maps"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"dirsync/internal/samtemplate"
	"dirsync/local/sfnlocal"
)

// TemplateOptions resolve what a template leaves to the deployment.
type TemplateOptions struct {
	// Parameters are parameter values; a parameter not given takes its
	// Default.
	Parameters map[string]string
	// Refs are the values of !Ref <logical id> for resources that are not
	// functions: table names, the state machine's ARN, ...
	Refs map[string]string
}

// FunctionsFromTemplate returns the template's functions as the local
// service runs them, Globals.Function applied: Name the logical id, ARN
// sfnlocal.LocalARN(id), Package ./functions/<dir> (samtemplate.Function.Dir),
// Timeout, MemorySize, Environment.Variables (with LoggingConfig's LogFormat
// as AWS_LAMBDA_LOG_FORMAT, as Lambda sets it) and EventInvokeConfig.
// Values resolve as the local stack names things: literals as they are,
// !Ref of a parameter to its value, !Ref of a function to its name, !GetAtt
// F.Arn of a function to its local ARN, !Ref of any other resource from
// opts.Refs, AWS::Region and AWS::AccountId to sfnlocal's; anything else is
// an error, never a silently wrong value.
func FunctionsFromTemplate(tpl *samtemplate.Template, opts TemplateOptions) ([]Function, error) {
	globals, _ := tpl.Globals["Function"].(map[string]any)
	var out []Function
	for _, tf := range tpl.Functions() {
		props := tpl.Resources[tf.LogicalID].Properties
		r := resolver{tpl: tpl, opts: opts}
		f := Function{
			Name:    tf.LogicalID,
			ARN:     sfnlocal.LocalARN(tf.LogicalID),
			Package: "./" + path.Join("functions", tf.Dir),
		}
		fail := func(what string, err error) error {
			return fmt.Errorf("lambdalocal: %s %s: %w", tf.LogicalID, what, err)
		}
		if v := firstOf(props, globals, "Timeout"); v != nil {
			n, err := r.integer(v)
			if err != nil {
				return nil, fail("Timeout", err)
			}
			f.Timeout = time.Duration(n) * time.Second
		}
		if v := firstOf(props, globals, "MemorySize"); v != nil {
			n, err := r.integer(v)
			if err != nil {
				return nil, fail("MemorySize", err)
			}
			f.MemoryMB = n
		}
		vars := map[string]any{}
		if g, ok := samtemplate.Get(globals, "Environment", "Variables").(map[string]any); ok {
			maps.Copy(vars, g)
		}
		if own, ok := samtemplate.Get(props, "Environment", "Variables").(map[string]any); ok {
			maps.Copy(vars, own) // SAM merges the maps, the function's own winning
		}
		f.Environment = make(map[string]string, len(vars)+1)
		for _, k := range sortedKeys(vars) {
			s, err := r.str(vars[k])
			if err != nil {
				return nil, fail("Environment.Variables."+k, err)
			}
			f.Environment[k] = s
		}
		if v := samtemplate.Str(props, "LoggingConfig", "LogFormat"); v != "" {
			f.Environment["AWS_LAMBDA_LOG_FORMAT"] = v
		} else if v := samtemplate.Str(globals, "LoggingConfig", "LogFormat"); v != "" {
			f.Environment["AWS_LAMBDA_LOG_FORMAT"] = v
		}
		if eic, ok := props["EventInvokeConfig"].(map[string]any); ok {
			if v, ok := eic["MaximumRetryAttempts"]; ok {
				n, err := r.integer(v)
				if err != nil {
					return nil, fail("EventInvokeConfig.MaximumRetryAttempts", err)
				}
				f.Async.MaximumRetryAttempts = Retries(n)
			}
			if v, ok := eic["MaximumEventAgeInSeconds"]; ok {
				n, err := r.integer(v)
				if err != nil {
					return nil, fail("EventInvokeConfig.MaximumEventAgeInSeconds", err)
				}
				f.Async.MaximumEventAge = time.Duration(n) * time.Second
			}
			for _, d := range []struct {
				key string
				dst *string
			}{{"OnFailure", &f.Async.OnFailure}, {"OnSuccess", &f.Async.OnSuccess}} {
				dest, ok := samtemplate.Get(eic, "DestinationConfig", d.key).(map[string]any)
				if !ok {
					continue
				}
				if t := samtemplate.Str(dest, "Type"); t != "Lambda" {
					return nil, fail("EventInvokeConfig."+d.key, fmt.Errorf("destination type %q: only Lambda runs locally", t))
				}
				s, err := r.str(dest["Destination"])
				if err != nil {
					return nil, fail("EventInvokeConfig."+d.key, err)
				}
				*d.dst = s
			}
		}
		out = append(out, f)
	}
	return out, nil
}

func firstOf(props, globals map[string]any, key string) any {
	if v, ok := props[key]; ok {
		return v
	}
	return globals[key]
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

type resolver struct {
	tpl  *samtemplate.Template
	opts TemplateOptions
}

func (r resolver) integer(v any) (int, error) {
	s, err := r.str(v)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	return n, nil
}

// str resolves a template value to the string the local stack uses.
func (r resolver) str(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case int:
		return strconv.Itoa(v), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(v), nil
	case map[string]any:
		if len(v) != 1 {
			break
		}
		if ref, ok := v["Ref"].(string); ok {
			return r.ref(ref)
		}
		if args, ok := v["Fn::GetAtt"].([]any); ok && len(args) == 2 {
			id, _ := args[0].(string)
			attr, _ := args[1].(string)
			if res, ok := r.tpl.Resources[id]; ok && isFunction(res.Type) && attr == "Arn" {
				return sfnlocal.LocalARN(id), nil
			}
			if s, ok := r.opts.Refs[id+"."+attr]; ok {
				return s, nil
			}
			return "", fmt.Errorf("!GetAtt %s.%s does not resolve locally (only a function's Arn, or TemplateOptions.Refs[%q])", id, attr, id+"."+attr)
		}
	}
	return "", fmt.Errorf("%v does not resolve locally", v)
}

func (r resolver) ref(id string) (string, error) {
	switch id {
	case "AWS::Region":
		return sfnlocal.LocalRegion, nil
	case "AWS::AccountId":
		return sfnlocal.LocalAccountID, nil
	}
	if p, ok := r.tpl.Parameters[id]; ok {
		if s, ok := r.opts.Parameters[id]; ok {
			return s, nil
		}
		def, ok := p["Default"]
		if !ok {
			return "", fmt.Errorf("parameter %s has no Default and TemplateOptions.Parameters does not give it", id)
		}
		if list, ok := def.([]any); ok { // a CommaDelimitedList's default
			parts := make([]string, len(list))
			for i, e := range list {
				parts[i] = fmt.Sprint(e)
			}
			return strings.Join(parts, ","), nil
		}
		return r.str(def)
	}
	if res, ok := r.tpl.Resources[id]; ok && isFunction(res.Type) {
		return id, nil // a function's Ref is its name; locally its logical id
	}
	if s, ok := r.opts.Refs[id]; ok {
		return s, nil
	}
	return "", fmt.Errorf("!Ref %s does not resolve locally (give it in TemplateOptions.Refs)", id)
}

func isFunction(typ string) bool {
	return typ == "AWS::Serverless::Function" || typ == "AWS::Lambda::Function"
}

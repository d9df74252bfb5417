package lambdalocal

import (
	"fmt"
	"path"
	"strconv"
	"time"

	"dirsync/internal/samtemplate"
)

// FunctionsFromTemplate returns the functions of a template as
// CloudFormation deploys them (d, transformed by aws-sam-translator, so
// Globals are merged as SAM merges them), evaluated with d's names: each
// AWS::Lambda::Function with its Timeout, MemorySize, Environment.Variables
// (LoggingConfig's LogFormat as AWS_LAMBDA_LOG_FORMAT, as Lambda sets it),
// and the AWS::Lambda::EventInvokeConfig naming it. Name is the logical id,
// ARN its !GetAtt Arn, Package ./functions/<dir> from the source template
// (samtemplate.Function.Dir, where sam's makefile build finds it). A value
// that does not evaluate is an error, never a silently wrong one.
func FunctionsFromTemplate(d *samtemplate.Deployed, src *samtemplate.Template) ([]Function, error) {
	dirs := map[string]string{}
	for _, f := range src.Functions() {
		dirs[f.LogicalID] = f.Dir
	}
	byName := map[string]*Function{}
	var out []*Function
	for _, id := range d.OfType("AWS::Lambda::Function") {
		fail := func(what string, err error) error { return fmt.Errorf("lambdalocal: %s %s: %w", id, what, err) }
		dir, ok := dirs[id]
		if !ok {
			return nil, fail("source", fmt.Errorf("not a function of the source template"))
		}
		props, err := d.Props(id)
		if err != nil {
			return nil, fail("properties", err)
		}
		arn, err := d.Str(map[string]any{"Fn::GetAtt": []any{id, "Arn"}})
		if err != nil {
			return nil, fail("Arn", err)
		}
		name, err := d.Str(map[string]any{"Ref": id})
		if err != nil {
			return nil, fail("name", err)
		}
		f := &Function{Name: id, ARN: arn, Package: "./" + path.Join("functions", dir), Environment: map[string]string{}}
		// CloudFormation's defaults when a property is absent.
		if f.Timeout, err = seconds(props["Timeout"], 3); err != nil {
			return nil, fail("Timeout", err)
		}
		if f.MemoryMB, err = integer(props["MemorySize"], 128); err != nil {
			return nil, fail("MemorySize", err)
		}
		if vars, ok := samtemplate.Get(props, "Environment", "Variables").(map[string]any); ok {
			for k, v := range vars {
				s, ok := v.(string)
				if !ok {
					return nil, fail("Environment.Variables."+k, fmt.Errorf("%v is not a string", v))
				}
				f.Environment[k] = s
			}
		}
		if v := samtemplate.Str(props, "LoggingConfig", "LogFormat"); v != "" {
			f.Environment["AWS_LAMBDA_LOG_FORMAT"] = v
		}
		byName[name] = f
		out = append(out, f)
	}
	for _, id := range d.OfType("AWS::Lambda::EventInvokeConfig") {
		props, err := d.Props(id)
		if err != nil {
			return nil, fmt.Errorf("lambdalocal: %s: %w", id, err)
		}
		f, ok := byName[samtemplate.Str(props, "FunctionName")]
		if !ok {
			return nil, fmt.Errorf("lambdalocal: %s names function %q, which the template does not have", id, samtemplate.Str(props, "FunctionName"))
		}
		if v, ok := props["MaximumRetryAttempts"]; ok {
			n, err := integer(v, 2)
			if err != nil {
				return nil, fmt.Errorf("lambdalocal: %s MaximumRetryAttempts: %w", id, err)
			}
			f.Async.MaximumRetryAttempts = Retries(n)
		}
		if f.Async.MaximumEventAge, err = seconds(props["MaximumEventAgeInSeconds"], 0); err != nil {
			return nil, fmt.Errorf("lambdalocal: %s MaximumEventAgeInSeconds: %w", id, err)
		}
		f.Async.OnFailure = samtemplate.Str(props, "DestinationConfig", "OnFailure", "Destination")
		f.Async.OnSuccess = samtemplate.Str(props, "DestinationConfig", "OnSuccess", "Destination")
	}
	fns := make([]Function, len(out))
	for i, f := range out {
		fns[i] = *f
	}
	return fns, nil
}

// integer reads a template number (JSON numbers decode as float64; a
// parameter's value is a string); absent is def.
func integer(v any, def int) (int, error) {
	switch v := v.(type) {
	case nil:
		return def, nil
	case float64:
		if v != float64(int(v)) {
			return 0, fmt.Errorf("%v is not an integer", v)
		}
		return int(v), nil
	case int:
		return v, nil
	case string:
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("%q is not an integer", v)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%v is not an integer", v)
}

func seconds(v any, def int) (time.Duration, error) {
	n, err := integer(v, def)
	return time.Duration(n) * time.Second, err
}

package sfnlocal

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"dirsync/internal/samtemplate"
)

// DefinitionFromTemplate returns the ASL definition (JSON) of the state
// machine stateMachineLogicalID in the SAM template at templatePath, with
// every ${Name} of its DefinitionSubstitutions replaced as the local stack
// resolves it: !GetAtt F.Arn and !Ref F of a function F become LocalARN(F)
// and F, literal strings stay as they are.
func DefinitionFromTemplate(templatePath, stateMachineLogicalID string) ([]byte, error) {
	tpl, err := samtemplate.Load(templatePath)
	if err != nil {
		return nil, fmt.Errorf("sfnlocal: %w", err)
	}
	res, ok := tpl.Resources[stateMachineLogicalID]
	if !ok {
		return nil, fmt.Errorf("sfnlocal: %s: no resource %s", templatePath, stateMachineLogicalID)
	}
	if res.Type != "AWS::Serverless::StateMachine" && res.Type != "AWS::StepFunctions::StateMachine" {
		return nil, fmt.Errorf("sfnlocal: %s is a %s, not a state machine", stateMachineLogicalID, res.Type)
	}
	definition, ok := res.Properties["Definition"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("sfnlocal: %s has no inline Definition (DefinitionUri and DefinitionString are not read)", stateMachineLogicalID)
	}
	subs := map[string]string{}
	raw, _ := res.Properties["DefinitionSubstitutions"].(map[string]any)
	for name, v := range raw {
		s, err := resolveSubstitution(tpl, v)
		if err != nil {
			return nil, fmt.Errorf("sfnlocal: %s DefinitionSubstitutions.%s: %w", stateMachineLogicalID, name, err)
		}
		subs[name] = s
	}
	substituted, err := substitute(definition, subs)
	if err != nil {
		return nil, fmt.Errorf("sfnlocal: %s Definition: %w", stateMachineLogicalID, err)
	}
	out, err := json.Marshal(substituted)
	if err != nil {
		return nil, fmt.Errorf("sfnlocal: encode %s Definition: %w", stateMachineLogicalID, err)
	}
	return out, nil
}

// resolveSubstitution gives the local value of one DefinitionSubstitutions
// entry.
func resolveSubstitution(tpl *samtemplate.Template, v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case map[string]any:
		if len(v) != 1 {
			break
		}
		if ref, ok := v["Ref"].(string); ok {
			if err := requireFunction(tpl, ref); err != nil {
				return "", err
			}
			return ref, nil // a function's Ref is its name
		}
		if args, ok := v["Fn::GetAtt"].([]any); ok && len(args) == 2 {
			id, _ := args[0].(string)
			attr, _ := args[1].(string)
			if attr != "Arn" {
				return "", fmt.Errorf("!GetAtt %s.%s: only the Arn attribute resolves locally", id, attr)
			}
			if err := requireFunction(tpl, id); err != nil {
				return "", err
			}
			return LocalARN(id), nil
		}
	}
	return "", fmt.Errorf("%v does not resolve locally (literal strings, !GetAtt Function.Arn and !Ref Function do)", v)
}

func requireFunction(tpl *samtemplate.Template, id string) error {
	r, ok := tpl.Resources[id]
	if !ok {
		return fmt.Errorf("no resource %s", id)
	}
	if r.Type != "AWS::Serverless::Function" && r.Type != "AWS::Lambda::Function" {
		return fmt.Errorf("%s is a %s; only functions resolve locally", id, r.Type)
	}
	return nil
}

var placeholder = regexp.MustCompile(`\$\{([^}]*)\}`)

// substitute replaces ${Name} in every string (keys included, as
// CloudFormation substitutes the definition's text) and refuses a placeholder
// without a substitution, which AWS would leave in place and then reject.
func substitute(v any, subs map[string]string) (any, error) {
	switch v := v.(type) {
	case string:
		var missing []string
		out := placeholder.ReplaceAllStringFunc(v, func(m string) string {
			name := m[2 : len(m)-1]
			s, ok := subs[name]
			if !ok {
				missing = append(missing, name)
				return m
			}
			return s
		})
		if len(missing) > 0 {
			sort.Strings(missing)
			return nil, fmt.Errorf("no substitution for ${%s}", strings.Join(missing, "}, ${"))
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			nk, err := substitute(k, subs)
			if err != nil {
				return nil, err
			}
			ne, err := substitute(e, subs)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[nk.(string)] = ne
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			ne, err := substitute(e, subs)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = ne
		}
		return out, nil
	default:
		return v, nil
	}
}

// maxLocalTaskTimeoutSeconds is the longest Task timeout Node's timers can
// hold (2^31-1 ms).
const maxLocalTaskTimeoutSeconds = 2147483

// localDefinition adapts a definition to aws-local-stepfunctions where its
// defaults differ from AWS, without changing what the definition means:
//   - a Task state without TimeoutSeconds(Path) waits as long as Node can
//     (AWS waits for the Lambda's own timeout; the library would give up
//     after 60 s and let Catch run the failure path while the batch still
//     runs).
func localDefinition(definition []byte) ([]byte, error) {
	var def map[string]any
	if err := json.Unmarshal(definition, &def); err != nil {
		return nil, fmt.Errorf("sfnlocal: definition is not a JSON object: %w", err)
	}
	states, ok := def["States"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("sfnlocal: definition has no States")
	}
	visitStates(states, func(_ string, state map[string]any) {
		if state["Type"] != "Task" {
			return
		}
		_, seconds := state["TimeoutSeconds"]
		_, path := state["TimeoutSecondsPath"]
		if !seconds && !path {
			state["TimeoutSeconds"] = maxLocalTaskTimeoutSeconds
		}
	})
	out, err := json.Marshal(def)
	if err != nil {
		return nil, fmt.Errorf("sfnlocal: encode definition: %w", err)
	}
	return out, nil
}

// visitStates calls visit for every state, the states of Map item
// processors and Parallel branches included.
func visitStates(states map[string]any, visit func(name string, state map[string]any)) {
	for name, s := range states {
		state, ok := s.(map[string]any)
		if !ok {
			continue
		}
		visit(name, state)
		for _, key := range []string{"ItemProcessor", "Iterator"} {
			if proc, ok := state[key].(map[string]any); ok {
				if inner, ok := proc["States"].(map[string]any); ok {
					visitStates(inner, visit)
				}
			}
		}
		branches, _ := state["Branches"].([]any)
		for _, b := range branches {
			if branch, ok := b.(map[string]any); ok {
				if inner, ok := branch["States"].(map[string]any); ok {
					visitStates(inner, visit)
				}
			}
		}
	}
}

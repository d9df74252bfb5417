// Package samtemplate reads template.yaml, the one place where the tables,
// functions, routes and state machine are declared, so the local stack and
// the tests use exactly what AWS deploys. Load and Parse read the template
// as written; Transform has aws-sam-translator expand it as `sam deploy`
// does (python3 with aws-sam-translator is then a prerequisite) and its
// Deployed evaluates the intrinsic functions with the physical names the
// caller gives:
//
//	d, err := samtemplate.Transform(ctx, "template.yaml", samtemplate.TransformOptions{
//		Parameters: map[string]string{"JwtIssuer": ..., "JwtAudience": ..., "CorsAllowedOrigins": ...},
//		Region: "us-east-1", AccountID: "000000000000", StackName: "local",
//		Names: samtemplate.LogicalIDNames, // tables, functions, roles named by logical id
//	})
//	arn, err := d.Str(map[string]any{"Ref": "ApplyStateMachine"})
//	statements, err := d.RoleStatements("PreviewFunctionRole")
package samtemplate

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a parsed SAM/CloudFormation template. Intrinsic functions in
// short form (!Ref X, !GetAtt X.Y, !Sub "...") are kept as single-key maps
// in their long form ({"Ref": "X"}, {"Fn::GetAtt": ...}, {"Fn::Sub": ...}).
type Template struct {
	Parameters map[string]map[string]any
	Globals    map[string]any
	Resources  map[string]Resource
}

// Resource is one template resource.
type Resource struct {
	LogicalID   string
	Type        string
	Properties  map[string]any
	BuildMethod string // Metadata.BuildMethod (sam build)
}

// Load parses the template at path.
func Load(path string) (*Template, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("samtemplate: read %s: %w", path, err)
	}
	return Parse(raw)
}

// Parse parses template YAML.
func Parse(raw []byte) (*Template, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("samtemplate: parse: %w", err)
	}
	doc, err := toValue(&root)
	if err != nil {
		return nil, err
	}
	top, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("samtemplate: top level is not a mapping")
	}
	t := &Template{Parameters: map[string]map[string]any{}, Resources: map[string]Resource{}}
	if ps, ok := top["Parameters"].(map[string]any); ok {
		for name, p := range ps {
			if pm, ok := p.(map[string]any); ok {
				t.Parameters[name] = pm
			}
		}
	}
	t.Globals, _ = top["Globals"].(map[string]any)
	rs, ok := top["Resources"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("samtemplate: no Resources")
	}
	for id, r := range rs {
		rm, ok := r.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("samtemplate: resource %s is not a mapping", id)
		}
		typ, _ := rm["Type"].(string)
		props, _ := rm["Properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
		}
		meta, _ := rm["Metadata"].(map[string]any)
		t.Resources[id] = Resource{LogicalID: id, Type: typ, Properties: props, BuildMethod: Str(meta, "BuildMethod")}
	}
	return t, nil
}

// OfType returns the resources of one type, sorted by logical id.
func (t *Template) OfType(typ string) []Resource {
	var out []Resource
	for _, r := range t.Resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LogicalID < out[j].LogicalID })
	return out
}

// toValue converts a YAML node into plain Go values, turning CloudFormation
// short-form tags into their long form.
func toValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return toValue(n.Content[0])
	case yaml.AliasNode:
		return toValue(n.Alias)
	}
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := toValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := toValue(c)
			if err != nil {
				return nil, err
			}
			s = append(s, val)
		}
		v = s
	case yaml.ScalarNode:
		if strings.HasPrefix(n.Tag, "!!") || n.Tag == "" {
			var s any
			if err := n.Decode(&s); err != nil {
				return nil, fmt.Errorf("samtemplate: line %d: %w", n.Line, err)
			}
			v = s
		} else {
			v = n.Value
		}
	default:
		return nil, fmt.Errorf("samtemplate: line %d: unexpected node kind %d", n.Line, n.Kind)
	}
	if n.Tag == "" || strings.HasPrefix(n.Tag, "!!") {
		return v, nil
	}
	name := strings.TrimPrefix(n.Tag, "!")
	switch name {
	case "Ref", "Condition":
		return map[string]any{name: v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok { // !GetAtt Res.Attr
			parts := strings.SplitN(s, ".", 2)
			out := make([]any, len(parts))
			for i, p := range parts {
				out[i] = p
			}
			return map[string]any{"Fn::GetAtt": out}, nil
		}
		return map[string]any{"Fn::GetAtt": v}, nil
	default:
		return map[string]any{"Fn::" + name: v}, nil
	}
}

// Str reads a string at a path of map keys, "" when absent or not a string.
func Str(m map[string]any, path ...string) string {
	v := Get(m, path...)
	s, _ := v.(string)
	return s
}

// Get reads a value at a path of map keys, nil when absent.
func Get(m map[string]any, path ...string) any {
	var cur any = m
	for _, k := range path {
		cm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = cm[k]
	}
	return cur
}

package iamlocal

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"dirsync/internal/samtemplate"
)

// ErrUnsupportedStatement: a statement the evaluator cannot evaluate (a
// Condition, a Principal in an identity policy, an unknown element), so
// loading it fails rather than allowing or denying by guess.
var ErrUnsupportedStatement = errors.New("iamlocal: statement cannot be evaluated")

// Effects of a statement.
const (
	Allow = "Allow"
	Deny  = "Deny"
)

// Statement is one statement of a role's identity-based policies, resolved
// to local ARNs.
type Statement struct {
	// Index is the statement's position among its role's statements.
	Index   int
	Sid     string
	Source  string // inline policy name or managed policy ARN
	Managed bool
	Effect  string
	// Exactly one of Actions and NotActions, and one of Resources and
	// NotResources, is set.
	Actions, NotActions     []string
	Resources, NotResources []string
}

// Policy is every identity-based statement of a principal.
type Policy []Statement

// NewPolicy checks statements and numbers them. A statement with a
// Condition, a Principal or NotPrincipal (an identity policy has none), an
// element IAM does not define, an Effect other than Allow or Deny, or
// without exactly one of Action/NotAction and of Resource/NotResource is
// ErrUnsupportedStatement.
func NewPolicy(sts []samtemplate.Statement) (Policy, error) {
	out := make(Policy, 0, len(sts))
	for i, st := range sts {
		where := fmt.Sprintf("statement %d (%s)", i, st.Source)
		if st.Sid != "" {
			where = fmt.Sprintf("statement %d %q (%s)", i, st.Sid, st.Source)
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%w: %s: %s", ErrUnsupportedStatement, where, fmt.Sprintf(format, args...))
		}
		switch {
		case st.Condition != nil:
			ops := make([]string, 0, len(st.Condition))
			for op := range st.Condition {
				ops = append(ops, op)
			}
			slices.Sort(ops)
			return nil, fail("Condition %v is not evaluated here; loading it could allow or deny what IAM would not", ops)
		case st.Principal != nil || st.NotPrincipal != nil:
			return nil, fail("Principal or NotPrincipal in an identity-based policy")
		case len(st.Unknown) > 0:
			return nil, fail("unknown elements %v", st.Unknown)
		case st.Effect != Allow && st.Effect != Deny:
			return nil, fail("Effect %q", st.Effect)
		case (len(st.Actions) == 0) == (len(st.NotActions) == 0):
			return nil, fail("needs exactly one of Action and NotAction")
		case (len(st.Resources) == 0) == (len(st.NotResources) == 0):
			return nil, fail("needs exactly one of Resource and NotResource")
		}
		out = append(out, Statement{
			Index: i, Sid: st.Sid, Source: st.Source, Managed: st.Managed, Effect: st.Effect,
			Actions: slices.Clone(st.Actions), NotActions: slices.Clone(st.NotActions),
			Resources: slices.Clone(st.Resources), NotResources: slices.Clone(st.NotResources),
		})
	}
	return out, nil
}

// AllowAll is the admin's policy: every action on every resource.
var AllowAll = Policy{{Source: "admin", Effect: Allow, Actions: []string{"*"}, Resources: []string{"*"}}}

// Decision is how a policy answers one request.
type Decision struct {
	Allowed bool
	// ExplicitDeny: a Deny statement matched (it wins over any Allow).
	ExplicitDeny bool
	// By are the grants of Allow statements that matched, when Allowed.
	By []Match
}

// Match is one grant of a statement a request used: the action and the
// resource element (as written) that matched.
type Match struct {
	Statement int
	Action    string // an Action element, or "NotAction" for a NotAction statement
	Resource  string // a Resource element, or "NotResource" for a NotResource statement
}

// Evaluate answers action on resource as IAM evaluates identity-based
// policies within one account: an explicit Deny wins, else any Allow
// allows, else the request is denied. Actions match case-insensitively,
// resources case-sensitively, both with IAM's wildcards (* any run of
// characters, ? one character). A resource may hold Unknown characters
// (a secret's random suffix): only a wildcard matches one for sure.
func (p Policy) Evaluate(action, resource string) Decision {
	var d Decision
	for _, st := range p {
		actions, ok := st.actionsFor(action)
		if !ok {
			continue
		}
		if st.Effect == Deny {
			if st.resourceMayApply(resource) {
				return Decision{ExplicitDeny: true}
			}
			continue
		}
		resources, ok := st.resourcesFor(resource)
		if !ok {
			continue
		}
		d.Allowed = true
		for _, a := range actions {
			for _, r := range resources {
				d.By = append(d.By, Match{Statement: st.Index, Action: a, Resource: r})
			}
		}
	}
	return d
}

// actionsFor returns the action elements of st that apply to action.
func (st Statement) actionsFor(action string) ([]string, bool) {
	if st.NotActions != nil {
		for _, a := range st.NotActions {
			if wildcardMatch(a, action, true, false) {
				return nil, false
			}
		}
		return []string{"NotAction"}, true
	}
	var out []string
	for _, a := range st.Actions {
		if wildcardMatch(a, action, true, false) {
			out = append(out, a)
		}
	}
	return out, len(out) > 0
}

// resourcesFor returns the resource elements of an Allow statement that
// surely apply to resource.
func (st Statement) resourcesFor(resource string) ([]string, bool) {
	if st.NotResources != nil {
		for _, r := range st.NotResources {
			if wildcardMatch(r, resource, false, true) { // might be excluded: no sure grant
				return nil, false
			}
		}
		return []string{"NotResource"}, true
	}
	var out []string
	for _, r := range st.Resources {
		if wildcardMatch(r, resource, false, false) {
			out = append(out, r)
		}
	}
	return out, len(out) > 0
}

// resourceMayApply reports whether a Deny statement may apply to resource
// (Unknown characters count against the caller).
func (st Statement) resourceMayApply(resource string) bool {
	if st.NotResources != nil {
		for _, r := range st.NotResources {
			if wildcardMatch(r, resource, false, false) {
				return false
			}
		}
		return true
	}
	for _, r := range st.Resources {
		if wildcardMatch(r, resource, false, true) {
			return true
		}
	}
	return false
}

// Unknown stands for one character of a resource name the caller does not
// know (Secrets Manager's random ARN suffix); String forms show it as "?".
const Unknown = '\x00'

// wildcardMatch matches an IAM pattern (* any run, ? one character)
// against s. An Unknown character of s is matched by a wildcard only,
// unless possibly is set (then by anything: it might be that character).
func wildcardMatch(pattern, s string, fold, possibly bool) bool {
	if fold {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	// Iterative glob with one backtrack point, linear in practice.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i] || (possibly && s[i] == Unknown)):
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// printable shows Unknown characters as "?".
func printable(s string) string { return strings.ReplaceAll(s, string(rune(Unknown)), "?") }

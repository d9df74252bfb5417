package iamlocal

import (
	"context"
	"fmt"
	"sort"

	"dirsync/internal/samtemplate"
	"dirsync/local/sfnlocal"
)

// Role is an AWS::IAM::Role of the transformed template: the roles SAM
// generates for the functions (<Function>Role) and the state machine
// (<StateMachine>Role), and any the template declares.
type Role struct {
	LogicalID string // e.g. PreviewFunctionRole
	Name      string // physical name
	ARN       string // arn:aws:iam::<account>:role/<Name>
	AccountID string
	// AssumedBy are the logical ids of the functions and state machines
	// running with the role, sorted.
	AssumedBy []string
	// Session is the session name of the role's assumed-role ARN: the
	// physical name of the first of AssumedBy (Lambda names a function's
	// session after the function), else the role's name.
	Session string
	Policy  Policy
	// TrustPolicy is the role's AssumeRolePolicyDocument.
	TrustPolicy map[string]any
}

// AssumedRoleARN is the ARN AWS names the role's session by in its
// answers ("User: <it> is not authorized to perform: ...").
func (r *Role) AssumedRoleARN() string {
	return "arn:aws:sts::" + r.AccountID + ":assumed-role/" + r.Name + "/" + r.Session
}

// LocalTransformOptions are the options the local stack transforms
// template.yaml with: sfnlocal's region and account, every resource named
// by its logical id (so a function's ARN is sfnlocal.LocalARN(id)), stack
// "local", and the given parameter values.
func LocalTransformOptions(parameters map[string]string) samtemplate.TransformOptions {
	return samtemplate.TransformOptions{
		Parameters: parameters, Region: sfnlocal.LocalRegion, AccountID: sfnlocal.LocalAccountID,
		StackName: "local", Names: samtemplate.LogicalIDNames,
	}
}

// LoadRoles transforms the template at templatePath (see
// samtemplate.Transform) and returns its roles.
func LoadRoles(ctx context.Context, templatePath string, opts samtemplate.TransformOptions) ([]Role, error) {
	d, err := samtemplate.Transform(ctx, templatePath, opts)
	if err != nil {
		return nil, fmt.Errorf("iamlocal: load roles: %w", err)
	}
	return RolesFromTemplate(d)
}

// RolesFromTemplate returns every role of a transformed template, its
// statements resolved with d's names and the managed policies it attaches
// expanded (samtemplate.ManagedPolicyStatements), sorted by logical id.
// A statement the evaluator cannot evaluate (NewPolicy) or a managed
// policy outside the table fails the load.
func RolesFromTemplate(d *samtemplate.Deployed) ([]Role, error) {
	assumers := map[string][]string{} // role ARN -> logical ids
	for typ, prop := range map[string]string{"AWS::Lambda::Function": "Role", "AWS::StepFunctions::StateMachine": "RoleArn"} {
		for _, id := range d.OfType(typ) {
			v, ok := d.Resources[id].Properties[prop]
			if !ok {
				continue
			}
			arn, err := d.Str(v)
			if err != nil {
				return nil, fmt.Errorf("iamlocal: load roles: %s %s: %w", id, prop, err)
			}
			assumers[arn] = append(assumers[arn], id)
		}
	}
	var out []Role
	for _, id := range d.OfType("AWS::IAM::Role") {
		fail := func(err error) error { return fmt.Errorf("iamlocal: load role %s: %w", id, err) }
		name, err := d.Name(id)
		if err != nil {
			return nil, fail(err)
		}
		arnV, err := d.GetAtt(id, "Arn")
		if err != nil {
			return nil, fail(err)
		}
		arn, _ := arnV.(string)
		sts, err := d.RoleStatements(id)
		if err != nil {
			return nil, fail(err)
		}
		policy, err := NewPolicy(sts)
		if err != nil {
			return nil, fail(err)
		}
		props, err := d.Props(id)
		if err != nil {
			return nil, fail(err)
		}
		trust, _ := props["AssumeRolePolicyDocument"].(map[string]any)
		by := assumers[arn]
		sort.Strings(by)
		session := name
		if len(by) > 0 {
			if session, err = d.Name(by[0]); err != nil {
				return nil, fail(err)
			}
		}
		out = append(out, Role{
			LogicalID: id, Name: name, ARN: arn, AccountID: d.AccountID, AssumedBy: by,
			Session: session, Policy: policy, TrustPolicy: trust,
		})
	}
	return out, nil
}

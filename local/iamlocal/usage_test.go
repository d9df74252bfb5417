package iamlocal

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dirsync/local/sfnlocal"
)

func TestUnused(t *testing.T) {
	a, ps := guarded(t)
	reached := false
	url := serve(t, a.DynamoDB(okHandler(&reached)))
	ctx := context.Background()
	s := aws.String
	call := func(role string, f func(c *dynamodb.Client) error) func(t *testing.T) {
		return func(t *testing.T) {
			p := ps.Admin()
			if role != AdminName {
				p = principal(t, ps, role)
			}
			_ = f(dynamoClient(url, sfnlocal.LocalRegion, p.Provider())) // allowed or not: the usage says
		}
	}
	getSync := func(c *dynamodb.Client) error {
		_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: s("SyncTable"), Key: key("x")})
		return err
	}
	putSync := func(c *dynamodb.Client) error {
		_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: s("SyncTable"), Item: key("x")})
		return err
	}
	batchBoth := func(c *dynamodb.Client) error {
		_, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
			"SyncTable": {{PutRequest: &types.PutRequest{Item: key("w")}}}, "DirectoryTable": {{PutRequest: &types.PutRequest{Item: key("w")}}}}})
		return err
	}
	sync := localARN("dynamodb", "table/SyncTable")
	grant := func(role, action, resource string) Grant {
		for _, g := range a.Grants() {
			if g.Role == role && g.Action == action && g.Resource == resource {
				return g
			}
		}
		t.Fatalf("%s grants no %s on %s", role, action, resource)
		return Grant{}
	}
	steps := []struct {
		name   string
		run    func(t *testing.T)
		used   []Grant // now used
		unused []Grant // still unused
	}{
		{"nothing yet", func(*testing.T) {}, nil, []Grant{
			grant("PreviewFunctionRole", "dynamodb:GetItem", sync),
			grant("PreviewWorkerFunctionRole", "lambda:InvokeFunction", sfnlocal.LocalARN("FinalizeFunction")),
		}},
		{"an allowed request uses its grant", call("PreviewFunctionRole", getSync),
			[]Grant{grant("PreviewFunctionRole", "dynamodb:GetItem", sync)},
			[]Grant{grant("PreviewFunctionRole", "dynamodb:PutItem", sync)}},
		{"a refused request uses none", call("ProgressFunctionRole", putSync), nil,
			[]Grant{grant("ProgressFunctionRole", "dynamodb:GetItem", sync)}},
		{"a second use is counted once", call("PreviewFunctionRole", getSync), nil, nil},
		{"a request refused for one table uses none", call("PreviewWorkerFunctionRole", batchBoth), nil,
			[]Grant{grant("PreviewWorkerFunctionRole", "dynamodb:BatchWriteItem", sync)}},
		{"the admin's requests use no role's", call(AdminName, putSync), nil,
			[]Grant{grant("PreviewFunctionRole", "dynamodb:PutItem", sync), grant("ApplyFunctionRole", "dynamodb:UpdateItem", sync)}},
		{"Authorize records a call no middleware sees", func(t *testing.T) {
			p := principal(t, ps, "PreviewWorkerFunctionRole")
			if err := a.Authorize(p, "lambda:InvokeFunction", sfnlocal.LocalARN("FinalizeFunction")); err != nil {
				t.Fatal(err)
			}
			if err := a.Authorize(p, "lambda:InvokeFunction", sfnlocal.LocalARN("ApplyFunction")); !errors.Is(err, ErrAccessDenied) {
				t.Errorf("Authorize of a call not granted = %v, want ErrAccessDenied", err)
			}
		}, []Grant{grant("PreviewWorkerFunctionRole", "lambda:InvokeFunction", sfnlocal.LocalARN("FinalizeFunction"))}, nil},
	}
	var used []Grant
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.run(t)
			used = append(used, st.used...)
			unused := a.Unused()
			for _, g := range used {
				if slices.Contains(unused, g) {
					t.Errorf("Unused lists %s, which a request used", g)
				}
			}
			for _, g := range st.unused {
				if !slices.Contains(unused, g) {
					t.Errorf("Unused does not list %s", g)
				}
			}
			// Nothing else was used, and Unused is the rest.
			if got := a.Used(); len(got) != len(used) || len(got)+len(unused) != len(a.Grants()) {
				t.Errorf("used %v, want %v; %d unused of %d", got, used, len(unused), len(a.Grants()))
			}
		})
	}
	if !reached {
		t.Error("no allowed request reached the stand-in")
	}
}

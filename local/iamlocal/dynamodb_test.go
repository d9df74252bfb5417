package iamlocal

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dirsync/internal/samtemplate"
	"dirsync/local/dynamolocal"
	"dirsync/local/sfnlocal"
)

func dynamoClient(url, region string, creds aws.CredentialsProvider) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{Region: region, BaseEndpoint: aws.String(url), Credentials: creds, RetryMaxAttempts: 1})
}

func key(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: "s"}}
}

// startDynamo is DynamoDB Local behind the DynamoDB middleware, with the
// tables of template.yaml and Indexed (index ByName), which the admin
// creates through the middleware.
func startDynamo(t *testing.T, a *Authorizer) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	inst, err := dynamolocal.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(inst.Stop)
	// DynamoDB Local keeps a database per access key: every principal's
	// requests reach it as dynamolocal.Client's, which creates the tables.
	proxy, err := ResigningProxy(inst.Endpoint, aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"}, "dynamodb", sfnlocal.LocalRegion, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dynamolocal.CreateTables(ctx, dynamolocal.Client(inst.Endpoint), filepath.Join("..", "..", "template.yaml"), ""); err != nil {
		t.Fatal(err)
	}
	url := serve(t, a.DynamoDB(proxy))
	admin := dynamoClient(url, sfnlocal.LocalRegion, a.Principals().Admin().Provider())
	s := func(n string) *string { return aws.String(n) }
	if _, err := admin.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: s("Indexed"), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: s("pk"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: s("name"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: s("pk"), KeyType: types.KeyTypeHash}},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{IndexName: s("ByName"), KeySchema: []types.KeySchemaElement{{AttributeName: s("name"), KeyType: types.KeyTypeHash}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll}}},
	}); err != nil {
		t.Fatal(err)
	}
	return url
}

func TestDynamoDBThroughDynamoDBLocal(t *testing.T) {
	indexReader := customRole(t, "IndexReaderRole", samtemplate.Statement{Effect: Allow, Actions: []string{"dynamodb:Query"},
		Resources: []string{localARN("dynamodb", "table/Indexed/index/ByName")}, Source: "p"})
	a, ps := guarded(t, indexReader)
	url := startDynamo(t, a)
	ctx := context.Background()
	sync, directory := localARN("dynamodb", "table/SyncTable"), localARN("dynamodb", "table/DirectoryTable")
	s := func(n string) *string { return aws.String(n) }
	put := func(table, pk string) types.TransactWriteItem {
		return types.TransactWriteItem{Put: &types.Put{TableName: s(table), Item: key(pk)}}
	}
	byName := &dynamodb.QueryInput{TableName: s("Indexed"), IndexName: s("ByName"), KeyConditionExpression: s("#n = :n"),
		ExpressionAttributeNames: map[string]string{"#n": "name"}, ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberS{Value: "a"}}}
	byPK := func(table string) *dynamodb.QueryInput {
		return &dynamodb.QueryInput{TableName: s(table), KeyConditionExpression: s("pk = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "a"}}}
	}
	tests := []struct {
		name string
		role string
		call func(c *dynamodb.Client) error
		want func(p *Principal) *refusal
	}{
		{"PutItem allowed", "PreviewFunctionRole", func(c *dynamodb.Client) error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: s("SyncTable"), Item: key("preview")})
			return err
		}, nil},
		{"PutItem denied", "ProgressFunctionRole", func(c *dynamodb.Client) error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: s("SyncTable"), Item: key("progress")})
			return err
		}, func(p *Principal) *refusal { return accessDenied(400, p, "dynamodb:PutItem", sync) }},
		{"GetItem reads what was put", "ProgressFunctionRole", func(c *dynamodb.Client) error {
			out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: s("SyncTable"), Key: key("preview")})
			if err == nil && out.Item == nil {
				t.Error("the allowed PutItem did not reach DynamoDB Local")
			}
			return err
		}, nil},
		{"GetItem by table ARN denied", "ProgressFunctionRole", func(c *dynamodb.Client) error {
			_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: s(directory), Key: key("x")})
			return err
		}, func(p *Principal) *refusal { return accessDenied(400, p, "dynamodb:GetItem", directory) }},
		{"Query allowed", "PreviewFunctionRole", func(c *dynamodb.Client) error { _, err := c.Query(ctx, byPK("SyncTable")); return err }, nil},
		{"Query of an index needs the index", "PreviewFunctionRole", func(c *dynamodb.Client) error {
			in := byPK("SyncTable")
			in.IndexName = s("ByStatus")
			_, err := c.Query(ctx, in)
			return err
		}, func(p *Principal) *refusal { return accessDenied(400, p, "dynamodb:Query", sync+"/index/ByStatus") }},
		{"Query of an index allowed", "IndexReaderRole", func(c *dynamodb.Client) error { _, err := c.Query(ctx, byName); return err }, nil},
		{"Query of the table is not of its index", "IndexReaderRole", func(c *dynamodb.Client) error { _, err := c.Query(ctx, byPK("Indexed")); return err },
			func(p *Principal) *refusal {
				return accessDenied(400, p, "dynamodb:Query", localARN("dynamodb", "table/Indexed"))
			}},
		{"BatchWriteItem allowed", "PreviewWorkerFunctionRole", func(c *dynamodb.Client) error {
			_, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
				"SyncTable": {{PutRequest: &types.PutRequest{Item: key("w")}}}}})
			return err
		}, nil},
		{"BatchWriteItem needs each table", "PreviewWorkerFunctionRole", func(c *dynamodb.Client) error {
			_, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
				"SyncTable": {{PutRequest: &types.PutRequest{Item: key("w2")}}}, "DirectoryTable": {{PutRequest: &types.PutRequest{Item: key("w2")}}}}})
			return err
		}, func(p *Principal) *refusal { return accessDenied(400, p, "dynamodb:BatchWriteItem", directory) }},
		{"BatchGetItem allowed", "DirectoryFunctionRole", func(c *dynamodb.Client) error {
			_, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"DirectoryTable": {Keys: []map[string]types.AttributeValue{key("x")}}}})
			return err
		}, nil},
		{"BatchGetItem denied", "ProgressFunctionRole", func(c *dynamodb.Client) error {
			_, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"SyncTable": {Keys: []map[string]types.AttributeValue{key("x")}}}})
			return err
		}, func(p *Principal) *refusal { return accessDenied(400, p, "dynamodb:BatchGetItem", sync) }},
		{"TransactWriteItems needs each item's action: allowed", "ConnectionFunctionRole", func(c *dynamodb.Client) error {
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
				{ConditionCheck: &types.ConditionCheck{TableName: s("SyncTable"), Key: key("preview"), ConditionExpression: s("attribute_exists(pk)")}},
				put("SyncTable", "connection"),
			}})
			return err
		}, nil},
		{"TransactWriteItems needs each item's action: denied", "ConnectionFunctionRole", func(c *dynamodb.Client) error {
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
				put("SyncTable", "c2"),
				{Delete: &types.Delete{TableName: s("SyncTable"), Key: key("preview")}},
			}})
			return err
		}, func(p *Principal) *refusal { return accessDenied(400, p, "dynamodb:DeleteItem", sync) }},
		{"TransactGetItems needs GetItem", "ApplyFunctionRole", func(c *dynamodb.Client) error {
			_, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{
				{Get: &types.Get{TableName: s("DirectoryTable"), Key: key("x")}}, {Get: &types.Get{TableName: s("Indexed"), Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "x"}}}}}})
			return err
		}, func(p *Principal) *refusal {
			return accessDenied(400, p, "dynamodb:GetItem", localARN("dynamodb", "table/Indexed"))
		}},
		{"ListTables is on *", "ApplyFunctionRole", func(c *dynamodb.Client) error { _, err := c.ListTables(ctx, &dynamodb.ListTablesInput{}); return err },
			func(p *Principal) *refusal { return accessDenied(400, p, "dynamodb:ListTables", "*") }},
		{"PartiQL is not modelled", "ApplyFunctionRole", func(c *dynamodb.Client) error {
			_, err := c.ExecuteStatement(ctx, &dynamodb.ExecuteStatementInput{Statement: s(`SELECT * FROM "DirectoryTable"`)})
			return err
		}, func(*Principal) *refusal { return &refusal{400, "AccessDeniedException", ""} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := principal(t, ps, tt.role)
			var want *refusal
			if tt.want != nil {
				want = tt.want(p)
			}
			checkRefusal(t, tt.call(dynamoClient(url, sfnlocal.LocalRegion, p.Provider())), want)
		})
	}

	t.Run("the admin may do anything", func(t *testing.T) {
		c := dynamoClient(url, sfnlocal.LocalRegion, ps.Admin().Provider())
		if _, err := c.ExecuteStatement(ctx, &dynamodb.ExecuteStatementInput{Statement: s(`SELECT * FROM "DirectoryTable"`)}); err != nil {
			t.Error(err)
		}
		if _, err := c.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
			t.Error(err)
		}
	})

	preview := principal(t, ps, "PreviewFunctionRole")
	auth := []struct {
		name   string
		region string
		creds  aws.CredentialsProvider
		want   refusal
	}{
		{"unknown access key", sfnlocal.LocalRegion, unknownKey(), refusal{400, "UnrecognizedClientException", msgUnrecognized}},
		{"wrong session token", sfnlocal.LocalRegion, wrongToken(preview), refusal{400, "UnrecognizedClientException", msgUnrecognized}},
		{"wrong secret", sfnlocal.LocalRegion, wrongSecret(preview), refusal{400, "InvalidSignatureException", msgSignature}},
		{"another region", "eu-west-1", preview.Provider(), refusal{400, "InvalidSignatureException", "Credential should be scoped to a valid region, not 'eu-west-1'."}},
	}
	for _, tt := range auth {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dynamoClient(url, tt.region, tt.creds).GetItem(ctx, &dynamodb.GetItemInput{TableName: s("SyncTable"), Key: key("preview")})
			checkRefusal(t, err, &tt.want)
		})
	}
}

func TestDynamoDBRefusesStaleSignatures(t *testing.T) {
	_, ps := guarded(t)
	late, err := New(Config{Region: sfnlocal.LocalRegion, Principals: ps, Now: func() time.Time { return time.Now().Add(20 * time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	reached := false
	url := serve(t, late.DynamoDB(okHandler(&reached)))
	_, err = dynamoClient(url, sfnlocal.LocalRegion, ps.Admin().Provider()).ListTables(context.Background(), &dynamodb.ListTablesInput{})
	checkRefusal(t, err, &refusal{400, "InvalidSignatureException", ""})
	if err != nil && !strings.Contains(err.Error(), "Signature expired") {
		t.Errorf("error %v does not say the signature expired", err)
	}
	if reached {
		t.Error("a request with a stale signature reached the stand-in")
	}
}

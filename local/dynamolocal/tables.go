package dynamolocal

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dirsync/internal/samtemplate"
)

// Region and Credentials are what Client signs with. DynamoDB Local keeps
// one database per access key and region, so anything reaching the tables
// Client created must sign the same way (a proxy in front re-signs).
const Region = "us-east-1"

// Credentials are the dummy credentials Client signs with.
func Credentials() aws.Credentials {
	return aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"}
}

// Client returns a DynamoDB client for a local endpoint, with the dummy
// credentials and region DynamoDB Local accepts.
func Client(endpoint string) *dynamodb.Client {
	c := Credentials()
	return dynamodb.New(dynamodb.Options{
		Region:       Region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, ""),
	})
}

// CreateTables creates every AWS::DynamoDB::Table of the template, named
// prefix+LogicalId, and returns logical id -> table name.
func CreateTables(ctx context.Context, db *dynamodb.Client, templatePath, prefix string) (map[string]string, error) {
	tpl, err := samtemplate.Load(templatePath)
	if err != nil {
		return nil, err
	}
	tables, err := tpl.Tables()
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(tables))
	for _, t := range tables {
		name := prefix + t.LogicalID
		in := &dynamodb.CreateTableInput{TableName: aws.String(name), BillingMode: types.BillingModePayPerRequest}
		for attr, typ := range t.KeyTypes {
			in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
				AttributeName: aws.String(attr), AttributeType: types.ScalarAttributeType(typ),
			})
		}
		in.KeySchema = []types.KeySchemaElement{{AttributeName: aws.String(t.HashKey), KeyType: types.KeyTypeHash}}
		if t.RangeKey != "" {
			in.KeySchema = append(in.KeySchema, types.KeySchemaElement{AttributeName: aws.String(t.RangeKey), KeyType: types.KeyTypeRange})
		}
		if _, err := db.CreateTable(ctx, in); err != nil {
			return nil, fmt.Errorf("dynamolocal: create table %s: %w", name, err)
		}
		if t.TTLAttribute != "" {
			if _, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
				TableName:               aws.String(name),
				TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(t.TTLAttribute), Enabled: aws.Bool(true)},
			}); err != nil {
				return nil, fmt.Errorf("dynamolocal: enable TTL on %s: %w", name, err)
			}
		}
		names[t.LogicalID] = name
	}
	return names, nil
}

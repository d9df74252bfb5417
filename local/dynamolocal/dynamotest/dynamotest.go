// Package dynamotest gives a package's tests one real DynamoDB Local and
// fresh tables from template.yaml per test.
package dynamotest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"dirsync/local/dynamolocal"
)

// Client talks to the package's DynamoDB Local once Main started it.
var Client *dynamodb.Client

var counter atomic.Int64

// Main starts DynamoDB Local, runs the tests and stops it; call it from
// TestMain as os.Exit(dynamotest.Main(m)).
func Main(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	inst, err := dynamolocal.Start(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "these tests need DynamoDB Local:", err)
		return 1
	}
	defer inst.Stop()
	Client = dynamolocal.Client(inst.Endpoint)
	return m.Run()
}

// Tables creates the template's tables under a prefix of their own and
// returns their names by logical id (DirectoryTable, SyncTable).
func Tables(t testing.TB) map[string]string {
	t.Helper()
	root, err := dynamolocal.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	names, err := dynamolocal.CreateTables(context.Background(), Client, filepath.Join(root, "template.yaml"), fmt.Sprintf("t%d-", counter.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

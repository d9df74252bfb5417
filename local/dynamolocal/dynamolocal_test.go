package dynamolocal

import (
	"context"
	"testing"
	"time"
)

func TestStartAnswersAndStops(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	inst, err := Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !ready(ctx, inst.Endpoint) {
		t.Fatal("DynamoDB Local does not answer after Start")
	}
	inst.Stop()
	if ready(ctx, inst.Endpoint) {
		t.Fatal("DynamoDB Local still answers after Stop")
	}
}

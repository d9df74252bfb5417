// Command apply applies one batch of a confirmed plan; the apply state
// machine's Map calls it once per batch.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"dirsync/internal/app"
	"dirsync/internal/apply"
)

func main() {
	env, err := app.Load(context.Background())
	if err != nil {
		app.Fatal("apply: init", err)
	}
	svc := &apply.Service{Store: env.Store, Concurrency: 8, Logger: env.Logger}
	lambda.Start(svc.ApplyBatch)
}

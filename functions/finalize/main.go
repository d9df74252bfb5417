// Command finalize sets a sync's final status from its counters, or FAILED
// on the state machine's failure path.
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
		app.Fatal("finalize: init", err)
	}
	svc := &apply.Service{Store: env.Store, Logger: env.Logger}
	lambda.Start(svc.Finalize)
}

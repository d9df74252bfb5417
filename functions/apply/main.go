// Command apply applies one batch of a confirmed plan; the apply state
// machine's Map calls it once per batch.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"dirsync/internal/app"
	"dirsync/internal/apply"
)

func main() {
	env := app.MustLoad("apply")
	svc, err := apply.NewBatchApplier(env.Store, 8, env.Logger)
	app.Check("apply", err)
	lambda.Start(svc.ApplyBatch)
}

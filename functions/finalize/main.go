// Command finalize ends syncs: it sets a sync's final status from its
// counters (or FAILED) at the end of the apply state machine, fails an
// APPLYING sync whose execution ended FAILED, TIMED_OUT or ABORTED
// (EventBridge), and fails a preview whose worker Lambda gave up on (the
// worker's OnFailure destination).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"dirsync/internal/app"
	"dirsync/internal/apply"
	"dirsync/internal/preview"
)

func main() {
	env, err := app.Load(context.Background())
	if err != nil {
		app.Fatal("finalize: init", err)
	}
	f := &apply.Finalizer{
		Apply:    &apply.Service{Store: env.Store, Logger: env.Logger},
		Previews: &preview.Service{Store: env.Store, Logger: env.Logger},
	}
	lambda.Start(f.Handle)
}

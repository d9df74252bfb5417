// Command finalize ends syncs: the apply machine's end, executions ended outside it (EventBridge), a worker Lambda gave up on (OnFailure).
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"dirsync/internal/app"
	"dirsync/internal/apply"
	"dirsync/internal/events"
	"dirsync/internal/preview"
)

func main() {
	env := app.MustLoad("finalize")
	pub := events.NewFromConfig(env.AWS, env.Config.EventBus)
	previews, err := preview.NewFailureRecorder(env.Store, pub, env.Logger)
	f, ferr := apply.NewFinalizer(env.Store, previews, pub, env.Logger)
	app.Check("finalize", err, ferr)
	lambda.Start(f.Handle)
}

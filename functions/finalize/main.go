// Command finalize ends syncs: at the end of the apply state machine, after an execution
// ended outside it (EventBridge), and when Lambda gave up on a preview worker (OnFailure).
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
	pub, perr := events.NewFromConfig(env.AWS, env.Config.EventBus)
	previews, err := preview.NewFailureRecorder(env.Store, pub, env.Logger)
	f, ferr := apply.NewFinalizer(env.Store, previews, pub, env.Logger)
	app.Check("finalize", perr, err, ferr)
	lambda.Start(f.Handle)
}

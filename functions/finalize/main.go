// Command finalize ends syncs: at the end of the apply state machine, after an execution
// ended outside it (EventBridge), and when Lambda gave up on a preview worker (OnFailure).
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"dirsync/internal/app"
	"dirsync/internal/apply"
	"dirsync/internal/preview"
)

func main() {
	env := app.MustLoad("finalize")
	previews, err := preview.NewFailureRecorder(env.Store, env.Logger)
	app.Check("finalize", err)
	f, err := apply.NewFinalizer(env.Store, previews, env.Logger)
	app.Check("finalize", err)
	lambda.Start(f.Handle)
}

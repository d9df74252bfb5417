// Command preview starts previews (POST /v1/syncs), handing each to the
// previewworker function, and lists syncs and their changes.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"dirsync/internal/app"
	"dirsync/internal/app/httpapp"
	"dirsync/internal/awsinvoke"
	"dirsync/internal/httpapi"
	"dirsync/internal/preview"
)

func main() {
	env := app.MustLoad("preview")
	svc, err := preview.NewStarter(env.Store, awsinvoke.New(env.AWS, env.Config.PreviewWorkerName), env.Config.PreviewLock, env.Logger)
	app.Check("preview", err)
	lambda.Start(httpapp.Must(env, httpapi.PreviewFunction, httpapi.Deps{Syncs: env.Store, Previews: svc}))
}

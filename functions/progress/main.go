// Command progress answers GET /v1/syncs/{id}/progress from the one counter
// item.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"dirsync/internal/app"
	"dirsync/internal/app/httpapp"
	"dirsync/internal/httpapi"
)

func main() {
	env := app.MustLoad("progress")
	lambda.Start(httpapp.Must(env, httpapi.ProgressFunction, httpapi.Deps{Syncs: env.Store}))
}

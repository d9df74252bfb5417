// Command progress answers GET /v1/syncs/{id}/progress from the one counter
// item.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"dirsync/internal/app"
	"dirsync/internal/httpapi"
	"dirsync/internal/httpapi/lambdahttp"
)

func main() {
	env, err := app.Load(context.Background())
	if err != nil {
		app.Fatal("progress: init", err)
	}
	h, err := httpapi.New(httpapi.Deps{Syncs: env.Store}, env.HTTPOptions(), httpapi.ProgressFunction)
	if err != nil {
		app.Fatal("progress: init", err)
	}
	lambda.Start(lambdahttp.Handler(h, env.ClaimNames()))
}

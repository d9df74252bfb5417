// Command previewworker computes a preview: it reads the Entra tenant,
// runs the plan engine against the platform directory and stores the plan.
// It is invoked asynchronously by the preview function.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"dirsync/internal/app"
	"dirsync/internal/app/graphapp"
)

func main() {
	env := app.MustLoad("previewworker")
	svc, err := graphapp.Worker(env)
	app.Check("previewworker", err)
	lambda.Start(svc.Run)
}

// Command directory serves the platform directory: users, groups, members.
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
		app.Fatal("directory: init", err)
	}
	h, err := httpapi.New(httpapi.Deps{Directory: env.Store}, env.HTTPOptions(), httpapi.DirectoryFunction)
	if err != nil {
		app.Fatal("directory: init", err)
	}
	lambda.Start(lambdahttp.Handler(h, env.ClaimNames()))
}

// Command connection serves the tenant's Entra ID connection: get, replace
// (the secret goes to Secrets Manager) and test against Entra ID.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"dirsync/internal/app"
	"dirsync/internal/app/graphapp"
	"dirsync/internal/httpapi"
	"dirsync/internal/httpapi/lambdahttp"
)

func main() {
	env, err := app.Load(context.Background())
	if err != nil {
		app.Fatal("connection: init", err)
	}
	h, err := httpapi.New(httpapi.Deps{Connections: env.Store, Secrets: graphapp.Secrets(env), Tester: graphapp.Tester(env)}, env.HTTPOptions(), httpapi.ConnectionFunction)
	if err != nil {
		app.Fatal("connection: init", err)
	}
	lambda.Start(lambdahttp.Handler(h, env.ClaimNames()))
}

// Command connection serves the tenant's Entra ID connection: get, replace
// (the secret goes to Secrets Manager) and test against Entra ID.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"dirsync/internal/app"
	"dirsync/internal/domain"
	"dirsync/internal/entra"
	"dirsync/internal/httpapi"
	"dirsync/internal/httpapi/lambdahttp"
)

func main() {
	env, err := app.Load(context.Background())
	if err != nil {
		app.Fatal("connection: init", err)
	}
	secretStore := env.Secrets()
	base := entra.ConfigFromEnv(entra.Config{}, os.Getenv)
	tester := &entra.Tester{Secrets: secretStore, Configure: func(conn *domain.Connection, secret string) entra.Config {
		return entra.ConfigFor(conn, secret, base)
	}}
	h, err := httpapi.New(httpapi.Deps{Connections: env.Store, Secrets: secretStore, Tester: tester}, env.HTTPOptions(), httpapi.ConnectionFunction)
	if err != nil {
		app.Fatal("connection: init", err)
	}
	lambda.Start(lambdahttp.Handler(h, env.ClaimNames()))
}

// Command connection serves the tenant's Entra ID connection: get, replace
// (the secret goes to Secrets Manager) and test against Entra ID.
package main

import (
	"dirsync/internal/app"
	"dirsync/internal/app/graphapp"
	"dirsync/internal/app/httpapp"
	"dirsync/internal/httpapi"
)

func main() {
	env := app.MustLoad("connection")
	deps := httpapi.Deps{Connections: env.Store, Secrets: graphapp.Secrets(env), Tester: graphapp.Tester(env)}
	httpapp.Start(env, httpapi.ConnectionFunction, deps)
}

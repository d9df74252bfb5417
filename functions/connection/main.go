// Command connection serves the tenant's Entra ID connection: get (scope
// groups named through Graph), replace (the secret goes to Secrets
// Manager), test against Entra ID, and search its groups by name.
package main

import (
	"dirsync/internal/app"
	"dirsync/internal/app/graphapp"
	"dirsync/internal/app/httpapp"
	"dirsync/internal/httpapi"
)

func main() {
	env := app.MustLoad("connection")
	deps := httpapi.Deps{Connections: env.Store, Secrets: graphapp.Secrets(env), Tester: graphapp.Tester(env), EntraGroups: graphapp.Groups(env)}
	httpapp.Start(env, httpapi.ConnectionFunction, deps)
}

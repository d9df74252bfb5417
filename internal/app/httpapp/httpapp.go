// Package httpapp wires the functions of the HTTP API: the routing table's
// rows of one function behind the API Gateway adapter. It is apart from
// internal/app so that the functions the state machine and Lambda invoke
// (apply, finalize, previewworker) link no HTTP handler.
package httpapp

import (
	"github.com/aws/aws-lambda-go/lambda"

	"dirsync/internal/app"
	"dirsync/internal/auth"
	"dirsync/internal/httpapi"
	"dirsync/internal/httpapi/lambdahttp"
)

// Options are the handler options every API function uses.
func Options(env *app.Env) httpapi.Options {
	return httpapi.Options{ClaimNames: claimNames(env), AdminRole: env.Config.AdminRole, Logger: env.Logger}
}

// Start serves function fn of the HTTP API as the Lambda handler. A
// dependency missing for one of its routes exits at cold start (see
// app.Check).
func Start(env *app.Env, fn httpapi.Function, deps httpapi.Deps) {
	h, err := httpapi.New(deps, Options(env), fn)
	app.Check(string(fn), err)
	lambda.Start(lambdahttp.Handler(h, claimNames(env)))
}

// claimNames are the token claims naming the tenant and the roles.
func claimNames(env *app.Env) auth.ClaimNames {
	return auth.ClaimNames{Tenant: env.Config.TenantClaim, Roles: env.Config.RolesClaim}
}

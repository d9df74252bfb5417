// Package httpapp wires the functions of the HTTP API: the routing table's
// rows of one function behind the API Gateway adapter. It is apart from
// internal/app so that the functions the state machine and Lambda invoke
// (apply, finalize, previewworker) link no HTTP handler.
package httpapp

import (
	"context"

	"github.com/aws/aws-lambda-go/events"

	"dirsync/internal/app"
	"dirsync/internal/auth"
	"dirsync/internal/httpapi"
	"dirsync/internal/httpapi/lambdahttp"
)

// Options are the handler options every API function uses.
func Options(env *app.Env) httpapi.Options {
	return httpapi.Options{ClaimNames: claimNames(env), AdminRole: env.Config.AdminRole, Logger: env.Logger}
}

// Must is the Lambda handler of function fn of the HTTP API. A dependency
// missing for one of its routes exits at cold start (see app.Check).
func Must(env *app.Env, fn httpapi.Function, deps httpapi.Deps) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	h, err := httpapi.New(deps, Options(env), fn)
	app.Check(string(fn), err)
	return lambdahttp.Handler(h, claimNames(env))
}

// claimNames are the token claims naming the tenant and the roles.
func claimNames(env *app.Env) auth.ClaimNames {
	return auth.ClaimNames{Tenant: env.Config.TenantClaim, Roles: env.Config.RolesClaim}
}

// Package app wires the Lambdas: configuration, logger, AWS clients and the
// store, built once per cold start. It imports no Graph package and no
// Secrets Manager client: the two Graph-facing functions add those from
// internal/app/graphapp.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"dirsync/internal/auth"
	"dirsync/internal/config"
	"dirsync/internal/httpapi"
	"dirsync/internal/httpapi/lambdahttp"
	"dirsync/internal/store"
)

// Env is what every function builds at cold start.
type Env struct {
	Config config.Config
	AWS    aws.Config
	Logger *slog.Logger
	Store  *store.Store
}

// Load reads the configuration and builds the logger, the AWS config and
// the store. It returns an error rather than exiting, so main decides.
func Load(ctx context.Context) (*Env, error) {
	logger := lambdacontext.NewLogger(lambdacontext.WithFunctionARN())
	slog.SetDefault(logger)
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	if err := cfg.RequireTables(); err != nil {
		return nil, err
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("app: aws config: %w", err)
	}
	return &Env{
		Config: cfg, AWS: awsCfg, Logger: logger,
		Store: store.New(dynamodb.NewFromConfig(awsCfg), cfg.DirectoryTable, cfg.SyncTable),
	}, nil
}

// ClaimNames are the token claims naming the tenant and the roles.
func (e *Env) ClaimNames() auth.ClaimNames {
	return auth.ClaimNames{Tenant: e.Config.TenantClaim, Roles: e.Config.RolesClaim}
}

// HTTPOptions are the handler options every API function uses.
func (e *Env) HTTPOptions() httpapi.Options {
	return httpapi.Options{ClaimNames: e.ClaimNames(), AdminRole: e.Config.AdminRole, Logger: e.Logger}
}

// MustLoad is Load for a function's main (name names it in the log): a
// cold start that cannot load its configuration exits, and Lambda reports
// the init error.
func MustLoad(name string) *Env {
	env, err := Load(context.Background())
	Check(name, err)
	return env
}

// Check exits, logging why, when a cold-start step of function name
// failed: a function that cannot be built must not serve.
func Check(name string, err error) {
	if err != nil {
		Fatal(name+": init", err)
	}
}

// MustHTTP is the handler of one function of the HTTP API: its rows of
// the routing table behind the API Gateway adapter. A dependency missing
// for one of its routes exits (see Check).
func (e *Env) MustHTTP(fn httpapi.Function, deps httpapi.Deps) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	h, err := httpapi.New(deps, e.HTTPOptions(), fn)
	Check(string(fn), err)
	return lambdahttp.Handler(h, e.ClaimNames())
}

// Fatal logs a cold-start failure and exits: without configuration a
// function cannot serve anything, and Lambda reports the init error.
func Fatal(msg string, err error) {
	slog.Error(msg, "error", err.Error())
	os.Exit(1)
}

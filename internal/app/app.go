// Package app wires the Lambdas: configuration, logger, AWS clients and the
// store, built once per cold start. It imports no Graph package, no
// Secrets Manager client and no HTTP handler: the two Graph-facing
// functions add those from internal/app/graphapp, the HTTP API's functions
// their handler from internal/app/httpapp.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"dirsync/internal/config"
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
	limitMemory(os.Getenv)
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
func Check(name string, errs ...error) {
	if err := errors.Join(errs...); err != nil {
		Fatal(name+": init", err)
	}
}

// Fatal logs a cold-start failure and exits: without configuration a
// function cannot serve anything, and Lambda reports the init error.
func Fatal(msg string, err error) {
	slog.Error(msg, "error", err.Error())
	os.Exit(1)
}

// Command confirm confirms a preview (starting the apply state machine) or
// cancels a sync (stopping its execution).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dirsync/internal/app"
	"dirsync/internal/apply"
	"dirsync/internal/httpapi"
	"dirsync/internal/httpapi/lambdahttp"
	"dirsync/internal/sfnexec"
)

func main() {
	env, err := app.Load(context.Background())
	if err != nil {
		app.Fatal("confirm: init", err)
	}
	svc := &apply.Service{
		Store:          env.Store,
		Executions:     &sfnexec.Executions{Client: sfn.NewFromConfig(env.AWS), StateMachineARN: env.Config.ApplyStateMachine},
		MaxConcurrency: env.Config.ApplyMaxConcurrency,
		CancelDrain:    env.Config.CancelDrain,
		Logger:         env.Logger,
	}
	h, err := httpapi.New(httpapi.Deps{Applies: svc}, env.HTTPOptions(), httpapi.ConfirmFunction)
	if err != nil {
		app.Fatal("confirm: init", err)
	}
	lambda.Start(lambdahttp.Handler(h, env.ClaimNames()))
}

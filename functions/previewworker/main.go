// Command previewworker computes a preview (reads Entra ID, plans, stores the plan); the preview function invokes it.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"dirsync/internal/app"
	"dirsync/internal/app/graphapp"
	"dirsync/internal/events"
	"dirsync/internal/plan"
	"dirsync/internal/preview"
)

func main() {
	env := app.MustLoad("previewworker")
	svc, err := preview.NewWorker(env.Store, graphapp.Readers(env), graphapp.ReadError, preview.Engine{Plan: plan.Compute, PlanPart: plan.ComputePart, Invert: plan.Invert},
		events.NewFromConfig(env.AWS, env.Config.EventBus), preview.WorkerConfig{TTL: env.Config.PreviewTTL, Retention: env.Config.PreviewRetention, LockFor: env.Config.PreviewLock, UserBatchSize: env.Config.UserBatchSize}, env.Logger)
	app.Check("previewworker", err)
	lambda.Start(svc.Run)
}

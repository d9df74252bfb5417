// Command previewworker computes a preview: it reads the Entra tenant,
// runs the plan engine against the platform directory and stores the plan.
// It is invoked asynchronously by the preview function.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"dirsync/internal/app"
	"dirsync/internal/app/graphapp"
	"dirsync/internal/entra"
	"dirsync/internal/preview"
)

func main() {
	env, err := app.Load(context.Background())
	if err != nil {
		app.Fatal("previewworker: init", err)
	}
	svc := &preview.Service{
		Store:         env.Store,
		NewReader:     graphapp.ReaderFactory(env),
		Classify:      entra.SyncError,
		LockFor:       env.Config.PreviewLock,
		TTL:           env.Config.PreviewTTL,
		Retention:     env.Config.PreviewRetention,
		UserBatchSize: env.Config.UserBatchSize,
		Logger:        env.Logger,
	}
	lambda.Start(svc.Run)
}

// Command previewworker computes a preview: it reads the Entra tenant,
// runs the plan engine against the platform directory and stores the plan.
// It is invoked asynchronously by the preview function.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"dirsync/internal/app"
	"dirsync/internal/domain"
	"dirsync/internal/entra"
	"dirsync/internal/preview"
)

func main() {
	env, err := app.Load(context.Background())
	if err != nil {
		app.Fatal("previewworker: init", err)
	}
	secretStore := env.Secrets()
	base := entra.ConfigFromEnv(entra.Config{}, os.Getenv)
	svc := &preview.Service{
		Store: env.Store,
		NewReader: func(ctx context.Context, conn *domain.Connection) (preview.Reader, error) {
			secret, err := secretStore.GetSecretVersion(ctx, conn.TenantID, conn.SecretVersion)
			if err != nil {
				return nil, err
			}
			return preview.NewReaderOrInvalid(entra.NewReader(entra.ConfigFor(conn, secret, base)))
		},
		Classify:      entra.SyncError,
		LockFor:       env.Config.PreviewLock,
		TTL:           env.Config.PreviewTTL,
		Retention:     env.Config.PreviewRetention,
		UserBatchSize: env.Config.UserBatchSize,
		Logger:        env.Logger,
	}
	lambda.Start(svc.Run)
}

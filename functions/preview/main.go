// Command preview starts previews (POST /v1/syncs), handing each to the
// previewworker function, and lists syncs and their changes.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"dirsync/internal/app"
	"dirsync/internal/awsinvoke"
	"dirsync/internal/httpapi"
	"dirsync/internal/httpapi/lambdahttp"
	"dirsync/internal/preview"
)

func main() {
	env, err := app.Load(context.Background())
	if err != nil {
		app.Fatal("preview: init", err)
	}
	svc := &preview.Service{
		Store:      env.Store,
		Dispatcher: &awsinvoke.Dispatcher{Client: awslambda.NewFromConfig(env.AWS), FunctionName: env.Config.PreviewWorkerName},
		TTL:        env.Config.PreviewTTL,
		LockFor:    env.Config.PreviewLock,
		Logger:     env.Logger,
	}
	h, err := httpapi.New(httpapi.Deps{Syncs: env.Store, Previews: svc}, env.HTTPOptions(), httpapi.PreviewFunction)
	if err != nil {
		app.Fatal("preview: init", err)
	}
	lambda.Start(lambdahttp.Handler(h, env.ClaimNames()))
}

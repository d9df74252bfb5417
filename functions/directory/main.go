// Command directory serves the platform directory: users, groups, members.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"dirsync/internal/app"
	"dirsync/internal/app/httpapp"
	"dirsync/internal/httpapi"
)

func main() {
	env := app.MustLoad("directory")
	lambda.Start(httpapp.Must(env, httpapi.DirectoryFunction, httpapi.Deps{Directory: env.Store}))
}

// Command directory serves the platform directory: users, groups, members.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"dirsync/internal/app"
	"dirsync/internal/httpapi"
)

func main() {
	env := app.MustLoad("directory")
	lambda.Start(env.MustHTTP(httpapi.DirectoryFunction, httpapi.Deps{Directory: env.Store}))
}

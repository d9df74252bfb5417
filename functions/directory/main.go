// Command directory serves the platform directory: users, groups, members.
package main

import (
	"dirsync/internal/app"
	"dirsync/internal/app/httpapp"
	"dirsync/internal/httpapi"
)

func main() {
	env := app.MustLoad("directory")
	httpapp.Start(env, httpapi.DirectoryFunction, httpapi.Deps{Directory: env.Store})
}

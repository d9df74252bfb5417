// Command progress answers GET /v1/syncs/{id}/progress from the one counter
// item.
package main

import (
	"dirsync/internal/app"
	"dirsync/internal/app/httpapp"
	"dirsync/internal/httpapi"
)

func main() {
	env := app.MustLoad("progress")
	httpapp.Start(env, httpapi.ProgressFunction, httpapi.Deps{Syncs: env.Store})
}

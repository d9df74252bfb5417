// Command preview starts previews (handing each to previewworker), lists syncs and changes, and excludes changes.
package main

import (
	"dirsync/internal/app"
	"dirsync/internal/app/httpapp"
	"dirsync/internal/awsinvoke"
	"dirsync/internal/httpapi"
	"dirsync/internal/preview"
	"dirsync/internal/review"
)

func main() {
	env := app.MustLoad("preview")
	starter, err := preview.NewStarter(env.Store, awsinvoke.New(env.AWS, env.Config.PreviewWorkerName), env.Config.PreviewLock, env.Config.UndoWindow, env.Logger)
	reviews, rerr := review.New(env.Store, env.Logger)
	app.Check("preview", err, rerr)
	httpapp.Start(env, httpapi.PreviewFunction, httpapi.Deps{Syncs: env.Store, Previews: starter, Reviews: reviews})
}

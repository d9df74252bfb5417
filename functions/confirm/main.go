// Command confirm confirms a preview (starting the apply state machine) or
// cancels a sync (stopping its execution).
package main

import (
	"dirsync/internal/app"
	"dirsync/internal/app/httpapp"
	"dirsync/internal/apply"
	"dirsync/internal/httpapi"
	"dirsync/internal/sfnexec"
)

func main() {
	env := app.MustLoad("confirm")
	svc, err := apply.NewConfirmer(env.Store, sfnexec.New(env.AWS, env.Config.ApplyStateMachine), env.Config.ApplyMaxConcurrency, env.Config.CancelDrain, env.Logger)
	app.Check("confirm", err)
	httpapp.Start(env, httpapi.ConfirmFunction, httpapi.Deps{Applies: svc})
}

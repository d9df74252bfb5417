package httpapi

import (
	"errors"
	"fmt"
	"slices"

	"dirsync/internal/domain"
)

// Function is one Lambda function serving part of the HTTP API, named by
// its logical id in template.yaml.
type Function string

// The HTTP API's functions.
const (
	ConnectionFunction Function = "ConnectionFunction"
	PreviewFunction    Function = "PreviewFunction"
	ConfirmFunction    Function = "ConfirmFunction"
	ProgressFunction   Function = "ProgressFunction"
	DirectoryFunction  Function = "DirectoryFunction"
)

// Functions are every function of the HTTP API.
var Functions = []Function{ConnectionFunction, PreviewFunction, ConfirmFunction, ProgressFunction, DirectoryFunction}

// Route is one row of the routing table: a route and the function that
// serves it.
type Route struct {
	Pattern  string // "GET /v1/syncs/{id}"
	Function Function
}

// Routes is the routing table, as table() declares it.
var Routes = func() []Route {
	r := &registrar{h: &Handler{}}
	r.h.table(r)
	return r.rows
}()

// table is the one table of which function serves which route, and what
// each route's handler uses. template.yaml's HttpApi events must say the
// same (a test holds them to it). Each row is one call with a constant
// pattern, so an analysis of one function's code (internal/samtemplate's
// IAM test) can leave out the rows of the others.
func (h *Handler) table(r *registrar) {
	d := h.deps
	var (
		connections = dependency{"Connections", d.Connections != nil}
		secrets     = dependency{"Secrets", d.Secrets != nil}
		tester      = dependency{"Tester", d.Tester != nil}
		entraGroups = dependency{"EntraGroups", d.EntraGroups != nil}
		previews    = dependency{"Previews", d.Previews != nil}
		syncs       = dependency{"Syncs", d.Syncs != nil}
		applies     = dependency{"Applies", d.Applies != nil}
		directory   = dependency{"Directory", d.Directory != nil}
		reviews     = dependency{"Reviews", d.Reviews != nil}
	)
	r.route("GET /v1/connection", ConnectionFunction, h.getConnection, connections, entraGroups)
	r.route("PUT /v1/connection", ConnectionFunction, h.putConnection, connections, secrets, entraGroups)
	r.route("POST /v1/connection/test", ConnectionFunction, h.testConnection, connections, tester)
	r.route("POST /v1/connection/ignored-users", ConnectionFunction, h.editIgnoredUsers, connections)
	r.route("GET /v1/connection/groups", ConnectionFunction, h.searchEntraGroups, connections, entraGroups)
	r.route("POST /v1/syncs", PreviewFunction, h.startSync, previews)
	r.route("GET /v1/syncs", PreviewFunction, h.listSyncs, syncs)
	r.route("GET /v1/syncs/{id}", PreviewFunction, h.getSync, syncs)
	r.route("GET /v1/syncs/{id}/changes", PreviewFunction, h.listChanges, syncs)
	r.route("PATCH /v1/syncs/{id}/changes/{seq}", PreviewFunction, h.patchChange, reviews)
	r.route("POST /v1/syncs/{id}/exclusions", PreviewFunction, h.setExclusions, reviews)
	r.route("POST /v1/syncs/{id}/undo", PreviewFunction, h.undoSync, previews)
	r.route("POST /v1/syncs/{id}/confirm", ConfirmFunction, h.confirmSync, applies)
	r.route("POST /v1/syncs/{id}/cancel", ConfirmFunction, h.cancelSync, applies)
	r.route("GET /v1/syncs/{id}/progress", ProgressFunction, h.getProgress, syncs)
	r.route("GET /v1/users", DirectoryFunction, h.listUsers, directory)
	r.route("POST /v1/users", DirectoryFunction, h.createUser, directory)
	r.route("GET /v1/users/{id}", DirectoryFunction, h.getUser, directory)
	r.route("PATCH /v1/users/{id}", DirectoryFunction, h.patchUser, directory)
	r.route("GET /v1/groups", DirectoryFunction, h.listGroups, directory)
	r.route("GET /v1/groups/{id}/members", DirectoryFunction, h.listGroupMembers, directory)
}

// dependency is a Deps field a route uses, and whether it was given.
type dependency struct {
	name  string
	given bool
}

// registrar walks the table: it records every row, and serves the rows of
// the functions it serves (none when only building Routes).
type registrar struct {
	h       *Handler
	serve   []Function
	rows    []Route
	missing []error
}

func (r *registrar) route(pattern string, fn Function, handler routeFunc, needs ...dependency) {
	r.rows = append(r.rows, Route{Pattern: pattern, Function: fn})
	if !slices.Contains(r.serve, fn) {
		return
	}
	for _, dep := range needs {
		if !dep.given {
			r.missing = append(r.missing, fmt.Errorf("httpapi: %s needs Deps.%s for %s: %w", fn, dep.name, pattern, domain.ErrMissingDependency))
		}
	}
	r.h.handle(pattern, handler)
}

// register serves the routes of the given functions, refusing a function
// whose routes need a dependency it was not given.
func (h *Handler) register(functions []Function) error {
	if len(functions) == 0 {
		return errors.New("httpapi: no function to serve")
	}
	r := &registrar{h: h, serve: functions}
	h.table(r)
	return errors.Join(r.missing...)
}

package httpapi

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"dirsync/internal/auth"
	"dirsync/internal/domain"
)

// Choosing scope groups by name: GET /v1/connection/groups searches the
// connection's directory, and the connection's view names its scope
// groups.
const (
	// maxGroupPrefix bounds q: Graph matches at most 120 characters in a
	// filter value.
	maxGroupPrefix = 120
	// maxGroupMatches is how many groups a search answers.
	maxGroupMatches = 25
	// groupSearchTimeout bounds a search with its member counts, well
	// inside the function's 20 s timeout.
	groupSearchTimeout = 10 * time.Second
	// scopeNamesTimeout bounds the naming of scope groups: the connection
	// is shown without names rather than late.
	scopeNamesTimeout = 3 * time.Second
)

// searchEntraGroups answers the Entra groups whose display name starts
// with q, ordered by display name.
func (h *Handler) searchEntraGroups(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	q, err := parseQuery(r.URL.RawQuery, "q")
	if err != nil {
		return err
	}
	prefix, err := groupPrefix(q)
	if err != nil {
		return err
	}
	conn, err := h.deps.Connections.GetConnection(r.Context(), c.TenantID)
	if domain.ErrorCode(err) == domain.ENotFound {
		return domain.Errorf(domain.EUnprocessable, "no Entra ID connection is configured: PUT /v1/connection first")
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.searchTimeout)
	defer cancel()
	found, err := h.deps.EntraGroups.SearchGroups(ctx, conn, prefix)
	if err != nil {
		return err
	}
	slices.SortStableFunc(found, func(a, b domain.DirectoryGroup) int {
		return cmp.Or(
			strings.Compare(strings.ToLower(a.DisplayName), strings.ToLower(b.DisplayName)),
			strings.Compare(a.DisplayName, b.DisplayName),
			strings.Compare(a.ID, b.ID))
	})
	found = found[:min(len(found), maxGroupMatches)]
	writeJSON(w, http.StatusOK, newList(viewsOf(found, newEntraGroupView), ""))
	return nil
}

// groupPrefix reads q: required, trimmed, 1 to maxGroupPrefix characters
// of text.
func groupPrefix(q queryParams) (string, error) {
	v := strings.TrimSpace(q["q"])
	switch {
	case v == "":
		return "", domain.Errorf(domain.EInvalid, "q: required: the start of a group's display name")
	case !utf8.ValidString(v):
		return "", domain.Errorf(domain.EInvalid, "q: must be UTF-8 text")
	case utf8.RuneCountInString(v) > maxGroupPrefix:
		return "", domain.Errorf(domain.EInvalid, "q: must be at most %d characters", maxGroupPrefix)
	case strings.ContainsFunc(v, unicode.IsControl):
		return "", domain.Errorf(domain.EInvalid, "q: must not contain control characters")
	}
	return v, nil
}

// connectionView is the connection with its scope groups named. Naming
// them never fails the request: when Graph cannot answer in time the names
// are null and the reason is logged.
func (h *Handler) connectionView(ctx context.Context, conn *domain.Connection) connectionView {
	ids := conn.Options.Scope.Groups
	if len(ids) == 0 {
		return newConnectionView(conn, nil)
	}
	ctx, cancel := context.WithTimeout(ctx, h.namesTimeout)
	defer cancel()
	names, err := h.deps.EntraGroups.GroupNames(ctx, conn, ids)
	if err != nil {
		attrs := append(infoFrom(ctx).logAttrs(), slog.Int("scope_groups", len(ids)), slog.String("error", err.Error()))
		h.log.LogAttrs(ctx, slog.LevelWarn, "scope group names unavailable", attrs...)
		names = nil
	}
	return newConnectionView(conn, names)
}

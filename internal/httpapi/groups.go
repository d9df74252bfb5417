package httpapi

import (
	"net/http"

	"dirsync/internal/auth"
)

func (h *Handler) listGroups(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	q, err := parseQuery(r.URL.RawQuery, pagingParams...)
	if err != nil {
		return err
	}
	page, err := q.page()
	if err != nil {
		return err
	}
	groups, next, err := h.deps.Directory.ListGroups(r.Context(), c.TenantID, page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(viewsOf(groups, newGroupView), next))
	return nil
}

func (h *Handler) listGroupMembers(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	q, err := parseQuery(r.URL.RawQuery, pagingParams...)
	if err != nil {
		return err
	}
	page, err := q.page()
	if err != nil {
		return err
	}
	users, next, err := h.deps.Directory.ListGroupMembers(r.Context(), c.TenantID, id, page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(viewsOf(users, newUserView), next))
	return nil
}

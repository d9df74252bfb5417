package httpapi

import (
	"context"
	"net/http"

	"dirsync/internal/auth"
	"dirsync/internal/domain"
)

// Filter values of GET /v1/syncs/{id}/changes.
var (
	objectTypes = []string{string(domain.ObjectUser), string(domain.ObjectGroup)}
	changeKinds = []string{
		string(domain.KindAdd), string(domain.KindUpdate), string(domain.KindDeactivate),
		string(domain.KindReactivate), string(domain.KindSkip), string(domain.KindRemove),
	}
	outcomes = []string{domain.OutcomeApplied, domain.OutcomeConflict, domain.OutcomeFailed}
)

// startSyncRequest is the optional body of POST /v1/syncs.
type startSyncRequest struct {
	// FullRead asks for a full read of the tenant even where a re-sync
	// could read only what changed.
	FullRead bool `json:"fullRead"`
}

func (h *Handler) startSync(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	if err := noQuery(r); err != nil {
		return err
	}
	var body startSyncRequest
	if err := decodeOptionalBody(w, r, &body); err != nil {
		return err
	}
	sy, err := h.deps.Previews.Start(r.Context(), domain.Actor{TenantID: c.TenantID, Subject: c.Subject, Email: c.Email}, body.FullRead)
	if err != nil {
		return err
	}
	infoFrom(r.Context()).syncID = sy.ID
	w.Header().Set("Location", "/v1/syncs/"+sy.ID)
	writeJSON(w, http.StatusAccepted, syncStartedView{ID: sy.ID, Status: sy.Status})
	return nil
}

// undoSync starts the undo of an applied sync: a new sync, kind undo,
// whose preview is the inverse of what the sync applied.
func (h *Handler) undoSync(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := h.syncIDParam(r)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	if err := decodeOptionalBody(w, r, nil); err != nil {
		return err
	}
	sy, err := h.deps.Previews.StartUndo(r.Context(), actorOf(c), id)
	if err != nil {
		return err
	}
	infoFrom(r.Context()).syncID = sy.ID
	w.Header().Set("Location", "/v1/syncs/"+sy.ID)
	writeJSON(w, http.StatusAccepted, newSyncView(sy, nil))
	return nil
}

// confirmInput is the optional body of POST /v1/syncs/{id}/confirm.
type confirmInput struct {
	AllowDeactivations bool `json:"allowDeactivations"`
}

func (h *Handler) confirmSync(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := h.syncIDParam(r)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	var in confirmInput
	if err := decodeOptionalBody(w, r, &in); err != nil {
		return err
	}
	sy, err := h.deps.Applies.Confirm(r.Context(), actorOf(c), id, in.AllowDeactivations)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, syncStartedView{ID: sy.ID, Status: sy.Status})
	return nil
}

func (h *Handler) cancelSync(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := h.syncIDParam(r)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	if err := decodeOptionalBody(w, r, nil); err != nil {
		return err
	}
	sy, err := h.deps.Applies.Cancel(r.Context(), actorOf(c), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, syncStartedView{ID: sy.ID, Status: sy.Status})
	return nil
}

func actorOf(c auth.Claims) domain.Actor {
	return domain.Actor{TenantID: c.TenantID, Subject: c.Subject, Email: c.Email}
}

func (h *Handler) listSyncs(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	q, err := parseQuery(r.URL.RawQuery, pagingParams...)
	if err != nil {
		return err
	}
	page, err := q.page()
	if err != nil {
		return err
	}
	ctx := r.Context()
	syncs, next, err := h.deps.Syncs.ListSyncs(ctx, c.TenantID, page)
	if err != nil {
		return err
	}
	views := make([]syncView, len(syncs))
	for i, sy := range syncs {
		// A listing carries progress only for the running apply (at most
		// one per tenant), so a page costs one extra read, not a hundred.
		var p *domain.Progress
		if sy.Status == domain.SyncApplying {
			if p, err = h.progressIfAny(ctx, c.TenantID, sy.ID); err != nil {
				return err
			}
		}
		views[i] = newSyncView(sy, p)
	}
	writeJSON(w, http.StatusOK, newList(views, next))
	return nil
}

func (h *Handler) getSync(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := h.syncIDParam(r)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	ctx := r.Context()
	sy, err := h.deps.Syncs.GetSync(ctx, c.TenantID, id)
	if err != nil {
		return err
	}
	var p *domain.Progress
	if hasApplyProgress(sy) {
		if p, err = h.progressIfAny(ctx, c.TenantID, id); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, newSyncView(sy, p))
	return nil
}

// hasApplyProgress reports whether a sync is applying or was applied: only
// then does its counter say something.
func hasApplyProgress(sy *domain.Sync) bool {
	switch sy.Status {
	case domain.SyncApplying, domain.SyncCompleted, domain.SyncCompletedWithErrors, domain.SyncFailed:
		return true
	case domain.SyncCancelled:
		return sy.ConfirmedAt != nil // cancelled while applying
	}
	return false
}

// progressIfAny reads a sync's counter; a counter that is gone (expired
// with the preview data) is no progress rather than an error.
func (h *Handler) progressIfAny(ctx context.Context, tenant, id string) (*domain.Progress, error) {
	p, err := h.deps.Syncs.GetProgress(ctx, tenant, id)
	if domain.ErrorCode(err) == domain.ENotFound {
		return nil, nil
	}
	return p, err
}

// changeFilters are the query parameters filtering a sync's changes.
var changeFilters = []string{"objectType", "kind", "outcome", "q", "excluded"}

// listChanges answers a page of a sync's changes as JSON, or (Accept:
// text/csv) every matching change as a CSV file.
func (h *Handler) listChanges(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	// Caches must key the answer on Accept too.
	w.Header().Add("Vary", "Accept")
	rep, err := negotiate(r.Header.Values("Accept"))
	if err != nil {
		return err
	}
	id, err := h.syncIDParam(r)
	if err != nil {
		return err
	}
	q, err := parseQuery(r.URL.RawQuery, withPaging(changeFilters...)...)
	if err != nil {
		return err
	}
	f, err := q.changeFilter()
	if err != nil {
		return err
	}
	page, err := q.page()
	if err != nil {
		return err
	}
	if rep == asCSV {
		if _, ok := q["limit"]; ok {
			return domain.Errorf(domain.EInvalid, "limit: does not apply to the CSV export, which holds every matching change (in parts when large: follow its Link header)")
		}
		return h.exportChanges(w, r, c, id, f, page.Cursor)
	}
	changes, next, err := h.deps.Syncs.ListChanges(r.Context(), c.TenantID, id, f, page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(viewsOf(changes, newChangeView), next))
	return nil
}

// changeFilter reads the filters of a change listing.
func (q queryParams) changeFilter() (domain.ChangeFilter, error) {
	var f domain.ChangeFilter
	ot, err := q.enum("objectType", objectTypes...)
	if err != nil {
		return f, err
	}
	kind, err := q.enum("kind", changeKinds...)
	if err != nil {
		return f, err
	}
	if f.Outcome, err = q.enum("outcome", outcomes...); err != nil {
		return f, err
	}
	if f.Q, err = q.text("q"); err != nil {
		return f, err
	}
	if f.Excluded, err = q.boolean("excluded"); err != nil {
		return f, err
	}
	f.ObjectType, f.Kind = domain.ObjectType(ot), domain.ChangeKind(kind)
	return f, nil
}

// getProgress reads the counter (one GetItem). A sync without a counter
// yet (still previewing) answers its status with zero counts, so a console
// polling right after starting sees no 404.
func (h *Handler) getProgress(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := h.syncIDParam(r)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	ctx := r.Context()
	p, err := h.deps.Syncs.GetProgress(ctx, c.TenantID, id)
	if domain.ErrorCode(err) == domain.ENotFound {
		sy, serr := h.deps.Syncs.GetSync(ctx, c.TenantID, id)
		if serr != nil {
			return serr
		}
		p = &domain.Progress{Status: sy.Status}
		if sy.Status.Final() {
			p.Percent = 100
		}
		err = nil
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newProgressView(p))
	return nil
}

// syncIDParam reads the {id} of a sync route and records it for the logs.
func (h *Handler) syncIDParam(r *http.Request) (string, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return "", err
	}
	infoFrom(r.Context()).syncID = id
	return id, nil
}

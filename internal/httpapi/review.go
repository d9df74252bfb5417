package httpapi

import (
	"net/http"
	"strconv"

	"dirsync/internal/auth"
	"dirsync/internal/domain"
)

// maxSeq bounds a change's seq in a path (a plan never holds more).
const maxSeq = 1 << 31

type changePatch struct {
	Excluded *bool `json:"excluded"`
}

type exclusionsInput struct {
	Seqs     []int `json:"seqs"`
	Excluded *bool `json:"excluded"`
}

// patchChange excludes one change of a ready preview (or includes it
// back) and answers the change as it then is.
func (h *Handler) patchChange(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := h.syncIDParam(r)
	if err != nil {
		return err
	}
	seq, err := strconv.Atoi(r.PathValue("seq"))
	if err != nil || seq < 1 || seq > maxSeq || r.PathValue("seq") != strconv.Itoa(seq) {
		return domain.Errorf(domain.EInvalid, "path parameter \"seq\": must be a change's seq (a positive integer)")
	}
	if err := noQuery(r); err != nil {
		return err
	}
	var in changePatch
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if in.Excluded == nil {
		return domain.Errorf(domain.EInvalid, "excluded: required (true or false)")
	}
	_, changes, err := h.deps.Reviews.SetExcluded(r.Context(), actorOf(c), id, []int{seq}, *in.Excluded)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newChangeView(&changes[0]))
	return nil
}

// setExclusions excludes many changes at once (or includes them back) and
// answers the sync with its recomputed counts and safeguards.
func (h *Handler) setExclusions(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := h.syncIDParam(r)
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	var in exclusionsInput
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	switch {
	case in.Excluded == nil:
		return domain.Errorf(domain.EInvalid, "excluded: required (true or false)")
	case len(in.Seqs) == 0 || len(in.Seqs) > maxExclusionSeqs:
		return domain.Errorf(domain.EInvalid, "seqs: between 1 and %d seqs", maxExclusionSeqs)
	}
	for _, seq := range in.Seqs {
		if seq < 1 {
			return domain.Errorf(domain.EInvalid, "seqs: %d is not a change's seq (a positive integer)", seq)
		}
	}
	sy, _, err := h.deps.Reviews.SetExcluded(r.Context(), actorOf(c), id, in.Seqs, *in.Excluded)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newSyncView(sy, nil))
	return nil
}

// maxExclusionSeqs is the bulk form's limit (DESIGN.md section 2).
const maxExclusionSeqs = 1000

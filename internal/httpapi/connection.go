package httpapi

import (
	"errors"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"dirsync/internal/auth"
	"dirsync/internal/domain"
)

// connectionRequest is the body of PUT /v1/connection.
type connectionRequest struct {
	DirectoryTenantID string          `json:"directoryTenantId"`
	ClientID          string          `json:"clientId"`
	ClientSecret      *string         `json:"clientSecret"`
	Cloud             string          `json:"cloud"`
	Options           *optionsRequest `json:"options"`
}

// optionsRequest is the options of PUT /v1/connection. Its IgnoredUsers
// shadows the embedded one so that leaving the list out (keep the stored
// one: 10,000 ids do not fit in a 64 KiB body, they are edited with POST
// /v1/connection/ignored-users) differs from an empty list (ignore nobody).
type optionsRequest struct {
	domain.Options
	IgnoredUsers *[]string `json:"ignoredUsers"`
}

// Client secret bounds. Entra ID secret values are 40 characters; the
// lower bound keeps the four-character hint from giving much away.
const (
	minSecretLen = 16
	maxSecretLen = 1024
	hintLen      = 4
	// maxMappings bounds a connection's attribute mapping.
	maxMappings = 64
)

func (h *Handler) getConnection(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	if err := noQuery(r); err != nil {
		return err
	}
	conn, err := h.deps.Connections.GetConnection(r.Context(), c.TenantID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h.connectionView(r.Context(), conn))
	return nil
}

// putConnection creates or replaces the connection. The secret goes only
// to the secret store; without one, a replace keeps the stored secret.
func (h *Handler) putConnection(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	if err := noQuery(r); err != nil {
		return err
	}
	var req connectionRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	conn, replaceIgnored, err := req.validate()
	if err != nil {
		return err
	}
	ctx := r.Context()
	// A sync pins the connection it started with; changing it under a
	// running one is refused (PutConnection checks again, atomically).
	if err := h.deps.Connections.EnsureIdle(ctx, c.TenantID); err != nil {
		return err
	}
	existing, err := h.deps.Connections.GetConnection(ctx, c.TenantID)
	switch {
	case domain.ErrorCode(err) == domain.ENotFound:
		existing = nil
	case err != nil:
		return err
	}
	now := h.now().UTC()
	conn.TenantID = c.TenantID
	conn.UpdatedAt = now
	if req.ClientSecret == nil {
		switch {
		case existing == nil:
			return domain.Errorf(domain.EInvalid, "clientSecret: required when creating the connection")
		case !strings.EqualFold(existing.ClientID, conn.ClientID):
			return domain.Errorf(domain.EInvalid, "clientSecret: required when clientId changes (a secret belongs to one app registration)")
		}
		conn.SecretHint, conn.SecretSetAt, conn.SecretVersion = existing.SecretHint, existing.SecretSetAt, existing.SecretVersion
	} else {
		// The secret is stored first: a connection whose hint names a
		// secret that was never stored would be worse than the reverse.
		version, err := h.deps.Secrets.PutSecret(ctx, c.TenantID, *req.ClientSecret)
		if err != nil {
			return err
		}
		conn.SecretHint, conn.SecretSetAt, conn.SecretVersion = secretHint(*req.ClientSecret), now, version
	}
	if !replaceIgnored && existing != nil {
		conn.Options.IgnoredUsers = existing.Options.IgnoredUsers
		// A list saved before it had its own item is moved there now, or
		// the options written without it would lose it.
		replaceIgnored = existing.IgnoreVersion == 0 && len(existing.Options.IgnoredUsers) > 0
	}
	if err := h.deps.Connections.PutConnection(ctx, conn, replaceIgnored); err != nil {
		return err
	}
	status := http.StatusOK
	if existing == nil {
		status = http.StatusCreated
	}
	writeJSON(w, status, h.connectionView(ctx, conn))
	return nil
}

func (h *Handler) testConnection(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	if err := noQuery(r); err != nil {
		return err
	}
	if err := decodeOptionalBody(w, r, nil); err != nil {
		return err
	}
	conn, err := h.deps.Connections.GetConnection(r.Context(), c.TenantID)
	if err != nil {
		return err
	}
	checks, err := h.deps.Tester.Test(r.Context(), conn)
	if err != nil {
		return err
	}
	view := connectionTestView{OK: len(checks) > 0, Checks: checks}
	for _, ch := range checks {
		view.OK = view.OK && ch.OK
	}
	if view.Checks == nil {
		view.Checks = []domain.ConnectionCheck{}
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

// validate checks the request and returns the connection it describes
// (without tenant, secret hint or timestamps), and whether it gives the
// ignored users (else the stored ones are kept).
func (req *connectionRequest) validate() (*domain.Connection, bool, error) {
	conn, err := req.validateConnection()
	if err != nil || req.Options == nil || req.Options.IgnoredUsers == nil {
		return conn, false, err
	}
	if conn.Options.IgnoredUsers, err = validateIgnoredUsers("options.ignoredUsers", *req.Options.IgnoredUsers, domain.MaxIgnoredUsers); err != nil {
		return nil, false, err
	}
	return conn, true, nil
}

func (req *connectionRequest) validateConnection() (*domain.Connection, error) {
	conn := &domain.Connection{Cloud: domain.CloudGlobal}
	var err error
	if conn.DirectoryTenantID, err = requireGUID("directoryTenantId", req.DirectoryTenantID); err != nil {
		return nil, err
	}
	if conn.ClientID, err = requireGUID("clientId", req.ClientID); err != nil {
		return nil, err
	}
	switch domain.Cloud(req.Cloud) {
	case "":
	case domain.CloudGlobal, domain.CloudUSGov, domain.CloudChina:
		conn.Cloud = domain.Cloud(req.Cloud)
	default:
		return nil, domain.Errorf(domain.EInvalid, "cloud: must be one of global, usgov, china")
	}
	if req.ClientSecret != nil {
		if err := validateSecret(*req.ClientSecret); err != nil {
			return nil, err
		}
	}
	if req.Options != nil {
		if conn.Options, err = validateOptions(req.Options.Options); err != nil {
			return nil, err
		}
	}
	return conn, nil
}

func validateSecret(s string) error {
	n := utf8.RuneCountInString(s)
	switch {
	case s == "":
		return domain.Errorf(domain.EInvalid, "clientSecret: must not be empty (leave it out to keep the stored secret)")
	case isGUID(s):
		return domain.Errorf(domain.EInvalid, "clientSecret: this is a GUID, probably the secret's ID; give the secret's Value")
	case n < minSecretLen || n > maxSecretLen:
		return domain.Errorf(domain.EInvalid, "clientSecret: must be %d to %d characters", minSecretLen, maxSecretLen)
	case strings.TrimSpace(s) != s:
		return domain.Errorf(domain.EInvalid, "clientSecret: must not start or end with whitespace")
	case !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl):
		return domain.Errorf(domain.EInvalid, "clientSecret: must not contain control characters")
	}
	return nil
}

// secretHint is the last four characters of a secret, all the API ever
// shows of it.
func secretHint(s string) string {
	r := []rune(s)
	return string(r[max(0, len(r)-hintLen):])
}

func validateOptions(o domain.Options) (domain.Options, error) {
	seen := make(map[string]bool, len(o.Scope.Groups))
	groups := make([]string, 0, len(o.Scope.Groups))
	for i, g := range o.Scope.Groups {
		id, err := requireGUID(indexed("options.scope.groups", i), g)
		if err != nil {
			return o, err
		}
		if seen[id] {
			return o, domain.Errorf(domain.EInvalid, "options.scope.groups[%d]: %s is listed twice", i, id)
		}
		seen[id] = true
		groups = append(groups, id)
	}
	if len(groups) == 0 {
		groups = nil
	}
	o.Scope.Groups = groups
	if p := o.DeactivationThreshold.Percent; p < 0 || p > 100 {
		return o, domain.Errorf(domain.EInvalid, "options.deactivationThreshold.percent: must be from 0 to 100 (0 means the default, %d)", domain.DefaultThresholdPercent)
	}
	if o.DeactivationThreshold.Count < 0 {
		return o, domain.Errorf(domain.EInvalid, "options.deactivationThreshold.count: must be 0 or more (0 means the default, %d)", domain.DefaultThresholdCount)
	}
	if len(o.Mapping) > maxMappings {
		return o, domain.Errorf(domain.EInvalid, "options.mapping: at most %d entries", maxMappings)
	}
	for i, m := range o.Mapping {
		if err := validateAttributeName(indexed("options.mapping", i)+".attribute", m.Attribute); err != nil {
			return o, err
		}
	}
	if err := domain.ValidateMapping(o.Mapping); err != nil {
		return o, domain.Errorf(domain.EInvalid, "options.%s", err.Error())
	}
	if len(o.Mapping) == 0 {
		o.Mapping = nil
	}
	return o, nil
}

// validateIgnoredUsers returns the ids of field (at most limit) in lower
// case, in the order given, with repeats (in any case) folded into their
// first: a console adding an id twice, or two admins adding the same one,
// is no error.
func validateIgnoredUsers(field string, ids []string, limit int) ([]string, error) {
	if len(ids) > limit {
		return nil, domain.Errorf(domain.EInvalid, "%s: at most %d entries, got %d", field, limit, len(ids))
	}
	if len(ids) == 0 {
		return nil, nil
	}
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for i, raw := range ids {
		id, err := requireGUID(indexed(field, i), raw)
		if err != nil {
			return nil, err
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// ignoredUsersEdit is the body of POST /v1/connection/ignored-users.
type ignoredUsersEdit struct {
	IDs     []string `json:"ids"`
	Ignored *bool    `json:"ignored"`
}

// ignoredUsersView answers an edit: how many users are ignored now, and how
// many of the ids given changed state.
type ignoredUsersView struct {
	Count   int `json:"count"`
	Changed int `json:"changed"`
}

// editAttempts bounds how often an edit re-reads the list after losing a
// race with another edit.
const editAttempts = 5

// editIgnoredUsers ignores (or stops ignoring) up to a thousand users at
// once, so that the list can reach its 10,000 within the 64 KiB body limit.
func (h *Handler) editIgnoredUsers(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	if err := noQuery(r); err != nil {
		return err
	}
	var req ignoredUsersEdit
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if len(req.IDs) == 0 {
		return domain.Errorf(domain.EInvalid, "ids: required (1 to %d Entra user object ids)", domain.MaxIgnoredUsersPerEdit)
	}
	if req.Ignored == nil {
		return domain.Errorf(domain.EInvalid, "ignored: required (true to ignore the users, false to import them again)")
	}
	ids, err := validateIgnoredUsers("ids", req.IDs, domain.MaxIgnoredUsersPerEdit)
	if err != nil {
		return err
	}
	ctx := r.Context()
	for attempt := 1; ; attempt++ {
		conn, err := h.deps.Connections.GetConnection(ctx, c.TenantID)
		if err != nil {
			return err
		}
		next, changed, err := domain.EditIgnoredUsers(conn.Options.IgnoredUsers, ids, *req.Ignored)
		if err != nil {
			return err
		}
		if changed > 0 {
			err = h.deps.Connections.WriteIgnoredUsers(ctx, c.TenantID, next, conn.IgnoreVersion)
		} else {
			// Nothing to write, but a sync that pinned the list still
			// refuses edits, as it would have refused this one.
			err = h.deps.Connections.EnsureIdle(ctx, c.TenantID)
		}
		switch {
		case errors.Is(err, domain.ErrRevisionChanged) && attempt < editAttempts:
			continue
		case errors.Is(err, domain.ErrRevisionChanged):
			return domain.Errorf(domain.EConflict, "the ignored users are being edited by someone else; try again")
		case err != nil:
			return err
		}
		writeJSON(w, http.StatusOK, ignoredUsersView{Count: len(next), Changed: changed})
		return nil
	}
}

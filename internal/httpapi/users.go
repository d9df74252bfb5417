package httpapi

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"dirsync/internal/auth"
	"dirsync/internal/domain"
)

// Bounds of user input.
const (
	maxEmailLen      = 254 // RFC 5321 path limit
	maxAttributes    = 64
	maxAttributeText = 1024 // characters of one attribute value
)

var userStatuses = []string{string(domain.StatusActive), string(domain.StatusInactive)}

// createUserRequest is the body of POST /v1/users.
type createUserRequest struct {
	Email       string            `json:"email"`
	DisplayName *string           `json:"displayName"`
	Attributes  map[string]string `json:"attributes"`
	Status      string            `json:"status"`
	Protected   bool              `json:"protected"`
}

// patchUserRequest is the body of PATCH /v1/users/{id}: absent fields are
// left alone; an empty attribute value (or displayName) removes it.
type patchUserRequest struct {
	Email       *string           `json:"email"`
	DisplayName *string           `json:"displayName"`
	Attributes  map[string]string `json:"attributes"`
	Status      *string           `json:"status"`
	Protected   *bool             `json:"protected"`
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	q, err := parseQuery(r.URL.RawQuery, withPaging("status", "q")...)
	if err != nil {
		return err
	}
	page, err := q.page()
	if err != nil {
		return err
	}
	status, err := q.enum("status", userStatuses...)
	if err != nil {
		return err
	}
	text, err := q.text("q")
	if err != nil {
		return err
	}
	users, next, err := h.deps.Directory.ListUsers(r.Context(), c.TenantID, domain.UserFilter{Status: domain.UserStatus(status), Q: text}, page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(viewsOf(users, newUserView), next))
	return nil
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	u, err := h.deps.Directory.GetUser(r.Context(), c.TenantID, id)
	if err != nil {
		return err
	}
	writeUser(w, http.StatusOK, u)
	return nil
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	if err := noQuery(r); err != nil {
		return err
	}
	var req createUserRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if req.Email == "" {
		return domain.Errorf(domain.EInvalid, "email: required")
	}
	if err := validateEmail(req.Email); err != nil {
		return err
	}
	status, err := validateStatus(req.Status)
	if err != nil {
		return err
	}
	changes, err := attributeChanges(req.DisplayName, req.Attributes)
	if err != nil {
		return err
	}
	attrs := make(domain.Attrs, 0, len(changes))
	for name, v := range changes {
		if v != "" { // nothing to remove on a new user
			attrs = append(attrs, domain.Attr{Name: name, Value: v})
		}
	}
	slices.SortFunc(attrs, func(a, b domain.Attr) int { return strings.Compare(a.Name, b.Name) })
	u, err := h.deps.Directory.CreateUser(r.Context(), c.TenantID, domain.NewUser{
		Email: req.Email, Attributes: attrs, Status: status, Protected: req.Protected,
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/users/"+u.ID)
	writeUser(w, http.StatusCreated, u)
	return nil
}

func (h *Handler) patchUser(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	ifRevision, err := parseIfMatch(r.Header.Values("If-Match"))
	if err != nil {
		return err
	}
	var req patchUserRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	patch := domain.UserPatch{Protected: req.Protected, IfRevision: ifRevision}
	if req.Email != nil {
		if err := validateEmail(*req.Email); err != nil {
			return err
		}
		patch.Email = req.Email
	}
	if req.Status != nil {
		if *req.Status == "" {
			return domain.Errorf(domain.EInvalid, "status: must be one of %s", strings.Join(userStatuses, ", "))
		}
		st, err := validateStatus(*req.Status)
		if err != nil {
			return err
		}
		patch.Status = &st
	}
	if patch.Attributes, err = attributeChanges(req.DisplayName, req.Attributes); err != nil {
		return err
	}
	if patch.Email == nil && patch.Status == nil && patch.Protected == nil && len(patch.Attributes) == 0 {
		return domain.Errorf(domain.EInvalid, "body: names nothing to change (email, displayName, attributes, status, protected)")
	}
	u, err := h.deps.Directory.UpdateUser(r.Context(), c.TenantID, id, patch)
	if err != nil {
		return err
	}
	writeUser(w, http.StatusOK, u)
	return nil
}

// writeUser answers a single user with its revision as ETag, the value
// If-Match takes.
func writeUser(w http.ResponseWriter, status int, u *domain.User) {
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(u.Revision, 10)))
	writeJSON(w, status, newUserView(u))
}

// parseIfMatch reads an optional If-Match revision: a number, quoted or
// not (an ETag as GET returns it); "*" asks for no condition.
func parseIfMatch(values []string) (*int64, error) {
	switch len(values) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, domain.Errorf(domain.EInvalid, "If-Match: give one revision")
	}
	v := strings.TrimSpace(values[0])
	if v == "*" {
		return nil, nil // any current revision
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	rev, err := strconv.ParseInt(v, 10, 64)
	if err != nil || rev < 1 || strings.HasPrefix(v, "+") {
		return nil, domain.Errorf(domain.EInvalid, "If-Match: must be the user's revision, a positive integer")
	}
	return &rev, nil
}

func validateEmail(email string) error {
	if len(email) > maxEmailLen || !domain.ValidEmail(email) {
		return domain.Errorf(domain.EInvalid, "email: must be a plain email address like ada@example.com (at most %d characters)", maxEmailLen)
	}
	return nil
}

func validateStatus(s string) (domain.UserStatus, error) {
	if s == "" {
		return domain.StatusActive, nil
	}
	if !slices.Contains(userStatuses, s) {
		return "", domain.Errorf(domain.EInvalid, "status: must be one of %s", strings.Join(userStatuses, ", "))
	}
	return domain.UserStatus(s), nil
}

// attributeChanges merges displayName into the attribute edits and checks
// names and values. An empty value means "remove" (on create: "not set").
func attributeChanges(displayName *string, attributes map[string]string) (map[string]string, error) {
	if len(attributes) > maxAttributes {
		return nil, domain.Errorf(domain.EInvalid, "attributes: at most %d", maxAttributes)
	}
	out := make(map[string]string, len(attributes)+1)
	// Sorted, so the message names the same attribute every time.
	names := make([]string, 0, len(attributes))
	for name := range attributes {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		field := joinPath("attributes", name)
		if name == displayNameAttribute {
			return nil, domain.Errorf(domain.EInvalid, "%s: set it with the displayName field", field)
		}
		if err := validateAttributeName(field, name); err != nil {
			return nil, err
		}
		if err := validateAttributeValue(field, attributes[name]); err != nil {
			return nil, err
		}
		out[name] = attributes[name]
	}
	if displayName != nil {
		if err := validateAttributeValue("displayName", *displayName); err != nil {
			return nil, err
		}
		out[displayNameAttribute] = *displayName
	}
	return out, nil
}

func validateAttributeValue(field, v string) error {
	switch {
	case utf8.RuneCountInString(v) > maxAttributeText:
		return domain.Errorf(domain.EInvalid, "%s: at most %d characters", field, maxAttributeText)
	case strings.ContainsFunc(v, unicode.IsControl):
		return domain.Errorf(domain.EInvalid, "%s: must not contain control characters", field)
	}
	return nil
}

package httpapi

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"dirsync/internal/domain"
)

// Paging bounds (DESIGN.md section 2).
const (
	DefaultLimit = 50
	MaxLimit     = 100
	// maxCursorLen bounds a cursor before the store decodes it; the store's
	// own cursors are far shorter.
	maxCursorLen = 2048
	// maxQueryText bounds the text filter q.
	maxQueryText = 256
)

// ValidID reports whether s is an API id: 1 to 64 of A-Z a-z 0-9 _ -.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// pathID returns the path parameter name, which must be a valid id.
func pathID(r *http.Request, name string) (string, error) {
	id := r.PathValue(name)
	if !ValidID(id) {
		return "", domain.Errorf(domain.EInvalid, "path parameter %q: must be 1 to 64 characters of A-Z, a-z, 0-9, _ or -", name)
	}
	return id, nil
}

// queryParams is a parsed query string in which every parameter appears
// at most once.
type queryParams map[string]string

// parseQuery parses a raw query string, refusing malformed encodings,
// parameters not in allowed and parameters given more than once.
func parseQuery(rawQuery string, allowed ...string) (queryParams, error) {
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, domain.Errorf(domain.EInvalid, "query string: malformed (%s)", queryErrorReason(err))
	}
	out := make(queryParams, len(values))
	// Sorted, so the message names the same parameter every time.
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.Contains(allowed, name) {
			shown := name
			if len(shown) > maxNameInMessage {
				shown = shown[:maxNameInMessage] + "…"
			}
			if len(allowed) == 0 {
				return nil, domain.Errorf(domain.EInvalid, "query parameter %q: unknown (this route takes none)", shown)
			}
			return nil, domain.Errorf(domain.EInvalid, "query parameter %q: unknown (allowed: %s)", shown, strings.Join(allowed, ", "))
		}
		if len(values[name]) > 1 {
			return nil, domain.Errorf(domain.EInvalid, "query parameter %q: given more than once", name)
		}
		out[name] = values[name][0]
	}
	return out, nil
}

func queryErrorReason(err error) string {
	if strings.Contains(err.Error(), "semicolon") {
		return "use & to separate parameters"
	}
	return "bad percent-encoding"
}

// page reads limit (1..MaxLimit, default DefaultLimit) and cursor.
func (q queryParams) page() (domain.Page, error) {
	p := domain.Page{Limit: DefaultLimit, Cursor: q["cursor"]}
	if s, ok := q["limit"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return domain.Page{}, domain.Errorf(domain.EInvalid, "limit: must be an integer from 1 to %d", MaxLimit)
		}
		p.Limit = n
	}
	if len(p.Cursor) > maxCursorLen || strings.ContainsFunc(p.Cursor, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '-')
	}) {
		return domain.Page{}, domain.Errorf(domain.EInvalid, "cursor: malformed")
	}
	return p, nil
}

// enum returns parameter name when it is one of allowed ("" when absent or
// empty, which means no filter).
func (q queryParams) enum(name string, allowed ...string) (string, error) {
	v := q[name]
	if v == "" || slices.Contains(allowed, v) {
		return v, nil
	}
	return "", domain.Errorf(domain.EInvalid, "%s: must be one of %s", name, strings.Join(allowed, ", "))
}

// boolean returns parameter name as true or false (nil when absent: no
// filter).
func (q queryParams) boolean(name string) (*bool, error) {
	switch q[name] {
	case "":
		return nil, nil
	case "true":
		return new(true), nil
	case "false":
		return new(false), nil
	}
	return nil, domain.Errorf(domain.EInvalid, "%s: must be true or false", name)
}

// text returns the text filter name, bounded in length.
func (q queryParams) text(name string) (string, error) {
	v := strings.TrimSpace(q[name])
	if len(v) > maxQueryText {
		return "", domain.Errorf(domain.EInvalid, "%s: must be at most %d bytes", name, maxQueryText)
	}
	return v, nil
}

// pagingParams are the query parameters of every paged listing.
var pagingParams = []string{"limit", "cursor"}

func withPaging(extra ...string) []string {
	return append(slices.Clone(pagingParams), extra...)
}

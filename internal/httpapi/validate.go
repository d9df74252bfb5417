package httpapi

import (
	"fmt"
	"net/http"
	"strings"

	"dirsync/internal/domain"
)

// isGUID reports whether s is a GUID in its usual 8-4-4-4-12 hex form.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// requireGUID returns s in lower case when it is a GUID. Entra ID compares
// GUIDs case-insensitively; one spelling keeps comparisons simple.
func requireGUID(field, s string) (string, error) {
	switch {
	case s == "":
		return "", domain.Errorf(domain.EInvalid, "%s: required", field)
	case !isGUID(s):
		return "", domain.Errorf(domain.EInvalid, "%s: must be a GUID like 00000000-0000-0000-0000-000000000000", field)
	}
	return strings.ToLower(s), nil
}

func indexed(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// Attribute name bounds: names become JSON keys of the user shape and keys
// of the stored attribute map.
const maxAttributeName = 64

// validateAttributeName accepts 1 to 64 letters, digits, '_', '.' or '-',
// starting with a letter, that is not one of the user shape's fixed keys
// (displayName excepted: it is an attribute shown under its own key).
func validateAttributeName(field, name string) error {
	ok := name != "" && len(name) <= maxAttributeName && isLetter(name[0])
	for i := 1; ok && i < len(name); i++ {
		c := name[i]
		ok = isLetter(c) || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-'
	}
	if !ok {
		return domain.Errorf(domain.EInvalid, "%s: must be 1 to %d letters, digits, _, . or -, starting with a letter", field, maxAttributeName)
	}
	if name != displayNameAttribute && isUserFixedKey(name) {
		return domain.Errorf(domain.EInvalid, "%s: %q is reserved", field, name)
	}
	return nil
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// noQuery refuses any query parameter on routes that take none.
func noQuery(r *http.Request) error {
	_, err := parseQuery(r.URL.RawQuery)
	return err
}

package domain

import "regexp"

// tenantIDPattern is the one definition of a platform tenant id. Tenant ids
// come from the caller's token and become part of storage keys, secret names
// and file names, so they are limited to what all of those accept: ASCII
// letters, digits, '_', '-' and '.', starting with a letter or digit (so
// never "." or ".."), at most 64 characters. '#', which separates the parts
// of storage keys, and '/', which separates secret name parts, are refused.
var tenantIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// TenantIDRule says in words what ValidTenantID accepts, for error messages.
const TenantIDRule = "1 to 64 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit"

// ValidTenantID reports whether s is a usable platform tenant id.
func ValidTenantID(s string) bool { return tenantIDPattern.MatchString(s) }

package domain

import (
	"net/mail"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// NormalizeEmail returns the one form in which emails are compared, keyed
// and matched (DESIGN.md section 3, "One email identity"): two emails are
// the same address exactly when their normalized forms are equal, and two
// platform users never hold the same normalized email.
//
// The form is: surrounding whitespace trimmed, Unicode NFC, ASCII letters
// A-Z folded to a-z, then NFC once more. Nothing else is folded: every
// non-ASCII code point that NFC leaves is kept exactly, so É and é, ß and
// ss, ſ (U+017F) and s, İ (U+0130) or ı (U+0131) and i, Ａ (U+FF21) and a
// are all different addresses.
//
// Why: linking by email hands a platform account to an Entra identity, so
// a look-alike must never match an ASCII address, while canonically
// equivalent spellings (é precomposed, or e followed by U+0301) are one
// address. NFC rules out code points that are canonically another one:
// K (U+212A KELVIN SIGN) is K to NFC, and so k. The second NFC keeps the
// result normalized when a lowered letter composes with a following mark
// that its capital did not (H+U+0331 stays apart, h+U+0331 is ẖ), which
// makes the function idempotent and ASCII case-insensitive.
func NormalizeEmail(s string) string {
	s = strings.TrimSpace(s)
	if isASCII(s) {
		// NFC leaves ASCII as it is: the common case needs only the fold.
		return foldASCII(s)
	}
	s = norm.NFC.String(s)
	if folded := foldASCII(s); folded != s {
		return norm.NFC.String(folded)
	}
	return s
}

// foldASCII lowers ASCII letters and leaves every other byte alone,
// returning s itself when it has no capital.
func foldASCII(s string) string {
	i := 0
	for i < len(s) && !('A' <= s[i] && s[i] <= 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder // one allocation, as strings.ToLower makes
	b.Grow(len(s))
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// ValidEmail reports whether s is a plain address (no display name).
func ValidEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && !strings.ContainsAny(s, " \t")
}

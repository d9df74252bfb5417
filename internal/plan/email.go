package plan

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"dirsync/internal/domain"
)

// sourceEmail returns the email a source user is matched and stored by:
// its mail when it has one, else its userPrincipalName, trimmed.
func sourceEmail(u *domain.SourceUser) string {
	if m := strings.TrimSpace(u.Mail); m != "" {
		return m
	}
	return strings.TrimSpace(u.UserPrincipalName)
}

// Emails are compared in one form, domain.NormalizeEmail. The hot paths
// never build it: emailText, emailPrefix and compareEmails reproduce it
// byte by byte for ASCII and fall back to it otherwise. NFC may merge an
// ASCII letter with a non-ASCII mark that follows it, so an ASCII byte is
// final only when the byte after it is ASCII too (or there is none).

// guestUPNMarker marks the userPrincipalName Entra gives invited guests
// (alice_example.com#EXT#@tenant.onmicrosoft.com): an address nobody
// receives mail at, so it must not become a platform email.
const guestUPNMarker = "#ext#"

// usableEmail reports whether a trimmed email looks like an address a
// platform user can have: exactly one '@' with something on both sides, no
// whitespace or control characters, and not a guest-style UPN.
func usableEmail(s string) bool {
	at := -1
	marker := false
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '@':
				if at >= 0 {
					return false
				}
				at = i
			case c == '#':
				marker = marker || hasFoldPrefix(s[i:], guestUPNMarker)
			case c <= ' ' || c == 0x7f:
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
		i += size
	}
	return at > 0 && at < len(s)-1 && !marker
}

// hasFoldPrefix reports whether s starts with the lower-case ASCII prefix,
// ignoring ASCII case.
func hasFoldPrefix(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// prefixWords is how many leading bytes (in 8-byte words) of a normalised
// email an orderKey carries: enough to tell most addresses apart without
// reading the strings again.
const prefixWords = 3

// emailPrefix packs the first 24 bytes of the normalised email big-endian,
// zero-padded. Zero padding keeps integer order consistent with byte-wise
// string order: a shorter string sorts before one it is a prefix of.
func emailPrefix(email string) [prefixWords]uint64 {
	var buf [prefixWords * 8]byte
	s := strings.TrimSpace(email)
	n := min(len(s), len(buf))
	if !lowerASCIIInto(buf[:n], s[:n]) || (n < len(s) && s[n] >= utf8.RuneSelf) {
		buf = [prefixWords * 8]byte{}
		copy(buf[:], domain.NormalizeEmail(s))
	}
	var p [prefixWords]uint64
	for w := range p {
		for _, c := range buf[w*8 : w*8+8] {
			p[w] = p[w]<<8 | uint64(c)
		}
	}
	return p
}

// compareEmails compares two emails in normalised form.
func compareEmails(a, b string) int {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		x, y := a[i], b[i]
		if x >= utf8.RuneSelf || y >= utf8.RuneSelf {
			return compareNormalised(a, b)
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			if i+1 < len(a) && a[i+1] >= utf8.RuneSelf || i+1 < len(b) && b[i+1] >= utf8.RuneSelf {
				return compareNormalised(a, b) // x or y may compose with what follows
			}
			if x < y {
				return -1
			}
			return 1
		}
	}
	// Equal so far: the rest decides, and a non-ASCII rest may compose
	// with the last equal byte or have a normal form of another length.
	if !isASCII(a[n:]) || !isASCII(b[n:]) {
		return compareNormalised(a, b)
	}
	return len(a) - len(b)
}

func compareNormalised(a, b string) int {
	return strings.Compare(domain.NormalizeEmail(a), domain.NormalizeEmail(b))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

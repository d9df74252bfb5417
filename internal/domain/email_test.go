package domain

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"ASCII is lowered", "Alice.O'Neil+Tag@Example.COM", "alice.o'neil+tag@example.com"},
		{"lower-case ASCII is kept", "bob@example.com", "bob@example.com"},
		{"surrounding spaces are trimmed", "  Bob@Example.com\t\n", "bob@example.com"},
		{"surrounding Unicode spaces are trimmed", "\u00a0bob@example.com\u2003", "bob@example.com"},
		{"inner space is kept", "bob smith@example.com", "bob smith@example.com"},
		{"empty", "", ""},
		{"only spaces", " \t ", ""},
		{"long s is not s", "ſam@example.com", "ſam@example.com"},
		{"dotted capital I is not i", "İpek@example.com", "İpek@example.com"},
		{"dotless i is not i", "ıpek@example.com", "ıpek@example.com"},
		{"sharp s is not ss", "Straße@example.de", "straße@example.de"},
		{"capital sharp s is kept", "STRAẞE@example.de", "straẞe@example.de"},
		{"fullwidth letters are not ASCII", "Ａlice@ｅxample.com", "Ａlice@ｅxample.com"},
		{"fullwidth lower case is kept too", "ａlice@example.com", "ａlice@example.com"},
		{"non-ASCII capitals are kept", "ÉLODIE@Exemple.FR", "Élodie@exemple.fr"},
		{"non-ASCII lower case is kept", "élodie@exemple.fr", "élodie@exemple.fr"},
		{"a combining accent is composed", "e\u0301lodie@exemple.fr", "élodie@exemple.fr"},
		{"a capital with a combining accent is composed, not lowered", "E\u0301lodie@exemple.fr", "Élodie@exemple.fr"},
		{"combining marks are put in canonical order", "a\u0323\u0302@x.org", "ậ@x.org"},
		{"a combining mark with no composite stays", "q\u0301@x.org", "q\u0301@x.org"},
		// U+212A is canonically K: NFC replaces it, so it is the ASCII letter.
		{"Kelvin sign is canonically K", "\u212Aelvin@x.org", "kelvin@x.org"},
		// U+212B is canonically Å (U+00C5), which is not ASCII and stays.
		{"Angstrom sign is canonically Å", "\u212Bngstr\u00f6m@x.org", "Ångström@x.org"},
		// H+U+0331 has no composite; h+U+0331 is U+1E96: composed after the fold.
		{"a lowered letter composes with its mark", "H\u0331@x.org", "\u1e96@x.org"},
		{"invalid UTF-8 is kept", "bad\xffUTF8@x.org", "bad\xffutf8@x.org"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := NormalizeEmail(tc.in)
			if got != tc.want {
				t.Fatalf("NormalizeEmail(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if again := NormalizeEmail(got); again != got {
				t.Fatalf("NormalizeEmail(%q) = %q, not idempotent (then %q)", tc.in, got, again)
			}
		})
	}
}

// TestNormalizeEmailMatches lists pairs that are one address and pairs
// that must never be.
func TestNormalizeEmailMatches(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"Bob@Example.com", "bob@example.com", true},
		{" bob@example.com", "BOB@EXAMPLE.COM ", true},
		{"e\u0301@x.org", "é@x.org", true},
		{"E\u0301@x.org", "É@x.org", true},
		{"A\u030a@x.org", "\u212b@x.org", true},
		{"\u212Aate@x.org", "kate@x.org", true},
		{"H\u0331@x.org", "h\u0331@x.org", true},
		{"ſam@x.org", "sam@x.org", false},
		{"ſam@x.org", "Sam@x.org", false},
		{"İpek@x.org", "ipek@x.org", false},
		{"ıpek@x.org", "ipek@x.org", false},
		{"ıpek@x.org", "İpek@x.org", false},
		{"Ａlice@x.org", "alice@x.org", false},
		{"Ａlice@x.org", "ａlice@x.org", false},
		{"straße@x.de", "strasse@x.de", false},
		{"É@x.org", "é@x.org", false},
		{"é@x.org", "e@x.org", false},
	}
	for _, tc := range tests {
		if got := NormalizeEmail(tc.a) == NormalizeEmail(tc.b); got != tc.same {
			t.Errorf("NormalizeEmail(%q) == NormalizeEmail(%q) is %v, want %v (%q, %q)",
				tc.a, tc.b, got, tc.same, NormalizeEmail(tc.a), NormalizeEmail(tc.b))
		}
	}
}

// FuzzNormalizeEmail checks the properties the decision promises, on any
// input.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{
		"", " Bob@Example.com ", "ſam@x", "İpek@x", "\u212Aelvin@x", "Ａ@x", "e\u0301@x", "H\u0331@x",
		"A\u030a@x", "STRAẞE@x", "a\u0323\u0302@x", "bad\xff@x", "\u00a0x\u2003",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := NormalizeEmail(s)
		if again := NormalizeEmail(n); again != n {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, n, again)
		}
		if n != strings.TrimSpace(n) {
			t.Fatalf("%q -> %q keeps surrounding space", s, n)
		}
		if strings.ContainsFunc(n, func(r rune) bool { return 'A' <= r && r <= 'Z' }) {
			t.Fatalf("%q -> %q keeps an ASCII capital", s, n)
		}
		if isASCII(s) {
			// ASCII: case-insensitive, and nothing else.
			if n != strings.ToLower(strings.TrimSpace(s)) {
				t.Fatalf("ASCII %q -> %q", s, n)
			}
			return
		}
		if !utf8.ValidString(s) {
			return // kept byte for byte; NFC says nothing about such input
		}
		if !norm.NFC.IsNormalString(n) {
			t.Fatalf("%q -> %q is not NFC", s, n)
		}
		for _, v := range []string{norm.NFD.String(s), norm.NFC.String(s)} {
			if NormalizeEmail(v) != n {
				t.Fatalf("%q -> %q, but its canonical equivalent %q -> %q", s, n, v, NormalizeEmail(v))
			}
		}
		// An address with a non-ASCII code point after NFC never matches an
		// ASCII address: look-alikes stay apart.
		if isASCII(n) != isASCII(norm.NFC.String(strings.TrimSpace(s))) {
			t.Fatalf("%q -> %q changes whether the address is ASCII", s, n)
		}
		// Only ASCII capitals and surrounding space are changed in an NFC
		// address: every non-ASCII code point is kept.
		if t2 := strings.TrimSpace(s); norm.NFC.IsNormalString(t2) && !strings.ContainsFunc(t2, func(r rune) bool { return 'A' <= r && r <= 'Z' }) && n != t2 {
			t.Fatalf("%q -> %q changes more than ASCII case and space", s, n)
		}
	})
}

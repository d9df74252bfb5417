package fakeentra

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxInValues is how many values Graph takes in one "in" clause of a
// $filter without advanced query parameters.
const maxInValues = 15

// groupFilter is a parsed $filter on /groups, in one of the two forms Graph
// serves without advanced query parameters that a directory sync sends:
//
//	startswith(displayName,'Eng')   case-insensitive, as Graph compares
//	id in ('a','b')                 at most 15 values
type groupFilter struct {
	prefix    string
	hasPrefix bool
	ids       map[string]bool // lower-case ids; nil unless an "in" clause
}

// matches reports whether g passes the filter.
func (f groupFilter) matches(g *Group) bool {
	if f.hasPrefix {
		return hasPrefixFold(g.DisplayName, f.prefix)
	}
	return f.ids[strings.ToLower(g.ID)]
}

// userFilter is a parsed $filter on /users: startswith(userPrincipalName,'x'),
// case-insensitive as Graph compares, the form a partitioned read sends.
type userFilter struct {
	prefix string
}

func (f userFilter) matches(u *User) bool { return hasPrefixFold(u.UserPrincipalName, f.prefix) }

// parseUserFilter parses raw; errMsg is Graph's message for a filter it
// would refuse.
func parseUserFilter(raw string) (f userFilter, errMsg string) {
	p := &filterParser{s: raw}
	p.space()
	if !p.keyword("startswith") {
		return f, "Unsupported Query."
	}
	p.space()
	if !p.char('(') || !p.property("userPrincipalName") || !p.char(',') {
		return f, invalidFilter(raw)
	}
	lit, ok := p.literal()
	if !ok || !p.char(')') || !p.done() {
		return f, invalidFilter(raw)
	}
	return userFilter{prefix: lit}, ""
}

// parseGroupFilter parses raw; errMsg is Graph's message for a filter it
// would refuse.
func parseGroupFilter(raw string) (f groupFilter, errMsg string) {
	p := &filterParser{s: raw}
	p.space()
	switch {
	case p.keyword("startswith"):
		p.space()
		if !p.char('(') || !p.property("displayName") || !p.char(',') {
			return f, invalidFilter(raw)
		}
		lit, ok := p.literal()
		if !ok || !p.char(')') {
			return f, invalidFilter(raw)
		}
		f.prefix, f.hasPrefix = lit, true
	case p.property("id"):
		p.space()
		if !p.keyword("in") || !p.char('(') {
			return f, invalidFilter(raw)
		}
		f.ids = map[string]bool{}
		for n := 0; ; n++ {
			lit, ok := p.literal()
			if !ok {
				return f, invalidFilter(raw)
			}
			if n+1 > maxInValues {
				return f, "Too many child clauses specified in search filter expression containing 'OR' operators: " +
					strconv.Itoa(n+1+p.countRemaining()) + ". Max allowed: " + strconv.Itoa(maxInValues) + "."
			}
			f.ids[strings.ToLower(lit)] = true
			if p.char(')') {
				break
			}
			if !p.char(',') {
				return f, invalidFilter(raw)
			}
		}
	default:
		return f, "Unsupported Query."
	}
	p.space()
	if !p.done() {
		return f, invalidFilter(raw)
	}
	return f, ""
}

func invalidFilter(raw string) string {
	return "Invalid filter clause: syntax error in '" + raw + "'."
}

// filterParser reads an OData $filter expression left to right.
type filterParser struct {
	s   string
	pos int
}

func (p *filterParser) done() bool { return p.pos == len(p.s) }

func (p *filterParser) space() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

// keyword consumes a function or operator name, case-insensitively, that
// is not the start of a longer name.
func (p *filterParser) keyword(name string) bool {
	end := p.pos + len(name)
	if end > len(p.s) || !strings.EqualFold(p.s[p.pos:end], name) {
		return false
	}
	if end < len(p.s) && isNameByte(p.s[end]) {
		return false
	}
	p.pos = end
	return true
}

// property consumes a property name; Graph matches them case-insensitively.
func (p *filterParser) property(name string) bool {
	p.space()
	ok := p.keyword(name)
	p.space()
	return ok
}

func (p *filterParser) char(c byte) bool {
	p.space()
	if p.pos < len(p.s) && p.s[p.pos] == c {
		p.pos++
		p.space()
		return true
	}
	return false
}

// literal consumes an OData string literal: text between quotes, in
// which two quotes stand for one.
func (p *filterParser) literal() (string, bool) {
	p.space()
	if p.pos >= len(p.s) || p.s[p.pos] != '\'' {
		return "", false
	}
	var b strings.Builder
	for i := p.pos + 1; i < len(p.s); i++ {
		if p.s[i] != '\'' {
			b.WriteByte(p.s[i])
			continue
		}
		if i+1 < len(p.s) && p.s[i+1] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		p.pos = i + 1
		p.space()
		return b.String(), true
	}
	return "", false
}

// countRemaining counts the literals left in an "in" list, for Graph's
// message naming how many clauses were sent.
func (p *filterParser) countRemaining() int {
	n := 0
	for {
		save := p.pos
		if !p.char(',') {
			p.pos = save
			return n
		}
		if _, ok := p.literal(); !ok {
			return n
		}
		n++
	}
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// hasPrefixFold reports whether s starts with prefix under Unicode simple
// case folding, rune by rune (so letters whose cases differ in UTF-8
// length still match).
func hasPrefixFold(s, prefix string) bool {
	for _, pr := range prefix {
		if s == "" {
			return false
		}
		r, n := utf8.DecodeRuneInString(s)
		if r != pr && !foldEqual(r, pr) {
			return false
		}
		s = s[n:]
	}
	return true
}

func foldEqual(a, b rune) bool {
	for f := unicode.SimpleFold(a); f != a; f = unicode.SimpleFold(f) {
		if f == b {
			return true
		}
	}
	return false
}

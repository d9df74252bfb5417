package fakeentra

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

const (
	defaultPageSize = 100
	maxPageSize     = 999
)

// query holds a request's query options keyed by lower-case name without
// the "$" prefix: Graph accepts "$select", "select" and "%24select" alike.
type query map[string]string

func parseQuery(raw string) query {
	if raw == "" {
		return nil
	}
	vals, _ := url.ParseQuery(raw) // keeps the pairs that parse, like Graph
	q := make(query, len(vals))
	for k, v := range vals {
		if len(v) == 0 {
			continue
		}
		key := strings.ToLower(strings.TrimPrefix(k, "$"))
		if _, dup := q[key]; !dup {
			q[key] = v[0]
		}
	}
	return q
}

func (q query) get(name string) (string, bool) {
	v, ok := q[name]
	return v, ok
}

// pageToken is the state a $skiptoken or $deltatoken carries: the offset of
// the next page and its size, and for delta rounds the directory version
// the round started at (snap) and the version it reports changes since.
type pageToken struct {
	offset int
	top    int
	snap   uint64
	since  uint64
	// page is the 1-based page the token leads to when pages are not all
	// top long (a groups delta round splitting members); 0 = offset/top+1.
	page int
}

const pageTokenMagic = 0x9e

var errBadPageToken = errors.New("malformed page token")

func (t pageToken) encode() string {
	b := make([]byte, 0, 32)
	b = append(b, pageTokenMagic)
	b = binary.AppendUvarint(b, uint64(t.offset))
	b = binary.AppendUvarint(b, uint64(t.top))
	b = binary.AppendUvarint(b, t.snap)
	b = binary.AppendUvarint(b, t.since)
	b = binary.AppendUvarint(b, uint64(t.page))
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(s string) (pageToken, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 || b[0] != pageTokenMagic {
		return pageToken{}, errBadPageToken
	}
	b = b[1:]
	var fields [5]uint64
	for i := range fields {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return pageToken{}, errBadPageToken
		}
		fields[i], b = v, b[n:]
	}
	if len(b) != 0 || fields[0] > 1<<40 || fields[1] < 1 || fields[1] > maxPageSize || fields[4] > 1<<40 {
		return pageToken{}, errBadPageToken
	}
	return pageToken{offset: int(fields[0]), top: int(fields[1]), snap: fields[2], since: fields[3], page: int(fields[4])}, nil
}

// requestedPageSize is $top, else the odata.maxpagesize preference, else
// the default; explicit says whether the request asked for a size. ok is
// false when $top is present but not in 1..999.
func requestedPageSize(r *http.Request, q query) (size int, explicit, ok bool) {
	if v, present := q.get("top"); present {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return 0, true, false
		}
		return n, true, true
	}
	for _, pref := range r.Header.Values("Prefer") {
		for p := range strings.SplitSeq(pref, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(name), "odata.maxpagesize") {
				if n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(val), `"`)); err == nil && n >= 1 {
					return min(n, maxPageSize), true, true
				}
			}
		}
	}
	return defaultPageSize, false, true
}

// requestPage is the 1-based page a request asks for: offset / top + 1 of
// its $skiptoken, and 1 for every request without one.
func requestPage(q query) int {
	raw, ok := q.get("skiptoken")
	if !ok {
		return 1
	}
	tok, err := decodePageToken(raw)
	if err != nil {
		return 1
	}
	return tok.pageNumber()
}

// pageNumber is the 1-based page the token leads to.
func (t pageToken) pageNumber() int {
	if t.page > 0 {
		return t.page
	}
	return t.offset/t.top + 1
}

// appendQueryValue appends v percent-encoding only what would break a
// query string, so links stay as readable as Graph's own.
func appendQueryValue(b []byte, v string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("-._~$(),=;:/!*'@", c) >= 0:
			b = append(b, c)
		default:
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return b
}

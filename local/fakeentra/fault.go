package fakeentra

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// FaultKind is how a Fault misbehaves.
type FaultKind int

const (
	// FaultStatus answers with Status (and Retry-After when set) and an
	// error body shaped like the real service's.
	FaultStatus FaultKind = iota
	// FaultReset hijacks the connection and closes it with a TCP RST,
	// without a response. Go's http.Transport transparently retries an
	// idempotent request that fails this way on a reused connection, so a
	// one-off reset may go unnoticed by a client; on a fresh connection the
	// client sees the error.
	FaultReset
	// FaultSlow sleeps Delay, then serves the request normally.
	FaultSlow

	// The kinds below answer successfully but wrongly: the malformed and
	// short answers a client must refuse rather than read as complete.

	// FaultEmptyBody answers 200 with no body at all.
	FaultEmptyBody
	// FaultNoContent answers 204 No Content.
	FaultNoContent
	// FaultBody answers 200 with Body verbatim, as OData JSON: e.g. "null",
	// "{}", `{"value":null}`, `{"value":{}}` or text that is not JSON.
	FaultBody

	// The page kinds below alter one page of a paged listing (users,
	// groups, a group's members or transitive members, with or without a
	// type cast, and a users or groups delta round) and match only such
	// requests. On a delta page a dropped nextLink ends the round with its
	// deltaLink.

	// FaultNoValue serves the page without its "value" member.
	FaultNoValue
	// FaultTruncated serves the first half of the page's JSON.
	FaultTruncated
	// FaultDropNextLink serves the page without its @odata.nextLink
	// although more pages follow: a well-formed, silently short listing.
	FaultDropNextLink
	// FaultRepeatNextLink points the page's @odata.nextLink back at the
	// page before it (page 1's at page 1 itself), even on the last page: a
	// paging loop.
	FaultRepeatNextLink
	// FaultForeignNextLink serves the page's @odata.nextLink with
	// NextLinkBase in place of the server's URL, on a page that has one.
	FaultForeignNextLink

	// FaultCountSkew adds CountSkew to the answer of a $count request (it
	// matches only those): Graph's count disagreeing with the listing.
	FaultCountSkew
)

var faultKindNames = [...]string{
	FaultStatus:          "status",
	FaultReset:           "reset",
	FaultSlow:            "slow",
	FaultEmptyBody:       "empty-body",
	FaultNoContent:       "no-content",
	FaultBody:            "body",
	FaultNoValue:         "no-value",
	FaultTruncated:       "truncated",
	FaultDropNextLink:    "drop-next-link",
	FaultRepeatNextLink:  "repeat-next-link",
	FaultForeignNextLink: "foreign-next-link",
	FaultCountSkew:       "count-skew",
}

func (k FaultKind) String() string {
	if k >= 0 && int(k) < len(faultKindNames) {
		return faultKindNames[k]
	}
	return "FaultKind(" + strconv.Itoa(int(k)) + ")"
}

// DefaultForeignNextLinkBase is the NextLinkBase of a FaultForeignNextLink
// that sets none.
const DefaultForeignNextLinkBase = "https://graph.evil.example"

// Fault matches requests and misbehaves. Faults apply before any other
// handling, in the order they were injected; the first one that matches
// and has not run out wins.
type Fault struct {
	// PathPrefix matches the decoded URL path, e.g. "/v1.0/users",
	// "/v1.0/groups", "/v1.0/users/$count", "/<tenant>/oauth2/v2.0/token";
	// "" matches every path.
	PathPrefix string
	// Page is the 1-based page of a paged listing (page 1 = no $skiptoken);
	// 0 matches any page.
	Page int
	// Query, when set, matches only requests whose decoded query string
	// contains it, e.g. "startswith(userPrincipalName,'j')" for one
	// partition of a partitioned read (its nextLinks carry the filter).
	Query      string
	Kind       FaultKind
	Status     int           // for FaultStatus: 429, 500, 503, 504, ...; 0 means 503
	RetryAfter time.Duration // for FaultStatus: Retry-After in whole seconds, rounded up
	Delay      time.Duration // for FaultSlow
	Body       string        // for FaultBody
	// NextLinkBase replaces the server's URL ("https://127.0.0.1:PORT") in
	// the nextLink of a FaultForeignNextLink, e.g. "http://127.0.0.1:PORT"
	// or "https://127.0.0.1:PORT@evil.example" (verbatim: nothing in it
	// may need JSON escaping); "" means DefaultForeignNextLinkBase.
	NextLinkBase string
	// CountSkew is added to the true count by a FaultCountSkew (the answer
	// never goes below 0).
	CountSkew int
	// Times is how many matching requests the fault affects; 0 means every
	// one, until removed.
	Times int
}

// target is what a request asks for, as far as fault matching cares.
type target uint8

const (
	targetOther   target = iota
	targetListing        // a paged listing of users, groups or members
	targetCount          // a $count segment
)

// requestTarget classifies a decoded URL path.
func requestTarget(path string) target {
	rest, ok := strings.CutPrefix(path, "/v1.0/")
	if !ok {
		return targetOther
	}
	segs := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	switch {
	case segs[len(segs)-1] == "$count":
		return targetCount
	case len(segs) == 1 && (segs[0] == "users" || segs[0] == "groups"):
		return targetListing
	case len(segs) == 2 && (segs[0] == "users" || segs[0] == "groups") && isDeltaSegment(segs[1]):
		return targetListing
	case segs[0] == "groups" && (len(segs) == 3 || len(segs) == 4) &&
		(segs[2] == "members" || segs[2] == "transitiveMembers"):
		return targetListing
	}
	return targetOther
}

// appliesTo reports whether a fault of kind k can act on a request for t;
// one that cannot is not matched, so it is not used up either.
func (k FaultKind) appliesTo(t target) bool {
	switch k {
	case FaultNoValue, FaultTruncated, FaultDropNextLink, FaultRepeatNextLink, FaultForeignNextLink:
		return t == targetListing
	case FaultCountSkew:
		return t == targetCount
	}
	return true
}

// answersItself reports whether a fault of kind k replaces the response
// entirely, rather than altering what the directory handlers write.
func (k FaultKind) answersItself() bool {
	switch k {
	case FaultStatus, FaultEmptyBody, FaultNoContent, FaultBody:
		return true
	}
	return false
}

type activeFault struct {
	id        uint64
	fault     Fault
	remaining int // meaningful when fault.Times > 0
}

// InjectFault installs f; the returned function removes it (calling it more
// than once is harmless).
func (s *Server) InjectFault(f Fault) (remove func()) {
	s.faultMu.Lock()
	s.nextFault++
	id := s.nextFault
	s.faults = append(s.faults, &activeFault{id: id, fault: f, remaining: f.Times})
	s.faultMu.Unlock()
	return func() {
		s.faultMu.Lock()
		defer s.faultMu.Unlock()
		for i, af := range s.faults {
			if af.id == id {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
				return
			}
		}
	}
}

// matchFault returns the fault that applies to a request, counting it down.
func (s *Server) matchFault(path, query string, page int) (Fault, bool) {
	t := requestTarget(path)
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	for i, af := range s.faults {
		f := af.fault
		if !strings.HasPrefix(path, f.PathPrefix) || (f.Page != 0 && f.Page != page) || !f.Kind.appliesTo(t) ||
			!strings.Contains(query, f.Query) {
			continue
		}
		if f.Times > 0 {
			af.remaining--
			if af.remaining <= 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
		}
		return f, true
	}
	return Fault{}, false
}

// writeFault answers a fault that replaces the response: a status with an
// error body in the style of the endpoint (AAD's for the authority, OData's
// for Graph), or a malformed success.
func (s *Server) writeFault(w http.ResponseWriter, r *http.Request, f Fault) {
	switch f.Kind {
	case FaultEmptyBody, FaultNoContent, FaultBody:
		h := w.Header()
		setRequestIDs(h, r)
		status, body := http.StatusOK, f.Body
		switch f.Kind {
		case FaultEmptyBody:
			body = ""
		case FaultNoContent:
			status, body = http.StatusNoContent, ""
		}
		if status != http.StatusNoContent {
			h.Set("Content-Type", odataContentType)
			h.Set("Content-Length", strconv.Itoa(len(body)))
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
		return
	}
	status := f.Status
	if status == 0 {
		status = http.StatusServiceUnavailable
	}
	if f.RetryAfter > 0 {
		secs := (f.RetryAfter + time.Second - 1) / time.Second
		w.Header().Set("Retry-After", strconv.FormatInt(int64(secs), 10))
	}
	if strings.HasPrefix(r.URL.Path, "/v1.0/") {
		code, msg := faultODataError(status)
		s.writeODataError(w, r, status, code, msg)
		return
	}
	code, aadsts, msg := faultAADError(status)
	s.writeAADError(w, status, code, aadsts, msg)
}

func faultODataError(status int) (code, message string) {
	switch status {
	case http.StatusTooManyRequests:
		return "TooManyRequests", "Too many requests, please try again later."
	case http.StatusServiceUnavailable:
		return "serviceNotAvailable", "Service is temporarily unavailable. Please try again later."
	case http.StatusGatewayTimeout:
		return "UnknownError", "The request timed out."
	case http.StatusInternalServerError:
		return "InternalServerError", "An internal server error occurred."
	default:
		return "UnknownError", http.StatusText(status)
	}
}

func faultAADError(status int) (code string, aadsts int, message string) {
	switch status {
	case http.StatusTooManyRequests:
		return "temporarily_unavailable", 90034, "Too many requests. Please try again later."
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
		return "invalid_request", 90010, "The request is not valid."
	default:
		return "temporarily_unavailable", 90033, "A transient error has occurred. Please try again."
	}
}

package fakeentra

import (
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
)

func (k FaultKind) String() string {
	switch k {
	case FaultStatus:
		return "status"
	case FaultReset:
		return "reset"
	case FaultSlow:
		return "slow"
	default:
		return "FaultKind(" + strconv.Itoa(int(k)) + ")"
	}
}

// Fault matches requests and misbehaves. Faults apply before any other
// handling, in the order they were injected; the first one that matches
// and has not run out wins.
type Fault struct {
	// PathPrefix matches the decoded URL path, e.g. "/v1.0/users",
	// "/v1.0/groups", "/<tenant>/oauth2/v2.0/token"; "" matches every path.
	PathPrefix string
	// Page is the 1-based page of a paged listing (page 1 = no $skiptoken);
	// 0 matches any page.
	Page       int
	Kind       FaultKind
	Status     int           // for FaultStatus: 429, 500, 503, 504, ...; 0 means 503
	RetryAfter time.Duration // for FaultStatus: Retry-After in whole seconds, rounded up
	Delay      time.Duration // for FaultSlow
	// Times is how many matching requests the fault affects; 0 means every
	// one, until removed.
	Times int
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
func (s *Server) matchFault(path string, page int) (Fault, bool) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	for i, af := range s.faults {
		f := af.fault
		if !strings.HasPrefix(path, f.PathPrefix) || (f.Page != 0 && f.Page != page) {
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

// writeFault answers with the fault's status and an error body in the
// style of the endpoint: AAD's for the authority, OData's for Graph.
func (s *Server) writeFault(w http.ResponseWriter, r *http.Request, f Fault) {
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

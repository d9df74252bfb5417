package domain

import (
	"errors"
	"fmt"
)

// Application error codes. The HTTP layer maps each to one status in one
// place; everything else only says what went wrong.
const (
	EInvalid         = "bad_request"
	EUnauthorized    = "unauthorized"
	EForbidden       = "forbidden"
	ENotFound        = "not_found"
	EConflict        = "conflict"
	EGone            = "gone"
	ETooLarge        = "payload_too_large"
	EUnprocessable   = "unprocessable"
	ETooManyRequests = "too_many_requests"
	// EUnavailable: a service this one reads on the caller's behalf
	// (Microsoft Graph) is down, throttling or too slow; worth a retry.
	EUnavailable = "unavailable"
	EInternal    = "internal"
)

// ErrMissingDependency is a role (a service, a function's handler) built
// without something it needs: its constructor refuses it at cold start
// rather than fail, or silently default, at the first request.
var ErrMissingDependency = errors.New("missing dependency")

// Error is an error meant for the caller: a code and a message a person can
// act on. Errors that are not *Error are internal and never shown.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal
// for any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the caller-facing message: an *Error's own message,
// or a generic one that reveals nothing about internal failures.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

package entra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

// Sentinel errors, wrapped in every error a Reader returns where they apply;
// check them with errors.Is.
var (
	// ErrBadCredentials: the client secret is wrong or expired, or the
	// application (client) id is unknown to the directory.
	ErrBadCredentials = errors.New("entra: bad application credentials")
	// ErrTenantNotFound: the directory (tenant) id is unknown.
	ErrTenantNotFound = errors.New("entra: directory tenant not found")
	// ErrPermissionDenied: the application lacks a Graph permission or its
	// admin consent.
	ErrPermissionDenied = errors.New("entra: permission denied")
	// ErrThrottled: Graph kept answering 429 until the retry budget ran out.
	ErrThrottled = errors.New("entra: throttled by Microsoft Graph")
	// ErrUnavailable: Graph or the authority answered 5xx, or could not be
	// reached, until the retry budget ran out (a 500 fails at once).
	ErrUnavailable = errors.New("entra: Microsoft Graph unavailable")
	// ErrTokenExpired: Graph rejected the access token, even a fresh one.
	ErrTokenExpired = errors.New("entra: access token rejected")
	// ErrMalformedResponse: Graph answered a request successfully but not
	// with what it must send: a page that is not a JSON object with a
	// "value" array (an empty body and a 204 included), an @odata.nextLink
	// off the Graph endpoint or one the read already followed (a paging
	// loop), a count that is not a number, an object without an id. Taking
	// such a page as the end of its collection would make the rest of the
	// directory look deleted.
	ErrMalformedResponse = errors.New("entra: malformed response from Microsoft Graph")
	// ErrSourceIncomplete: a collection read in full has fewer objects than
	// Graph's own $count, by more than its eventual consistency explains.
	ErrSourceIncomplete = errors.New("entra: the read is short of Microsoft Graph's count")
	// ErrScopeGroupNotFound: a scope group of the options does not exist in
	// the directory (Graph answered 404).
	ErrScopeGroupNotFound = errors.New("entra: scope group not found")
)

// Permissions named in permission errors.
const (
	permUsers  = "User.Read.All"
	permGroups = "Group.Read.All"
)

// readError is a classified failure: Kind is one of the sentinels (or nil
// when none applies), Message says what went wrong in an admin's words and
// carries the server's own message; Cause is the underlying error.
type readError struct {
	Kind    error
	Status  int
	Message string
	Cause   error
}

func (e *readError) Error() string { return e.Message }

func (e *readError) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}

// malformed is an ErrMalformedResponse explained by the formatted message.
func malformed(format string, args ...any) error {
	return &readError{Kind: ErrMalformedResponse, Message: fmt.Sprintf(format, args...)}
}

// classify turns the error of one Graph request into a readError. ctx is the
// request's context, t what the transport saw, permission the Graph
// permission the request needs.
func classify(ctx context.Context, err error, t *requestTrace, permission string) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	var authErr *azidentity.AuthenticationFailedError
	if errors.As(err, &authErr) {
		return classifyAuth(err, authErr)
	}

	status, code, message := graphStatus(err)
	if status == 0 && t != nil && t.status >= 400 {
		status = t.status
	}
	if message == "" {
		message = firstLine(err.Error())
	}
	server := message
	if code != "" {
		server = code + ": " + message
	}
	attempts := ""
	if t != nil && t.attempts > 1 {
		attempts = fmt.Sprintf(" after %d attempts", t.attempts)
	}

	switch {
	case status == http.StatusUnauthorized:
		return &readError{ErrTokenExpired, status, fmt.Sprintf(
			"Microsoft Graph rejected the access token, even a freshly issued one (HTTP 401 %s)", server), err}
	case status == http.StatusForbidden:
		return &readError{ErrPermissionDenied, status, fmt.Sprintf(
			"the application lacks the Microsoft Graph application permission %s, or an administrator has not granted admin consent for it (HTTP 403 %s)",
			permission, server), err}
	case status == http.StatusGone, code == "Directory_ExpiredPageToken" || code == "syncStateNotFound":
		return &readError{ErrDeltaExpired, status, fmt.Sprintf(
			"Microsoft Graph no longer knows the delta token of the last read (HTTP %d %s)", status, server), err}
	case status == http.StatusTooManyRequests:
		return &readError{ErrThrottled, status, fmt.Sprintf(
			"Microsoft Graph kept throttling the requests%s (HTTP 429 %s)", attempts, server), err}
	case status >= 500:
		return &readError{ErrUnavailable, status, fmt.Sprintf(
			"Microsoft Graph failed%s (HTTP %d %s)", attempts, status, server), err}
	case status != 0:
		return &readError{nil, status, fmt.Sprintf("Microsoft Graph refused the request (HTTP %d %s)", status, server), err}
	case t != nil && t.err != nil:
		return &readError{ErrUnavailable, 0, fmt.Sprintf(
			"cannot reach Microsoft Graph at %s%s: %v", t.host, attempts, t.err), err}
	}
	return err
}

// graphStatus extracts the HTTP status and Graph's error code and message.
func graphStatus(err error) (status int, code, message string) {
	var odata *odataerrors.ODataError
	if errors.As(err, &odata) {
		status = odata.ResponseStatusCode
		if main := odata.GetErrorEscaped(); main != nil {
			code, message = deref(main.GetCode()), deref(main.GetMessage())
		}
		return status, code, firstLine(message)
	}
	var api abs.ApiErrorable
	if errors.As(err, &api) {
		return api.GetStatusCode(), "", ""
	}
	return 0, "", ""
}

// aadCode matches an Entra ID error code such as AADSTS7000215.
var aadCode = regexp.MustCompile(`AADSTS\d+`)

// classifyAuth explains a failed token request by its AADSTS code.
func classifyAuth(err error, authErr *azidentity.AuthenticationFailedError) error {
	status := 0
	var oauthErr, description string
	if res := authErr.RawResponse; res != nil {
		status = res.StatusCode
		oauthErr, description = tokenErrorBody(res)
	}
	if description == "" {
		description = oneLine(err.Error())
	}
	code := aadCode.FindString(description)
	if code == "" {
		code = aadCode.FindString(err.Error())
	}
	server := description
	if !strings.Contains(server, "AADSTS") && code != "" {
		server = code + ": " + server
	}

	switch code {
	case "AADSTS7000215", "AADSTS7000222", "AADSTS7000216":
		return &readError{ErrBadCredentials, status, fmt.Sprintf(
			"the client secret is wrong or has expired; create a new client secret for the application in Entra ID and save it in the connection (%s)", server), err}
	case "AADSTS700016":
		return &readError{ErrBadCredentials, status, fmt.Sprintf(
			"no application with this application (client) ID exists in the directory; check the application (client) ID and that the app is registered in this directory (%s)", server), err}
	case "AADSTS90002", "AADSTS900023":
		return &readError{ErrTenantNotFound, status, fmt.Sprintf(
			"the directory (tenant) ID was not found; check the directory (tenant) ID (%s)", server), err}
	case "AADSTS7000112", "AADSTS700024", "AADSTS7000114":
		return &readError{ErrBadCredentials, status, fmt.Sprintf(
			"the application cannot sign in; check that it is enabled and its credentials are valid (%s)", server), err}
	}

	switch {
	case oauthErr == "invalid_client" || oauthErr == "unauthorized_client":
		return &readError{ErrBadCredentials, status, fmt.Sprintf(
			"the application's credentials were refused; check the application (client) ID and client secret (%s)", server), err}
	case status == http.StatusGone, code == "Directory_ExpiredPageToken" || code == "syncStateNotFound":
		return &readError{ErrDeltaExpired, status, fmt.Sprintf(
			"Microsoft Graph no longer knows the delta token of the last read (HTTP %d %s)", status, server), err}
	case status == http.StatusTooManyRequests:
		return &readError{ErrThrottled, status, fmt.Sprintf("the sign-in endpoint kept throttling token requests (HTTP 429 %s)", server), err}
	case status >= 500:
		return &readError{ErrUnavailable, status, fmt.Sprintf("the sign-in endpoint failed (HTTP %d %s)", status, server), err}
	case status == 0:
		// azidentity keeps only the text of transport failures.
		return &readError{ErrUnavailable, 0, "cannot reach the sign-in endpoint to get a token: " + server, err}
	}
	return &readError{nil, status, fmt.Sprintf("getting a token failed (HTTP %d %s)", status, server), err}
}

// tokenErrorBody reads an OAuth error response: its error and the first
// line of its error_description (the rest is trace and correlation ids).
func tokenErrorBody(res *http.Response) (oauthErr, description string) {
	// Payload buffers the body, so AuthenticationFailedError.Error can
	// still read it.
	body, err := runtime.Payload(res)
	if err != nil || len(body) == 0 {
		return "", ""
	}
	var payload struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &payload) != nil {
		return "", firstLine(string(body))
	}
	description = payload.Description
	if i := strings.Index(description, " Trace ID:"); i > 0 {
		description = description[:i]
	}
	return payload.Error, firstLine(description)
}

// oneLine flattens a multi-line error text and drops azidentity's
// troubleshooting link.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, " To troubleshoot, visit"); i > 0 {
		s = s[:i]
	}
	return truncate(s)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return truncate(s)
}

func truncate(s string) string {
	const max = 400
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

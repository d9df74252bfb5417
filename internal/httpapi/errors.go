package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"dirsync/internal/domain"
)

// The codes the HTTP layer adds to domain's: a known path called with a
// method it does not serve, and a request whose Accept allows none of the
// route's representations.
const (
	CodeMethodNotAllowed = "method_not_allowed"
	CodeNotAcceptable    = "not_acceptable"
)

// statusByCode is the one place mapping error codes to HTTP statuses.
var statusByCode = map[string]int{
	domain.EInvalid:         http.StatusBadRequest,
	domain.EUnauthorized:    http.StatusUnauthorized,
	domain.EForbidden:       http.StatusForbidden,
	domain.ENotFound:        http.StatusNotFound,
	CodeMethodNotAllowed:    http.StatusMethodNotAllowed,
	CodeNotAcceptable:       http.StatusNotAcceptable,
	domain.EConflict:        http.StatusConflict,
	domain.EGone:            http.StatusGone,
	domain.ETooLarge:        http.StatusRequestEntityTooLarge,
	domain.EUnprocessable:   http.StatusUnprocessableEntity,
	domain.ETooManyRequests: http.StatusTooManyRequests,
	domain.EInternal:        http.StatusInternalServerError,
	domain.EUnavailable:     http.StatusServiceUnavailable,
}

// ErrorCodes lists every error code the API answers with.
func ErrorCodes() []string {
	out := make([]string, 0, len(statusByCode))
	for c := range statusByCode {
		out = append(out, c)
	}
	return out
}

// errorBody is the API's error shape: {"error":{"code":..., "message":...}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// internalMessage is all a caller learns about a failure on our side; the
// request id lets support find the logged details.
func internalMessage(requestID string) string {
	return "internal error (request id " + requestID + ")"
}

// writeError answers err in the error shape. Errors that are not
// *domain.Error, or carry the internal or an unknown code, are logged with
// their details and answered with a generic 500.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	info := infoFrom(r.Context())
	code := domain.ErrorCode(err)
	status, known := statusByCode[code]
	if !known || status == http.StatusInternalServerError {
		attrs := append(info.logAttrs(), slog.String("error", err.Error()))
		if ctxErr := r.Context().Err(); ctxErr != nil {
			attrs = append(attrs, slog.String("context", ctxErr.Error()))
		}
		h.log.LogAttrs(r.Context(), slog.LevelError, "request failed", attrs...)
		writeJSON(w, http.StatusInternalServerError, errorBody{errorDetail{Code: domain.EInternal, Message: internalMessage(info.requestID)}})
		return
	}
	writeJSON(w, status, errorBody{errorDetail{Code: code, Message: domain.ErrorMessage(err)}})
}

// writeJSON writes v as the JSON response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own view types reach here; a failure is a programming
		// error, answered without details.
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n')) // a failed write means the client left
}

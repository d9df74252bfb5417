package eventslocal

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxEntries is PutEvents' limit of entries per request.
const maxEntries = 10

// putEventsEntry is one entry of a PutEvents request.
type putEventsEntry struct {
	Source       string
	DetailType   string
	Detail       string
	EventBusName string
	Resources    []string
}

// Handler is the EventBridge API of the bus (AWS JSON 1.1, X-Amz-Target
// AWSEvents.PutEvents; nothing else is served). Authorization is the
// guard's in front of it (iamlocal.Authorizer.EventBridge). Each entry is
// checked as EventBridge checks it (a source, a detail-type, a detail that
// is a JSON object, the default bus) and put on the bus; an entry that
// fails is reported in its result with ErrorCode and ErrorMessage, and
// counted in FailedEntryCount, as EventBridge does.
func (b *Bus) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" {
			apiError(w, http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("operation %q is not served locally", r.Header.Get("X-Amz-Target")))
			return
		}
		raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			apiError(w, http.StatusBadRequest, "ValidationException", "unreadable body")
			return
		}
		var in struct{ Entries []putEventsEntry }
		if err := json.Unmarshal(raw, &in); err != nil {
			apiError(w, http.StatusBadRequest, "SerializationException", err.Error())
			return
		}
		if len(in.Entries) == 0 || len(in.Entries) > maxEntries {
			apiError(w, http.StatusBadRequest, "ValidationException",
				fmt.Sprintf("1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and %d", maxEntries))
			return
		}
		type result struct {
			EventID      string `json:"EventId,omitempty"`
			ErrorCode    string `json:"ErrorCode,omitempty"`
			ErrorMessage string `json:"ErrorMessage,omitempty"`
		}
		out := struct {
			FailedEntryCount int
			Entries          []result
		}{Entries: make([]result, 0, len(in.Entries))}
		for _, e := range in.Entries {
			id, code, msg := b.putEntry(e)
			if code != "" {
				out.FailedEntryCount++
				b.logger.Warn("eventslocal: entry refused", "error_code", code, "detail_type", e.DetailType)
			}
			out.Entries = append(out.Entries, result{EventID: id, ErrorCode: code, ErrorMessage: msg})
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(out)
	})
}

func (b *Bus) putEntry(e putEventsEntry) (id, code, msg string) {
	bus := e.EventBusName
	if i := strings.LastIndex(bus, "event-bus/"); strings.HasPrefix(bus, "arn:") && i >= 0 {
		bus = bus[i+len("event-bus/"):]
	}
	var detail map[string]any
	switch {
	case bus != "" && bus != "default":
		return "", "NotFoundException", fmt.Sprintf("Event bus %s does not exist.", e.EventBusName)
	case e.Source == "":
		return "", "InvalidArgument", "Parameter Source is not valid. Reason: Source is a required argument."
	case e.DetailType == "":
		return "", "InvalidArgument", "Parameter DetailType is not valid. Reason: DetailType is a required argument."
	case json.Unmarshal([]byte(e.Detail), &detail) != nil || detail == nil:
		return "", "MalformedDetail", "Detail is malformed."
	}
	id, _, err := b.put1(Event{Source: e.Source, DetailType: e.DetailType, Resources: e.Resources, Detail: detail})
	if err != nil {
		// Delivery to a rule's target failed: the event is on the bus
		// (EventBridge retries delivery on its own), so the put succeeded.
		b.logger.Warn("eventslocal: delivery failed", "detail_type", e.DetailType, "error", err.Error())
	}
	return id, "", ""
}

func apiError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
}

package domain

import "time"

// Lifecycle events: what a sync's transitions announce on the event bus.
// Their detail carries ids, counts, statuses and error codes only, never
// personal data: no email, name or Entra object id, and no error message
// (a message may quote any of them).

// EventType is an event's detail-type.
type EventType string

const (
	EventPreviewReady     EventType = "Preview Ready"
	EventPreviewFailed    EventType = "Preview Failed"
	EventSafeguardTripped EventType = "Safeguard Tripped"
	EventSyncCompleted    EventType = "Sync Completed"
	EventSyncFailed       EventType = "Sync Failed"
)

// EventSource is the source of every lifecycle event.
const EventSource = "directory-sync"

// Event is one lifecycle event to publish.
type Event struct {
	Type   EventType
	Time   time.Time
	Detail EventDetail
}

// EventDetail is an event's detail, as consumers read it. EventID is
// stable per sync and type: a consumer drops a second delivery by it.
type EventDetail struct {
	EventID  string     `json:"eventId"`
	TenantID string     `json:"tenantId"`
	SyncID   string     `json:"syncId"`
	Kind     string     `json:"kind"`
	Status   SyncStatus `json:"status"`
	// Counts is the plan's Counts for the preview events and the apply's
	// ProgressCounts for the sync events.
	Counts any `json:"counts"`
	// Safeguards names the tripped safeguards (Safeguard Tripped only).
	Safeguards []string    `json:"safeguards,omitempty"`
	Error      *EventError `json:"error,omitempty"`
}

// EventError is a failure as an event names it: its code only.
type EventError struct {
	Code string `json:"code"`
}

// ProgressCounts are an apply's counters as the sync events carry them.
type ProgressCounts struct {
	Total     int `json:"total"`
	Processed int `json:"processed"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	Conflicts int `json:"conflicts"`
}

// SyncEvent is a lifecycle event recorded on its sync once published.
type SyncEvent struct {
	Type EventType `json:"type"`
	Time time.Time `json:"time"`
}

// EventID is the stable id of a sync's event of type t.
func EventID(syncID string, t EventType) string { return syncID + ":" + string(t) }

// PreviewEvents are the events a preview's end gives, from the sync as it
// ended: Preview Ready (and Safeguard Tripped when a safeguard tripped)
// for PREVIEW_READY, Preview Failed with the error's code for
// PREVIEW_FAILED, none for any other status.
func PreviewEvents(s Sync, at time.Time) []Event {
	switch s.Status {
	case SyncPreviewReady:
		evs := []Event{s.event(EventPreviewReady, at, s.Counts)}
		var tripped []string
		for _, g := range s.Safeguards {
			if g.Tripped {
				tripped = append(tripped, g.Name)
			}
		}
		if len(tripped) > 0 {
			ev := s.event(EventSafeguardTripped, at, s.Counts)
			ev.Detail.Safeguards = tripped
			evs = append(evs, ev)
		}
		return evs
	case SyncPreviewFailed:
		ev := s.event(EventPreviewFailed, at, s.Counts)
		ev.Detail.Error = s.errorCode()
		return []Event{ev}
	}
	return nil
}

// ApplyEvents are the events an apply's end gives, from the sync as it
// ended and its counters: Sync Completed for COMPLETED and
// COMPLETED_WITH_ERRORS, Sync Failed (with the error's code) for FAILED,
// none otherwise (a cancelled sync announces nothing).
func ApplyEvents(s Sync, p Progress, at time.Time) []Event {
	counts := ProgressCounts{Total: p.Total, Processed: p.Processed, Succeeded: p.Succeeded, Failed: p.Failed, Conflicts: p.Conflicts}
	switch s.Status {
	case SyncCompleted, SyncCompletedWithErrors:
		return []Event{s.event(EventSyncCompleted, at, counts)}
	case SyncFailed:
		ev := s.event(EventSyncFailed, at, counts)
		ev.Detail.Error = s.errorCode()
		return []Event{ev}
	}
	return nil
}

// Unsent are the events of evs whose type is not among those recorded on
// the sync already: what a retry of a transition still has to publish.
func Unsent(evs []Event, recorded []SyncEvent) []Event {
	var out []Event
	for _, ev := range evs {
		sent := false
		for _, r := range recorded {
			sent = sent || r.Type == ev.Type
		}
		if !sent {
			out = append(out, ev)
		}
	}
	return out
}

func (s Sync) event(t EventType, at time.Time, counts any) Event {
	return Event{Type: t, Time: at, Detail: EventDetail{
		EventID: EventID(s.ID, t), TenantID: s.TenantID, SyncID: s.ID, Kind: string(s.EffectiveKind()), Status: s.Status, Counts: counts,
	}}
}

func (s Sync) errorCode() *EventError {
	if s.Error == nil || s.Error.Code == "" {
		return &EventError{Code: SyncErrInternal}
	}
	return &EventError{Code: s.Error.Code}
}

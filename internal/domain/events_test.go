package domain

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLifecycleEvents(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	counts := Counts{Users: UserCounts{Add: 3, Deactivate: 2}}
	base := Sync{ID: "s1", TenantID: "acme", Counts: counts}
	with := func(f func(*Sync)) Sync { s := base; f(&s); return s }
	progress := Progress{Total: 5, Processed: 5, Succeeded: 4, Conflicts: 1}
	pc := ProgressCounts{Total: 5, Processed: 5, Succeeded: 4, Conflicts: 1}
	tests := []struct {
		name    string
		events  []Event
		want    []EventType
		status  SyncStatus
		tripped []string
		code    string
		counts  any
	}{
		{name: "preview ready", events: PreviewEvents(with(func(s *Sync) { s.Status = SyncPreviewReady }), at),
			want: []EventType{EventPreviewReady}, status: SyncPreviewReady, counts: counts},
		{name: "preview ready with a tripped safeguard", events: PreviewEvents(with(func(s *Sync) {
			s.Status = SyncPreviewReady
			s.Safeguards = []Safeguard{{Name: SafeguardDeactivationPercent, Tripped: true}, {Name: SafeguardDeactivationCount}, {Name: SafeguardGroupRemovalCount, Tripped: true}}
		}), at), want: []EventType{EventPreviewReady, EventSafeguardTripped}, status: SyncPreviewReady,
			tripped: []string{SafeguardDeactivationPercent, SafeguardGroupRemovalCount}, counts: counts},
		{name: "preview failed names the code, not the message", events: PreviewEvents(with(func(s *Sync) {
			s.Status, s.Error = SyncPreviewFailed, &SyncError{Code: SyncErrSourceRead, Message: "page of ann@example.com"}
		}), at), want: []EventType{EventPreviewFailed}, status: SyncPreviewFailed, code: SyncErrSourceRead, counts: counts},
		{name: "preview failed without an error", events: PreviewEvents(with(func(s *Sync) { s.Status = SyncPreviewFailed }), at),
			want: []EventType{EventPreviewFailed}, status: SyncPreviewFailed, code: SyncErrInternal, counts: counts},
		{name: "a preview still running gives none", events: PreviewEvents(with(func(s *Sync) { s.Status = SyncPreviewing }), at)},
		{name: "a cancelled preview gives none", events: PreviewEvents(with(func(s *Sync) { s.Status = SyncCancelled }), at)},
		{name: "completed", events: ApplyEvents(with(func(s *Sync) { s.Status = SyncCompleted }), progress, at),
			want: []EventType{EventSyncCompleted}, status: SyncCompleted, counts: pc},
		{name: "completed with errors", events: ApplyEvents(with(func(s *Sync) { s.Status = SyncCompletedWithErrors }), progress, at),
			want: []EventType{EventSyncCompleted}, status: SyncCompletedWithErrors, counts: pc},
		{name: "failed", events: ApplyEvents(with(func(s *Sync) {
			s.Status, s.Error = SyncFailed, &SyncError{Code: SyncErrApplyTimedOut, Message: "x"}
		}), progress, at), want: []EventType{EventSyncFailed}, status: SyncFailed, code: SyncErrApplyTimedOut, counts: pc},
		{name: "a cancelled apply gives none", events: ApplyEvents(with(func(s *Sync) { s.Status = SyncCancelled }), progress, at)},
		{name: "an apply still running gives none", events: ApplyEvents(with(func(s *Sync) { s.Status = SyncApplying }), progress, at)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []EventType
			for _, ev := range tt.events {
				got = append(got, ev.Type)
				d := ev.Detail
				if d.EventID != "s1:"+string(ev.Type) || d.TenantID != "acme" || d.SyncID != "s1" || d.Kind != string(SyncKindSync) || !ev.Time.Equal(at) {
					t.Errorf("%s: detail %+v at %s", ev.Type, d, ev.Time)
				}
				if d.Status != tt.status || !reflect.DeepEqual(d.Counts, tt.counts) {
					t.Errorf("%s: status %s counts %+v, want %s %+v", ev.Type, d.Status, d.Counts, tt.status, tt.counts)
				}
				if ev.Type == EventSafeguardTripped && !reflect.DeepEqual(d.Safeguards, tt.tripped) {
					t.Errorf("tripped %v, want %v", d.Safeguards, tt.tripped)
				}
				if ev.Type != EventSafeguardTripped && d.Safeguards != nil {
					t.Errorf("%s names safeguards %v", ev.Type, d.Safeguards)
				}
				code := ""
				if d.Error != nil {
					code = d.Error.Code
				}
				if code != tt.code {
					t.Errorf("%s: error code %q, want %q", ev.Type, code, tt.code)
				}
				raw, _ := json.Marshal(d)
				if strings.Contains(string(raw), "@") || strings.Contains(string(raw), "message") {
					t.Errorf("%s detail carries a message: %s", ev.Type, raw)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("events %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEventKindIsTheSyncs(t *testing.T) {
	s := Sync{ID: "s1", Status: SyncPreviewReady, Kind: "undo"}
	if k := PreviewEvents(s, time.Now())[0].Detail.Kind; k != "undo" {
		t.Fatalf("kind %q, want undo", k)
	}
}

func TestUnsent(t *testing.T) {
	evs := []Event{{Type: EventPreviewReady}, {Type: EventSafeguardTripped}}
	tests := []struct {
		name     string
		recorded []SyncEvent
		want     []EventType
	}{
		{"none recorded", nil, []EventType{EventPreviewReady, EventSafeguardTripped}},
		{"one recorded", []SyncEvent{{Type: EventPreviewReady}}, []EventType{EventSafeguardTripped}},
		{"all recorded", []SyncEvent{{Type: EventSafeguardTripped}, {Type: EventPreviewReady}}, nil},
		{"others recorded", []SyncEvent{{Type: EventSyncCompleted}}, []EventType{EventPreviewReady, EventSafeguardTripped}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []EventType
			for _, ev := range Unsent(evs, tt.recorded) {
				got = append(got, ev.Type)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("unsent %v, want %v", got, tt.want)
			}
		})
	}
}

package domain

import (
	"testing"
	"time"
)

func TestUndoRefusal(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	confirmed := now.Add(-time.Hour)
	finished := now.Add(-time.Hour)
	sync := func(id string, st SyncStatus, applied bool) *Sync {
		s := &Sync{ID: id, Status: st}
		if applied {
			s.ConfirmedAt = &confirmed
		}
		return s
	}
	tests := []struct {
		name     string
		target   *Sync
		later    []*Sync
		finished time.Time
		want     string // error code, "" = allowed
	}{
		{"completed", sync("t", SyncCompleted, true), nil, finished, ""},
		{"completed with errors", sync("t", SyncCompletedWithErrors, true), nil, finished, ""},
		{"later previews that never applied do not count", sync("t", SyncCompleted, true),
			[]*Sync{sync("a", SyncPreviewFailed, false), sync("b", SyncExpired, false), sync("c", SyncCancelled, false)}, finished, ""},
		{"a later applied sync", sync("t", SyncCompleted, true), []*Sync{sync("a", SyncCompleted, true)}, finished, EConflict},
		{"a later sync still applying", sync("t", SyncCompleted, true), []*Sync{sync("a", SyncApplying, true)}, finished, EConflict},
		{"a later apply that was cancelled", sync("t", SyncCompleted, true), []*Sync{sync("a", SyncCancelled, true)}, finished, EConflict},
		{"failed", sync("t", SyncFailed, true), nil, finished, EConflict},
		{"cancelled", sync("t", SyncCancelled, true), nil, finished, EConflict},
		{"a ready preview", sync("t", SyncPreviewReady, false), nil, finished, EConflict},
		{"just inside the window", sync("t", SyncCompleted, true), nil, now.Add(-DefaultUndoWindow + time.Second), ""},
		{"at the end of the window", sync("t", SyncCompleted, true), nil, now.Add(-DefaultUndoWindow), EGone},
		{"past the window", sync("t", SyncCompleted, true), nil, now.Add(-8 * 24 * time.Hour), EGone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := UndoRefusal(tt.target, tt.later, tt.finished, now, DefaultUndoWindow)
			if got := ErrorCode(err); got != tt.want {
				t.Fatalf("UndoRefusal = %v (%q), want %q", err, got, tt.want)
			}
		})
	}
}

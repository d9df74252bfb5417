package domain

import (
	"reflect"
	"testing"
	"time"
)

var (
	syncT0     = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	syncExpiry = syncT0.Add(time.Hour)
)

func syncAt(st SyncStatus) *Sync {
	e := syncExpiry
	return &Sync{ID: "s-1", Status: st, ExpiresAt: &e}
}

func TestSyncAsOf(t *testing.T) {
	lost := WorkerLostError()
	tests := []struct {
		name      string
		sync      *Sync
		now       time.Time
		leaseHeld bool
		want      SyncStatus
		wantErr   *SyncError
	}{
		{"a ready preview before its expiry", syncAt(SyncPreviewReady), syncT0, false, SyncPreviewReady, nil},
		{"a ready preview at its expiry", syncAt(SyncPreviewReady), syncExpiry, false, SyncExpired, nil},
		{"a ready preview past its expiry", syncAt(SyncPreviewReady), syncExpiry.Add(time.Second), true, SyncExpired, nil},
		{"a ready preview without an expiry", &Sync{Status: SyncPreviewReady}, syncExpiry.Add(time.Hour), false, SyncPreviewReady, nil},
		{"a preview whose lease is held", syncAt(SyncPreviewing), syncExpiry.Add(time.Hour), true, SyncPreviewing, nil},
		{"a preview whose lease is gone or lapsed", syncAt(SyncPreviewing), syncT0, false, SyncPreviewFailed, &lost},
		{"an apply outlives the expiry", syncAt(SyncApplying), syncExpiry.Add(time.Hour), false, SyncApplying, nil},
		{"an ended sync stays as it is", syncAt(SyncCompleted), syncExpiry.Add(time.Hour), false, SyncCompleted, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := *tc.sync
			got := tc.sync.AsOf(tc.now, tc.leaseHeld)
			if got.Status != tc.want || !reflect.DeepEqual(got.Error, tc.wantErr) {
				t.Fatalf("AsOf = %s %+v, want %s %+v", got.Status, got.Error, tc.want, tc.wantErr)
			}
			if !reflect.DeepEqual(*tc.sync, before) {
				t.Fatalf("AsOf changed the sync it was given: %+v", *tc.sync)
			}
		})
	}
	t.Run("each lost preview gets its own error", func(t *testing.T) {
		a := syncAt(SyncPreviewing).AsOf(syncT0, false)
		a.Error.Message = "changed"
		if b := syncAt(SyncPreviewing).AsOf(syncT0, false); b.Error.Message != lost.Message {
			t.Fatalf("a second lost preview reads %q", b.Error.Message)
		}
	})
}

func TestConfirmableAt(t *testing.T) {
	tests := []struct {
		name     string
		sync     *Sync
		now      time.Time
		want     Confirmation
		wantCode string
		wantMsg  string
	}{
		{"a ready preview", syncAt(SyncPreviewReady), syncT0, ConfirmBegin, "", ""},
		{"a ready preview at its expiry", syncAt(SyncPreviewReady), syncExpiry, ConfirmExpired, EGone,
			"the preview expired at 2026-03-01T13:00:00Z; start a new one"},
		{"an expired preview", syncAt(SyncExpired), syncT0, ConfirmExpired, EGone,
			"the preview expired at 2026-03-01T13:00:00Z; start a new one"},
		{"an expired preview without an expiry", &Sync{ID: "s-1", Status: SyncExpired}, syncT0, ConfirmExpired, EGone,
			"the preview expired; start a new one"},
		{"an apply already begun", syncAt(SyncApplying), syncExpiry.Add(time.Hour), ConfirmRepeated, "", ""},
		{"a running preview", syncAt(SyncPreviewing), syncT0, ConfirmRefused, EConflict,
			`sync "s-1" is PREVIEWING; only a PREVIEW_READY sync can be confirmed`},
		{"a cancelled preview", syncAt(SyncCancelled), syncT0, ConfirmRefused, EConflict,
			`sync "s-1" is CANCELLED; only a PREVIEW_READY sync can be confirmed`},
		{"a failed preview", syncAt(SyncPreviewFailed), syncT0, ConfirmRefused, EConflict,
			`sync "s-1" is PREVIEW_FAILED; only a PREVIEW_READY sync can be confirmed`},
		{"a completed apply", syncAt(SyncCompleted), syncT0, ConfirmRefused, EConflict,
			`sync "s-1" is COMPLETED; only a PREVIEW_READY sync can be confirmed`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.sync.ConfirmableAt(tc.now)
			if got != tc.want || ErrorCode(err) != tc.wantCode || (err != nil && ErrorMessage(err) != tc.wantMsg) {
				t.Fatalf("ConfirmableAt = %v, %v; want %v, %s %q", got, err, tc.want, tc.wantCode, tc.wantMsg)
			}
		})
	}
}

func TestConfirmAfterLostRace(t *testing.T) {
	tests := []struct {
		name     string
		status   SyncStatus
		want     Confirmation
		wantCode string
		wantMsg  string
	}{
		{"another confirm won", SyncApplying, ConfirmRepeated, "", ""},
		{"the expiry won", SyncExpired, ConfirmExpired, EGone, "the preview expired; start a new one"},
		{"still ready: the condition saw it past its expiry", SyncPreviewReady, ConfirmExpired, EGone, "the preview expired; start a new one"},
		{"a cancel won", SyncCancelled, ConfirmRefused, EConflict, `sync "s-1" is CANCELLED; only a PREVIEW_READY sync can be confirmed`},
		{"the apply already ended", SyncCompleted, ConfirmRefused, EConflict, `sync "s-1" is COMPLETED; only a PREVIEW_READY sync can be confirmed`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := syncAt(tc.status).ConfirmAfterLostRace()
			if got != tc.want || ErrorCode(err) != tc.wantCode || (err != nil && ErrorMessage(err) != tc.wantMsg) {
				t.Fatalf("ConfirmAfterLostRace = %v, %v; want %v, %s %q", got, err, tc.want, tc.wantCode, tc.wantMsg)
			}
		})
	}
}

func TestCancellable(t *testing.T) {
	tests := []struct {
		status SyncStatus
		want   Cancellation
	}{
		{SyncPreviewing, CancelNow},
		{SyncPreviewReady, CancelNow},
		{SyncApplying, CancelNow},
		{SyncCancelled, CancelRepeated},
		{SyncPreviewFailed, CancelRefused},
		{SyncExpired, CancelRefused},
		{SyncCompleted, CancelRefused},
		{SyncCompletedWithErrors, CancelRefused},
		{SyncFailed, CancelRefused},
	}
	for _, tc := range tests {
		t.Run(string(tc.status), func(t *testing.T) {
			got, err := syncAt(tc.status).Cancellable()
			if got != tc.want {
				t.Fatalf("Cancellable = %v, want %v", got, tc.want)
			}
			if tc.want != CancelRefused {
				if err != nil {
					t.Fatalf("Cancellable: %v", err)
				}
				return
			}
			want := `sync "s-1" is ` + string(tc.status) + "; only a preview or a running apply can be cancelled"
			if ErrorCode(err) != EConflict || ErrorMessage(err) != want {
				t.Fatalf("Cancellable: %v, want conflict %q", err, want)
			}
		})
	}
}

func TestFinalStatus(t *testing.T) {
	tests := []struct {
		name     string
		progress Progress
		failed   bool
		want     SyncStatus
	}{
		{"every change applied", Progress{Total: 10, Processed: 10, Succeeded: 10}, false, SyncCompleted},
		{"nothing to apply", Progress{}, false, SyncCompleted},
		{"a change failed", Progress{Total: 10, Processed: 10, Succeeded: 9, Failed: 1}, false, SyncCompletedWithErrors},
		{"a change conflicted", Progress{Total: 10, Processed: 10, Succeeded: 9, Conflicts: 1}, false, SyncCompletedWithErrors},
		{"not every change processed", Progress{Total: 10, Processed: 9, Succeeded: 9}, false, SyncCompletedWithErrors},
		{"the execution failed", Progress{Total: 10, Processed: 10, Succeeded: 10}, true, SyncFailed},
		{"the execution failed with errors", Progress{Total: 10, Processed: 3, Failed: 3}, true, SyncFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.progress.FinalStatus(tc.failed); got != tc.want {
				t.Fatalf("FinalStatus(%v) of %+v = %s, want %s", tc.failed, tc.progress, got, tc.want)
			}
		})
	}
}

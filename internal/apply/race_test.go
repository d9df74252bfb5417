package apply

import (
	"context"
	"strings"
	"testing"
	"time"

	"dirsync/internal/domain"
	"dirsync/internal/store"
)

// racingStore runs before once, just ahead of the transition it wraps:
// what another request does between a confirm's or a cancel's read of the
// sync and its write.
type racingStore struct {
	*store.Store
	beforeBegin, beforeCancel func()
}

func once(f *func()) {
	if *f != nil {
		g := *f
		*f = nil
		g()
	}
}

func (r *racingStore) BeginApply(ctx context.Context, tenant, syncID, confirmedBy string, version int64) error {
	once(&r.beforeBegin)
	return r.Store.BeginApply(ctx, tenant, syncID, confirmedBy, version)
}

func (r *racingStore) CancelSync(ctx context.Context, sy *domain.Sync, drain time.Duration) error {
	once(&r.beforeCancel)
	return r.Store.CancelSync(ctx, sy, drain)
}

// A confirm that lost the race for the sync's status answers with what won.
func TestConfirmLosingARace(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// race is what wins between the confirm's read and its write.
		race     func(t *testing.T, sc *scenario)
		wantCode string
		wantMsg  string // {id} stands for the sync's id
		// want is the sync as it is afterwards, read at the real time.
		want   domain.SyncStatus
		wantBy string
	}{
		{"another confirm won", func(t *testing.T, sc *scenario) {
			if err := sc.st.BeginApply(ctx, tenant, sc.sync.ID, "other@example.com", 0); err != nil {
				t.Fatal(err)
			}
		}, "", "", domain.SyncApplying, "other@example.com"},
		{"a cancel won", func(t *testing.T, sc *scenario) {
			if _, err := sc.svc.Cancel(ctx, admin, sc.sync.ID); err != nil {
				t.Fatal(err)
			}
		}, domain.EConflict, `sync "{id}" is CANCELLED; only a PREVIEW_READY sync can be confirmed`, domain.SyncCancelled, ""},
		{"the expiry won", func(t *testing.T, sc *scenario) {
			sc.st.SetClock(func() time.Time { return time.Now().Add(2 * time.Hour) })
		}, domain.EGone, "the preview expired; start a new one", domain.SyncExpired, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := newScenario(t, 2, 10, domain.Options{})
			svc := *sc.svc
			svc.Store = &racingStore{Store: sc.st, beforeBegin: func() { tc.race(t, sc) }}
			sy, err := svc.Confirm(ctx, admin, sc.sync.ID, false)
			wantMsg := strings.ReplaceAll(tc.wantMsg, "{id}", sc.sync.ID)
			if domain.ErrorCode(err) != tc.wantCode || domain.ErrorMessage(err) != wantMsg {
				t.Fatalf("confirm: %v, want %s %q", err, tc.wantCode, wantMsg)
			}
			if err == nil && (sy.Status != domain.SyncApplying || sy.ConfirmedBy != tc.wantBy || sc.ex.starts != 1) {
				t.Fatalf("confirm answered %s by %q, %d starts", sy.Status, sy.ConfirmedBy, sc.ex.starts)
			}
			if err != nil && sc.ex.starts != 0 {
				t.Fatalf("a refused confirm started %d executions", sc.ex.starts)
			}
			sc.st.SetClock(time.Now) // what is read now is what was stored
			got, gerr := sc.st.GetSync(ctx, tenant, sc.sync.ID)
			if gerr != nil {
				t.Fatal(gerr)
			}
			if got.Status != tc.want || got.ConfirmedBy != tc.wantBy {
				t.Fatalf("stored %s by %q, want %s by %q", got.Status, got.ConfirmedBy, tc.want, tc.wantBy)
			}
		})
	}
}

// The confirm decides the expiry by its own clock too, and stores what it
// decided.
func TestConfirmAfterTheExpiryStoresIt(t *testing.T) {
	ctx := context.Background()
	sc := newScenario(t, 2, 10, domain.Options{})
	svc := *sc.svc
	svc.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	_, err := svc.Confirm(ctx, admin, sc.sync.ID, false)
	want := "the preview expired at " + sc.sync.ExpiresAt.Format(time.RFC3339) + "; start a new one"
	if domain.ErrorCode(err) != domain.EGone || domain.ErrorMessage(err) != want {
		t.Fatalf("confirm after the expiry: %v, want gone %q", err, want)
	}
	if got, _ := sc.st.GetSync(ctx, tenant, sc.sync.ID); got.Status != domain.SyncExpired {
		t.Fatalf("stored %s, want EXPIRED", got.Status)
	}
}

// A cancel that lost the race for the sync's status is a conflict and
// changes nothing.
func TestCancelLosingARace(t *testing.T) {
	ctx := context.Background()
	sc := newScenario(t, 2, 10, domain.Options{})
	svc := *sc.svc
	svc.Store = &racingStore{Store: sc.st, beforeCancel: func() {
		if err := sc.st.BeginApply(ctx, tenant, sc.sync.ID, admin.Email, 0); err != nil {
			t.Fatal(err)
		}
	}}
	_, err := svc.Cancel(ctx, admin, sc.sync.ID)
	want := `sync "` + sc.sync.ID + `" changed while cancelling; look again`
	if domain.ErrorCode(err) != domain.EConflict || domain.ErrorMessage(err) != want {
		t.Fatalf("cancel: %v, want conflict %q", err, want)
	}
	if got, _ := sc.st.GetSync(ctx, tenant, sc.sync.ID); got.Status != domain.SyncApplying {
		t.Fatalf("after the lost cancel: %s, want APPLYING", got.Status)
	}
}

func TestCancelRefusals(t *testing.T) {
	ctx := context.Background()
	t.Run("a repeated cancel answers the cancelled sync", func(t *testing.T) {
		sc := newScenario(t, 2, 10, domain.Options{})
		for range 2 {
			sy, err := sc.svc.Cancel(ctx, admin, sc.sync.ID)
			if err != nil || sy.Status != domain.SyncCancelled {
				t.Fatalf("cancel: %+v, %v", sy, err)
			}
		}
	})
	t.Run("an ended sync cannot be cancelled", func(t *testing.T) {
		sc := newScenario(t, 2, 10, domain.Options{})
		if _, err := sc.svc.Confirm(ctx, admin, sc.sync.ID, false); err != nil {
			t.Fatal(err)
		}
		sc.runAll(t, sc.st)
		st := sc.finalize(t)
		_, err := sc.svc.Cancel(ctx, admin, sc.sync.ID)
		want := `sync "` + sc.sync.ID + `" is ` + string(st) + "; only a preview or a running apply can be cancelled"
		if domain.ErrorCode(err) != domain.EConflict || domain.ErrorMessage(err) != want {
			t.Fatalf("cancel: %v, want conflict %q", err, want)
		}
	})
}

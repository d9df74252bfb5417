package apply

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"dirsync/internal/domain"
)

// Finalize announces the end of an apply once: a retry that finds the
// sync already final sends nothing the sync records as sent, and a publish
// that failed is sent by the next attempt; the transition never waits on it.
func TestFinalizeAnnouncesTheEndOnce(t *testing.T) {
	tests := []struct {
		name      string
		failFirst bool
		want      [][]domain.EventType // what each of two finalize attempts publishes
		recorded  []domain.EventType
	}{
		{"a retry sends nothing twice", false, [][]domain.EventType{{domain.EventSyncCompleted}, nil}, []domain.EventType{domain.EventSyncCompleted}},
		{"a failed publish is sent by the retry", true, [][]domain.EventType{nil, {domain.EventSyncCompleted}}, []domain.EventType{domain.EventSyncCompleted}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			sc := newScenario(t, 3, 10, domain.Options{})
			if _, err := sc.svc.Confirm(ctx, admin, sc.sync.ID, false); err != nil {
				t.Fatal(err)
			}
			sc.runAll(t, sc.st)
			pub := &recordingPublisher{}
			sc.svc.Events = pub
			for i, want := range tt.want {
				pub.err = nil
				if tt.failFirst && i == 0 {
					pub.err = errors.New("AccessDeniedException")
				}
				before := len(pub.types())
				if st := sc.finalize(t); !st.Final() {
					t.Fatalf("attempt %d: status %s", i, st)
				}
				if got := pub.types()[before:]; !reflect.DeepEqual(got, want) && (len(got) != 0 || len(want) != 0) {
					t.Errorf("attempt %d published %v, want %v", i, got, want)
				}
			}
			sy, err := sc.st.GetSync(ctx, tenant, sc.sync.ID)
			if err != nil {
				t.Fatal(err)
			}
			var recorded []domain.EventType
			for _, e := range sy.Events {
				recorded = append(recorded, e.Type)
			}
			if !reflect.DeepEqual(recorded, tt.recorded) {
				t.Errorf("recorded %v, want %v", recorded, tt.recorded)
			}
			if ev := pub.events[len(pub.events)-1]; ev.Detail.SyncID != sc.sync.ID || ev.Detail.Status != sy.Status {
				t.Errorf("event %+v for sync %s %s", ev.Detail, sc.sync.ID, sy.Status)
			}
		})
	}
}

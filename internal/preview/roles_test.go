package preview

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"dirsync/internal/domain"
	"dirsync/internal/plan"
)

// Each role's constructor refuses what would otherwise become a silent
// default or a nil dereference at the first request.
func TestRoleConstructorsRefuseMissingDependencies(t *testing.T) {
	st := newStore(t)
	d := &recordingDispatcher{}
	reader := func(context.Context, *domain.Connection) (Reader, error) { return nil, nil }
	classify := func(error) domain.SyncError { return domain.SyncError{} }
	pub := &recordingPublisher{}
	cfg := WorkerConfig{TTL: time.Hour, Retention: time.Hour, LockFor: time.Minute, UserBatchSize: 100}
	engine := Engine{Plan: plan.Compute, PlanPart: plan.ComputePart, Invert: plan.Invert}
	tests := []struct {
		name    string
		build   func() error
		missing bool
		says    string // "" = no error
	}{
		{"starter", func() error { _, err := NewStarter(st, d, time.Minute, time.Hour, nil); return err }, false, ""},
		{"starter without dispatcher", func() error { _, err := NewStarter(st, nil, time.Minute, time.Hour, nil); return err }, true, "Dispatcher"},
		{"starter without store", func() error { _, err := NewStarter(nil, d, time.Minute, time.Hour, nil); return err }, true, "Store"},
		{"starter without lease", func() error { _, err := NewStarter(st, d, 0, time.Hour, nil); return err }, false, "LockFor"},
		{"worker", func() error {
			_, err := NewWorker(st, reader, classify, engine, pub, cfg, nil)
			return err
		}, false, ""},
		{"worker without reader", func() error {
			_, err := NewWorker[Reader](st, nil, classify, engine, pub, cfg, nil)
			return err
		}, true, "NewReader"},
		{"worker without planner", func() error {
			_, err := NewWorker(st, reader, classify, Engine{PlanPart: plan.ComputePart, Invert: plan.Invert}, pub, cfg, nil)
			return err
		}, true, "Planner"},
		{"worker without part planner", func() error {
			_, err := NewWorker(st, reader, classify, Engine{Plan: plan.Compute, Invert: plan.Invert}, pub, cfg, nil)
			return err
		}, true, "PartPlanner"},
		{"worker without inverter", func() error {
			_, err := NewWorker(st, reader, classify, Engine{Plan: plan.Compute, PlanPart: plan.ComputePart}, pub, cfg, nil)
			return err
		}, true, "Inverter"},
		{"worker without classifier", func() error {
			_, err := NewWorker(st, reader, nil, engine, pub, cfg, nil)
			return err
		}, true, "Classify"},
		{"worker without batch size", func() error {
			c := cfg
			c.UserBatchSize = 0
			_, err := NewWorker(st, reader, classify, engine, pub, c, nil)
			return err
		}, false, "UserBatchSize 0"},
		{"worker without retention", func() error {
			c := cfg
			c.Retention = 0
			_, err := NewWorker(st, reader, classify, engine, pub, c, nil)
			return err
		}, false, "Retention"},
		{"worker without publisher", func() error {
			_, err := NewWorker(st, reader, classify, engine, nil, cfg, nil)
			return err
		}, true, "Events"},
		{"failure recorder", func() error { _, err := NewFailureRecorder(st, pub, nil); return err }, false, ""},
		{"failure recorder without store", func() error { _, err := NewFailureRecorder(nil, pub, nil); return err }, true, "Store"},
		{"failure recorder without publisher", func() error { _, err := NewFailureRecorder(st, nil, nil); return err }, true, "Events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.build()
			if tt.says == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.says) || errors.Is(err, domain.ErrMissingDependency) != tt.missing {
				t.Fatalf("err = %v, want one saying %q (missing dependency: %v)", err, tt.says, tt.missing)
			}
		})
	}
}

// recordingPublisher keeps what it is asked to publish, or fails with err.
type recordingPublisher struct {
	mu     sync.Mutex
	events []domain.Event
	err    error
}

func (p *recordingPublisher) Publish(_ context.Context, evs []domain.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	p.events = append(p.events, evs...)
	return nil
}

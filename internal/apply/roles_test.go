package apply

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"dirsync/internal/domain"
)

// Each role's constructor refuses what would otherwise become a silent
// default (a nil store, a Map concurrency of 0).
func TestRoleConstructorsRefuseMissingDependencies(t *testing.T) {
	var st Store = &flakyStore{}
	ex := &fakeExecutions{}
	pub := &recordingPublisher{}
	tests := []struct {
		name    string
		build   func() error
		missing bool   // ErrMissingDependency
		says    string // in the message; "" = no error
	}{
		{"confirmer", func() error { _, err := NewConfirmer(st, ex, 10, time.Minute, nil); return err }, false, ""},
		{"confirmer without store", func() error { _, err := NewConfirmer(nil, ex, 10, time.Minute, nil); return err }, true, "Store"},
		{"confirmer without executions", func() error { _, err := NewConfirmer(st, nil, 10, time.Minute, nil); return err }, true, "Executions"},
		{"confirmer with no concurrency", func() error { _, err := NewConfirmer(st, ex, 0, time.Minute, nil); return err }, false, "MaxConcurrency 0"},
		{"confirmer without drain", func() error { _, err := NewConfirmer(st, ex, 1, 0, nil); return err }, false, "CancelDrain"},
		{"batch applier", func() error { _, err := NewBatchApplier(st, 8, nil); return err }, false, ""},
		{"batch applier without store", func() error { _, err := NewBatchApplier(nil, 8, nil); return err }, true, "Store"},
		{"batch applier with no concurrency", func() error { _, err := NewBatchApplier(st, 0, nil); return err }, false, "Concurrency 0"},
		{"finalizer", func() error { _, err := NewFinalizer(st, &recordedFailures{}, pub, nil); return err }, false, ""},
		{"finalizer without previews", func() error { _, err := NewFinalizer(st, nil, pub, nil); return err }, true, "Previews"},
		{"finalizer without store", func() error { _, err := NewFinalizer(nil, &recordedFailures{}, pub, nil); return err }, true, "Store"},
		{"finalizer without publisher", func() error { _, err := NewFinalizer(st, &recordedFailures{}, nil, nil); return err }, true, "Events"},
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

func (p *recordingPublisher) types() []domain.EventType {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []domain.EventType
	for _, ev := range p.events {
		out = append(out, ev.Type)
	}
	return out
}

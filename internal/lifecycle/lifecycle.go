// Package lifecycle announces a sync's transitions: it publishes their
// lifecycle events and records them on the sync, for the preview worker
// and finalize alike. It names no AWS package: the publisher and the
// store are given.
package lifecycle

import (
	"context"
	"log/slog"
	"time"

	"dirsync/internal/domain"
)

// Publisher publishes lifecycle events (EventBridge in AWS).
type Publisher interface {
	Publish(ctx context.Context, evs []domain.Event) error
}

// Recorder appends to a sync the lifecycle events published for it.
type Recorder interface {
	RecordEvents(ctx context.Context, tenant, syncID string, evs []domain.SyncEvent) error
}

// timeout bounds publishing and recording a transition's events, which
// run even when the work's context ended.
const timeout = 10 * time.Second

// Announce publishes the events of a transition already made, all of one
// sync, and records them on it. Neither failing undoes the transition: a
// failure is logged (the events' types and the error, no detail) and the
// caller goes on. A nil publisher announces nothing.
func Announce(ctx context.Context, pub Publisher, rec Recorder, evs []domain.Event, log *slog.Logger) {
	if len(evs) == 0 || pub == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	types := make([]string, 0, len(evs))
	recs := make([]domain.SyncEvent, 0, len(evs))
	for _, ev := range evs {
		types = append(types, string(ev.Type))
		recs = append(recs, domain.SyncEvent{Type: ev.Type, Time: ev.Time})
	}
	if err := pub.Publish(ctx, evs); err != nil {
		log.Error("lifecycle events not published", "events", types, "error", err.Error())
		return
	}
	d := evs[0].Detail
	if err := rec.RecordEvents(ctx, d.TenantID, d.SyncID, recs); err != nil {
		log.Warn("lifecycle events published but not recorded on the sync", "events", types, "error", err.Error())
		return
	}
	log.Info("lifecycle events published", "events", types)
}

// Package events publishes lifecycle events on an EventBridge bus. Which
// event a transition gives, and what its detail holds, is the domain's
// (domain.PreviewEvents, domain.ApplyEvents); this package only sends.
package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"dirsync/internal/domain"
)

// DefaultBus is the bus events go to when none is configured.
const DefaultBus = "default"

// maxEntries is PutEvents' limit of entries per request.
const maxEntries = 10

// ErrNotPublished is returned (wrapped) when EventBridge refused some
// entries even after they were sent again once.
var ErrNotPublished = errors.New("events: entries not published")

// API is the part of the EventBridge client the publisher uses.
type API interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Publisher puts lifecycle events on one bus.
type Publisher struct {
	api API
	bus string
}

// New returns a publisher on bus (DefaultBus when empty).
func New(api API, bus string) (*Publisher, error) {
	if api == nil {
		return nil, fmt.Errorf("events: publisher: %w: EventBridge client", domain.ErrMissingDependency)
	}
	if bus == "" {
		bus = DefaultBus
	}
	return &Publisher{api: api, bus: bus}, nil
}

// NewFromConfig builds the publisher of a function from its AWS config
// (bus: DefaultBus when empty). It cannot fail: it builds its client.
func NewFromConfig(cfg aws.Config, bus string) *Publisher {
	if bus == "" {
		bus = DefaultBus
	}
	return &Publisher{api: eventbridge.NewFromConfig(cfg), bus: bus}
}

// Publish puts evs on the bus, ten entries per request. Entries
// EventBridge fails one by one (FailedEntryCount: throttling, an internal
// failure) are sent once more; what still fails is reported as
// ErrNotPublished with the error codes, never the entries' content. A
// request the SDK gave up on (its own retries spent, or access denied) is
// returned as it is.
func (p *Publisher) Publish(ctx context.Context, evs []domain.Event) error {
	entries := make([]types.PutEventsRequestEntry, 0, len(evs))
	for _, ev := range evs {
		detail, err := json.Marshal(ev.Detail)
		if err != nil {
			return fmt.Errorf("events: encode %s of %s: %w", ev.Type, ev.Detail.SyncID, err)
		}
		entries = append(entries, types.PutEventsRequestEntry{
			EventBusName: aws.String(p.bus), Source: aws.String(domain.EventSource),
			DetailType: aws.String(string(ev.Type)), Detail: aws.String(string(detail)), Time: aws.Time(ev.Time),
		})
	}
	var errs []error
	for len(entries) > 0 {
		n := min(len(entries), maxEntries)
		errs = append(errs, p.put(ctx, entries[:n]))
		entries = entries[n:]
	}
	return errors.Join(errs...)
}

func (p *Publisher) put(ctx context.Context, entries []types.PutEventsRequestEntry) error {
	for attempt := 0; ; attempt++ {
		out, err := p.api.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			return fmt.Errorf("events: put %d events on %s: %w", len(entries), p.bus, err)
		}
		if out.FailedEntryCount == 0 {
			return nil
		}
		failed, codes := failedEntries(entries, out.Entries)
		if attempt == 1 || len(failed) == 0 {
			return fmt.Errorf("events: %w: %d of %d on %s (%s)", ErrNotPublished, out.FailedEntryCount, len(entries), p.bus, codes)
		}
		entries = failed
	}
}

// failedEntries are the request's entries whose result has an error code
// (results are in the request's order), with the codes seen.
func failedEntries(sent []types.PutEventsRequestEntry, results []types.PutEventsResultEntry) ([]types.PutEventsRequestEntry, string) {
	var failed []types.PutEventsRequestEntry
	codes := map[string]bool{}
	for i, r := range results {
		if r.ErrorCode == nil || i >= len(sent) {
			continue
		}
		failed = append(failed, sent[i])
		codes[*r.ErrorCode] = true
	}
	names := make([]string, 0, len(codes))
	for c := range codes {
		names = append(names, c)
	}
	sort.Strings(names)
	return failed, strings.Join(names, ", ")
}

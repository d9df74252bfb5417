// Package eventslocal is the local EventBridge default bus: the rules of a
// transformed template (AWS::Events::Rule, as SAM writes a function's
// EventBridgeRule event) match the events put on it, with EventBridge's
// pattern semantics, and each matching rule's targets receive the event,
// as EventBridge delivers to a Lambda target (an asynchronous invoke).
//
// Patterns may use what the template's rules use: exact values (a list of
// allowed values per field) and nested objects. Any other filter (prefix,
// numeric, exists, anything-but, ...) fails the load rather than match
// wrongly.
package eventslocal

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"dirsync/internal/samtemplate"
)

// ErrUnsupportedPattern is a rule whose pattern uses a filter this bus
// does not evaluate.
var ErrUnsupportedPattern = errors.New("eventslocal: unsupported event pattern")

// Rule is one enabled rule of the default bus.
type Rule struct {
	Name    string // logical id
	Pattern map[string]any
	Targets []string // target ARNs
}

// RulesFromTemplate returns the template's enabled rules on the default
// bus, their patterns and target ARNs evaluated with d's names.
func RulesFromTemplate(d *samtemplate.Deployed) ([]Rule, error) {
	var rules []Rule
	for _, id := range d.OfType("AWS::Events::Rule") {
		props, err := d.Props(id)
		if err != nil {
			return nil, fmt.Errorf("eventslocal: rule %s: %w", id, err)
		}
		if state := samtemplate.Str(props, "State"); state != "" && state != "ENABLED" {
			continue
		}
		if bus := samtemplate.Str(props, "EventBusName"); bus != "" && bus != "default" {
			return nil, fmt.Errorf("eventslocal: rule %s is on bus %q: only the default bus runs locally", id, bus)
		}
		raw, err := d.Eval(props["EventPattern"])
		if err != nil {
			return nil, fmt.Errorf("eventslocal: rule %s pattern: %w", id, err)
		}
		pattern, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("eventslocal: rule %s has no event pattern (a scheduled rule does not run locally)", id)
		}
		if err := checkPattern(pattern); err != nil {
			return nil, fmt.Errorf("eventslocal: rule %s: %w", id, err)
		}
		rule := Rule{Name: id, Pattern: pattern}
		for _, t := range samtemplate.AsList(props["Targets"]) {
			tm, _ := t.(map[string]any)
			arn, err := d.Str(tm["Arn"])
			if err != nil {
				return nil, fmt.Errorf("eventslocal: rule %s target: %w", id, err)
			}
			if _, has := tm["InputTransformer"]; has {
				return nil, fmt.Errorf("eventslocal: rule %s target %s: %w (InputTransformer)", id, arn, ErrUnsupportedPattern)
			}
			rule.Targets = append(rule.Targets, arn)
		}
		rules = append(rules, rule)
	}
	return rules, nil
}

// checkPattern refuses what Matches does not evaluate: a leaf must be a
// list of literal values.
func checkPattern(p map[string]any) error {
	for k, v := range p {
		switch v := v.(type) {
		case map[string]any:
			if err := checkPattern(v); err != nil {
				return err
			}
		case []any:
			for _, x := range v {
				switch x.(type) {
				case string, float64, int, bool, nil:
				default:
					return fmt.Errorf("%w: field %q filters with %v", ErrUnsupportedPattern, k, x)
				}
			}
		default:
			return fmt.Errorf("%w: field %q is %v, not a list of values", ErrUnsupportedPattern, k, v)
		}
	}
	return nil
}

// Matches is EventBridge's matching of an event (decoded JSON) against a
// pattern: every field of the pattern must be in the event; a list matches
// when the event's value (or any element of an event's list) equals one
// of its values; an object matches the event's object field by field.
func Matches(pattern, event map[string]any) bool {
	for k, want := range pattern {
		got, ok := event[k]
		if !ok {
			return false
		}
		switch want := want.(type) {
		case map[string]any:
			obj, ok := got.(map[string]any)
			if !ok || !Matches(want, obj) {
				return false
			}
		case []any:
			if !anyEqual(want, got) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func anyEqual(allowed []any, got any) bool {
	values := []any{got}
	if list, ok := got.([]any); ok {
		values = list
	}
	for _, v := range values {
		for _, a := range allowed {
			if normalize(a) == normalize(v) { // a string never equals a number, as in EventBridge
				return true
			}
		}
	}
	return false
}

// normalize makes template integers and JSON numbers compare equal.
func normalize(v any) any {
	if n, ok := v.(int); ok {
		return float64(n)
	}
	return v
}

// Event is what a service puts on the bus; the bus adds the envelope.
type Event struct {
	Source     string
	DetailType string
	Resources  []string
	Detail     any
}

// Bus is the default bus of one account and region.
type Bus struct {
	rules   []Rule
	account string
	region  string
	deliver func(targetARN string, event []byte) error
	logger  *slog.Logger

	mu  sync.Mutex
	put [][]byte // every event put on the bus, as targets receive it
}

// New returns a bus with the rules; deliver sends an event to a target
// (locally, an asynchronous Lambda invoke).
func New(rules []Rule, account, region string, deliver func(targetARN string, event []byte) error, logger *slog.Logger) (*Bus, error) {
	if deliver == nil {
		return nil, errors.New("eventslocal: New needs a deliver func")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].Name < rules[j].Name })
	return &Bus{rules: rules, account: account, region: region, deliver: deliver, logger: logger}, nil
}

// envelope is an EventBridge event as targets receive it.
type envelope struct {
	Version    string   `json:"version"`
	ID         string   `json:"id"`
	DetailType string   `json:"detail-type"`
	Source     string   `json:"source"`
	Account    string   `json:"account"`
	Time       string   `json:"time"`
	Region     string   `json:"region"`
	Resources  []string `json:"resources"`
	Detail     any      `json:"detail"`
}

// Put puts an event on the bus and delivers it to the targets of every
// rule it matches; it returns how many deliveries it made.
func (b *Bus) Put(e Event) (int, error) {
	_, n, err := b.put1(e)
	return n, err
}

// put1 is Put, also returning the event's id.
func (b *Bus) put1(e Event) (string, int, error) {
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	env := envelope{
		Version: "0", ID: hex.EncodeToString(id), DetailType: e.DetailType, Source: e.Source,
		Account: b.account, Time: time.Now().UTC().Format(time.RFC3339), Region: b.region,
		Resources: append([]string{}, e.Resources...), Detail: e.Detail,
	}
	raw, err := json.Marshal(env)
	if err != nil {
		return "", 0, fmt.Errorf("eventslocal: encode event: %w", err)
	}
	b.mu.Lock()
	b.put = append(b.put, raw)
	b.mu.Unlock()
	var decoded map[string]any
	if err := json.Unmarshal(raw, &decoded); err != nil {
		return "", 0, fmt.Errorf("eventslocal: decode event: %w", err)
	}
	var errs []error
	n := 0
	for _, r := range b.rules {
		if !Matches(r.Pattern, decoded) {
			continue
		}
		for _, t := range r.Targets {
			if err := b.deliver(t, raw); err != nil {
				errs = append(errs, fmt.Errorf("eventslocal: rule %s to %s: %w", r.Name, t, err))
				continue
			}
			n++
			b.logger.Info("eventslocal: delivered", "rule", r.Name, "target", t, "detail_type", e.DetailType)
		}
	}
	return env.ID, n, errors.Join(errs...)
}

// Events are the events put on the bus so far (every source), oldest
// first, each as its targets receive it (the envelope, JSON).
func (b *Bus) Events() [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][]byte(nil), b.put...)
}

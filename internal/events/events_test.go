package events

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/smithy-go"

	"dirsync/internal/domain"
	"dirsync/local/eventslocal"
	"dirsync/local/iamlocal"
	"dirsync/local/sfnlocal"
)

// The publisher against the local EventBridge (its PutEvents API behind
// the IAM guard, with the template's roles), through the real SDK client.
func TestPublishOnTheLocalBus(t *testing.T) {
	roles, err := iamlocal.LoadRoles(context.Background(), filepath.Join("..", "..", "template.yaml"), iamlocal.LocalTransformOptions(map[string]string{
		"JwtIssuer": "https://auth.localhost/", "JwtAudience": "directory-sync", "CorsAllowedOrigins": "http://127.0.0.1:8080",
	}))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := iamlocal.GeneratePrincipals(sfnlocal.LocalAccountID, roles)
	if err != nil {
		t.Fatal(err)
	}
	guard, err := iamlocal.New(iamlocal.Config{Region: sfnlocal.LocalRegion, Principals: ps})
	if err != nil {
		t.Fatal(err)
	}
	bus, err := eventslocal.New(nil, sfnlocal.LocalAccountID, sfnlocal.LocalRegion, func(string, []byte) error { return nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		guard.EventBridge(bus.Handler()).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	publisher := func(t *testing.T, roleID, busName string) *Publisher {
		p := ps.Admin()
		if roleID != "" {
			if p, err = ps.Role(roleID); err != nil {
				t.Fatal(err)
			}
		}
		pub, err := New(eventbridge.New(eventbridge.Options{
			Region: sfnlocal.LocalRegion, BaseEndpoint: aws.String(srv.URL), Credentials: p.Provider(), RetryMaxAttempts: 1,
		}), busName)
		if err != nil {
			t.Fatal(err)
		}
		return pub
	}
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	ready := domain.PreviewEvents(domain.Sync{ID: "s1", TenantID: "acme", Status: domain.SyncPreviewReady,
		Safeguards: []domain.Safeguard{{Name: domain.SafeguardDeactivationCount, Tripped: true}}}, at)
	many := make([]domain.Event, 0, 12)
	for range 6 {
		many = append(many, ready...)
	}

	tests := []struct {
		name     string
		role     string // "" = the admin
		bus      string
		events   []domain.Event
		denied   bool
		failed   bool  // ErrNotPublished
		requests int32 // PutEvents requests made
		put      int   // events on the bus afterwards
	}{
		{name: "finalize's role on the default bus", role: "FinalizeFunctionRole", events: ready, requests: 1, put: 2},
		{name: "the worker's role", role: "PreviewWorkerFunctionRole", events: ready[:1], requests: 1, put: 1},
		{name: "more than ten events go in requests of ten", role: "FinalizeFunctionRole", events: many, requests: 2, put: 12},
		{name: "a role without the grant is refused", role: "ProgressFunctionRole", events: ready, denied: true, requests: 1},
		{name: "entries the bus refuses are sent once more, then reported", bus: "no-such-bus", events: ready, failed: true, requests: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, reqs := len(bus.Events()), requests.Load()
			err := publisher(t, tt.role, tt.bus).Publish(context.Background(), tt.events)
			var api smithy.APIError
			switch {
			case tt.denied:
				if !errors.As(err, &api) || api.ErrorCode() != "AccessDeniedException" {
					t.Fatalf("err = %v, want AccessDeniedException", err)
				}
			case tt.failed:
				if !errors.Is(err, ErrNotPublished) {
					t.Fatalf("err = %v, want ErrNotPublished", err)
				}
			case err != nil:
				t.Fatal(err)
			}
			if n := requests.Load() - reqs; n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
			put := bus.Events()[before:]
			if len(put) != tt.put {
				t.Fatalf("%d events on the bus, want %d", len(put), tt.put)
			}
			for i, raw := range put {
				var got struct {
					Source     string             `json:"source"`
					DetailType string             `json:"detail-type"`
					Detail     domain.EventDetail `json:"detail"`
				}
				if err := json.Unmarshal(raw, &got); err != nil {
					t.Fatal(err)
				}
				want := tt.events[i]
				if got.Source != domain.EventSource || got.DetailType != string(want.Type) || got.Detail.EventID != want.Detail.EventID ||
					got.Detail.SyncID != "s1" || got.Detail.TenantID != "acme" || got.Detail.Kind != "sync" {
					t.Errorf("event %d: %s", i, raw)
				}
			}
		})
	}
}

func TestNewRefusesMissingClient(t *testing.T) {
	if _, err := New(nil, ""); !errors.Is(err, domain.ErrMissingDependency) {
		t.Fatalf("err = %v, want ErrMissingDependency", err)
	}
}

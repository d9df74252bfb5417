package entra

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"dirsync/internal/domain"
	"dirsync/local/fakeentra"
)

// TestReadRidesOutThrottling reads through the fake's Graph model with a
// budget far too small for the read: Graph answers 429 with Retry-After,
// the reader's retry transport (with its default policy) waits it out, and
// the read still returns the whole tenant.
func TestReadRidesOutThrottling(t *testing.T) {
	tests := []struct {
		name          string
		users, groups int
	}{
		{name: "users only", users: 300},
		{name: "users, groups and transitive members", users: 300, groups: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// 20 units a second against a read of about 50 units.
			model := fakeentra.GraphModel{Throttle: true, Budget: 20, Window: time.Second}
			f := newFixture(t, tc.users, tc.groups, func(tn *fakeentra.Tenant) {
				if tc.groups == 0 {
					tn.Groups = nil
				}
			}, fakeentra.WithGraphModel(model))
			r := f.reader(t, func(c *Config) {
				c.PageSize = 25
				c.Retry = RetryPolicy{} // the defaults a deployment runs with
			})

			snap, err := r.Read(context.Background(), domain.Options{})
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			stats := f.fake.GraphStats()
			if stats.Throttled == 0 {
				t.Fatalf("the fake throttled nothing (%+v): the test proves nothing", stats)
			}
			if len(snap.Users) != len(f.want.Users) {
				t.Errorf("read %d users, want %d", len(snap.Users), len(f.want.Users))
			}
			if len(snap.Groups) != len(f.want.Groups) {
				t.Fatalf("read %d groups, want %d", len(snap.Groups), len(f.want.Groups))
			}
			for _, g := range snap.Groups {
				if want := expectedMembers(f.want, g.ID); !slices.Equal(g.MemberIDs, want) {
					t.Errorf("group %s has %d members, want %d", g.ID, len(g.MemberIDs), len(want))
				}
			}
			throttled := 0
			for _, req := range f.fake.Requests() {
				if req.Throttled && req.Status == http.StatusTooManyRequests {
					throttled++
				}
			}
			if throttled != int(stats.Throttled) {
				t.Errorf("the request log holds %d throttled requests, the stats %d", throttled, stats.Throttled)
			}
		})
	}
}

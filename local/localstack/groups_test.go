package localstack

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"dirsync/internal/domain"
	"dirsync/local/fakeentra"
)

type entraGroupBody struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	MemberCount *int   `json:"memberCount"`
}

// TestConnectionGroups searches a connection's Entra groups by name through
// the connection function's real bootstrap (Secrets Manager for the
// secret, msgraph-sdk-go against the fake), and names scope groups in the
// connection's view.
func TestConnectionGroups(t *testing.T) {
	c := adminOf(t, "hooli")
	dir := fakeentra.Generate(fakeentra.Spec{TenantID: "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b", Domain: "hooli.onmicrosoft.com", Seed: 13, Users: 80})
	dir.Groups = append(dir.Groups, fakeentra.Group{ID: "5e6f7a8b-0000-4000-8000-0000000000b1", DisplayName: "O'Brien Fans", MemberUserIDs: []string{dir.Users[0].ID}})
	connectTenant(t, c, dir, `{}`)
	byName := map[string]fakeentra.Group{}
	for _, g := range dir.Groups {
		byName[g.DisplayName] = g
	}
	search := func(c *client, q string, out any) int {
		t.Helper()
		return c.do("GET", "/v1/connection/groups?q="+url.QueryEscape(q), nil, out)
	}

	t.Run("by prefix, ordered by name, counted", func(t *testing.T) {
		for _, tt := range []struct {
			q    string
			want []string
		}{
			{"all ", []string{"All Corporate Functions", "All Go-To-Market", "All Product & Engineering", "All Staff"}},
			{"ENG", []string{"Engineering"}},
			{"O'Brien", []string{"O'Brien Fans"}},
			{"Research & D", []string{"Research & Development"}},
			{"nothing like this", nil},
		} {
			var page struct{ Items []entraGroupBody }
			if code := search(c, tt.q, &page); code != http.StatusOK {
				t.Fatalf("q=%q: %d", tt.q, code)
			}
			var names []string
			for _, g := range page.Items {
				names = append(names, g.DisplayName)
				if g.ID != byName[g.DisplayName].ID || g.MemberCount == nil {
					t.Errorf("q=%q: %+v, want id %s and a member count", tt.q, g, byName[g.DisplayName].ID)
				}
			}
			if !slices.Equal(names, tt.want) {
				t.Errorf("q=%q found %q, want %q", tt.q, names, tt.want)
			}
		}
		var page struct{ Items []entraGroupBody }
		search(c, "O'Brien", &page)
		if len(page.Items) != 1 || *page.Items[0].MemberCount != 1 {
			t.Fatalf("O'Brien Fans: %+v, want 1 member", page.Items)
		}
	})

	t.Run("bad input and a tenant without a connection", func(t *testing.T) {
		stranger := adminOf(t, "pied-piper") // no connection of its own
		tests := []struct {
			name   string
			c      *client
			path   string
			status int
			code   string
			says   string
		}{
			{"missing q", c, "/v1/connection/groups", 400, domain.EInvalid, "q: required"},
			{"blank q", c, "/v1/connection/groups?q=%20%20", 400, domain.EInvalid, "q: required"},
			{"q too long", c, "/v1/connection/groups?q=" + strings.Repeat("a", 121), 400, domain.EInvalid, "at most 120"},
			{"unknown parameter", c, "/v1/connection/groups?q=a&limit=3", 400, domain.EInvalid, "limit"},
			{"no connection", stranger, "/v1/connection/groups?q=all", 422, domain.EUnprocessable, "PUT /v1/connection"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.c.t = t
				var e apiError
				if code := tt.c.do("GET", tt.path, nil, &e); code != tt.status || e.Error.Code != tt.code || !strings.Contains(e.Error.Message, tt.says) {
					t.Fatalf("%d %+v, want %d %s saying %q", code, e, tt.status, tt.code, tt.says)
				}
			})
		}
		// The stranger sees none of hooli's groups, whatever it asks.
		var raw map[string]any
		if code := stranger.do("GET", "/v1/connection/groups?q=Engineering", nil, &raw); code != 422 || strings.Contains(fmt.Sprint(raw), byName["Engineering"].ID) {
			t.Fatalf("a tenant without a connection got %d %v", code, raw)
		}
	})

	t.Run("Graph throttling is 503", func(t *testing.T) {
		defer stack.Fake.InjectFault(fakeentra.Fault{PathPrefix: "/v1.0/groups", Kind: fakeentra.FaultStatus, Status: http.StatusTooManyRequests})()
		var e apiError
		if code := search(c, "all", &e); code != http.StatusServiceUnavailable || e.Error.Code != domain.EUnavailable {
			t.Fatalf("%d %+v, want 503 unavailable", code, e)
		}
	})

	t.Run("the connection names its scope groups", func(t *testing.T) {
		unknown := "5e6f7a8b-0000-4000-8000-00000000dead"
		staff := byName["All Staff"].ID
		body := fmt.Sprintf(`{"directoryTenantId":%q,"clientId":%q,"options":{"scope":{"groups":[%q,%q]}}}`, dir.ID, dir.Apps[0].ClientID, staff, unknown)
		var conn struct {
			Options struct {
				Scope struct{ Groups []string }
			}
			ScopeGroups []struct {
				ID          string
				DisplayName *string
			}
		}
		if code := c.do("PUT", "/v1/connection", body, &conn); code != http.StatusOK {
			t.Fatalf("PUT = %d", code)
		}
		for _, method := range []string{"PUT", "GET"} {
			if method == "GET" {
				if code := c.do("GET", "/v1/connection", nil, &conn); code != http.StatusOK {
					t.Fatalf("GET = %d", code)
				}
			}
			sg := conn.ScopeGroups
			if !slices.Equal(conn.Options.Scope.Groups, []string{staff, unknown}) || len(sg) != 2 ||
				sg[0].ID != staff || sg[0].DisplayName == nil || *sg[0].DisplayName != "All Staff" ||
				sg[1].ID != unknown || sg[1].DisplayName != nil {
				t.Fatalf("%s answered %+v", method, conn)
			}
		}
		// Graph down: the connection is shown, its names null.
		defer stack.Fake.InjectFault(fakeentra.Fault{PathPrefix: "/v1.0/groups", Kind: fakeentra.FaultStatus, Status: http.StatusServiceUnavailable})()
		if code := c.do("GET", "/v1/connection", nil, &conn); code != http.StatusOK || conn.ScopeGroups[0].DisplayName != nil {
			t.Fatalf("GET with Graph down = %d %+v", code, conn.ScopeGroups)
		}
	})
}

package entra

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"dirsync/internal/domain"
	"dirsync/local/fakeentra"
)

const (
	testTenantID = "3f6c2a1e-9b7d-4c2e-8f10-5a4b3c2d1e0f"
	testDomain   = "contoso.onmicrosoft.com"
	testClientID = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
	testSecret   = "Zq8~correct-horse-battery-staple"

	// Apps registered beside the fully privileged one.
	noGroupsClientID = "11111111-2222-4333-8444-555555555555"
	noUsersClientID  = "66666666-7777-4888-8999-aaaaaaaaaaaa"
	limitedSecret    = "limited-secret"
)

// fastRetry keeps retry tests quick; the budget semantics are the same.
var fastRetry = RetryPolicy{
	MaxAttempts:    6,
	BaseDelay:      5 * time.Millisecond,
	MaxDelay:       2 * time.Second,
	MaxWait:        10 * time.Second,
	AttemptTimeout: 20 * time.Second,
}

// fixture is a running fake Entra ID serving one generated tenant, and an
// identical copy of that tenant to compute expectations from.
type fixture struct {
	fake *fakeentra.Server
	want *fakeentra.Tenant
}

// newFixture starts a fake serving a generated tenant; tweak (optional) is
// applied to both the served tenant and the expectation copy.
func newFixture(t testing.TB, users, groups int, tweak func(*fakeentra.Tenant), opts ...fakeentra.Option) *fixture {
	t.Helper()
	f := startFake(t, generateTenant(users, groups, tweak), opts...)
	f.want = generateTenant(users, groups, tweak)
	return f
}

// startFake serves tenant on a fresh fake, stopped when the test ends.
func startFake(t testing.TB, tenant *fakeentra.Tenant, opts ...fakeentra.Option) *fixture {
	t.Helper()
	fake, err := fakeentra.Start(opts...)
	if err != nil {
		t.Fatalf("start fake Entra ID: %v", err)
	}
	t.Cleanup(fake.Close)
	fake.AddTenant(tenant)
	return &fixture{fake: fake}
}

// generateTenant builds the same tenant for the same arguments, with two
// extra apps that each lack one permission.
func generateTenant(users, groups int, tweak func(*fakeentra.Tenant)) *fakeentra.Tenant {
	tenant := fakeentra.Generate(fakeentra.Spec{
		TenantID: testTenantID, Domain: testDomain, Seed: 42,
		Users: users, Groups: groups, ClientID: testClientID, Secret: testSecret,
	})
	tenant.Apps = append(tenant.Apps,
		fakeentra.App{ClientID: noGroupsClientID, Secret: limitedSecret, Roles: []string{"User.Read.All"}},
		fakeentra.App{ClientID: noUsersClientID, Secret: limitedSecret, Roles: []string{"Group.Read.All"}},
	)
	if tweak != nil {
		tweak(tenant)
	}
	return tenant
}

func (f *fixture) config(t testing.TB) Config {
	transport := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: f.fake.CertPool()},
		MaxIdleConnsPerHost: 8,
	}
	t.Cleanup(transport.CloseIdleConnections)
	return Config{
		DirectoryTenantID: testTenantID,
		ClientID:          testClientID,
		ClientSecret:      testSecret,
		GraphEndpoint:     f.fake.URL(),
		AuthorityHost:     f.fake.URL(),
		Transport:         transport,
		Retry:             fastRetry,
	}
}

// sequentialUsers reads the users in one listing, for tests about one
// page of it (the partitioned read's fallback).
func sequentialUsers(c *Config) { c.SequentialUsers = true }

func (f *fixture) reader(t testing.TB, adjust ...func(*Config)) *Reader {
	t.Helper()
	c := f.config(t)
	for _, a := range adjust {
		a(&c)
	}
	r, err := NewReader(c)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	return r
}

// requests counts the fake's requests to path (exactly) on a listing page
// (0 = any), by status.
func (f *fixture) requests(path string, page int) (total int, byStatus map[int]int) {
	byStatus = map[int]int{}
	for _, r := range f.fake.Requests() {
		if r.Path == path && (page == 0 || r.Page == page) {
			total++
			byStatus[r.Status]++
		}
	}
	return total, byStatus
}

// edgeCases makes sure the tenant holds every case the reader must map:
// no mailbox, guest, disabled account, several business phones, a manager
// without a mailbox, nested groups with a cycle.
func edgeCases(t *fakeentra.Tenant) {
	u := t.Users
	u[0].Mail = nil
	u[1].UserType = "Guest"
	u[2].AccountEnabled = false
	u[3].BusinessPhones = []string{"+1 425 555 0100", "+1 425 555 0101"}
	u[4].Mail = nil
	u[5].ManagerID = u[4].ID
	u[6].ManagerID = u[7].ID
	u[8].ManagerID = ""
	g := t.Groups
	g[0].MemberGroupIDs = append(g[0].MemberGroupIDs, g[1].ID)
	g[1].MemberGroupIDs = append(g[1].MemberGroupIDs, g[2].ID)
	g[2].MemberGroupIDs = append(g[2].MemberGroupIDs, g[0].ID) // cycle
	g[1].MemberUserIDs = append(g[1].MemberUserIDs, u[0].ID, u[1].ID)
}

// expectedValue is what the reader must produce for a property of u.
func expectedValue(u *fakeentra.User, property string, byID map[string]*fakeentra.User) string {
	switch property {
	case "displayName":
		return u.DisplayName
	case "givenName":
		return u.GivenName
	case "surname":
		return u.Surname
	case "mail":
		return mailOf(u)
	case "userPrincipalName":
		return u.UserPrincipalName
	case "jobTitle":
		return u.JobTitle
	case "department":
		return u.Department
	case "officeLocation":
		return u.OfficeLocation
	case "mobilePhone":
		return u.MobilePhone
	case "businessPhones":
		return strings.Join(u.BusinessPhones, domain.BusinessPhonesSeparator)
	case "employeeId":
		return u.EmployeeID
	case "employeeType":
		return u.EmployeeType
	case "companyName":
		return u.CompanyName
	case "country":
		return u.Country
	case "city":
		return u.City
	case "state":
		return u.State
	case "streetAddress":
		return u.StreetAddress
	case "postalCode":
		return u.PostalCode
	case "usageLocation":
		return u.UsageLocation
	case "preferredLanguage":
		return u.PreferredLanguage
	case "onPremisesSamAccountName":
		return u.OnPremisesSamAccountName
	case domain.ManagerProperty:
		m := byID[u.ManagerID]
		if m == nil {
			return ""
		}
		if mail := mailOf(m); mail != "" {
			return mail
		}
		return m.UserPrincipalName
	}
	panic("test has no expectation for property " + property)
}

func mailOf(u *fakeentra.User) string {
	if u.Mail == nil {
		return ""
	}
	return *u.Mail
}

// expectedMembers flattens a group's nesting into its sorted, unique,
// existing user members.
func expectedMembers(t *fakeentra.Tenant, groupID string) []string {
	groups := map[string]*fakeentra.Group{}
	for i := range t.Groups {
		groups[t.Groups[i].ID] = &t.Groups[i]
	}
	users := map[string]bool{}
	for _, u := range t.Users {
		users[u.ID] = true
	}
	seen := map[string]bool{}
	members := map[string]bool{}
	var walk func(id string)
	walk = func(id string) {
		g := groups[id]
		if g == nil || seen[id] {
			return
		}
		seen[id] = true
		for _, u := range g.MemberUserIDs {
			if users[u] {
				members[u] = true
			}
		}
		for _, sub := range g.MemberGroupIDs {
			walk(sub)
		}
	}
	walk(groupID)
	out := make([]string, 0, len(members))
	for id := range members {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func TestReadFullTenant(t *testing.T) {
	f := newFixture(t, 2500, 30, edgeCases)
	byID := map[string]*fakeentra.User{}
	for i := range f.want.Users {
		byID[f.want.Users[i].ID] = &f.want.Users[i]
	}

	tests := []struct {
		name          string
		mapping       []domain.Mapping
		wantExpansion bool
	}{
		{name: "default mapping", mapping: nil, wantExpansion: true},
		{name: "custom mapping without manager", mapping: []domain.Mapping{
			{Attribute: "phones", Source: "businessPhones"},
			{Attribute: "town", Source: "city"},
			{Attribute: "mailbox", Source: "mail"},
			{Attribute: "site", Source: "city"},
			{Attribute: "sam", Source: "onPremisesSamAccountName"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.fake.ResetRequests()
			opts := domain.Options{Mapping: tc.mapping}
			snap, err := f.reader(t).Read(context.Background(), opts)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			wantProps := domain.UserProperties(opts.EffectiveMapping())
			if !slices.Equal(snap.UserProperties, wantProps) {
				t.Fatalf("UserProperties = %v, want %v", snap.UserProperties, wantProps)
			}
			if snap.DirectoryTenantID != testTenantID {
				t.Errorf("DirectoryTenantID = %q, want %q", snap.DirectoryTenantID, testTenantID)
			}

			if len(snap.Users) != len(f.want.Users) {
				t.Fatalf("read %d users, want %d", len(snap.Users), len(f.want.Users))
			}
			seen := map[string]bool{}
			for i := range snap.Users {
				got := &snap.Users[i]
				if seen[got.ID] {
					t.Fatalf("user %s read twice", got.ID)
				}
				seen[got.ID] = true
				want := byID[got.ID]
				if want == nil {
					t.Fatalf("user %s is not in the tenant", got.ID)
				}
				if got.UserPrincipalName != want.UserPrincipalName || got.Mail != mailOf(want) ||
					got.AccountEnabled != want.AccountEnabled || got.Guest != (want.UserType == "Guest") {
					t.Fatalf("user %s = {upn %q mail %q enabled %v guest %v}, want {%q %q %v %v}",
						got.ID, got.UserPrincipalName, got.Mail, got.AccountEnabled, got.Guest,
						want.UserPrincipalName, mailOf(want), want.AccountEnabled, want.UserType == "Guest")
				}
				if len(got.Values) != len(wantProps) {
					t.Fatalf("user %s has %d values, want %d", got.ID, len(got.Values), len(wantProps))
				}
				for j, p := range wantProps {
					if w := expectedValue(want, p, byID); got.Values[j] != w {
						t.Fatalf("user %s %s = %q, want %q", got.ID, p, got.Values[j], w)
					}
				}
			}

			// The edge cases are really there, so the checks above covered them.
			edge := f.want.Users
			u0, u1, u2, u3, u5 := snapUser(t, snap, edge[0].ID), snapUser(t, snap, edge[1].ID),
				snapUser(t, snap, edge[2].ID), snapUser(t, snap, edge[3].ID), snapUser(t, snap, edge[5].ID)
			if u0.Mail != "" || !u1.Guest || u2.AccountEnabled {
				t.Errorf("edge users: mail %q guest %v enabled %v", u0.Mail, u1.Guest, u2.AccountEnabled)
			}
			if v := snap.Value(u3, "businessPhones"); slices.Contains(wantProps, "businessPhones") &&
				v != "+1 425 555 0100, +1 425 555 0101" {
				t.Errorf("businessPhones = %q", v)
			}
			if v := snap.Value(u5, domain.ManagerProperty); tc.wantExpansion && v != edge[4].UserPrincipalName {
				t.Errorf("manager without mailbox = %q, want its UPN %q", v, edge[4].UserPrincipalName)
			}

			if len(snap.Groups) != len(f.want.Groups) {
				t.Fatalf("read %d groups, want %d", len(snap.Groups), len(f.want.Groups))
			}
			userIDs := map[string]string{}
			for _, u := range snap.Users {
				userIDs[u.ID] = u.ID
			}
			wantGroups := map[string]*fakeentra.Group{}
			for i := range f.want.Groups {
				wantGroups[f.want.Groups[i].ID] = &f.want.Groups[i]
			}
			for _, g := range snap.Groups {
				want := wantGroups[g.ID]
				if want == nil {
					t.Fatalf("group %s is not in the tenant", g.ID)
				}
				delete(wantGroups, g.ID)
				if g.DisplayName != want.DisplayName || g.Description != want.Description || g.Mail != deref(want.Mail) {
					t.Fatalf("group %+v, want %+v", g, *want)
				}
				if wantMembers := expectedMembers(f.want, g.ID); !slices.Equal(g.MemberIDs, wantMembers) {
					t.Fatalf("group %s members = %d ids %v, want %d ids %v", g.ID, len(g.MemberIDs), g.MemberIDs, len(wantMembers), wantMembers)
				}
				for _, m := range g.MemberIDs {
					// Member ids share the user ids' memory.
					if unsafe.StringData(m) != unsafe.StringData(userIDs[m]) {
						t.Fatalf("group %s member %s is a copy of the user id", g.ID, m)
					}
				}
			}
			if got := len(expectedMembers(f.want, f.want.Groups[0].ID)); got < len(f.want.Groups[0].MemberUserIDs) {
				t.Fatalf("nested group expectation lost members: %d", got)
			}

			pages, _ := f.requests("/v1.0/users", 0)
			if pages != len(upnInitials) {
				t.Errorf("users read in %d requests, want one page for each of the %d partitions", pages, len(upnInitials))
			}
			first := firstRequest(t, f, "/v1.0/users")
			if !strings.Contains(first.Query, "top=999") {
				t.Errorf("users query %q lacks $top=999", first.Query)
			}
			if hasExpand := strings.Contains(first.Query, "expand="); hasExpand != tc.wantExpansion {
				t.Errorf("users query %q: manager expansion %v, want %v", first.Query, hasExpand, tc.wantExpansion)
			}
		})
	}
}

func snapUser(t *testing.T, s *domain.Snapshot, id string) *domain.SourceUser {
	t.Helper()
	for i := range s.Users {
		if s.Users[i].ID == id {
			return &s.Users[i]
		}
	}
	t.Fatalf("user %s not in snapshot", id)
	return nil
}

func firstRequest(t *testing.T, f *fixture, path string) fakeentra.Request {
	t.Helper()
	for _, r := range f.fake.Requests() {
		if r.Path == path {
			return r
		}
	}
	t.Fatalf("no request to %s", path)
	return fakeentra.Request{}
}

func TestReadRetriesTransientFailures(t *testing.T) {
	tests := []struct {
		name      string
		fault     fakeentra.Fault
		wantTotal int // requests for users page 2
		wantMin   time.Duration
	}{
		{
			name:      "503 three times then success",
			fault:     fakeentra.Fault{Kind: fakeentra.FaultStatus, Status: http.StatusServiceUnavailable, Times: 3},
			wantTotal: 4,
		},
		{
			name:      "504 once",
			fault:     fakeentra.Fault{Kind: fakeentra.FaultStatus, Status: http.StatusGatewayTimeout, Times: 1},
			wantTotal: 2,
		},
		{
			name:      "429 with Retry-After 1s",
			fault:     fakeentra.Fault{Kind: fakeentra.FaultStatus, Status: http.StatusTooManyRequests, RetryAfter: time.Second, Times: 1},
			wantTotal: 2,
			wantMin:   time.Second,
		},
		{
			// Go's transport silently retries a reset on a reused
			// connection once; three resets reach the reader's retries.
			name:      "connection reset",
			fault:     fakeentra.Fault{Kind: fakeentra.FaultReset, Times: 3},
			wantTotal: 4,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 2500, 2, nil)
			r := f.reader(t, sequentialUsers)
			tc.fault.PathPrefix, tc.fault.Page = "/v1.0/users", 2
			f.fake.InjectFault(tc.fault)

			start := time.Now()
			snap, err := r.Read(context.Background(), domain.Options{})
			elapsed := time.Since(start)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if len(snap.Users) != 2500 {
				t.Fatalf("read %d users, want 2500", len(snap.Users))
			}
			total, byStatus := f.requests("/v1.0/users", 2)
			if total != tc.wantTotal || byStatus[http.StatusOK] != 1 {
				t.Errorf("users page 2: %d requests %v, want %d with one success", total, byStatus, tc.wantTotal)
			}
			if elapsed < tc.wantMin {
				t.Errorf("read took %v, want at least %v (Retry-After)", elapsed, tc.wantMin)
			}
		})
	}
}

func TestReadFailsWhenRetriesCannotHelp(t *testing.T) {
	tests := []struct {
		name      string
		fault     fakeentra.Fault
		retry     RetryPolicy
		wantErr   error
		wantText  []string
		wantTotal int // requests for users page 2
	}{
		{
			name:      "permanent 500 fails fast",
			fault:     fakeentra.Fault{Kind: fakeentra.FaultStatus, Status: http.StatusInternalServerError},
			retry:     fastRetry,
			wantErr:   ErrUnavailable,
			wantText:  []string{"users page 2", "HTTP 500", "InternalServerError"},
			wantTotal: 1,
		},
		{
			name:      "503 forever exhausts the attempts",
			fault:     fakeentra.Fault{Kind: fakeentra.FaultStatus, Status: http.StatusServiceUnavailable},
			retry:     RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxWait: time.Second},
			wantErr:   ErrUnavailable,
			wantText:  []string{"users page 2", "after 3 attempts", "HTTP 503"},
			wantTotal: 3,
		},
		{
			name:      "429 forever is throttling",
			fault:     fakeentra.Fault{Kind: fakeentra.FaultStatus, Status: http.StatusTooManyRequests},
			retry:     RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxWait: time.Second},
			wantErr:   ErrThrottled,
			wantText:  []string{"users page 2", "throttling", "after 4 attempts"},
			wantTotal: 4,
		},
		{
			name:      "Retry-After beyond the wait budget is not waited for",
			fault:     fakeentra.Fault{Kind: fakeentra.FaultStatus, Status: http.StatusTooManyRequests, RetryAfter: time.Minute},
			retry:     RetryPolicy{MaxAttempts: 6, BaseDelay: time.Millisecond, MaxWait: 2 * time.Second},
			wantErr:   ErrThrottled,
			wantText:  []string{"users page 2", "HTTP 429"},
			wantTotal: 1,
		},
		{
			name:      "connection reset forever",
			fault:     fakeentra.Fault{Kind: fakeentra.FaultReset},
			retry:     RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxWait: time.Second},
			wantErr:   ErrUnavailable,
			wantText:  []string{"users page 2", "cannot reach Microsoft Graph"},
			wantTotal: 0, // Go's transport may add its own retry of a reset
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 2500, 2, nil)
			r := f.reader(t, sequentialUsers, func(c *Config) { c.Retry = tc.retry })
			tc.fault.PathPrefix, tc.fault.Page = "/v1.0/users", 2
			f.fake.InjectFault(tc.fault)

			start := time.Now()
			snap, err := r.Read(context.Background(), domain.Options{})
			if snap != nil {
				t.Fatalf("Read returned a partial snapshot with %d users", len(snap.Users))
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Read error = %v, want %v", err, tc.wantErr)
			}
			for _, s := range tc.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if total, _ := f.requests("/v1.0/users", 2); tc.wantTotal != 0 && total != tc.wantTotal {
				t.Errorf("users page 2 requested %d times, want %d", total, tc.wantTotal)
			}
			if elapsed := time.Since(start); elapsed > 30*time.Second {
				t.Errorf("failing read took %v", elapsed)
			}
		})
	}
}

func TestReadAuthenticationAndPermissionErrors(t *testing.T) {
	f := newFixture(t, 50, 3, nil)
	tests := []struct {
		name     string
		adjust   func(*Config)
		wantErr  error
		wantText []string
	}{
		{
			name:     "wrong client secret",
			adjust:   func(c *Config) { c.ClientSecret = "not-the-secret" },
			wantErr:  ErrBadCredentials,
			wantText: []string{"client secret", "AADSTS7000215"},
		},
		{
			name:     "unknown application",
			adjust:   func(c *Config) { c.ClientID = "99999999-9999-4999-8999-999999999999" },
			wantErr:  ErrBadCredentials,
			wantText: []string{"application (client) ID", "AADSTS700016"},
		},
		{
			name:     "unknown directory tenant",
			adjust:   func(c *Config) { c.DirectoryTenantID = "00000000-0000-4000-8000-000000000000" },
			wantErr:  ErrTenantNotFound,
			wantText: []string{"directory (tenant) ID", "AADSTS90002"},
		},
		{
			name:     "app without Group.Read.All",
			adjust:   func(c *Config) { c.ClientID, c.ClientSecret = noGroupsClientID, limitedSecret },
			wantErr:  ErrPermissionDenied,
			wantText: []string{"read groups delta page 1", "Group.Read.All", "admin consent"},
		},
		{
			name:     "app without User.Read.All",
			adjust:   func(c *Config) { c.ClientID, c.ClientSecret = noUsersClientID, limitedSecret },
			wantErr:  ErrPermissionDenied,
			wantText: []string{"read users delta page 1", "User.Read.All"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap, err := f.reader(t, tc.adjust).Read(context.Background(), domain.Options{})
			if snap != nil {
				t.Fatal("Read returned a snapshot")
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Read error = %v, want %v", err, tc.wantErr)
			}
			for _, s := range tc.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			for _, secret := range []string{testSecret, "not-the-secret", limitedSecret} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error reveals a client secret: %q", err)
				}
			}
		})
	}
}

// expiringTransport revokes every issued token once, right before the
// request for the given users page.
type expiringTransport struct {
	base   http.RoundTripper
	fake   *fakeentra.Server
	once   sync.Once
	marker string
}

func (e *expiringTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasPrefix(req.URL.Path, "/v1.0/users") && strings.Contains(req.URL.RawQuery, e.marker) {
		e.once.Do(e.fake.ExpireTokens)
	}
	return e.base.RoundTrip(req)
}

func TestReadReauthenticatesWhenTokenIsRevoked(t *testing.T) {
	f := newFixture(t, 2500, 3, nil)

	t.Run("between reads", func(t *testing.T) {
		r := f.reader(t)
		if _, err := r.Read(context.Background(), domain.Options{}); err != nil {
			t.Fatalf("first Read: %v", err)
		}
		f.fake.ExpireTokens()
		f.fake.ResetRequests()
		snap, err := r.Read(context.Background(), domain.Options{})
		if err != nil {
			t.Fatalf("Read after tokens expired: %v", err)
		}
		if len(snap.Users) != 2500 {
			t.Fatalf("read %d users", len(snap.Users))
		}
		// The first request of a read is the users deltaLink's.
		if _, byStatus := f.requests("/v1.0/users/delta()", 1); byStatus[http.StatusUnauthorized] != 1 {
			t.Errorf("users delta statuses %v, want one 401 before the fresh token", byStatus)
		}
		if n, _ := f.requests("/"+testTenantID+"/oauth2/v2.0/token", 0); n != 1 {
			t.Errorf("%d token requests after expiry, want 1", n)
		}
	})

	t.Run("mid-read", func(t *testing.T) {
		f.fake.ResetRequests()
		r := f.reader(t, sequentialUsers, func(c *Config) {
			c.Transport = &expiringTransport{base: c.Transport, fake: f.fake, marker: "skiptoken"}
		})
		snap, err := r.Read(context.Background(), domain.Options{})
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if len(snap.Users) != 2500 {
			t.Fatalf("read %d users", len(snap.Users))
		}
		if _, byStatus := f.requests("/v1.0/users", 2); byStatus[http.StatusUnauthorized] != 1 || byStatus[http.StatusOK] != 1 {
			t.Errorf("users page 2 statuses %v, want a 401 then a 200", byStatus)
		}
	})

	t.Run("token rejected even when fresh", func(t *testing.T) {
		r := f.reader(t)
		remove := f.fake.InjectFault(fakeentra.Fault{PathPrefix: "/v1.0/groups", Kind: fakeentra.FaultStatus, Status: http.StatusUnauthorized})
		defer remove()
		snap, err := r.Read(context.Background(), domain.Options{})
		if snap != nil || !errors.Is(err, ErrTokenExpired) {
			t.Fatalf("Read = %v, %v; want ErrTokenExpired", snap, err)
		}
		if !strings.Contains(err.Error(), "read groups delta page 1") {
			t.Errorf("error %q does not name the page", err)
		}
	})
}

func TestReadScopeGroups(t *testing.T) {
	f := newFixture(t, 600, 12, edgeCases)
	g := f.want.Groups
	// A missing scope group fails the read: TestReadScopeGroupNotFound.
	scope := []string{g[5].ID, g[0].ID, g[5].ID}

	snap, err := f.reader(t).Read(context.Background(), domain.Options{Scope: domain.Scope{Groups: scope}})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if len(snap.Users) != 600 {
		t.Errorf("read %d users; a scoped read still reads every user", len(snap.Users))
	}
	var gotIDs []string
	for _, sg := range snap.Groups {
		gotIDs = append(gotIDs, sg.ID)
		if want := expectedMembers(f.want, sg.ID); !slices.Equal(sg.MemberIDs, want) {
			t.Errorf("group %s members %v, want %v", sg.ID, sg.MemberIDs, want)
		}
	}
	if want := []string{g[5].ID, g[0].ID}; !slices.Equal(gotIDs, want) {
		t.Fatalf("groups %v, want %v (in scope order, once each)", gotIDs, want)
	}
	if snap.Groups[1].DisplayName != g[0].DisplayName {
		t.Errorf("group name %q, want %q", snap.Groups[1].DisplayName, g[0].DisplayName)
	}

	// Members come from the groups delta round; only the scope groups'
	// counts are asked per group.
	memberCounts := map[string]bool{}
	for _, req := range f.fake.Requests() {
		if id, ok := strings.CutPrefix(req.Path, "/v1.0/groups/"); ok && strings.Contains(id, "/transitiveMembers") {
			if !strings.HasSuffix(id, "/$count") {
				t.Errorf("a scoped read listed members: %s", req.Path)
			}
			memberCounts[strings.Split(id, "/")[0]] = true
		}
	}
	if len(memberCounts) != 2 || !memberCounts[g[5].ID] || !memberCounts[g[0].ID] {
		t.Errorf("members counted for %v, want only the two scope groups", memberCounts)
	}
}

// signallingTransport reports the first request for a later users page.
type signallingTransport struct {
	base http.RoundTripper
	once sync.Once
	sent chan struct{}
}

func (s *signallingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasPrefix(req.URL.Path, "/v1.0/users") && strings.Contains(req.URL.RawQuery, "skiptoken") {
		s.once.Do(func() { close(s.sent) })
	}
	return s.base.RoundTrip(req)
}

func TestReadStopsPromptlyWhenCancelled(t *testing.T) {
	f := newFixture(t, 2500, 2, nil)
	signal := &signallingTransport{sent: make(chan struct{})}
	r := f.reader(t, sequentialUsers, func(c *Config) {
		signal.base = c.Transport
		c.Transport = signal
	})
	f.fake.InjectFault(fakeentra.Fault{PathPrefix: "/v1.0/users", Page: 2, Kind: fakeentra.FaultSlow, Delay: time.Minute})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-signal.sent
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	start := time.Now()
	snap, err := r.Read(ctx, domain.Options{})
	if snap != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Read = %v, %v; want context.Canceled", snap, err)
	}
	if elapsed := time.Since(start); elapsed > 15*time.Second {
		t.Errorf("cancelled read took %v to return", elapsed)
	}
}

func TestReadGroupRoundFailureFailsTheRead(t *testing.T) {
	f := newFixture(t, 300, 20, nil)
	f.fake.InjectFault(fakeentra.Fault{PathPrefix: "/v1.0/groups/delta", Page: 2, Kind: fakeentra.FaultStatus, Status: http.StatusInternalServerError})
	snap, err := f.reader(t, withPageSize(7)).Read(context.Background(), domain.Options{})
	if snap != nil || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Read = %v, %v; want ErrUnavailable", snap, err)
	}
	if !strings.Contains(err.Error(), "read groups delta page 2") {
		t.Errorf("error %q does not name the round and page", err)
	}
}

func TestConnectionTest(t *testing.T) {
	f := newFixture(t, 20, 2, nil)
	tests := []struct {
		name     string
		adjust   func(*Config)
		wantOK   [3]bool
		failing  int // index of the check whose message is checked
		wantText string
	}{
		{name: "good app", wantOK: [3]bool{true, true, true}, failing: -1},
		{
			name:     "wrong client secret",
			adjust:   func(c *Config) { c.ClientSecret = "nope" },
			failing:  0,
			wantText: "client secret",
		},
		{
			name:     "unknown application",
			adjust:   func(c *Config) { c.ClientID = "99999999-9999-4999-8999-999999999999" },
			failing:  0,
			wantText: "application (client) ID",
		},
		{
			name:     "unknown tenant",
			adjust:   func(c *Config) { c.DirectoryTenantID = "00000000-0000-4000-8000-000000000000" },
			failing:  0,
			wantText: "directory (tenant) ID",
		},
		{
			name:     "missing Group.Read.All",
			adjust:   func(c *Config) { c.ClientID, c.ClientSecret = noGroupsClientID, limitedSecret },
			wantOK:   [3]bool{true, true, false},
			failing:  2,
			wantText: "Group.Read.All",
		},
		{
			name:     "missing User.Read.All",
			adjust:   func(c *Config) { c.ClientID, c.ClientSecret = noUsersClientID, limitedSecret },
			wantOK:   [3]bool{true, false, true},
			failing:  1,
			wantText: "User.Read.All",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var adjust []func(*Config)
			if tc.adjust != nil {
				adjust = append(adjust, tc.adjust)
			}
			checks := f.reader(t, adjust...).Test(context.Background())
			names := []string{CheckToken, CheckReadUser, CheckReadGroup}
			if len(checks) != len(names) {
				t.Fatalf("got %d checks: %+v", len(checks), checks)
			}
			for i, c := range checks {
				if c.Name != names[i] || c.OK != tc.wantOK[i] || c.Message == "" {
					t.Errorf("check %d = %+v, want name %s ok %v and a message", i, c, names[i], tc.wantOK[i])
				}
			}
			if tc.failing >= 0 && !strings.Contains(checks[tc.failing].Message, tc.wantText) {
				t.Errorf("%s message %q does not mention %q", checks[tc.failing].Name, checks[tc.failing].Message, tc.wantText)
			}
		})
	}
}

func TestConnectionTestUnreachable(t *testing.T) {
	f := newFixture(t, 1, 1, nil)
	url := f.fake.URL()
	f.fake.Close() // nothing listens on the port any more
	r := f.reader(t, func(c *Config) {
		c.GraphEndpoint, c.AuthorityHost = url, url
		c.Retry = RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxWait: time.Second}
	})
	checks := r.Test(context.Background())
	if checks[0].OK || !strings.Contains(checks[0].Message, "cannot reach") {
		t.Errorf("token check = %+v, want an unreachable endpoint", checks[0])
	}
}

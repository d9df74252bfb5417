package fakeentra

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestGraphModelOffByDefault(t *testing.T) {
	s, _ := generatedServer(t, 20)
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	if m := s.GraphModel(); m != (GraphModel{}) {
		t.Fatalf("default model %+v, want the zero (off) model", m)
	}
	for range 3 {
		status, hdr, _ := get(t, s, tok, "/v1.0/users?$top=5")
		if status != http.StatusOK || hdr.Get("x-ms-resource-unit") != "" {
			t.Errorf("status %d, x-ms-resource-unit %q: want 200 and no charge", status, hdr.Get("x-ms-resource-unit"))
		}
	}
	st := s.GraphStats()
	if st.Requests != 3 || st.Items != 15 || st.Throttled != 0 || st.ResourceUnits != 0 {
		t.Errorf("stats %+v, want 3 requests, 15 items, nothing throttled or charged", st)
	}
}

// The latency is checked as a lower bound only: the machine may be slow,
// never fast.
func TestGraphModelLatency(t *testing.T) {
	const fixed, perItem = 40 * time.Millisecond, 20 * time.Millisecond
	s, tn := generatedServer(t, 30, WithGraphModel(GraphModel{Fixed: fixed, PerItem: perItem}))
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	var group *Group
	for i := range tn.Groups {
		if g := &tn.Groups[i]; len(g.MemberUserIDs)+len(g.MemberGroupIDs) >= 3 {
			group = g
			break
		}
	}
	if group == nil {
		t.Fatal("no group of 3 members")
	}
	tests := []struct {
		name      string
		path      string
		wantItems int
	}{
		{"a page of five users", "/v1.0/users?$top=5", 5},
		{"a single user", "/v1.0/users/" + tn.Users[3].ID, 1},
		{"a group's members", "/v1.0/groups/" + group.ID + "/members?$top=3", 3},
		{"an error, fixed part only", "/v1.0/nosuchthing", 0},
		{"a $count, fixed part only", "/v1.0/users/$count", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := s.GraphStats()
			start := time.Now()
			get(t, s, tok, tc.path)
			elapsed := time.Since(start)
			if want := fixed + perItem*time.Duration(tc.wantItems); elapsed < want {
				t.Errorf("answered after %v, want at least %v", elapsed, want)
			}
			if got := s.GraphStats().Sub(before); got.Requests != 1 || got.Items != int64(tc.wantItems) {
				t.Errorf("counted %d requests and %d items, want 1 and %d", got.Requests, got.Items, tc.wantItems)
			}
		})
	}
}

func TestGraphModelLatencyStopsWhenTheClientLeaves(t *testing.T) {
	s, _ := generatedServer(t, 5, WithGraphModel(GraphModel{Fixed: time.Hour}))
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/v1.0/users", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := s.HTTPClient().Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("answered %d within the client's deadline, want the client to give up", resp.StatusCode)
	}
	// The handler notices the client is gone and logs no answer (status
	// 0); a sleep that ignored the request's context would hold it an hour.
	deadline := time.Now().Add(10 * time.Second)
	for {
		reqs := s.Requests()
		if len(reqs) > 0 && reqs[len(reqs)-1].Path == "/v1.0/users" {
			if st := reqs[len(reqs)-1].Status; st != 0 {
				t.Fatalf("logged status %d, want 0 (no answer)", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server still waits for a client that left")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.GraphStats(); st.Requests != 0 {
		t.Errorf("counted %d answered requests, want none", st.Requests)
	}
}

func TestRequestCost(t *testing.T) {
	tests := []struct {
		path, query string
		wantKind    string
		wantCost    int
	}{
		{"users", "", KindUsers, 2},
		{"users", "$select=id,mail", KindUsers, 1},
		{"users", "$expand=manager", KindUsers, 3},
		{"users", "$select=id&$expand=manager($select=id)&$top=999", KindUsers, 2},
		{"users", "$top=10", KindUsers, 1},
		{"users", "$select=id&$top=5", KindUsers, 1}, // never below 1
		{"users/" + "0f7e", "", KindUser, 1},
		{"users/0f7e/manager", "$select=id", KindUser, 1},
		{"users/delta()", "$select=id", KindUsersDelta, 1},
		{"users/$count", "", KindCount, 1},
		{"groups", "", KindGroups, 1},
		{"groups", "$select=id", KindGroups, 1},
		{"groups/delta()", "", KindGroupsDelta, 1},
		{"groups/g1", "", KindGroup, 1},
		{"groups/g1/members", "", KindMembers, 3},
		{"groups/g1/members/graph.user", "$select=id&$top=999", KindMembers, 2},
		{"groups/g1/transitiveMembers", "", KindTransitiveMembers, 5},
		{"groups/g1/transitiveMembers/graph.user", "$select=id&$top=999", KindTransitiveMembers, 4},
		{"groups/g1/transitiveMembers/$count", "", KindCount, 5},
		{"organization", "", KindOther, 1},
	}
	for _, tc := range tests {
		t.Run(tc.path+"?"+tc.query, func(t *testing.T) {
			kind, base := classify(tc.path)
			if cost := requestCost(base, parseQuery(tc.query)); kind != tc.wantKind || cost != tc.wantCost {
				t.Errorf("kind %q cost %d, want %q and %d", kind, cost, tc.wantKind, tc.wantCost)
			}
		})
	}
}

func TestTenantBudget(t *testing.T) {
	tests := []struct{ users, want int }{
		{0, SmallTenantBudget}, {49, SmallTenantBudget},
		{50, MediumTenantBudget}, {500, MediumTenantBudget},
		{501, LargeTenantBudget}, {1_000_000, LargeTenantBudget},
	}
	for _, tc := range tests {
		if got := TenantBudget(tc.users); got != tc.want {
			t.Errorf("TenantBudget(%d) = %d, want %d", tc.users, got, tc.want)
		}
	}
	// The server's budget for a tenant is that figure exactly: it pays for
	// exactly that many units at once, and not one more.
	for _, users := range []int{10, 100, 1000} {
		s, _ := generatedServer(t, users)
		st := s.tenant(testTenantID)
		m := GraphModel{Throttle: true, Window: time.Hour}
		want := TenantBudget(users)
		if _, ok := s.charge(m, "app-a", st, want); !ok {
			t.Errorf("%d users: a full budget of %d units is refused", users, want)
		}
		if _, ok := s.charge(m, "app-a", st, 1); ok {
			t.Errorf("%d users: one unit more than %d is paid", users, want)
		}
	}
}

// spend sends GETs of path until one is throttled (at most limit), and
// returns how many passed and the throttled answer.
func spend(t *testing.T, s *Server, tok, path string, limit int) (passed int, status int, hdr http.Header, body []byte) {
	t.Helper()
	for range limit {
		status, hdr, body = get(t, s, tok, path)
		if status != http.StatusOK {
			return passed, status, hdr, body
		}
		passed++
	}
	return passed, status, hdr, body
}

func TestGraphModelSelectIsCheaper(t *testing.T) {
	tests := []struct {
		query      string
		wantPassed int // of a budget of 6 units
	}{
		{"", 3},                           // GET users costs 2
		{"$select=id,mail", 6},            // $select takes 1 off
		{"$expand=manager", 2},            // $expand adds 1
		{"$select=id&$expand=manager", 3}, // both
	}
	for _, tc := range tests {
		t.Run("users?"+tc.query, func(t *testing.T) {
			s, _ := generatedServer(t, 30, WithGraphModel(GraphModel{Throttle: true, Budget: 6, Window: time.Hour}))
			tok := mustToken(t, s, testTenantID, testClientID, testSecret)
			passed, status, _, _ := spend(t, s, tok, "/v1.0/users?"+tc.query, 20)
			if passed != tc.wantPassed || status != http.StatusTooManyRequests {
				t.Errorf("%d requests passed, then status %d; want %d, then 429", passed, status, tc.wantPassed)
			}
			if st := s.GraphStats(); st.ResourceUnits > 6 || st.Throttled != 1 {
				t.Errorf("stats %+v: want at most 6 units debited and one 429", st)
			}
		})
	}
}

func TestGraphModelThrottles(t *testing.T) {
	// 3 units per 2 s: the bucket refills 1.5 units a second.
	s, _ := generatedServer(t, 30, WithGraphModel(GraphModel{Throttle: true, Budget: 3, Window: 2 * time.Second}))
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	const path = "/v1.0/users?$select=id" // 1 unit

	passed, status, hdr, body := spend(t, s, tok, path, 10)
	if passed != 3 || status != http.StatusTooManyRequests {
		t.Fatalf("%d requests passed, then status %d; want 3, then 429", passed, status)
	}
	secs, err := strconv.Atoi(hdr.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 2 {
		t.Errorf("Retry-After %q, want whole seconds until a unit is back (1)", hdr.Get("Retry-After"))
	}
	if hdr.Get("x-ms-throttle-information") != "ResourceUnitLimitExceeded" ||
		hdr.Get("x-ms-throttle-scope") != "Tenant_Application/Read/"+testClientID+"/"+testTenantID {
		t.Errorf("throttle headers scope %q information %q", hdr.Get("x-ms-throttle-scope"), hdr.Get("x-ms-throttle-information"))
	}
	var e struct {
		Error struct {
			Code       string `json:"code"`
			InnerError struct {
				Code   string `json:"code"`
				Status string `json:"status"`
			} `json:"innerError"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != "TooManyRequests" || e.Error.InnerError.Status != "429" {
		t.Errorf("body %s, want Graph's TooManyRequests error", body)
	}
	odataErrorCode(t, body) // message, date and request id present

	reqs := s.Requests()
	if last := reqs[len(reqs)-1]; last.Status != http.StatusTooManyRequests || !last.Throttled {
		t.Errorf("last logged request %+v, want a throttled 429", last)
	}
	if st := s.GraphStats(); st.Throttled != 1 || st.ByKind[KindUsers].Throttled != 1 || st.Requests != 4 {
		t.Errorf("stats %+v, want 4 requests of which one throttled users listing", st)
	}

	// Waiting what Retry-After says is enough.
	time.Sleep(time.Duration(secs) * time.Second)
	if status, _, _ := get(t, s, tok, path); status != http.StatusOK {
		t.Errorf("after Retry-After: status %d, want 200", status)
	}
}

func TestGraphModelBudgetPerAppAndTenant(t *testing.T) {
	const (
		otherTenantID = "5c1d9e2f-7a3b-4c8d-9e0f-a1b2c3d4e5f6"
		otherClientID = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
	)
	s := startServer(t, WithGraphModel(GraphModel{Throttle: true, Budget: 2, Window: time.Hour}))
	first := Generate(Spec{TenantID: testTenantID, Seed: 1, Users: 20, ClientID: testClientID, Secret: testSecret})
	first.Apps = append(first.Apps, App{ClientID: otherClientID, Secret: testSecret, Roles: []string{"User.Read.All"}})
	s.AddTenant(first)
	s.AddTenant(Generate(Spec{TenantID: otherTenantID, Domain: "fabrikam.onmicrosoft.com", Seed: 2, Users: 20, ClientID: testClientID, Secret: testSecret}))

	const path = "/v1.0/users?$select=id" // 1 unit
	spent := mustToken(t, s, testTenantID, testClientID, testSecret)
	if passed, status, _, _ := spend(t, s, spent, path, 5); passed != 2 || status != http.StatusTooManyRequests {
		t.Fatalf("first app in first tenant: %d passed then %d, want 2 then 429", passed, status)
	}
	tests := []struct {
		name, tenant, clientID string
		want                   int
	}{
		{"same app, same tenant", testTenantID, testClientID, http.StatusTooManyRequests},
		{"same app, same tenant, a fresh token", testTenantID, testClientID, http.StatusTooManyRequests},
		{"another app, same tenant", testTenantID, otherClientID, http.StatusOK},
		{"same app, another tenant", otherTenantID, testClientID, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := mustToken(t, s, tc.tenant, tc.clientID, testSecret)
			if status, _, _ := get(t, s, tok, path); status != tc.want {
				t.Errorf("status %d, want %d", status, tc.want)
			}
		})
	}
}

func TestControlEndpoints(t *testing.T) {
	s, _ := generatedServer(t, 20)
	ctx := context.Background()
	want := GraphModel{Fixed: time.Millisecond, PerItem: time.Microsecond, Throttle: true, Budget: 50, Window: time.Minute}
	if err := SetRemoteGraphModel(ctx, s.HTTPClient(), s.URL(), want); err != nil {
		t.Fatal(err)
	}
	if got := s.GraphModel(); got != want {
		t.Errorf("model %+v, want %+v", got, want)
	}
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	get(t, s, tok, "/v1.0/users?$select=id&$top=7")
	got, err := RemoteGraphStats(ctx, s.HTTPClient(), s.URL())
	if err != nil {
		t.Fatal(err)
	}
	if got.Requests != 1 || got.Items != 7 || got.ResourceUnits != 1 || got.ByKind[KindUsers].Items != 7 {
		t.Errorf("remote stats %+v, want one users page of 7 costing 1 unit", got)
	}

	// An empty body is no model.
	req, _ := http.NewRequest(http.MethodPut, s.URL()+controlPrefix+"graph-model", http.NoBody)
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || s.GraphModel() != want {
		t.Errorf("PUT of no model: status %d, model %+v; want 400 and the model unchanged", resp.StatusCode, s.GraphModel())
	}
}

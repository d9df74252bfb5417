package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"dirsync/internal/domain"
	"dirsync/local/dynamolocal"
	"dirsync/local/fakeentra"
)

// These tests drive the running local stack over HTTP: the functions'
// real bootstraps under the Lambda Runtime Interface Emulator, real DynamoDB
// Local and moto, the real msgraph-sdk-go and azidentity against the fake
// Entra ID.

var stack *Stack

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	var err error
	opts := Options{Addr: "127.0.0.1:0", Demo: true, DemoUsers: 200,
		// Lambda's retries of a failed asynchronous invocation, sooner.
		AsyncRetryDelays: []time.Duration{500 * time.Millisecond, time.Second}}
	if os.Getenv("LOCALSTACK_OUTPUT") != "" {
		opts.FunctionOutput = os.Stderr // the functions' logs, to debug a test
	}
	stack, err = Start(ctx, opts)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "local stack:", err)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" {
		reportUnusedGrants(stack)
	}
	stack.Close()
	os.Exit(code)
}

// reportUnusedGrants lists every grant of the template's roles that no
// request of the whole suite used (each an action × resource element of a
// statement), on stdout and in .artifacts/iam-unused-grants.txt: a grant
// nothing uses is either dead weight or a flow no test covers. Logs and
// X-Ray grants are listed apart: no stand-in serves those services.
func reportUnusedGrants(st *Stack) {
	var served, unserved []string
	for _, g := range st.IAM.Unused() {
		line := fmt.Sprintf("%s statement %d: %s on %s", g.Role, g.Statement, g.Action, g.Resource)
		switch g.Service() {
		case "logs", "xray":
			unserved = append(unserved, line)
		default:
			served = append(served, line)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "IAM grants no request of the end-to-end suite used (%d):\n", len(served))
	for _, l := range served {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	fmt.Fprintf(&b, "Grants for services no local stand-in serves (%d):\n", len(unserved))
	for _, l := range unserved {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	fmt.Print(b.String())
	if root, err := dynamolocal.RepoRoot(); err == nil {
		dir := filepath.Join(root, ".artifacts")
		if os.MkdirAll(dir, 0o755) == nil {
			_ = os.WriteFile(filepath.Join(dir, "iam-unused-grants.txt"), []byte(b.String()), 0o644)
		}
	}
}

type client struct {
	t     testing.TB
	stack *Stack
	token string
}

// adminOf is a tenant's admin on the suite's stack.
func adminOf(t testing.TB, tenant string) *client { return adminOn(t, stack, tenant) }

// adminOn is a tenant's admin on a given stack.
func adminOn(t testing.TB, st *Stack, tenant string) *client {
	t.Helper()
	tok, err := st.Token(tenant, "admin@"+tenant+".example", []string{"admin"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, stack: st, token: tok}
}

// do sends a request and decodes a JSON answer into out (when non-nil).
func (c *client) do(method, path string, body any, out any) int {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.stack.URL+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

type apiError struct {
	Error struct{ Code, Message string } `json:"error"`
}

type syncBody struct {
	ID         string             `json:"id"`
	Status     string             `json:"status"`
	Counts     domain.Counts      `json:"counts"`
	Safeguards []domain.Safeguard `json:"safeguards"`
	Warnings   []string           `json:"warnings"`
	Error      *domain.SyncError  `json:"error"`
	ReadKind   *string            `json:"readKind"`
	ReadReason *string            `json:"readReason"`
	Planned    *int               `json:"plannedUsers"`
}

type changeBody struct {
	Seq           int                  `json:"seq"`
	ObjectType    string               `json:"objectType"`
	Kind          string               `json:"kind"`
	Subject       domain.Subject       `json:"subject"`
	TargetID      *string              `json:"targetId"`
	Fields        []domain.FieldChange `json:"fields"`
	Reason        *string              `json:"reason"`
	Excluded      bool                 `json:"excluded"`
	Outcome       *string              `json:"outcome"`
	OutcomeReason *string              `json:"outcomeReason"`
}

// preview starts a preview and waits until it is no longer PREVIEWING.
func (c *client) preview() syncBody {
	c.t.Helper()
	return c.previewWith(nil)
}

// previewWith is preview with a request body (POST /v1/syncs).
func (c *client) previewWith(body any) syncBody {
	c.t.Helper()
	return c.previewWithin(body, 2*time.Minute)
}

// previewWithin is previewWith waiting at most wait.
func (c *client) previewWithin(body any, wait time.Duration) syncBody {
	c.t.Helper()
	var started syncBody
	if code := c.do("POST", "/v1/syncs", body, &started); code != http.StatusAccepted {
		c.t.Fatalf("POST /v1/syncs = %d %+v", code, started)
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		var sy syncBody
		if code := c.do("GET", "/v1/syncs/"+started.ID, nil, &sy); code != http.StatusOK {
			c.t.Fatalf("GET sync = %d", code)
		}
		if sy.Status != string(domain.SyncPreviewing) {
			return sy
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("preview did not finish within %v", wait)
	return syncBody{}
}

func (c *client) changes(syncID, query string) []changeBody {
	c.t.Helper()
	var all []changeBody
	cursor := ""
	for {
		var page struct {
			Items      []changeBody `json:"items"`
			NextCursor string       `json:"nextCursor"`
		}
		path := "/v1/syncs/" + syncID + "/changes?limit=100" + query
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		if code := c.do("GET", path, nil, &page); code != http.StatusOK {
			c.t.Fatalf("GET %s = %d", path, code)
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
}

// expectedDemo computes the acme demo preview from the generated data
// directly, without the plan engine: the rules of DESIGN.md section 3
// applied to this particular directory.
func expectedDemo(t *testing.T) domain.Counts {
	tenant := DemoEntraTenant(DemoAcmeDirectory, DemoAcmeClientID, DemoSecret, "contoso.onmicrosoft.com", 42, 200)
	platform := DemoPlatformUsers(tenant, "acme.example")
	var c domain.Counts
	inScope := map[string]bool{}
	emails := map[string]int{}
	email := func(u *fakeentra.User) string {
		if u.Mail != nil && *u.Mail != "" {
			return strings.ToLower(*u.Mail)
		}
		return strings.ToLower(u.UserPrincipalName)
	}
	for i := range tenant.Users {
		u := &tenant.Users[i]
		if !u.AccountEnabled || u.UserType == "Guest" {
			c.Users.OutOfScope++
			continue
		}
		inScope[u.ID] = true
		emails[email(u)]++
	}
	skipped := map[string]bool{}
	for i := range tenant.Users {
		u := &tenant.Users[i]
		if inScope[u.ID] && emails[email(u)] > 1 {
			skipped[u.ID] = true
			c.Users.Skip++
		}
	}
	matched := 0
	for _, p := range platform {
		switch {
		case p.Source == domain.SourceManual && p.Email == strings.ToUpper(p.Email) && strings.Contains(p.Email, "@CONTOSO"):
			c.Users.Update++ // linked by email
			matched++
		case p.Source == domain.SourceEntra:
			if !inScope[p.ExternalID] {
				c.Users.Deactivate++ // deleted or disabled
				continue
			}
			matched++
			if v, _ := p.Attributes.Get("jobTitle"); v == "Trainee" {
				c.Users.Update++
			} else {
				c.Users.Unchanged++
			}
		}
	}
	c.Users.Add = len(inScope) - c.Users.Skip - matched
	members := transitiveUsers(tenant)
	for _, g := range tenant.Groups {
		c.Groups.Add++
		for id := range members[g.ID] {
			if inScope[id] && !skipped[id] {
				c.Memberships.Add++
			}
		}
	}
	return c
}

func transitiveUsers(t *fakeentra.Tenant) map[string]map[string]bool {
	byID := map[string]*fakeentra.Group{}
	for i := range t.Groups {
		byID[t.Groups[i].ID] = &t.Groups[i]
	}
	out := map[string]map[string]bool{}
	var walk func(g *fakeentra.Group, into map[string]bool, seen map[string]bool)
	walk = func(g *fakeentra.Group, into map[string]bool, seen map[string]bool) {
		if seen[g.ID] {
			return
		}
		seen[g.ID] = true
		for _, u := range g.MemberUserIDs {
			into[u] = true
		}
		for _, n := range g.MemberGroupIDs {
			if ng := byID[n]; ng != nil {
				walk(ng, into, seen)
			}
		}
	}
	for i := range t.Groups {
		set := map[string]bool{}
		walk(&t.Groups[i], set, map[string]bool{})
		out[t.Groups[i].ID] = set
	}
	return out
}

func TestDemoPreviewCounts(t *testing.T) {
	acme := adminOf(t, DemoTenantAcme)
	sy := acme.preview()
	if sy.Status != string(domain.SyncPreviewReady) {
		t.Fatalf("status %s, error %+v", sy.Status, sy.Error)
	}
	want := expectedDemo(t)
	if sy.Counts != want {
		t.Fatalf("counts\n got %+v\nwant %+v", sy.Counts, want)
	}
	for _, g := range sy.Safeguards {
		if g.Tripped {
			t.Fatalf("safeguard tripped on the demo: %+v", g)
		}
	}

	updates := acme.changes(sy.ID, "&kind=update")
	stale := 0
	for _, u := range updates {
		for _, f := range u.Fields {
			if f.Name == "jobTitle" && f.Before == "Trainee" && f.After != "" && f.After != "Trainee" {
				stale++
			}
		}
	}
	if stale != 4 {
		t.Fatalf("%d updates show the stale job title before -> after, want 4: %+v", stale, updates)
	}
	for _, s := range acme.changes(sy.ID, "&kind=skip") {
		if s.Reason == nil || *s.Reason != domain.ReasonDuplicateEmail {
			t.Fatalf("skip without the duplicate reason: %+v", s)
		}
	}
	deact := acme.changes(sy.ID, "&kind=deactivate")
	if len(deact) != 2 {
		t.Fatalf("deactivations = %+v", deact)
	}
	if got := acme.changes(sy.ID, "&objectType=group"); len(got) != want.Groups.Add {
		t.Fatalf("%d group changes, want %d", len(got), want.Groups.Add)
	}
}

func TestAuthorisation(t *testing.T) {
	acme := adminOf(t, DemoTenantAcme)
	sy := acme.preview()

	anonymous := &client{t: t, stack: stack}
	var e apiError
	// API Gateway's JWT authorizer answers before any function runs.
	var gw struct{ Message string }
	if code := anonymous.do("GET", "/v1/syncs", nil, &gw); code != http.StatusUnauthorized || gw.Message != "Unauthorized" {
		t.Fatalf("no token: %d %+v", code, gw)
	}
	bad := &client{t: t, stack: stack, token: "not.a.jwt"}
	if code := bad.do("GET", "/v1/syncs", nil, &e); code != http.StatusUnauthorized {
		t.Fatalf("bad token: %d", code)
	}
	// A verified token whose tenant is no valid tenant id: the function
	// answers 401 naming the rule, never a 500.
	badTenant, _ := stack.Token("acme/../x", "admin@acme.example", []string{"admin"}, time.Hour)
	if code := (&client{t: t, stack: stack, token: badTenant}).do("PUT", "/v1/connection", `{}`, &e); code != http.StatusUnauthorized ||
		e.Error.Code != domain.EUnauthorized || !strings.Contains(e.Error.Message, "not a valid platform tenant id") {
		t.Fatalf("invalid tenant claim: %d %+v", code, e)
	}
	userTok, _ := stack.Token(DemoTenantAcme, "user@acme.example", []string{"user"}, time.Hour)
	user := &client{t: t, stack: stack, token: userTok}
	if code := user.do("GET", "/v1/syncs/"+sy.ID, nil, &e); code != http.StatusForbidden || e.Error.Code != domain.EForbidden {
		t.Fatalf("non-admin: %d %+v", code, e)
	}
	globex := adminOf(t, DemoTenantGlobex)
	for _, path := range []string{"/v1/syncs/" + sy.ID, "/v1/syncs/" + sy.ID + "/changes", "/v1/syncs/" + sy.ID + "/progress"} {
		if code := globex.do("GET", path, nil, &e); code != http.StatusNotFound || e.Error.Code != domain.ENotFound {
			t.Fatalf("cross-tenant %s: %d %+v", path, code, e)
		}
	}
	if code := globex.do("GET", "/v1/syncs/does-not-exist", nil, &e); code != http.StatusNotFound {
		t.Fatalf("missing sync: %d", code)
	}
}

func TestBadInput(t *testing.T) {
	acme := adminOf(t, DemoTenantAcme)
	valid := `{"directoryTenantId":"` + DemoAcmeDirectory + `","clientId":"` + DemoAcmeClientID + `"`
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		status int
		code   string
		names  string // the message must name this
	}{
		{"malformed JSON", "PUT", "/v1/connection", `{"directoryTenantId":`, 400, domain.EInvalid, ""},
		{"unknown field", "PUT", "/v1/connection", valid + `,"tenant":"globex"}`, 400, domain.EInvalid, "tenant"},
		{"wrong type", "PUT", "/v1/connection", valid + `,"options":{"includeGuests":"yes"}}`, 400, domain.EInvalid, "includeGuests"},
		{"oversized", "PUT", "/v1/connection", valid + `,"clientSecret":"` + strings.Repeat("x", 70<<10) + `"}`, 413, domain.ETooLarge, ""},
		{"bad id", "GET", "/v1/syncs/bad%20id", "", 400, domain.EInvalid, "id"},
		{"bad limit", "GET", "/v1/syncs?limit=1000", "", 400, domain.EInvalid, "limit"},
		{"bad cursor", "GET", "/v1/syncs?cursor=%21%21", "", 400, domain.EInvalid, "cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acme.t = t
			var e apiError
			var body any
			if tt.body != "" {
				body = tt.body
			}
			if code := acme.do(tt.method, tt.path, body, &e); code != tt.status || e.Error.Code != tt.code {
				t.Fatalf("%d %+v, want %d %s", code, e, tt.status, tt.code)
			}
			if !strings.Contains(e.Error.Message, tt.names) {
				t.Fatalf("message %q does not name %q", e.Error.Message, tt.names)
			}
		})
	}
	// Nothing was lost: the stored connection is unchanged.
	var conn struct {
		ClientID   string `json:"clientId"`
		SecretHint string `json:"secretHint"`
	}
	if code := acme.do("GET", "/v1/connection", nil, &conn); code != 200 || conn.ClientID != DemoAcmeClientID || conn.SecretHint != DemoSecret[len(DemoSecret)-4:] {
		t.Fatalf("connection after bad input: %d %+v", code, conn)
	}
}

func TestConcurrentStartsGiveOnePreview(t *testing.T) {
	globex := adminOf(t, DemoTenantGlobex)
	var wg sync.WaitGroup
	codes := make([]int, 10)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &client{t: t, stack: stack, token: globex.token}
			var out map[string]any
			codes[i] = c.do("POST", "/v1/syncs", nil, &out)
		}()
	}
	wg.Wait()
	accepted, conflicts := 0, 0
	for _, c := range codes {
		switch c {
		case http.StatusAccepted:
			accepted++
		case http.StatusConflict:
			conflicts++
		}
	}
	if accepted != 1 || conflicts != 9 {
		t.Fatalf("codes %v: want one 202 and nine 409", codes)
	}
	stack.WaitIdle()
}

// connectTenant points a platform tenant at a new directory on the fake,
// through the API as an admin would.
// onePartition gives every user of dir a userPrincipalName starting with
// "u", so that the reader's partition of them is several pages long, as
// a large tenant's partitions are: faults on a listing's second page, or a
// first page's nextLink, then hit the read as they would there.
func onePartition(dir *fakeentra.Tenant) *fakeentra.Tenant {
	for i := range dir.Users {
		u := &dir.Users[i]
		_, domainPart, _ := strings.Cut(u.UserPrincipalName, "@")
		u.UserPrincipalName = fmt.Sprintf("u%05d@%s", i, domainPart)
	}
	return dir
}

func connectTenant(t testing.TB, c *client, dir *fakeentra.Tenant, opts string) {
	t.Helper()
	c.stack.Fake.AddTenant(dir)
	body := fmt.Sprintf(`{"directoryTenantId":%q,"clientId":%q,"clientSecret":%q,"options":%s}`, dir.ID, dir.Apps[0].ClientID, dir.Apps[0].Secret, opts)
	var out map[string]any
	if code := c.do("PUT", "/v1/connection", body, &out); code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("PUT /v1/connection = %d %v", code, out)
	}
	var test struct {
		OK bool `json:"ok"`
	}
	if code := c.do("POST", "/v1/connection/test", nil, &test); code != 200 || !test.OK {
		t.Fatalf("connection test = %d %+v", code, test)
	}
}

func TestGraphFailureMidReadStoresNoPlan(t *testing.T) {
	c := adminOf(t, "initech")
	dir := onePartition(fakeentra.Generate(fakeentra.Spec{TenantID: "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f", Domain: "initech.onmicrosoft.com", Seed: 9, Users: 2500}))
	connectTenant(t, c, dir, `{}`)
	remove := stack.Fake.InjectFault(fakeentra.Fault{PathPrefix: "/v1.0/users", Page: 2, Kind: fakeentra.FaultStatus, Status: 500})
	defer remove()

	sy := c.preview()
	if sy.Status != string(domain.SyncPreviewFailed) || sy.Error == nil || sy.Error.Code != domain.SyncErrSourceRead {
		t.Fatalf("sync = %+v, want PREVIEW_FAILED source_read_failed", sy)
	}
	if !strings.Contains(sy.Error.Message, "page 2") {
		t.Fatalf("error %q does not say which page failed", sy.Error.Message)
	}
	if got := c.changes(sy.ID, ""); len(got) != 0 {
		t.Fatalf("a failed preview stored %d changes", len(got))
	}
	var p struct {
		Total int `json:"total"`
	}
	if code := c.do("GET", "/v1/syncs/"+sy.ID+"/progress", nil, &p); code != 200 || p.Total != 0 {
		t.Fatalf("progress = %d %+v", code, p)
	}
}

func TestDeactivationThresholdTrips(t *testing.T) {
	ctx := context.Background()
	c := adminOf(t, "umbrella")
	dir := fakeentra.Generate(fakeentra.Spec{TenantID: "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a", Domain: "umbrella.onmicrosoft.com", Seed: 11, Users: 40})
	// 30 linked users the directory no longer has: 30 of 30 active linked
	// users would go (100 % > 20 %), and 30 > the count limit of 25.
	var gone []domain.User
	for i := 0; i < 30; i++ {
		gone = append(gone, domain.User{PlatformUser: domain.PlatformUser{
			Email: fmt.Sprintf("left%02d@umbrella.example", i), Source: domain.SourceEntra,
			ExternalID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), ExternalTenantID: dir.ID,
		}})
	}
	if err := stack.Store.SeedUsers(ctx, "umbrella", gone); err != nil {
		t.Fatal(err)
	}
	connectTenant(t, c, dir, `{"deactivateMissing":true,"deactivationThreshold":{"percent":20,"count":25}}`)
	sy := c.preview()
	if sy.Status != string(domain.SyncPreviewReady) || sy.Counts.Users.Deactivate != 30 {
		t.Fatalf("sync = %+v", sy)
	}
	tripped := map[string]domain.Safeguard{}
	for _, g := range sy.Safeguards {
		tripped[g.Name] = g
	}
	if g := tripped[domain.SafeguardDeactivationPercent]; !g.Tripped || g.Limit != 20 || g.Actual != 100 {
		t.Fatalf("percent safeguard = %+v", g)
	}
	if g := tripped[domain.SafeguardDeactivationCount]; !g.Tripped || g.Limit != 25 || g.Actual != 30 {
		t.Fatalf("count safeguard = %+v", g)
	}
}

func TestExpectedDemoIsNotTrivial(t *testing.T) {
	c := expectedDemo(t)
	t.Logf("expected demo counts: %+v", c)
	if c.Users.Add < 100 || c.Users.Update != 7 || c.Users.Unchanged != 6 || c.Users.Deactivate != 2 ||
		c.Users.Skip < 2 || c.Users.OutOfScope < 5 || c.Groups.Add < 10 || c.Memberships.Add < c.Users.Add {
		t.Fatalf("the demo lost a kind of change: %+v", c)
	}
}

type progressBody struct {
	Status    string  `json:"status"`
	Total     int     `json:"total"`
	Processed int     `json:"processed"`
	Succeeded int     `json:"succeeded"`
	Failed    int     `json:"failed"`
	Conflicts int     `json:"conflicts"`
	Percent   float64 `json:"percent"`
}

// waitApplied polls the progress until the sync leaves APPLYING.
func (c *client) waitApplied(syncID string) progressBody {
	c.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		var p progressBody
		if code := c.do("GET", "/v1/syncs/"+syncID+"/progress", nil, &p); code != http.StatusOK {
			c.t.Fatalf("GET progress = %d", code)
		}
		if p.Status != string(domain.SyncApplying) {
			return p
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatal("apply did not finish within 2 minutes")
	return progressBody{}
}

type userBody struct {
	ID         string `json:"id"`
	Email      string `json:"email"`
	Status     string `json:"status"`
	Source     string `json:"source"`
	ExternalID string `json:"externalId"`
	JobTitle   string `json:"jobTitle"`
	Revision   int    `json:"revision"`
	Groups     []struct {
		ID          string `json:"id"`
		DisplayName string `json:"displayName"`
	} `json:"groups"`
}

func (c *client) users() []userBody {
	c.t.Helper()
	var all []userBody
	cursor := ""
	for {
		var page struct {
			Items      []userBody `json:"items"`
			NextCursor string     `json:"nextCursor"`
		}
		path := "/v1/users?limit=100"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		if code := c.do("GET", path, nil, &page); code != http.StatusOK {
			c.t.Fatalf("GET %s = %d", path, code)
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
}

func TestPreviewConfirmApplyConverges(t *testing.T) {
	ctx := context.Background()
	c := adminOf(t, "wayne")
	dir := fakeentra.Generate(fakeentra.Spec{TenantID: "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b", Domain: "wayne.onmicrosoft.com", Seed: 21, Users: 300})
	byID := map[string]*fakeentra.User{}
	for i := range dir.Users {
		byID[dir.Users[i].ID] = &dir.Users[i]
	}
	// One manual user to link by email, one linked user with a stale title.
	var manual, stale *fakeentra.User
	for i := range dir.Users {
		u := &dir.Users[i]
		if u.AccountEnabled && u.UserType == "Member" && u.Mail != nil && u.JobTitle != "" {
			if manual == nil {
				manual = u
			} else if stale == nil && *u.Mail != *manual.Mail {
				stale = u
			}
		}
	}
	attrs := MappedAttributes(stale, byID)
	for i := range attrs {
		if attrs[i].Name == "jobTitle" {
			attrs[i].Value = "Trainee"
		}
	}
	if err := stack.Store.SeedUsers(ctx, "wayne", []domain.User{
		{PlatformUser: domain.PlatformUser{Email: strings.ToUpper(*manual.Mail), Source: domain.SourceManual}},
		{PlatformUser: domain.PlatformUser{Email: *stale.Mail, Source: domain.SourceEntra, ExternalID: stale.ID, ExternalTenantID: dir.ID, Attributes: attrs}},
	}); err != nil {
		t.Fatal(err)
	}
	connectTenant(t, c, dir, `{}`)

	sy := c.preview()
	if sy.Status != string(domain.SyncPreviewReady) || sy.Counts.Users.Add == 0 || sy.Counts.Users.Update != 2 {
		t.Fatalf("preview %+v", sy)
	}
	// Ten concurrent confirms all answer 202 APPLYING and start one
	// execution: the counters below come out exact, not doubled.
	var wg sync.WaitGroup
	codes := make([]int, 10)
	statuses := make([]string, 10)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out struct{ Status string }
			codes[i] = (&client{t: t, stack: stack, token: c.token}).do("POST", "/v1/syncs/"+sy.ID+"/confirm", `{}`, &out)
			statuses[i] = out.Status
		}()
	}
	wg.Wait()
	for i := range codes {
		if codes[i] != http.StatusAccepted || statuses[i] != "APPLYING" {
			t.Fatalf("concurrent confirms answered %v %v, want ten 202 APPLYING", codes, statuses)
		}
	}
	if _, err := stack.Runner.Status(stack.Runner.ExecutionID("sync-" + sy.ID)); err != nil {
		t.Fatalf("no execution named after the sync: %v", err)
	}
	var confirmed struct{ Status string }
	p := c.waitApplied(sy.ID)
	applicable := sy.Counts.Users.Add + sy.Counts.Users.Update + sy.Counts.Groups.Add
	if p.Status != string(domain.SyncCompleted) || p.Total != applicable || p.Processed != p.Total || p.Succeeded != p.Total || p.Percent != 100 {
		t.Fatalf("progress %+v, want COMPLETED with %d applied", p, applicable)
	}
	var final syncBody
	c.do("GET", "/v1/syncs/"+sy.ID, nil, &final)
	if final.Status != string(domain.SyncCompleted) {
		t.Fatalf("sync status %s", final.Status)
	}

	users := c.users()
	if len(users) != 2+sy.Counts.Users.Add {
		t.Fatalf("%d platform users, want the 2 seeded + %d added", len(users), sy.Counts.Users.Add)
	}
	members := transitiveUsers(dir)
	groupsOf := map[string]map[string]bool{}
	for _, g := range dir.Groups {
		for uid := range members[g.ID] {
			if groupsOf[uid] == nil {
				groupsOf[uid] = map[string]bool{}
			}
			groupsOf[uid][g.DisplayName] = true
		}
	}
	for _, u := range users {
		if u.Source != "entra" || u.ExternalID == "" || u.Status != "active" {
			t.Fatalf("user %+v is not an active linked user", u)
		}
		src := byID[u.ExternalID]
		if src == nil {
			t.Fatalf("user %s links to an unknown Entra user", u.Email)
		}
		if u.JobTitle != src.JobTitle {
			t.Fatalf("%s jobTitle %q, Entra says %q", u.Email, u.JobTitle, src.JobTitle)
		}
		got := map[string]bool{}
		for _, g := range u.Groups {
			got[g.DisplayName] = true
		}
		if len(got) != len(groupsOf[u.ExternalID]) {
			t.Fatalf("%s is in groups %v, Entra says %v", u.Email, got, groupsOf[u.ExternalID])
		}
		for g := range groupsOf[u.ExternalID] {
			if !got[g] {
				t.Fatalf("%s is missing from group %s", u.Email, g)
			}
		}
	}

	// The directory is now exactly what Entra says: a new preview finds
	// nothing to do.
	again := c.preview()
	cu, cg := again.Counts.Users, again.Counts.Groups
	if cu.Add != 0 || cu.Update != 0 || cu.Deactivate != 0 || cu.Reactivate != 0 || cg.Add != 0 || cg.Update != 0 || cg.Remove != 0 ||
		again.Counts.Memberships.Add != 0 || again.Counts.Memberships.Remove != 0 || cu.Unchanged != len(users) {
		t.Fatalf("second preview after apply is not empty: %+v", again.Counts)
	}
	if code := c.do("POST", "/v1/syncs/"+again.ID+"/cancel", nil, &confirmed); code != http.StatusAccepted || confirmed.Status != "CANCELLED" {
		t.Fatalf("cancel of the empty preview = %d %+v", code, confirmed)
	}
}

func TestEditBeforeConfirmIsReportedAsConflict(t *testing.T) {
	ctx := context.Background()
	c := adminOf(t, "stark")
	dir := fakeentra.Generate(fakeentra.Spec{TenantID: "6f7a8b9c-0d1e-4f2a-9b3c-4d5e6f7a8b9c", Domain: "stark.onmicrosoft.com", Seed: 5, Users: 30})
	var src *fakeentra.User
	for i := range dir.Users {
		if u := &dir.Users[i]; u.AccountEnabled && u.UserType == "Member" && u.Mail != nil {
			src = u
			break
		}
	}
	seeded := []domain.User{{PlatformUser: domain.PlatformUser{Email: *src.Mail, Source: domain.SourceEntra, ExternalID: src.ID, ExternalTenantID: dir.ID,
		Attributes: domain.Attrs{{Name: "jobTitle", Value: "Trainee"}}}}}
	if err := stack.Store.SeedUsers(ctx, "stark", seeded); err != nil {
		t.Fatal(err)
	}
	connectTenant(t, c, dir, `{}`)
	sy := c.preview()

	var edited userBody
	if code := c.do("PATCH", "/v1/users/"+seeded[0].ID, `{"attributes":{"jobTitle":"Chief of Staff"}}`, &edited); code != http.StatusOK {
		t.Fatalf("PATCH = %d", code)
	}
	var out map[string]any
	if code := c.do("POST", "/v1/syncs/"+sy.ID+"/confirm", nil, &out); code != http.StatusAccepted {
		t.Fatalf("confirm = %d %v", code, out)
	}
	p := c.waitApplied(sy.ID)
	if p.Status != string(domain.SyncCompletedWithErrors) || p.Conflicts != 1 || p.Processed != p.Total {
		t.Fatalf("progress %+v, want COMPLETED_WITH_ERRORS with 1 conflict", p)
	}
	var after userBody
	c.do("GET", "/v1/users/"+seeded[0].ID, nil, &after)
	if after.JobTitle != "Chief of Staff" || after.Revision != edited.Revision {
		t.Fatalf("the edited user was touched: %+v", after)
	}
	conflicts := c.changes(sy.ID, "&outcome=conflict")
	if len(conflicts) != 1 || conflicts[0].TargetID == nil || *conflicts[0].TargetID != seeded[0].ID {
		t.Fatalf("conflicts listed: %+v", conflicts)
	}
}

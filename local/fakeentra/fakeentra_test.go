package fakeentra

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	testTenantID = "8f0d2a3c-5b1e-4c7d-9a6f-1e2d3c4b5a69"
	testDomain   = "contoso.onmicrosoft.com"
	testClientID = "3b5c7d9e-1f2a-4b3c-8d4e-5f6a7b8c9d0e"
	testSecret   = "s3cr3t~value"
)

func startServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := Start(opts...)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// generatedServer serves a generated tenant of the given size.
func generatedServer(t testing.TB, users int, opts ...Option) (*Server, *Tenant) {
	t.Helper()
	s := startServer(t, opts...)
	tn := Generate(Spec{TenantID: testTenantID, Domain: testDomain, Seed: 42, Users: users, ClientID: testClientID, Secret: testSecret})
	s.AddTenant(tn)
	return s, tn
}

func tokenForm(s *Server, clientID, secret, scope string) url.Values {
	return url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {clientID},
		"client_secret": {secret},
		"scope":         {scope},
	}
}

func postToken(t testing.TB, s *Server, tenant string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := s.HTTPClient().PostForm(s.URL()+"/"+tenant+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatalf("POST token: %v", err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode token response: %v", err)
	}
	return resp.StatusCode, body
}

func mustToken(t testing.TB, s *Server, tenant, clientID, secret string) string {
	t.Helper()
	status, body := postToken(t, s, tenant, tokenForm(s, clientID, secret, s.URL()+"/.default"))
	if status != http.StatusOK {
		t.Fatalf("token: status %d, body %v", status, body)
	}
	tok, _ := body["access_token"].(string)
	if tok == "" {
		t.Fatalf("token: no access_token in %v", body)
	}
	return tok
}

// get fetches a Graph path (relative to URL()) or an absolute link.
func get(t testing.TB, s *Server, token, pathOrURL string) (int, http.Header, []byte) {
	t.Helper()
	u := pathOrURL
	if !strings.HasPrefix(u, "https://") {
		u = s.URL() + pathOrURL
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", u, err)
	}
	return resp.StatusCode, resp.Header, body
}

type page struct {
	Context   string           `json:"@odata.context"`
	NextLink  string           `json:"@odata.nextLink"`
	DeltaLink string           `json:"@odata.deltaLink"`
	Value     []map[string]any `json:"value"`
}

func getPage(t testing.TB, s *Server, token, pathOrURL string) page {
	t.Helper()
	status, _, body := get(t, s, token, pathOrURL)
	if status != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", pathOrURL, status, body)
	}
	var p page
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("GET %s: decode: %v\n%s", pathOrURL, err, body)
	}
	return p
}

// getAll follows nextLinks, returning every page.
func getAll(t testing.TB, s *Server, token, path string) []page {
	t.Helper()
	var pages []page
	for next := path; next != ""; {
		p := getPage(t, s, token, next)
		pages = append(pages, p)
		next = p.NextLink
		if len(pages) > 10000 {
			t.Fatal("paging does not end")
		}
	}
	return pages
}

func odataErrorCode(t testing.TB, body []byte) string {
	t.Helper()
	var e struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError struct {
				Date      string `json:"date"`
				RequestID string `json:"request-id"`
			} `json:"innerError"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("decode OData error: %v\n%s", err, body)
	}
	if e.Error.Message == "" || e.Error.InnerError.Date == "" || e.Error.InnerError.RequestID == "" {
		t.Errorf("OData error lacks message or innerError: %s", body)
	}
	return e.Error.Code
}

func TestOpenIDConfiguration(t *testing.T) {
	s, _ := generatedServer(t, 10)
	for _, tenant := range []string{testTenantID, testDomain} {
		status, _, body := get(t, s, "", "/"+tenant+"/v2.0/.well-known/openid-configuration")
		if status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", tenant, status, body)
		}
		var cfg map[string]any
		if err := json.Unmarshal(body, &cfg); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"token_endpoint":         s.URL() + "/" + testTenantID + "/oauth2/v2.0/token",
			"authorization_endpoint": s.URL() + "/" + testTenantID + "/oauth2/v2.0/authorize",
			"issuer":                 s.URL() + "/" + testTenantID + "/v2.0",
		}
		for k, v := range want {
			if cfg[k] != v {
				t.Errorf("%s: %s = %v, want %s", tenant, k, cfg[k], v)
			}
		}
	}

	status, _, body := get(t, s, "", "/00000000-0000-0000-0000-000000000001/v2.0/.well-known/openid-configuration")
	if status != http.StatusBadRequest || !strings.Contains(string(body), `"invalid_tenant"`) || !strings.Contains(string(body), "AADSTS90002") {
		t.Errorf("unknown tenant: status %d body %s", status, body)
	}
}

func TestToken(t *testing.T) {
	s, _ := generatedServer(t, 10, WithTokenTTL(time.Hour))
	scope := s.URL() + "/.default"
	tests := []struct {
		name      string
		tenant    string
		form      url.Values
		status    int
		errorCode string
		aadsts    float64
	}{
		{"success", testTenantID, tokenForm(s, testClientID, testSecret, scope), 200, "", 0},
		{"success by domain with OpenID scopes", testDomain, tokenForm(s, testClientID, testSecret, scope+" openid offline_access profile"), 200, "", 0},
		{"unknown tenant", "11111111-2222-3333-4444-555555555555", tokenForm(s, testClientID, testSecret, scope), 400, "invalid_tenant", 90002},
		{"unknown client", testTenantID, tokenForm(s, "99999999-0000-0000-0000-000000000000", testSecret, scope), 400, "unauthorized_client", 700016},
		{"bad secret", testTenantID, tokenForm(s, testClientID, "wrong", scope), 401, "invalid_client", 7000215},
		{"missing secret", testTenantID, tokenForm(s, testClientID, "", scope), 401, "invalid_client", 7000216},
		{"scope without .default", testTenantID, tokenForm(s, testClientID, testSecret, "User.Read.All"), 400, "invalid_scope", 1002012},
		{"scope of another resource", testTenantID, tokenForm(s, testClientID, testSecret, "https://graph.microsoft.com/.default"), 400, "invalid_scope", 70011},
		{"wrong grant type", testTenantID, url.Values{"grant_type": {"password"}, "client_id": {testClientID}}, 400, "unsupported_grant_type", 70003},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := postToken(t, s, tc.tenant, tc.form)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, body)
			}
			if tc.errorCode == "" {
				if body["token_type"] != "Bearer" || body["expires_in"] != float64(3599) || body["ext_expires_in"] != float64(3599) {
					t.Errorf("token response %v", body)
				}
				if tok, _ := body["access_token"].(string); len(tok) < 32 {
					t.Errorf("access_token %q too short", tok)
				}
				return
			}
			if body["error"] != tc.errorCode {
				t.Errorf("error = %v, want %s", body["error"], tc.errorCode)
			}
			codes, _ := body["error_codes"].([]any)
			if len(codes) != 1 || codes[0] != tc.aadsts {
				t.Errorf("error_codes = %v, want [%v]", body["error_codes"], tc.aadsts)
			}
			desc, _ := body["error_description"].(string)
			if !strings.HasPrefix(desc, "AADSTS") {
				t.Errorf("error_description %q", desc)
			}
			for _, k := range []string{"timestamp", "trace_id", "correlation_id"} {
				if v, _ := body[k].(string); v == "" {
					t.Errorf("%s missing in %v", k, body)
				}
			}
		})
	}

	t.Run("tokens are distinct", func(t *testing.T) {
		a := mustToken(t, s, testTenantID, testClientID, testSecret)
		b := mustToken(t, s, testTenantID, testClientID, testSecret)
		if a == b {
			t.Error("two token requests returned the same token")
		}
	})
}

func TestGraphAuthentication(t *testing.T) {
	s, _ := generatedServer(t, 10)
	valid := mustToken(t, s, testTenantID, testClientID, testSecret)

	status, hdr, body := get(t, s, "", "/v1.0/users")
	if status != http.StatusUnauthorized || odataErrorCode(t, body) != "InvalidAuthenticationToken" {
		t.Errorf("without token: status %d body %s", status, body)
	}
	if hdr.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	status, _, body = get(t, s, "not-a-token", "/v1.0/users")
	if status != http.StatusUnauthorized || odataErrorCode(t, body) != "InvalidAuthenticationToken" {
		t.Errorf("unknown token: status %d body %s", status, body)
	}
	if status, _, body = get(t, s, valid, "/v1.0/users"); status != http.StatusOK {
		t.Fatalf("valid token: status %d body %s", status, body)
	}

	s.ExpireTokens()
	status, _, body = get(t, s, valid, "/v1.0/users")
	if status != http.StatusUnauthorized || odataErrorCode(t, body) != "InvalidAuthenticationToken" ||
		!strings.Contains(string(body), "Access token has expired or is not yet valid.") {
		t.Errorf("after ExpireTokens: status %d body %s", status, body)
	}
	fresh := mustToken(t, s, testTenantID, testClientID, testSecret)
	if status, _, body = get(t, s, fresh, "/v1.0/users"); status != http.StatusOK {
		t.Errorf("token issued after ExpireTokens: status %d body %s", status, body)
	}
}

func TestTokenTTL(t *testing.T) {
	s, _ := generatedServer(t, 10, WithTokenTTL(50*time.Millisecond))
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	time.Sleep(100 * time.Millisecond)
	status, _, body := get(t, s, tok, "/v1.0/users")
	if status != http.StatusUnauthorized || odataErrorCode(t, body) != "InvalidAuthenticationToken" {
		t.Errorf("expired token: status %d body %s", status, body)
	}
}

func TestPermissions(t *testing.T) {
	s := startServer(t)
	tn := Generate(Spec{TenantID: testTenantID, Domain: testDomain, Seed: 1, Users: 20})
	groupID := tn.Groups[0].ID
	apps := map[string][]string{
		"none":        nil,
		"users":       {"User.Read.All"},
		"groups":      {"Group.Read.All"},
		"members":     {"GroupMember.Read.All"},
		"directory":   {"Directory.Read.All"},
		"unrelated":   {"Mail.Read"},
		"mixed-case":  {"user.read.all"},
		"readwrite":   {"Directory.ReadWrite.All"},
		"users+group": {"User.Read.All", "Group.Read.All"},
	}
	for id, roles := range apps {
		tn.Apps = append(tn.Apps, App{ClientID: id, Secret: "pw", Roles: roles})
	}
	s.AddTenant(tn)

	paths := []string{"/v1.0/users", "/v1.0/groups", "/v1.0/groups/" + groupID + "/transitiveMembers/graph.user", "/v1.0/users/delta()"}
	want := map[string][4]int{
		"none":        {403, 403, 403, 403},
		"unrelated":   {403, 403, 403, 403},
		"users":       {200, 403, 403, 200},
		"mixed-case":  {200, 403, 403, 200},
		"groups":      {403, 200, 200, 403},
		"members":     {403, 200, 200, 403},
		"directory":   {200, 200, 200, 200},
		"readwrite":   {200, 200, 200, 200},
		"users+group": {200, 200, 200, 200},
	}
	for app, statuses := range want {
		tok := mustToken(t, s, testTenantID, app, "pw")
		for i, p := range paths {
			status, _, body := get(t, s, tok, p)
			if status != statuses[i] {
				t.Errorf("app %s GET %s: status %d, want %d: %s", app, p, status, statuses[i], body)
			}
			if status == http.StatusForbidden && odataErrorCode(t, body) != "Authorization_RequestDenied" {
				t.Errorf("app %s GET %s: 403 body %s", app, p, body)
			}
		}
	}
}

func TestPagingUsers(t *testing.T) {
	s, tn := generatedServer(t, 2500)
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)

	pages := getAll(t, s, tok, "/v1.0/users?$select=id,displayName,mail&$top=999")
	if len(pages) != 3 {
		t.Fatalf("got %d pages, want 3", len(pages))
	}
	wantSizes := []int{999, 999, 502}
	seen := make(map[string]int)
	var order []string
	for i, p := range pages {
		if len(p.Value) != wantSizes[i] {
			t.Errorf("page %d has %d users, want %d", i+1, len(p.Value), wantSizes[i])
		}
		if i < 2 && !strings.HasPrefix(p.NextLink, s.URL()+"/v1.0/users?") {
			t.Errorf("page %d nextLink %q is not absolute", i+1, p.NextLink)
		}
		if i < 2 && (!strings.Contains(p.NextLink, "$select=id,displayName,mail") || !strings.Contains(p.NextLink, "$top=999") || !strings.Contains(p.NextLink, "$skiptoken=")) {
			t.Errorf("page %d nextLink %q lacks the request's options", i+1, p.NextLink)
		}
		if i == 2 && p.NextLink != "" {
			t.Errorf("last page has nextLink %q", p.NextLink)
		}
		if p.Context != s.URL()+"/v1.0/$metadata#users(id,displayName,mail)" {
			t.Errorf("page %d @odata.context %q", i+1, p.Context)
		}
		for _, u := range p.Value {
			id, _ := u["id"].(string)
			seen[id]++
			order = append(order, id)
		}
	}
	if len(seen) != len(tn.Users) {
		t.Errorf("saw %d distinct users, want %d", len(seen), len(tn.Users))
	}
	for _, u := range tn.Users {
		if seen[u.ID] != 1 {
			t.Errorf("user %s seen %d times", u.ID, seen[u.ID])
		}
	}
	if !slices.IsSorted(order) {
		t.Error("users are not listed in id order")
	}

	var pageNumbers []int
	for _, r := range s.Requests() {
		if r.Path == "/v1.0/users" {
			pageNumbers = append(pageNumbers, r.Page)
		}
	}
	if !slices.Equal(pageNumbers, []int{1, 2, 3}) {
		t.Errorf("request log pages %v, want [1 2 3]", pageNumbers)
	}
	s.ResetRequests()
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests logged after ResetRequests", n)
	}
}

func TestResponseHeaders(t *testing.T) {
	s, _ := generatedServer(t, 5)
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	status, hdr, _ := get(t, s, tok, "/v1.0/users")
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	if hdr.Get("request-id") == "" {
		t.Error("no request-id header")
	}
}

func TestSelectTopExpand(t *testing.T) {
	s, tn := generatedServer(t, 300)
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	byID := make(map[string]*User, len(tn.Users))
	for i := range tn.Users {
		byID[tn.Users[i].ID] = &tn.Users[i]
	}

	keysOf := func(m map[string]any) []string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	okTests := []struct {
		name, path string
		keys       []string
	}{
		{"dollar select", "/v1.0/users?$select=displayName,mail", []string{"displayName", "id", "mail"}},
		{"encoded dollar", "/v1.0/users?%24select=jobTitle&%24top=5", []string{"id", "jobTitle"}},
		{"no dollar", "/v1.0/users?select=surname,accountEnabled&top=5", []string{"accountEnabled", "id", "surname"}},
		{"case-insensitive name", "/v1.0/users?$select=DisplayName", []string{"displayName", "id"}},
		{"default set", "/v1.0/users?$top=5", []string{"businessPhones", "displayName", "givenName", "id", "jobTitle", "mail",
			"mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName"}},
	}
	for _, tc := range okTests {
		t.Run(tc.name, func(t *testing.T) {
			p := getPage(t, s, tok, tc.path)
			if len(p.Value) == 0 {
				t.Fatal("no users")
			}
			for _, u := range p.Value {
				if got := keysOf(u); !slices.Equal(got, tc.keys) {
					t.Fatalf("keys %v, want %v", got, tc.keys)
				}
			}
		})
	}

	t.Run("$top sizes the page", func(t *testing.T) {
		if p := getPage(t, s, tok, "/v1.0/users?$top=7"); len(p.Value) != 7 {
			t.Errorf("$top=7 gave %d users", len(p.Value))
		}
		if p := getPage(t, s, tok, "/v1.0/users"); len(p.Value) != 100 {
			t.Errorf("default page has %d users, want 100", len(p.Value))
		}
	})

	badTests := []struct {
		name, path, code string
	}{
		{"unknown property", "/v1.0/users?$select=displayName,shoeSize", "Request_BadRequest"},
		{"top zero", "/v1.0/users?$top=0", "Request_UnsupportedQuery"},
		{"top too large", "/v1.0/users?$top=1000", "Request_UnsupportedQuery"},
		{"top not a number", "/v1.0/users?$top=ten", "Request_UnsupportedQuery"},
		{"filter", "/v1.0/users?$filter=accountEnabled%20eq%20true", "Request_UnsupportedQuery"},
		{"garbage skiptoken", "/v1.0/users?$skiptoken=xyz", "Directory_ExpiredPageToken"},
		{"expand other property", "/v1.0/users?$expand=memberOf", "Request_BadRequest"},
	}
	for _, tc := range badTests {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := get(t, s, tok, tc.path)
			if status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", status, body)
			}
			if code := odataErrorCode(t, body); code != tc.code {
				t.Errorf("code %q, want %q", code, tc.code)
			}
		})
	}

	t.Run("expand manager", func(t *testing.T) {
		var withManager, without int
		for _, p := range getAll(t, s, tok, "/v1.0/users?$select=id,displayName&$expand=manager($select=id,mail,userPrincipalName)&$top=999") {
			for _, u := range p.Value {
				src := byID[u["id"].(string)]
				mgr, ok := u["manager"].(map[string]any)
				if src.ManagerID == "" {
					if ok {
						t.Errorf("user %s without manager has manager %v", src.ID, mgr)
					}
					without++
					continue
				}
				withManager++
				if !ok {
					t.Fatalf("user %s: manager missing", src.ID)
				}
				m := byID[src.ManagerID]
				if mgr["id"] != m.ID || mgr["userPrincipalName"] != m.UserPrincipalName || mgr["@odata.type"] != "#microsoft.graph.user" {
					t.Errorf("user %s: manager %v, want %s", src.ID, mgr, m.ID)
				}
				if _, hasName := mgr["displayName"]; hasName {
					t.Errorf("manager carries unselected displayName: %v", mgr)
				}
			}
		}
		if withManager == 0 || without == 0 {
			t.Errorf("with manager %d, without %d: want both", withManager, without)
		}
	})

	t.Run("null mail and empty properties", func(t *testing.T) {
		var sawNull bool
		for _, p := range getAll(t, s, tok, "/v1.0/users?$select=mail,jobTitle&$top=999") {
			for _, u := range p.Value {
				src := byID[u["id"].(string)]
				if src.Mail == nil {
					sawNull = true
					if v, present := u["mail"]; !present || v != nil {
						t.Errorf("user %s: mail %v, want null", src.ID, v)
					}
				} else if u["mail"] != *src.Mail {
					t.Errorf("user %s: mail %v, want %s", src.ID, u["mail"], *src.Mail)
				}
				if src.JobTitle == "" && u["jobTitle"] != nil {
					t.Errorf("user %s: empty jobTitle served as %v", src.ID, u["jobTitle"])
				}
			}
		}
		if !sawNull {
			t.Error("no user with null mail")
		}
	})
}

func TestGetObjects(t *testing.T) {
	s, tn := generatedServer(t, 50)
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	u := tn.Users[3]
	g := tn.Groups[0]

	status, _, body := get(t, s, tok, "/v1.0/users/"+u.ID+"?$select=displayName,userPrincipalName")
	var got map[string]any
	if status != http.StatusOK || json.Unmarshal(body, &got) != nil {
		t.Fatalf("get user: status %d body %s", status, body)
	}
	if got["id"] != u.ID || got["displayName"] != u.DisplayName || got["@odata.context"] != s.URL()+"/v1.0/$metadata#users(displayName,userPrincipalName)/$entity" {
		t.Errorf("get user: %v", got)
	}

	status, _, body = get(t, s, tok, "/v1.0/users/"+url.PathEscape(u.UserPrincipalName))
	if status != http.StatusOK || !strings.Contains(string(body), u.ID) {
		t.Errorf("get user by UPN: status %d body %s", status, body)
	}

	status, _, body = get(t, s, tok, "/v1.0/groups/"+g.ID)
	got = nil
	if status != http.StatusOK || json.Unmarshal(body, &got) != nil {
		t.Fatalf("get group: status %d body %s", status, body)
	}
	if got["id"] != g.ID || got["displayName"] != g.DisplayName || got["securityEnabled"] != true {
		t.Errorf("get group: %v", got)
	}

	for _, p := range []string{"/v1.0/users/00000000-0000-4000-8000-000000000000", "/v1.0/groups/00000000-0000-4000-8000-000000000000",
		"/v1.0/groups/00000000-0000-4000-8000-000000000000/transitiveMembers/graph.user"} {
		status, _, body := get(t, s, tok, p)
		if status != http.StatusNotFound || odataErrorCode(t, body) != "Request_ResourceNotFound" {
			t.Errorf("GET %s: status %d body %s", p, status, body)
		}
	}
	status, _, body = get(t, s, tok, "/v1.0/applications")
	if status != http.StatusBadRequest {
		t.Errorf("unknown segment: status %d body %s", status, body)
	}
}

// nestedTenant has a three-level nesting (top > middle > bottom), a cycle
// (cycleA <-> cycleB) and a user reachable along two paths.
func nestedTenant() *Tenant {
	user := func(id, name string) User {
		mail := name + "@" + testDomain
		return User{ID: id, DisplayName: name, UserPrincipalName: name + "@" + testDomain, Mail: &mail, AccountEnabled: true, UserType: "Member"}
	}
	return &Tenant{
		ID: testTenantID, Domain: testDomain,
		Apps: []App{{ClientID: testClientID, Secret: testSecret, Roles: []string{"Directory.Read.All"}}},
		Users: []User{
			user("u1", "ana"), user("u2", "bo"), user("u3", "cy"), user("u4", "di"), user("u5", "ed"), user("u6", "flo"),
		},
		Groups: []Group{
			{ID: "g-top", DisplayName: "Top", MemberUserIDs: []string{"u1"}, MemberGroupIDs: []string{"g-middle"}},
			{ID: "g-middle", DisplayName: "Middle", MemberUserIDs: []string{"u2"}, MemberGroupIDs: []string{"g-bottom"}},
			{ID: "g-bottom", DisplayName: "Bottom", MemberUserIDs: []string{"u3", "u1", "missing-user"}},
			{ID: "g-cycle-a", DisplayName: "Cycle A", MemberUserIDs: []string{"u4"}, MemberGroupIDs: []string{"g-cycle-b"}},
			{ID: "g-cycle-b", DisplayName: "Cycle B", MemberUserIDs: []string{"u5"}, MemberGroupIDs: []string{"g-cycle-a", "g-bottom"}},
			{ID: "g-self", DisplayName: "Self", MemberUserIDs: []string{"u6"}, MemberGroupIDs: []string{"g-self"}},
		},
	}
}

func TestMembers(t *testing.T) {
	s := startServer(t)
	s.AddTenant(nestedTenant())
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)

	tests := []struct {
		path      string
		wantIDs   []string
		wantTypes []string
	}{
		{"/v1.0/groups/g-top/transitiveMembers/graph.user", []string{"u1", "u2", "u3"}, []string{"user"}},
		{"/v1.0/groups/g-top/transitiveMembers/microsoft.graph.user", []string{"u1", "u2", "u3"}, []string{"user"}},
		{"/v1.0/groups/g-top/transitiveMembers", []string{"g-bottom", "g-middle", "u1", "u2", "u3"}, []string{"group", "user"}},
		{"/v1.0/groups/g-top/transitiveMembers/graph.group", []string{"g-bottom", "g-middle"}, []string{"group"}},
		{"/v1.0/groups/g-top/members", []string{"g-middle", "u1"}, []string{"group", "user"}},
		{"/v1.0/groups/g-top/members/graph.user", []string{"u1"}, []string{"user"}},
		{"/v1.0/groups/g-middle/transitiveMembers/graph.user", []string{"u1", "u2", "u3"}, []string{"user"}},
		{"/v1.0/groups/g-cycle-a/transitiveMembers/graph.user", []string{"u1", "u3", "u4", "u5"}, []string{"user"}},
		{"/v1.0/groups/g-cycle-b/transitiveMembers", []string{"g-bottom", "g-cycle-a", "u1", "u3", "u4", "u5"}, []string{"group", "user"}},
		{"/v1.0/groups/g-self/transitiveMembers", []string{"u6"}, []string{"user"}},
		{"/v1.0/groups/g-top/transitiveMembers/graph.user?$top=1&$select=id,displayName", []string{"u1", "u2", "u3"}, []string{"user"}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			var ids []string
			types := make(map[string]bool)
			pages := getAll(t, s, tok, tc.path)
			for _, p := range pages {
				for _, m := range p.Value {
					ids = append(ids, m["id"].(string))
					typ, _ := m["@odata.type"].(string)
					types[strings.TrimPrefix(typ, "#microsoft.graph.")] = true
				}
			}
			if !slices.Equal(ids, tc.wantIDs) {
				t.Errorf("members %v, want %v", ids, tc.wantIDs)
			}
			for _, typ := range tc.wantTypes {
				if !types[typ] {
					t.Errorf("no member typed %s; types %v", typ, types)
				}
			}
			if len(types) != len(tc.wantTypes) {
				t.Errorf("member types %v, want %v", types, tc.wantTypes)
			}
			if strings.Contains(tc.path, "$top=1") {
				if len(pages) != 3 {
					t.Errorf("%d pages with $top=1, want 3", len(pages))
				}
				for _, p := range pages[:len(pages)-1] {
					if !strings.HasPrefix(p.NextLink, s.URL()+"/v1.0/groups/g-top/transitiveMembers/graph.user?") {
						t.Errorf("nextLink %q", p.NextLink)
					}
				}
			}
		})
	}

	t.Run("select on a cast", func(t *testing.T) {
		p := getPage(t, s, tok, "/v1.0/groups/g-top/transitiveMembers/graph.user?$select=mail")
		for _, m := range p.Value {
			if len(m) != 3 || m["mail"] == nil { // @odata.type, id, mail
				t.Errorf("member %v", m)
			}
		}
		status, _, body := get(t, s, tok, "/v1.0/groups/g-top/transitiveMembers/graph.user?$select=securityEnabled")
		if status != http.StatusBadRequest || odataErrorCode(t, body) != "Request_BadRequest" {
			t.Errorf("group property on user cast: status %d body %s", status, body)
		}
	})
}

func TestFaults(t *testing.T) {
	s, _ := generatedServer(t, 250)
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)

	t.Run("status with Retry-After", func(t *testing.T) {
		remove := s.InjectFault(Fault{PathPrefix: "/v1.0/users", Kind: FaultStatus, Status: 429, RetryAfter: 1500 * time.Millisecond})
		defer remove()
		status, hdr, body := get(t, s, tok, "/v1.0/users")
		if status != http.StatusTooManyRequests || hdr.Get("Retry-After") != "2" {
			t.Errorf("status %d Retry-After %q", status, hdr.Get("Retry-After"))
		}
		if code := odataErrorCode(t, body); code != "TooManyRequests" {
			t.Errorf("code %q", code)
		}
		if status, _, _ := get(t, s, tok, "/v1.0/groups"); status != http.StatusOK {
			t.Errorf("unmatched path: status %d", status)
		}
		remove()
		if status, _, _ := get(t, s, tok, "/v1.0/users"); status != http.StatusOK {
			t.Errorf("after remove: status %d", status)
		}
	})

	t.Run("times counts down", func(t *testing.T) {
		defer s.InjectFault(Fault{PathPrefix: "/v1.0/", Kind: FaultStatus, Status: 503, Times: 2})()
		var got []int
		for range 3 {
			status, _, _ := get(t, s, tok, "/v1.0/users")
			got = append(got, status)
		}
		if !slices.Equal(got, []int{503, 503, 200}) {
			t.Errorf("statuses %v, want [503 503 200]", got)
		}
	})

	t.Run("page-specific", func(t *testing.T) {
		defer s.InjectFault(Fault{PathPrefix: "/v1.0/users", Page: 2, Kind: FaultStatus, Status: 504})()
		p1 := getPage(t, s, tok, "/v1.0/users?$top=100")
		status, _, _ := get(t, s, tok, p1.NextLink)
		if status != http.StatusGatewayTimeout {
			t.Errorf("page 2: status %d, want 504", status)
		}
		// Page 3 is served: only page 2 is faulty.
		p3Link := strings.Replace(p1.NextLink, pageToken{offset: 100, top: 100}.encode(), pageToken{offset: 200, top: 100}.encode(), 1)
		p3 := getPage(t, s, tok, p3Link)
		if len(p3.Value) != 50 {
			t.Errorf("page 3 has %d users, want 50", len(p3.Value))
		}
	})

	t.Run("token endpoint", func(t *testing.T) {
		defer s.InjectFault(Fault{PathPrefix: "/" + testTenantID + "/oauth2/v2.0/token", Kind: FaultStatus, Status: 503, Times: 1})()
		status, body := postToken(t, s, testTenantID, tokenForm(s, testClientID, testSecret, s.URL()+"/.default"))
		if status != http.StatusServiceUnavailable || body["error"] == nil {
			t.Errorf("status %d body %v", status, body)
		}
		mustToken(t, s, testTenantID, testClientID, testSecret)
	})

	t.Run("reset", func(t *testing.T) {
		defer s.InjectFault(Fault{PathPrefix: "/v1.0/users", Kind: FaultReset, Times: 1})()
		s.ResetRequests()
		// A fresh connection, so the transport cannot hide the reset by
		// retrying on another connection.
		tr := s.HTTPClient().Transport.(*http.Transport).Clone()
		tr.DisableKeepAlives = true
		client := &http.Client{Transport: tr}
		req, _ := http.NewRequest(http.MethodGet, s.URL()+"/v1.0/users", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("request succeeded with status %d, want a connection error", resp.StatusCode)
		}
		if status, _, _ := get(t, s, tok, "/v1.0/users"); status != http.StatusOK {
			t.Errorf("after the reset: status %d", status)
		}
		reqs := s.Requests()
		if len(reqs) == 0 || reqs[0].Status != 0 {
			t.Errorf("request log %+v, want the reset first with status 0", reqs)
		}
	})

	t.Run("slow", func(t *testing.T) {
		const delay = 300 * time.Millisecond
		defer s.InjectFault(Fault{PathPrefix: "/v1.0/groups", Kind: FaultSlow, Delay: delay})()
		start := time.Now()
		status, _, _ := get(t, s, tok, "/v1.0/groups")
		if elapsed := time.Since(start); elapsed < delay {
			t.Errorf("answered after %v, want at least %v", elapsed, delay)
		}
		if status != http.StatusOK {
			t.Errorf("status %d, want 200 after the delay", status)
		}
	})

	t.Run("empty prefix matches everything", func(t *testing.T) {
		remove := s.InjectFault(Fault{Kind: FaultStatus, Status: 500})
		for _, p := range []string{"/v1.0/users", "/" + testTenantID + "/v2.0/.well-known/openid-configuration"} {
			if status, _, _ := get(t, s, tok, p); status != http.StatusInternalServerError {
				t.Errorf("%s: status %d, want 500", p, status)
			}
		}
		remove()
		remove() // harmless twice
	})
}

func TestUpdateUnknownTenant(t *testing.T) {
	s := startServer(t)
	err := s.Update("no-such-tenant", func(*Tenant) {})
	if !errors.Is(err, ErrUnknownTenant) {
		t.Errorf("Update of unknown tenant: %v, want ErrUnknownTenant", err)
	}
}

func TestAddTenantReplaces(t *testing.T) {
	s := startServer(t)
	s.AddTenant(Generate(Spec{TenantID: testTenantID, Domain: testDomain, Seed: 1, Users: 30, ClientID: testClientID, Secret: testSecret}))
	s.AddTenant(Generate(Spec{TenantID: testTenantID, Domain: "fabrikam.onmicrosoft.com", Seed: 2, Users: 10, ClientID: testClientID, Secret: testSecret}))
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	if p := getPage(t, s, tok, "/v1.0/users"); len(p.Value) != 10 {
		t.Errorf("replaced tenant lists %d users, want 10", len(p.Value))
	}
	if status, _, _ := get(t, s, "", "/"+testDomain+"/v2.0/.well-known/openid-configuration"); status != http.StatusBadRequest {
		t.Errorf("old domain still resolves: status %d", status)
	}
}

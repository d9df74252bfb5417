package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"dirsync/internal/auth"
	"dirsync/internal/domain"
)

// concrete fills a route's path parameters with a valid id.
func concrete(route string) (method, path string) {
	method, path, _ = strings.Cut(route, " ")
	return method, strings.ReplaceAll(path, "{id}", "abc123")
}

// bodyFor is a valid body for the routes that need one.
func bodyFor(method, path string) string {
	switch {
	case method == http.MethodPut && path == "/v1/connection":
		return validConnection
	case method == http.MethodPost && path == "/v1/users":
		return `{"email":"new@acme.test"}`
	case method == http.MethodPatch:
		return `{"status":"inactive"}`
	}
	return ""
}

func TestEveryRouteNeedsAnAdmin(t *testing.T) {
	e := newEnv(t)
	noTenant := auth.Claims{Subject: "s", Roles: []string{"admin"}}
	noRoles := auth.Claims{TenantID: "acme"}
	wrongCase := auth.Claims{TenantID: "acme", Roles: []string{"Admin"}}
	for _, route := range e.h.Routes() {
		method, path := concrete(route)
		tests := []struct {
			name   string
			caller *auth.Claims
			status int
			code   string
		}{
			{"no claims", nil, http.StatusUnauthorized, domain.EUnauthorized},
			{"claims without tenant", &noTenant, http.StatusUnauthorized, domain.EUnauthorized},
			{"not an admin", &acmeUser, http.StatusForbidden, domain.EForbidden},
			{"no roles", &noRoles, http.StatusForbidden, domain.EForbidden},
			{"role differs in case", &wrongCase, http.StatusForbidden, domain.EForbidden},
		}
		for _, tt := range tests {
			t.Run(route+"/"+tt.name, func(t *testing.T) {
				r := e.do(t, tt.caller, method, path, bodyFor(method, path)).mustStatus(t, tt.status)
				if r.errorCode() != tt.code {
					t.Fatalf("code = %q, want %q", r.errorCode(), tt.code)
				}
			})
		}
	}
	// Nothing was written by the refused calls.
	if len(e.secrets.stored) != 0 || len(e.dispatcher.jobs) != 0 {
		t.Fatalf("refused calls had effects: secrets %v, jobs %v", e.secrets.stored, e.dispatcher.jobs)
	}
	r := e.do(t, &acmeAdmin, http.MethodGet, "/v1/users", "").mustStatus(t, http.StatusOK)
	if len(r.items()) != 0 {
		t.Fatalf("refused POST /v1/users created %v", r.items())
	}
}

func TestAnotherTenantsObjectsAreNotFound(t *testing.T) {
	e := newEnv(t)
	userID := e.createUser(t, acmeAdmin, "grace@acme.test", "Grace Hopper")
	e.putConnection(t, acmeAdmin)
	syncID := e.startSyncWithPlan(t, acmeAdmin, samplePlan(2))
	e.putGroup(t, "acme", "g-eng", "Engineering", userID)

	tests := []struct {
		method, path, body string
	}{
		{http.MethodGet, "/v1/users/" + userID, ""},
		{http.MethodPatch, "/v1/users/" + userID, `{"status":"inactive"}`},
		{http.MethodGet, "/v1/syncs/" + syncID, ""},
		{http.MethodGet, "/v1/syncs/" + syncID + "/changes", ""},
		{http.MethodGet, "/v1/syncs/" + syncID + "/progress", ""},
		{http.MethodGet, "/v1/groups/g-eng/members", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			other := e.do(t, &otherAdmin, tt.method, tt.path, tt.body).mustStatus(t, http.StatusNotFound)
			if other.errorCode() != domain.ENotFound {
				t.Fatalf("code = %q", other.errorCode())
			}
			// The same request of a missing object answers alike.
			missing := strings.NewReplacer(userID, "nosuchuser", syncID, "nosuchsync", "g-eng", "nosuchgroup").Replace(tt.path)
			e.do(t, &acmeAdmin, tt.method, missing, tt.body).mustStatus(t, http.StatusNotFound)
		})
	}
	for _, path := range []string{"/v1/users", "/v1/syncs", "/v1/groups"} {
		if n := len(e.do(t, &otherAdmin, http.MethodGet, path, "").mustStatus(t, http.StatusOK).items()); n != 0 {
			t.Errorf("GET %s as another tenant lists %d items", path, n)
		}
	}
	if r := e.do(t, &otherAdmin, http.MethodGet, "/v1/connection", ""); r.Status != http.StatusNotFound {
		t.Errorf("another tenant sees the connection: %d", r.Status)
	}
	// The owner still sees everything untouched by the refused PATCH.
	u := e.do(t, &acmeAdmin, http.MethodGet, "/v1/users/"+userID, "").mustStatus(t, http.StatusOK)
	if u.Body["status"] != "active" || u.Body["revision"] != float64(1) {
		t.Fatalf("user changed by another tenant: %v", u.Body)
	}
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t)
	userID := e.createUser(t, acmeAdmin, "grace@acme.test", "Grace Hopper")
	e.putConnection(t, acmeAdmin)
	syncID := e.startSyncWithPlan(t, acmeAdmin, samplePlan(1))
	conn := func(extra string) string {
		return fmt.Sprintf(`{"directoryTenantId":%q,"clientId":%q%s}`, dirTenantGUID, clientGUID, extra)
	}
	big := `{"email":"a@acme.test","displayName":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
	exactLimit := `{"email":"limit@acme.test"}` + strings.Repeat(" ", MaxBodyBytes-len(`{"email":"limit@acme.test"}`))

	tests := []struct {
		name         string
		method, path string
		body         string
		headers      []string
		unsized      bool // sent without Content-Length, as a chunked upload is
		status       int
		code         string
		inMessage    string
	}{
		// Strict JSON.
		{"unknown field", "POST", "/v1/users", `{"email":"a@acme.test","nickname":"x"}`, nil, false, 400, domain.EInvalid, "nickname: unknown field"},
		{"unknown nested field", "PUT", "/v1/connection", conn(`,"options":{"scope":{"groups":[],"users":[]}}`), nil, false, 400, domain.EInvalid, "options.scope.users: unknown field"},
		{"field in the wrong case", "PUT", "/v1/connection", `{"DirectoryTenantId":"x"}`, nil, false, 400, domain.EInvalid, "DirectoryTenantId: unknown field"},
		{"tenant in the body", "POST", "/v1/users", `{"email":"a@acme.test","tenantId":"other"}`, nil, false, 400, domain.EInvalid, "tenantId: unknown field"},
		{"wrong type nested", "PUT", "/v1/connection", conn(`,"options":{"deactivationThreshold":{"percent":"20"}}`), nil, false, 400, domain.EInvalid, "options.deactivationThreshold.percent: must be a number"},
		{"wrong type top level", "POST", "/v1/users", `{"email":42}`, nil, false, 400, domain.EInvalid, "email: must be a string"},
		{"fraction for an integer", "PUT", "/v1/connection", conn(`,"options":{"deactivationThreshold":{"count":1.5}}`), nil, false, 400, domain.EInvalid, "options.deactivationThreshold.count: must be an integer"},
		{"wrong type in an array", "PUT", "/v1/connection", conn(`,"options":{"scope":{"groups":[1]}}`), nil, false, 400, domain.EInvalid, "options.scope.groups[0]: must be a string"},
		{"wrong type in a map", "POST", "/v1/users", `{"email":"a@acme.test","attributes":{"jobTitle":true}}`, nil, false, 400, domain.EInvalid, "attributes.jobTitle: must be a string"},
		{"null for a string", "POST", "/v1/users", `{"email":null}`, nil, false, 400, domain.EInvalid, "email: must be a string, not null"},
		{"array for an object", "POST", "/v1/users", `[]`, nil, false, 400, domain.EInvalid, "body: must be an object"},
		{"field given twice", "POST", "/v1/users", `{"email":"a@acme.test","email":"b@acme.test"}`, nil, false, 400, domain.EInvalid, "email: given more than once"},
		{"trailing data", "POST", "/v1/users", `{"email":"a@acme.test"} {}`, nil, false, 400, domain.EInvalid, "unexpected data after the JSON value"},
		{"trailing garbage", "POST", "/v1/users", `{"email":"a@acme.test"}x`, nil, false, 400, domain.EInvalid, "body:"},
		{"malformed JSON", "POST", "/v1/users", `{"email":`, nil, false, 400, domain.EInvalid, "body: unexpected end of JSON"},
		{"syntax error", "POST", "/v1/users", `{"email" "a"}`, nil, false, 400, domain.EInvalid, "malformed JSON"},
		{"empty body", "POST", "/v1/users", "", nil, false, 400, domain.EInvalid, "body: a JSON object is required"},
		{"whitespace body", "PATCH", "/v1/users/" + userID, "  \n", []string{"Content-Type", "application/json"}, false, 400, domain.EInvalid, "a JSON object is required"},
		{"no content type", "POST", "/v1/users", `{"email":"a@acme.test"}`, []string{"Content-Type", ""}, false, 400, domain.EInvalid, "Content-Type"},
		{"text content type", "POST", "/v1/users", `{"email":"a@acme.test"}`, []string{"Content-Type", "text/plain"}, false, 400, domain.EInvalid, "application/json"},
		{"body where none is taken", "POST", "/v1/syncs", `{"force":true}`, nil, false, 400, domain.EInvalid, "force: unknown field"},
		// Size.
		{"body over 64 KiB", "POST", "/v1/users", big, nil, false, 413, domain.ETooLarge, "64 KiB"},
		{"body over 64 KiB without length", "POST", "/v1/users", big, nil, true, 413, domain.ETooLarge, "64 KiB"},
		{"body of exactly 64 KiB", "POST", "/v1/users", exactLimit, nil, false, 201, "", ""},
		// Ids.
		{"id with a dot", "GET", "/v1/users/abc.def", "", nil, false, 400, domain.EInvalid, `path parameter "id"`},
		{"id too long", "GET", "/v1/syncs/" + strings.Repeat("a", 65), "", nil, false, 400, domain.EInvalid, `path parameter "id"`},
		{"id with an encoded slash", "GET", "/v1/syncs/a%2Fb/changes", "", nil, false, 400, domain.EInvalid, `path parameter "id"`},
		{"id with unicode", "GET", "/v1/groups/caf%C3%A9/members", "", nil, false, 400, domain.EInvalid, `path parameter "id"`},
		{"id of 64 is fine", "GET", "/v1/users/" + strings.Repeat("a", 64), "", nil, false, 404, domain.ENotFound, "not found"},
		// Paging.
		{"limit zero", "GET", "/v1/users?limit=0", "", nil, false, 400, domain.EInvalid, "limit: must be an integer from 1 to 100"},
		{"limit over 100", "GET", "/v1/syncs?limit=101", "", nil, false, 400, domain.EInvalid, "limit:"},
		{"limit not a number", "GET", "/v1/groups?limit=ten", "", nil, false, 400, domain.EInvalid, "limit:"},
		{"limit empty", "GET", "/v1/groups?limit=", "", nil, false, 400, domain.EInvalid, "limit:"},
		{"limit fraction", "GET", "/v1/users?limit=1.5", "", nil, false, 400, domain.EInvalid, "limit:"},
		{"limit twice", "GET", "/v1/users?limit=1&limit=2", "", nil, false, 400, domain.EInvalid, `"limit": given more than once`},
		{"cursor not base64", "GET", "/v1/users?cursor=!!!", "", nil, false, 400, domain.EInvalid, "cursor: malformed"},
		{"cursor of another listing", "GET", "/v1/users?cursor=eyJrIjoiUyN4In0", "", nil, false, 400, domain.EInvalid, "cursor: malformed"},
		{"cursor not JSON", "GET", "/v1/syncs?cursor=bm90LWpzb24", "", nil, false, 400, domain.EInvalid, "cursor: malformed"},
		{"changes cursor garbage", "GET", "/v1/syncs/" + syncID + "/changes?cursor=abc", "", nil, false, 400, domain.EInvalid, "cursor: malformed"},
		// Query parameters.
		{"unknown query parameter", "GET", "/v1/users?sort=email", "", nil, false, 400, domain.EInvalid, `query parameter "sort": unknown`},
		{"tenant in the query", "GET", "/v1/syncs?tenant_id=other", "", nil, false, 400, domain.EInvalid, `query parameter "tenant_id": unknown`},
		{"query on a route without any", "GET", "/v1/users/" + userID + "?x=1", "", nil, false, 400, domain.EInvalid, `"x": unknown (this route takes none)`},
		{"malformed query", "GET", "/v1/users?q=%zz", "", nil, false, 400, domain.EInvalid, "query string: malformed"},
		{"semicolon query", "GET", "/v1/users?limit=1;q=a", "", nil, false, 400, domain.EInvalid, "query string: malformed"},
		{"q too long", "GET", "/v1/users?q=" + strings.Repeat("a", 257), "", nil, false, 400, domain.EInvalid, "q: must be at most 256 bytes"},
		// Enums.
		{"bad objectType", "GET", "/v1/syncs/" + syncID + "/changes?objectType=device", "", nil, false, 400, domain.EInvalid, "objectType: must be one of user, group"},
		{"bad kind", "GET", "/v1/syncs/" + syncID + "/changes?kind=delete", "", nil, false, 400, domain.EInvalid, "kind: must be one of"},
		{"bad outcome", "GET", "/v1/syncs/" + syncID + "/changes?outcome=ok", "", nil, false, 400, domain.EInvalid, "outcome: must be one of applied, conflict, failed"},
		{"bad user status filter", "GET", "/v1/users?status=deleted", "", nil, false, 400, domain.EInvalid, "status: must be one of active, inactive"},
		{"bad user status", "POST", "/v1/users", `{"email":"a@acme.test","status":"gone"}`, nil, false, 400, domain.EInvalid, "status: must be one of"},
		{"bad cloud", "PUT", "/v1/connection", conn(`,"cloud":"germany"`), nil, false, 400, domain.EInvalid, "cloud: must be one of global, usgov, china"},
		// Connection validation.
		{"directory tenant not a GUID", "PUT", "/v1/connection", `{"directoryTenantId":"contoso.onmicrosoft.com","clientId":"` + clientGUID + `"}`, nil, false, 400, domain.EInvalid, "directoryTenantId: must be a GUID"},
		{"client id missing", "PUT", "/v1/connection", `{"directoryTenantId":"` + dirTenantGUID + `"}`, nil, false, 400, domain.EInvalid, "clientId: required"},
		{"scope group not a GUID", "PUT", "/v1/connection", conn(`,"options":{"scope":{"groups":["engineering"]}}`), nil, false, 400, domain.EInvalid, "options.scope.groups[0]: must be a GUID"},
		{"scope group twice", "PUT", "/v1/connection", conn(`,"options":{"scope":{"groups":["` + clientGUID + `","` + strings.ToUpper(clientGUID) + `"]}}`), nil, false, 400, domain.EInvalid, "options.scope.groups[1]"},
		{"ignored user not a GUID", "PUT", "/v1/connection", conn(`,"options":{"ignoredUsers":["` + clientGUID + `","` + dirTenantGUID + `","` + clientGUID + `","bob@acme.test"]}`), nil, false, 400, domain.EInvalid, "options.ignoredUsers[3]: must be a GUID"},
		{"ignored user empty", "PUT", "/v1/connection", conn(`,"options":{"ignoredUsers":[""]}`), nil, false, 400, domain.EInvalid, "options.ignoredUsers[0]: required"},
		{"ignored user not a string", "PUT", "/v1/connection", conn(`,"options":{"ignoredUsers":["` + clientGUID + `",7]}`), nil, false, 400, domain.EInvalid, "options.ignoredUsers[1]: must be a string"},
		{"ignored users not a list", "PUT", "/v1/connection", conn(`,"options":{"ignoredUsers":"` + clientGUID + `"}`), nil, false, 400, domain.EInvalid, "options.ignoredUsers"},
		{"too many ignored users", "PUT", "/v1/connection", conn(`,"options":{"ignoredUsers":[""` + strings.Repeat(`,""`, domain.MaxIgnoredUsers) + `]}`), nil, false, 400, domain.EInvalid, "options.ignoredUsers: at most 10000 entries"},
		{"percent over 100", "PUT", "/v1/connection", conn(`,"options":{"deactivationThreshold":{"percent":101}}`), nil, false, 400, domain.EInvalid, "options.deactivationThreshold.percent: must be from 0 to 100"},
		{"negative percent", "PUT", "/v1/connection", conn(`,"options":{"deactivationThreshold":{"percent":-1}}`), nil, false, 400, domain.EInvalid, "options.deactivationThreshold.percent"},
		{"negative count", "PUT", "/v1/connection", conn(`,"options":{"deactivationThreshold":{"count":-5}}`), nil, false, 400, domain.EInvalid, "options.deactivationThreshold.count: must be 0 or more"},
		{"count out of range", "PUT", "/v1/connection", conn(`,"options":{"deactivationThreshold":{"count":1e30}}`), nil, false, 400, domain.EInvalid, "options.deactivationThreshold.count"},
		{"mapping of an unknown property", "PUT", "/v1/connection", conn(`,"options":{"mapping":[{"attribute":"title","source":"jobtitle"}]}`), nil, false, 400, domain.EInvalid, "options.mapping[0].source"},
		{"mapping onto email", "PUT", "/v1/connection", conn(`,"options":{"mapping":[{"attribute":"email","source":"mail"}]}`), nil, false, 400, domain.EInvalid, "options.mapping[0].attribute"},
		{"mapping onto a fixed user key", "PUT", "/v1/connection", conn(`,"options":{"mapping":[{"attribute":"status","source":"jobTitle"}]}`), nil, false, 400, domain.EInvalid, `options.mapping[0].attribute: "status" is reserved`},
		{"mapping name with a space", "PUT", "/v1/connection", conn(`,"options":{"mapping":[{"attribute":"job title","source":"jobTitle"}]}`), nil, false, 400, domain.EInvalid, "options.mapping[0].attribute: must be"},
		{"mapping twice", "PUT", "/v1/connection", conn(`,"options":{"mapping":[{"attribute":"t","source":"jobTitle"},{"attribute":"t","source":"department"}]}`), nil, false, 400, domain.EInvalid, "options.mapping[1].attribute"},
		{"empty secret", "PUT", "/v1/connection", conn(`,"clientSecret":""`), nil, false, 400, domain.EInvalid, "clientSecret: must not be empty"},
		{"short secret", "PUT", "/v1/connection", conn(`,"clientSecret":"abc"`), nil, false, 400, domain.EInvalid, "clientSecret: must be 16 to 1024 characters"},
		{"secret id instead of value", "PUT", "/v1/connection", conn(`,"clientSecret":"` + dirTenantGUID + `"`), nil, false, 400, domain.EInvalid, "secret's ID"},
		{"secret with a trailing newline", "PUT", "/v1/connection", conn(`,"clientSecret":"` + testSecret + `\n"`), nil, false, 400, domain.EInvalid, "whitespace"},
		// Users.
		{"email missing", "POST", "/v1/users", `{"displayName":"Ada"}`, nil, false, 400, domain.EInvalid, "email: required"},
		{"email with a name", "POST", "/v1/users", `{"email":"Ada <ada@acme.test>"}`, nil, false, 400, domain.EInvalid, "email: must be a plain email address"},
		{"attribute on a fixed key", "POST", "/v1/users", `{"email":"a@acme.test","attributes":{"revision":"9"}}`, nil, false, 400, domain.EInvalid, `attributes.revision: "revision" is reserved`},
		{"displayName as an attribute", "POST", "/v1/users", `{"email":"a@acme.test","attributes":{"displayName":"x"}}`, nil, false, 400, domain.EInvalid, "attributes.displayName: set it with the displayName field"},
		{"attribute name with a slash", "PATCH", "/v1/users/" + userID, `{"attributes":{"a/b":"x"}}`, nil, false, 400, domain.EInvalid, "attributes.a/b: must be"},
		{"attribute with a control character", "PATCH", "/v1/users/" + userID, `{"attributes":{"jobTitle":"a\u0000b"}}`, nil, false, 400, domain.EInvalid, "attributes.jobTitle: must not contain control characters"},
		{"empty patch", "PATCH", "/v1/users/" + userID, `{}`, nil, false, 400, domain.EInvalid, "names nothing to change"},
		{"patch status empty", "PATCH", "/v1/users/" + userID, `{"status":""}`, nil, false, 400, domain.EInvalid, "status: must be one of"},
		{"If-Match not a number", "PATCH", "/v1/users/" + userID, `{"status":"inactive"}`, []string{"If-Match", "W/\"abc\""}, false, 400, domain.EInvalid, "If-Match"},
		{"If-Match zero", "PATCH", "/v1/users/" + userID, `{"status":"inactive"}`, []string{"If-Match", "0"}, false, 400, domain.EInvalid, "If-Match"},
		// Routing.
		{"unknown route", "GET", "/v1/devices", "", nil, false, 404, domain.ENotFound, "no route GET /v1/devices"},
		{"unknown version", "GET", "/v2/users", "", nil, false, 404, domain.ENotFound, "no route"},
		{"trailing slash", "GET", "/v1/users/", "", nil, false, 404, domain.ENotFound, "no route"},
		{"method not allowed", "DELETE", "/v1/users/" + userID, "", nil, false, 405, CodeMethodNotAllowed, "allowed: GET, HEAD, PATCH"},
		{"method not allowed on a collection", "PATCH", "/v1/syncs", "", nil, false, 405, CodeMethodNotAllowed, "allowed: GET, HEAD, POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(tt.method, tt.path, tt.body, tt.headers...)
			if tt.unsized {
				req.ContentLength = -1
			}
			r := e.send(t, &acmeAdmin, req).mustStatus(t, tt.status)
			if tt.code == "" {
				return
			}
			if r.errorCode() != tt.code || !strings.Contains(r.errorMessage(), tt.inMessage) {
				t.Fatalf("error = %q %q, want %q containing %q", r.errorCode(), r.errorMessage(), tt.code, tt.inMessage)
			}
			if tt.status == http.StatusMethodNotAllowed && r.Header.Get("Allow") == "" {
				t.Fatal("405 without Allow")
			}
		})
	}
	// None of the refused writes changed the user or the connection.
	u := e.do(t, &acmeAdmin, http.MethodGet, "/v1/users/"+userID, "").mustStatus(t, http.StatusOK)
	if u.Body["revision"] != float64(1) || u.Body["status"] != "active" {
		t.Fatalf("user changed by refused requests: %v", u.Body)
	}
	if e.secrets.puts != 1 {
		t.Fatalf("secret written %d times, want once", e.secrets.puts)
	}
}

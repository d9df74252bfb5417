package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"dirsync/internal/domain"
)

func TestConnectionSecretNeverLeaves(t *testing.T) {
	e := newEnv(t)
	e.do(t, &acmeAdmin, http.MethodGet, "/v1/connection", "").mustStatus(t, http.StatusNotFound)

	noSecret := fmt.Sprintf(`{"directoryTenantId":%q,"clientId":%q}`, dirTenantGUID, clientGUID)
	r := e.do(t, &acmeAdmin, http.MethodPut, "/v1/connection", noSecret).mustStatus(t, http.StatusBadRequest)
	if !strings.Contains(r.errorMessage(), "clientSecret: required when creating") {
		t.Fatalf("create without a secret: %q", r.errorMessage())
	}

	upper := fmt.Sprintf(`{"directoryTenantId":%q,"clientId":%q,"clientSecret":%q,"cloud":"usgov",`+
		`"options":{"scope":{"groups":["AAAAAAAA-0000-0000-0000-000000000001"]},"deactivateMissing":true,`+
		`"deactivationThreshold":{"percent":12.5,"count":40},"mapping":[{"attribute":"title","source":"jobTitle"}]}}`,
		strings.ToUpper(dirTenantGUID), clientGUID, testSecret)
	created := e.do(t, &acmeAdmin, http.MethodPut, "/v1/connection", upper).mustStatus(t, http.StatusCreated)
	firstSetAt := created.Body["secretSetAt"]
	want := map[string]any{
		"directoryTenantId": dirTenantGUID, "clientId": clientGUID, "cloud": "usgov",
		"secretHint": testSecret[len(testSecret)-4:],
	}
	for k, v := range want {
		if created.Body[k] != v {
			t.Errorf("%s = %v, want %v", k, created.Body[k], v)
		}
	}
	opts := created.Body["options"].(map[string]any)
	if g := opts["scope"].(map[string]any)["groups"].([]any); len(g) != 1 || g[0] != "aaaaaaaa-0000-0000-0000-000000000001" {
		t.Errorf("scope groups = %v", g)
	}
	if th := opts["deactivationThreshold"].(map[string]any); th["percent"] != 12.5 || th["count"] != float64(40) {
		t.Errorf("threshold = %v", th)
	}
	if e.secrets.stored["acme"] != testSecret || e.secrets.puts != 1 {
		t.Fatalf("secret store = %v after %d puts", e.secrets.stored, e.secrets.puts)
	}

	got := e.do(t, &acmeAdmin, http.MethodGet, "/v1/connection", "").mustStatus(t, http.StatusOK)
	if got.Body["secretHint"] != want["secretHint"] || got.Body["cloud"] != "usgov" {
		t.Fatalf("GET = %v", got.Body)
	}

	t.Run("replace without a secret keeps it", func(t *testing.T) {
		replaced := e.do(t, &acmeAdmin, http.MethodPut, "/v1/connection", noSecret).mustStatus(t, http.StatusOK)
		if replaced.Body["secretHint"] != want["secretHint"] || replaced.Body["secretSetAt"] != firstSetAt {
			t.Fatalf("secret hint/time changed: %v", replaced.Body)
		}
		if replaced.Body["cloud"] != "global" {
			t.Fatalf("omitted cloud = %v, want global", replaced.Body["cloud"])
		}
		if opts := replaced.Body["options"].(map[string]any); opts["deactivateMissing"] != false {
			t.Fatalf("omitted options are not the defaults: %v", opts)
		}
		if e.secrets.puts != 1 || e.secrets.stored["acme"] != testSecret {
			t.Fatalf("secret store touched: %d puts", e.secrets.puts)
		}
	})
	t.Run("another client id needs a new secret", func(t *testing.T) {
		body := fmt.Sprintf(`{"directoryTenantId":%q,"clientId":"bbbbbbbb-bbbb-cccc-dddd-eeeeeeeeeeee"}`, dirTenantGUID)
		r := e.do(t, &acmeAdmin, http.MethodPut, "/v1/connection", body).mustStatus(t, http.StatusBadRequest)
		if !strings.Contains(r.errorMessage(), "clientSecret: required when clientId changes") {
			t.Fatalf("message = %q", r.errorMessage())
		}
	})
	t.Run("a new secret replaces the hint", func(t *testing.T) {
		time.Sleep(2 * time.Millisecond) // secretSetAt must move
		body := fmt.Sprintf(`{"directoryTenantId":%q,"clientId":%q,"clientSecret":"another-secret-value-9876"}`, dirTenantGUID, clientGUID)
		r := e.do(t, &acmeAdmin, http.MethodPut, "/v1/connection", body).mustStatus(t, http.StatusOK)
		if r.Body["secretHint"] != "9876" || r.Body["secretSetAt"] == firstSetAt {
			t.Fatalf("after a new secret: %v", r.Body)
		}
		if e.secrets.stored["acme"] != "another-secret-value-9876" {
			t.Fatalf("secret store = %v", e.secrets.stored)
		}
	})
	t.Run("no secret in responses or logs", func(t *testing.T) {
		for _, path := range []string{"/v1/connection"} {
			r := e.do(t, &acmeAdmin, http.MethodGet, path, "")
			if strings.Contains(r.Raw, "another-secret") || strings.Contains(r.Raw, "clientSecret") {
				t.Fatalf("GET %s leaks the secret: %s", path, r.Raw)
			}
		}
		if logs := e.logs.String(); strings.Contains(logs, testSecret) || strings.Contains(logs, "another-secret") {
			t.Fatalf("logs carry the secret:\n%s", logs)
		}
	})
}

func TestConnectionTest(t *testing.T) {
	e := newEnv(t)
	e.do(t, &acmeAdmin, http.MethodPost, "/v1/connection/test", "").mustStatus(t, http.StatusNotFound)
	e.putConnection(t, acmeAdmin)

	r := e.do(t, &acmeAdmin, http.MethodPost, "/v1/connection/test", "{}").mustStatus(t, http.StatusOK)
	if r.Body["ok"] != true || len(r.Body["checks"].([]any)) != 2 {
		t.Fatalf("test of a good connection = %v", r.Body)
	}
	// A client id ending in 0 lacks a permission in fakeTester.
	bad := fmt.Sprintf(`{"directoryTenantId":%q,"clientId":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeee0","clientSecret":%q}`, dirTenantGUID, testSecret)
	e.do(t, &acmeAdmin, http.MethodPut, "/v1/connection", bad).mustStatus(t, http.StatusOK)
	r = e.do(t, &acmeAdmin, http.MethodPost, "/v1/connection/test", "").mustStatus(t, http.StatusOK)
	checks := r.Body["checks"].([]any)
	failed := checks[1].(map[string]any)
	if r.Body["ok"] != false || failed["ok"] != false || !strings.Contains(failed["message"].(string), "User.Read.All") {
		t.Fatalf("test of a connection lacking permission = %v", r.Body)
	}
}

func TestUsersCreateGetPatch(t *testing.T) {
	e := newEnv(t)
	body := `{"email":"Grace@Acme.test","displayName":"Grace Hopper","attributes":{"jobTitle":"Rear Admiral","department":"Navy","empty":""},"protected":true}`
	created := e.do(t, &acmeAdmin, http.MethodPost, "/v1/users", body).mustStatus(t, http.StatusCreated)
	id := created.Body["id"].(string)
	if loc := created.Header.Get("Location"); loc != "/v1/users/"+id {
		t.Fatalf("Location = %q", loc)
	}
	want := map[string]any{
		"email": "Grace@Acme.test", "displayName": "Grace Hopper", "status": "active", "source": "manual",
		"externalId": nil, "protected": true, "revision": float64(1), "jobTitle": "Rear Admiral", "department": "Navy",
	}
	for k, v := range want {
		if created.Body[k] != v {
			t.Errorf("%s = %v, want %v", k, created.Body[k], v)
		}
	}
	if _, ok := created.Body["empty"]; ok {
		t.Error("an empty attribute was stored")
	}
	if created.Header.Get("ETag") != `"1"` {
		t.Fatalf("ETag = %q", created.Header.Get("ETag"))
	}

	t.Run("email is unique case-insensitively", func(t *testing.T) {
		r := e.do(t, &acmeAdmin, http.MethodPost, "/v1/users", `{"email":"grace@acme.TEST"}`).mustStatus(t, http.StatusConflict)
		if r.errorCode() != domain.EConflict {
			t.Fatalf("code = %q", r.errorCode())
		}
	})

	patches := []struct {
		name    string
		body    string
		ifMatch string
		status  int
		check   func(t *testing.T, b map[string]any)
	}{
		{"with the current revision", `{"attributes":{"jobTitle":"Admiral"}}`, `"1"`, http.StatusOK, func(t *testing.T, b map[string]any) {
			if b["jobTitle"] != "Admiral" || b["department"] != "Navy" || b["revision"] != float64(2) {
				t.Fatalf("after patch: %v", b)
			}
		}},
		{"with a stale revision", `{"status":"inactive"}`, "1", http.StatusConflict, nil},
		{"unquoted current revision, removing an attribute", `{"attributes":{"department":""},"status":"inactive"}`, "2", http.StatusOK, func(t *testing.T, b map[string]any) {
			if _, ok := b["department"]; ok || b["status"] != "inactive" || b["revision"] != float64(3) {
				t.Fatalf("after patch: %v", b)
			}
		}},
		{"without If-Match", `{"displayName":"Amazing Grace","protected":false}`, "", http.StatusOK, func(t *testing.T, b map[string]any) {
			if b["displayName"] != "Amazing Grace" || b["protected"] != false || b["revision"] != float64(4) {
				t.Fatalf("after patch: %v", b)
			}
		}},
		{"If-Match any", `{"email":"grace@navy.test"}`, "*", http.StatusOK, func(t *testing.T, b map[string]any) {
			if b["email"] != "grace@navy.test" || b["revision"] != float64(5) {
				t.Fatalf("after patch: %v", b)
			}
		}},
		{"null fields are left alone", `{"email":null,"status":"active"}`, "", http.StatusOK, func(t *testing.T, b map[string]any) {
			if b["email"] != "grace@navy.test" || b["status"] != "active" {
				t.Fatalf("after patch: %v", b)
			}
		}},
		{"to a taken email", `{"email":"taken@acme.test"}`, "", http.StatusConflict, nil},
	}
	e.createUser(t, acmeAdmin, "taken@acme.test", "Taken")
	for _, p := range patches {
		t.Run(p.name, func(t *testing.T) {
			var hdr []string
			if p.ifMatch != "" {
				hdr = []string{"If-Match", p.ifMatch}
			}
			r := e.do(t, &acmeAdmin, http.MethodPatch, "/v1/users/"+id, p.body, hdr...).mustStatus(t, p.status)
			if p.status == http.StatusConflict {
				if r.errorCode() != domain.EConflict {
					t.Fatalf("code = %q", r.errorCode())
				}
				return
			}
			if r.Header.Get("ETag") != fmt.Sprintf(`"%v"`, r.Body["revision"]) {
				t.Fatalf("ETag %q for revision %v", r.Header.Get("ETag"), r.Body["revision"])
			}
			p.check(t, r.Body)
		})
	}
	got := e.do(t, &acmeAdmin, http.MethodGet, "/v1/users/"+id, "").mustStatus(t, http.StatusOK)
	if got.Body["revision"] != float64(6) || got.Body["displayName"] != "Amazing Grace" {
		t.Fatalf("stale and conflicting patches changed the user: %v", got.Body)
	}
}

func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

// TestUserShape covers what the store cannot produce through the API yet:
// a linked user with groups and an attribute named like a fixed key.
func TestUserShape(t *testing.T) {
	u := &domain.User{
		PlatformUser: domain.PlatformUser{
			ID: "u1", Email: "ada@acme.test", Status: domain.StatusActive, Source: domain.SourceEntra,
			ExternalID: "ext-1", Revision: 7,
			Attributes: domain.Attrs{{Name: "displayName", Value: "Ada"}, {Name: "id", Value: "spoof"}, {Name: "jobTitle", Value: `Count "ess"`}},
		},
		Groups:    []domain.GroupRef{{ID: "g1", DisplayName: "Engineering"}},
		UpdatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)),
	}
	b, err := userView{u}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := loadSpec(t).validate(map[string]any{"$ref": "#/components/schemas/User"}, decodeJSON(t, b), ""); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	want := `{"id":"u1","email":"ada@acme.test","displayName":"Ada","status":"active","source":"entra","externalId":"ext-1",` +
		`"protected":false,"groups":[{"id":"g1","displayName":"Engineering"}],"revision":7,"createdAt":null,` +
		`"updatedAt":"2025-01-02T02:04:05Z","jobTitle":"Count \"ess\""}`
	if string(b) != want {
		t.Fatalf("user JSON\n got %s\nwant %s", b, want)
	}
}

func TestListPaging(t *testing.T) {
	e := newEnv(t)
	var userIDs []string
	for i := 0; i < 5; i++ {
		userIDs = append(userIDs, e.createUser(t, acmeAdmin, fmt.Sprintf("user%d@acme.test", i), fmt.Sprintf("Person %d", i)))
	}
	for i := 0; i < 3; i++ {
		e.putGroup(t, "acme", fmt.Sprintf("g%d", i), fmt.Sprintf("Group %d", i), userIDs[:i+1]...)
	}
	e.putConnection(t, acmeAdmin)
	var syncIDs []string
	for i := 0; i < 3; i++ {
		// Storing the plan ends the preview, so the next one can start.
		syncIDs = append(syncIDs, e.startSyncWithPlan(t, acmeAdmin, samplePlan(1)))
		time.Sleep(2 * time.Millisecond) // ids order by millisecond
	}

	tests := []struct {
		name  string
		path  string
		limit int
		want  int
	}{
		{"users", "/v1/users", 2, 5},
		{"users, one page exactly", "/v1/users", 5, 5},
		{"users by text", "/v1/users?q=PERSON%203", 2, 1},
		{"users by status", "/v1/users?status=inactive", 2, 0},
		{"groups", "/v1/groups", 2, 3},
		{"members", "/v1/groups/g2/members", 2, 3},
		{"syncs", "/v1/syncs", 2, 3},
		{"syncs, default limit", "/v1/syncs", 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[string]bool{}
			cursor, pages := "", 0
			for {
				path := tt.path
				sep := "?"
				if strings.Contains(path, "?") {
					sep = "&"
				}
				if tt.limit > 0 {
					path += fmt.Sprintf("%slimit=%d", sep, tt.limit)
					sep = "&"
				}
				if cursor != "" {
					path += sep + "cursor=" + cursor
				}
				r := e.do(t, &acmeAdmin, http.MethodGet, path, "").mustStatus(t, http.StatusOK)
				pages++
				items := r.items()
				if tt.limit > 0 && len(items) > tt.limit {
					t.Fatalf("page of %d items, limit %d", len(items), tt.limit)
				}
				for _, it := range items {
					id := it["id"].(string)
					if seen[id] {
						t.Fatalf("%s listed twice", id)
					}
					seen[id] = true
				}
				next, has := r.Body["nextCursor"]
				if !has {
					break
				}
				if next == "" || len(items) == 0 {
					t.Fatalf("nextCursor %q on a page of %d", next, len(items))
				}
				cursor = next.(string)
				if pages > 10 {
					t.Fatal("paging does not end")
				}
			}
			if len(seen) != tt.want {
				t.Fatalf("listed %d, want %d", len(seen), tt.want)
			}
			wantPages := 1
			if tt.limit > 0 && tt.want > tt.limit {
				wantPages = (tt.want + tt.limit - 1) / tt.limit
			}
			if pages != wantPages {
				t.Fatalf("%d pages, want %d", pages, wantPages)
			}
		})
	}
	t.Run("an empty listing is an empty array", func(t *testing.T) {
		r := e.do(t, &acmeAdmin, http.MethodGet, "/v1/users?q=nobody", "").mustStatus(t, http.StatusOK)
		if !strings.HasPrefix(r.Raw, `{"items":[]}`) {
			t.Fatalf("body = %s", r.Raw)
		}
	})
	t.Run("members carry the user shape", func(t *testing.T) {
		r := e.do(t, &acmeAdmin, http.MethodGet, "/v1/groups/g0/members", "").mustStatus(t, http.StatusOK)
		if items := r.items(); len(items) != 1 || items[0]["id"] != userIDs[0] || items[0]["displayName"] != "Person 0" {
			t.Fatalf("members = %v", items)
		}
	})
	t.Run("groups carry their fields", func(t *testing.T) {
		r := e.do(t, &acmeAdmin, http.MethodGet, "/v1/groups?limit=1", "").mustStatus(t, http.StatusOK)
		g := r.items()[0]
		if g["id"] != "g0" || g["displayName"] != "Group 0" || g["memberCount"] != float64(1) || g["externalId"] != "ext-g0" || g["description"] != nil {
			t.Fatalf("group = %v", g)
		}
	})
	t.Run("syncs newest first", func(t *testing.T) {
		r := e.do(t, &acmeAdmin, http.MethodGet, "/v1/syncs", "").mustStatus(t, http.StatusOK)
		var got []string
		for _, it := range r.items() {
			got = append(got, it["id"].(string))
		}
		want := slices.Clone(syncIDs)
		slices.Reverse(want)
		if !slices.Equal(got, want) {
			t.Fatalf("syncs listed %v, want %v", got, want)
		}
	})
}

// A sync pins the connection it started with: replacing the connection
// while one is previewing or applying is refused, secret untouched.
func TestConnectionFrozenWhileSyncing(t *testing.T) {
	e := newEnv(t)
	e.putConnection(t, acmeAdmin)
	puts := e.secrets.puts
	e.do(t, &acmeAdmin, http.MethodPost, "/v1/syncs", "").mustStatus(t, http.StatusAccepted)
	other := fmt.Sprintf(`{"directoryTenantId":"99999999-8888-7777-6666-555555555555","clientId":%q,"clientSecret":%q}`, clientGUID, testSecret+"x")
	r := e.do(t, &acmeAdmin, http.MethodPut, "/v1/connection", other).mustStatus(t, http.StatusConflict)
	if !strings.Contains(r.errorMessage(), "PREVIEWING") {
		t.Fatalf("409 message %q does not say why", r.errorMessage())
	}
	if e.secrets.puts != puts {
		t.Fatal("a refused PUT /v1/connection replaced the secret")
	}
	got := e.do(t, &acmeAdmin, http.MethodGet, "/v1/connection", "").mustStatus(t, http.StatusOK)
	if got.Body["directoryTenantId"] != dirTenantGUID {
		t.Fatalf("the connection changed: %v", got.Body)
	}
	// Another tenant is not affected.
	e.do(t, &otherAdmin, http.MethodPut, "/v1/connection", other).mustStatus(t, http.StatusCreated)
}

// TestConnectionIgnoredUsers: ignoredUsers are stored in lower case with
// repeats folded, shown by GET (an empty list when none), replaced by a PUT
// that keeps the stored secret, and refused while a sync is previewing but
// not while a preview is ready.
func TestConnectionIgnoredUsers(t *testing.T) {
	e := newEnv(t)
	const (
		u1 = "11111111-aaaa-4bbb-8ccc-000000000001"
		u2 = "11111111-aaaa-4bbb-8ccc-000000000002"
	)
	body := func(ids ...string) string {
		b, _ := json.Marshal(ids)
		return fmt.Sprintf(`{"directoryTenantId":%q,"clientId":%q,"options":{"ignoredUsers":%s}}`, dirTenantGUID, clientGUID, b)
	}
	ignored := func(r *response) []any {
		t.Helper()
		list, ok := r.Body["options"].(map[string]any)["ignoredUsers"].([]any)
		if !ok {
			t.Fatalf("options.ignoredUsers is not a list: %v", r.Body["options"])
		}
		return list
	}
	e.putConnection(t, acmeAdmin)
	if got := ignored(e.do(t, &acmeAdmin, http.MethodGet, "/v1/connection", "").mustStatus(t, http.StatusOK)); len(got) != 0 {
		t.Fatalf("ignoredUsers of a new connection = %v, want []", got)
	}

	tests := []struct {
		name string
		ids  []string
		want []any
	}{
		{"lower case, repeats folded into the first, order kept", []string{strings.ToUpper(u2), u1, u2, strings.ToUpper(u1)}, []any{u2, u1}},
		{"an entry removed", []string{u1}, []any{u1}},
		{"emptied", []string{}, []any{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			put := e.do(t, &acmeAdmin, http.MethodPut, "/v1/connection", body(tc.ids...)).mustStatus(t, http.StatusOK)
			if got := ignored(put); !slices.Equal(got, tc.want) {
				t.Fatalf("PUT answered ignoredUsers %v, want %v", got, tc.want)
			}
			get := e.do(t, &acmeAdmin, http.MethodGet, "/v1/connection", "").mustStatus(t, http.StatusOK)
			if got := ignored(get); !slices.Equal(got, tc.want) {
				t.Fatalf("GET ignoredUsers = %v, want %v", got, tc.want)
			}
			if get.Body["secretHint"] != testSecret[len(testSecret)-4:] || e.secrets.puts != 1 {
				t.Fatalf("the stored secret did not stay: hint %v, %d puts", get.Body["secretHint"], e.secrets.puts)
			}
		})
	}

	syncID := e.startSyncWithPlan(t, acmeAdmin, samplePlan(1))
	e.do(t, &acmeAdmin, http.MethodPut, "/v1/connection", body(u2)).mustStatus(t, http.StatusOK) // PREVIEW_READY does not block
	if got := e.do(t, &acmeAdmin, http.MethodGet, "/v1/syncs/"+syncID, "").mustStatus(t, http.StatusOK); got.Body["status"] != "PREVIEW_READY" {
		t.Fatalf("sync status = %v", got.Body["status"])
	}
	e.do(t, &acmeAdmin, http.MethodPost, "/v1/syncs/"+syncID+"/cancel", "").mustStatus(t, http.StatusAccepted)
	e.do(t, &acmeAdmin, http.MethodPost, "/v1/syncs", "").mustStatus(t, http.StatusAccepted) // PREVIEWING
	r := e.do(t, &acmeAdmin, http.MethodPut, "/v1/connection", body(u1)).mustStatus(t, http.StatusConflict)
	if r.errorCode() != domain.EConflict {
		t.Fatalf("error = %q %q", r.errorCode(), r.errorMessage())
	}
	if got := ignored(e.do(t, &acmeAdmin, http.MethodGet, "/v1/connection", "").mustStatus(t, http.StatusOK)); !slices.Equal(got, []any{u2}) {
		t.Fatalf("a refused PUT changed ignoredUsers: %v", got)
	}
}

// TestEditIgnoredUsers: the list is edited a thousand ids at a time, a PUT
// without it keeps it, and a sync shows its size, not its ids.
func TestEditIgnoredUsers(t *testing.T) {
	e := newEnv(t)
	const (
		u1 = "22222222-aaaa-4bbb-8ccc-000000000001"
		u2 = "22222222-aaaa-4bbb-8ccc-000000000002"
		u3 = "22222222-aaaa-4bbb-8ccc-000000000003"
	)
	edit := func(ignored bool, ids ...string) string {
		b, _ := json.Marshal(map[string]any{"ids": ids, "ignored": ignored})
		return string(b)
	}
	listed := func() []any {
		t.Helper()
		r := e.do(t, &acmeAdmin, http.MethodGet, "/v1/connection", "").mustStatus(t, http.StatusOK)
		return r.Body["options"].(map[string]any)["ignoredUsers"].([]any)
	}
	e.do(t, &acmeAdmin, http.MethodPost, "/v1/connection/ignored-users", edit(true, u1)).mustStatus(t, http.StatusNotFound)
	e.putConnection(t, acmeAdmin)

	tests := []struct {
		name         string
		body         string
		count, chngd float64
		want         []any
	}{
		{"ignore two, in the order given", edit(true, u2, strings.ToUpper(u1), u2), 2, 2, []any{u2, u1}},
		{"ignore one more and one already ignored", edit(true, u1, u3), 3, 1, []any{u2, u1, u3}},
		{"import one again", edit(false, strings.ToUpper(u1)), 2, 1, []any{u2, u3}},
		{"import one that is not ignored", edit(false, u1), 2, 0, []any{u2, u3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, &acmeAdmin, http.MethodPost, "/v1/connection/ignored-users", tc.body).mustStatus(t, http.StatusOK)
			if r.Body["count"] != tc.count || r.Body["changed"] != tc.chngd {
				t.Fatalf("answer = %v, want count %v, changed %v", r.Body, tc.count, tc.chngd)
			}
			if got := listed(); !slices.Equal(got, tc.want) {
				t.Fatalf("ignoredUsers = %v, want %v", got, tc.want)
			}
		})
	}

	refused := []struct {
		name, body, message string
	}{
		{"no ids", `{"ignored":true}`, "ids: required"},
		{"empty ids", `{"ids":[],"ignored":true}`, "ids: required"},
		{"no ignored", `{"ids":["` + u1 + `"]}`, "ignored: required"},
		{"not a GUID", `{"ids":["` + u1 + `","bob@acme.test"],"ignored":true}`, "ids[1]: must be a GUID"},
		{"too many", `{"ids":[` + strings.TrimSuffix(strings.Repeat(`"`+u1+`",`, domain.MaxIgnoredUsersPerEdit+1), ",") + `],"ignored":true}`, "ids: at most 1000 entries"},
		{"unknown field", `{"ids":["` + u1 + `"],"ignored":true,"reason":"x"}`, "reason: unknown field"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, &acmeAdmin, http.MethodPost, "/v1/connection/ignored-users", tc.body).mustStatus(t, http.StatusBadRequest)
			if !strings.Contains(r.errorMessage(), tc.message) {
				t.Fatalf("message = %q, want it to say %q", r.errorMessage(), tc.message)
			}
		})
	}

	put := fmt.Sprintf(`{"directoryTenantId":%q,"clientId":%q,"options":{"includeGuests":true}}`, dirTenantGUID, clientGUID)
	e.do(t, &acmeAdmin, http.MethodPut, "/v1/connection", put).mustStatus(t, http.StatusOK)
	if got := listed(); !slices.Equal(got, []any{u2, u3}) {
		t.Fatalf("a PUT without ignoredUsers left %v, want the list kept", got)
	}

	syncID := e.startSyncWithPlan(t, acmeAdmin, samplePlan(1))
	opts := e.do(t, &acmeAdmin, http.MethodGet, "/v1/syncs/"+syncID, "").mustStatus(t, http.StatusOK).Body["options"].(map[string]any)
	if _, ok := opts["ignoredUsers"]; ok || opts["ignoredUserCount"] != float64(2) {
		t.Fatalf("sync options = %v, want ignoredUserCount 2 and no list", opts)
	}
	e.do(t, &acmeAdmin, http.MethodPost, "/v1/syncs/"+syncID+"/cancel", "").mustStatus(t, http.StatusAccepted)
	e.do(t, &acmeAdmin, http.MethodPost, "/v1/syncs", "").mustStatus(t, http.StatusAccepted) // PREVIEWING
	for _, body := range []string{edit(true, u1), edit(true, u2)} {
		if r := e.do(t, &acmeAdmin, http.MethodPost, "/v1/connection/ignored-users", body).mustStatus(t, http.StatusConflict); r.errorCode() != domain.EConflict {
			t.Fatalf("edit while previewing: %q", r.errorCode())
		}
	}
}

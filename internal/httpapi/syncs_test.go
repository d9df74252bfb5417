package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"dirsync/internal/auth"
	"dirsync/internal/domain"
)

func TestStartSync(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, &acmeAdmin, http.MethodPost, "/v1/syncs", "").mustStatus(t, http.StatusUnprocessableEntity)
	if r.errorCode() != domain.EUnprocessable {
		t.Fatalf("without a connection: %q", r.errorCode())
	}
	e.putConnection(t, acmeAdmin)

	started := e.do(t, &acmeAdmin, http.MethodPost, "/v1/syncs", "{}").mustStatus(t, http.StatusAccepted)
	id, _ := started.Body["id"].(string)
	if !ValidID(id) || started.Body["status"] != "PREVIEWING" || len(started.Body) != 2 {
		t.Fatalf("started = %v", started.Body)
	}
	if started.Header.Get("Location") != "/v1/syncs/"+id {
		t.Fatalf("Location = %q", started.Header.Get("Location"))
	}
	if len(e.dispatcher.jobs) != 1 || e.dispatcher.jobs[0].SyncID != id || e.dispatcher.jobs[0].TenantID != "acme" ||
		e.dispatcher.jobs[0].ActorEmail != acmeAdmin.Email {
		t.Fatalf("dispatched = %+v", e.dispatcher.jobs)
	}

	again := e.do(t, &acmeAdmin, http.MethodPost, "/v1/syncs", "").mustStatus(t, http.StatusConflict)
	if again.errorCode() != domain.EConflict || !strings.Contains(again.errorMessage(), id) {
		t.Fatalf("second start: %q %q", again.errorCode(), again.errorMessage())
	}
	// Another tenant is not blocked by this one's preview.
	e.putConnection(t, otherAdmin)
	e.do(t, &otherAdmin, http.MethodPost, "/v1/syncs", "").mustStatus(t, http.StatusAccepted)

	sy := e.do(t, &acmeAdmin, http.MethodGet, "/v1/syncs/"+id, "").mustStatus(t, http.StatusOK)
	if sy.Body["status"] != "PREVIEWING" || sy.Body["createdBy"] != acmeAdmin.Email || sy.Body["progress"] != nil ||
		sy.Body["confirmedAt"] != nil || sy.Body["expiresAt"] != nil || sy.Body["error"] != nil {
		t.Fatalf("previewing sync = %v", sy.Body)
	}

	// A console polling progress right after the start sees the status.
	p := e.do(t, &acmeAdmin, http.MethodGet, "/v1/syncs/"+id+"/progress", "").mustStatus(t, http.StatusOK)
	if p.Body["status"] != "PREVIEWING" || p.Body["total"] != float64(0) || p.Body["percent"] != float64(0) {
		t.Fatalf("progress while previewing = %v", p.Body)
	}
}

func TestSyncAndChanges(t *testing.T) {
	e := newEnv(t)
	e.putConnection(t, acmeAdmin)
	plan := samplePlan(12)
	plan.Safeguards[0].Tripped, plan.Safeguards[0].Actual = true, 25
	id := e.startSyncWithPlan(t, acmeAdmin, plan)

	sy := e.do(t, &acmeAdmin, http.MethodGet, "/v1/syncs/"+id, "").mustStatus(t, http.StatusOK).Body
	counts := sy["counts"].(map[string]any)
	users := counts["users"].(map[string]any)
	if sy["status"] != "PREVIEW_READY" || users["add"] != float64(12) || users["update"] != float64(1) || users["skip"] != float64(1) ||
		counts["groups"].(map[string]any)["add"] != float64(1) || counts["memberships"].(map[string]any)["add"] != float64(1) {
		t.Fatalf("ready sync = %v", sy)
	}
	if sy["expiresAt"] == nil || sy["progress"] != nil {
		t.Fatalf("expiresAt %v, progress %v", sy["expiresAt"], sy["progress"])
	}
	sg := sy["safeguards"].([]any)[0].(map[string]any)
	if sg["name"] != domain.SafeguardDeactivationPercent || sg["tripped"] != true || sg["limit"] != float64(20) || sg["actual"] != float64(25) {
		t.Fatalf("safeguard = %v", sg)
	}
	if w := sy["warnings"].([]any); len(w) != 1 || w[0] != "2 users have no email" {
		t.Fatalf("warnings = %v", w)
	}

	filters := []struct {
		query string
		want  int
		check func(t *testing.T, c map[string]any)
	}{
		{"", 15, nil},
		{"objectType=user", 14, func(t *testing.T, c map[string]any) {
			if c["objectType"] != "user" {
				t.Fatalf("change %v", c)
			}
		}},
		{"objectType=group", 1, func(t *testing.T, c map[string]any) {
			if c["kind"] != "add" || c["targetId"] != nil || c["subject"].(map[string]any)["displayName"] != "Engineering" {
				t.Fatalf("group change %v", c)
			}
			if _, leaked := c["membersAdded"]; leaked {
				t.Fatalf("membership references exposed: %v", c)
			}
		}},
		{"kind=update", 1, func(t *testing.T, c map[string]any) {
			f := c["fields"].([]any)[0].(map[string]any)
			if c["targetId"] != "u-grace" || f["name"] != "jobTitle" || f["before"] != "Captain" || f["after"] != "Rear Admiral" {
				t.Fatalf("update %v", c)
			}
			if _, leaked := c["baseRevision"]; leaked {
				t.Fatalf("baseRevision exposed: %v", c)
			}
		}},
		{"kind=skip", 1, func(t *testing.T, c map[string]any) {
			if c["reason"] != domain.ReasonDuplicateEmail || c["outcome"] != nil {
				t.Fatalf("skip %v", c)
			}
		}},
		{"kind=add&objectType=user&q=person%201", 3, func(t *testing.T, c map[string]any) { // 1, 10, 11
			if !strings.HasPrefix(c["subject"].(map[string]any)["displayName"].(string), "New Person 1") {
				t.Fatalf("text filter let through %v", c)
			}
		}},
		{"kind=remove", 0, nil},
		{"outcome=applied", 0, nil},
		{"kind=add&limit=5", 13, nil},
	}
	for _, f := range filters {
		t.Run(f.query, func(t *testing.T) {
			path := "/v1/syncs/" + id + "/changes?" + f.query
			seen, lastSeq := 0, 0.0
			for pages := 0; ; pages++ {
				r := e.do(t, &acmeAdmin, http.MethodGet, path, "").mustStatus(t, http.StatusOK)
				for _, c := range r.items() {
					if c["seq"].(float64) <= lastSeq {
						t.Fatalf("seq %v after %v", c["seq"], lastSeq)
					}
					lastSeq = c["seq"].(float64)
					if f.check != nil {
						f.check(t, c)
					}
					seen++
				}
				next, ok := r.Body["nextCursor"].(string)
				if !ok {
					break
				}
				if pages > 5 {
					t.Fatal("paging does not end")
				}
				path = "/v1/syncs/" + id + "/changes?" + f.query + "&cursor=" + next
			}
			if seen != f.want {
				t.Fatalf("listed %d changes, want %d", seen, f.want)
			}
		})
	}

	t.Run("progress of a ready preview is its counter", func(t *testing.T) {
		p := e.do(t, &acmeAdmin, http.MethodGet, "/v1/syncs/"+id+"/progress", "").mustStatus(t, http.StatusOK).Body
		// 12 adds, 1 update and the group; skips are never applied.
		if p["total"] != float64(14) || p["processed"] != float64(0) || p["status"] != "PREVIEW_READY" {
			t.Fatalf("progress = %v", p)
		}
	})
	t.Run("an applying sync carries its progress", func(t *testing.T) {
		e.syncs.setStatus(id, domain.SyncApplying)
		sy := e.do(t, &acmeAdmin, http.MethodGet, "/v1/syncs/"+id, "").mustStatus(t, http.StatusOK).Body
		p, ok := sy["progress"].(map[string]any)
		if !ok || p["total"] != float64(14) || sy["confirmedBy"] != "ada@acme.test" || sy["confirmedAt"] == nil {
			t.Fatalf("applying sync = %v", sy)
		}
		list := e.do(t, &acmeAdmin, http.MethodGet, "/v1/syncs", "").mustStatus(t, http.StatusOK)
		if p := list.items()[0]["progress"]; p == nil {
			t.Fatal("listing leaves out the running apply's progress")
		}
	})
	t.Run("a completed sync keeps its progress", func(t *testing.T) {
		e.syncs.setStatus(id, domain.SyncCompleted)
		sy := e.do(t, &acmeAdmin, http.MethodGet, "/v1/syncs/"+id, "").mustStatus(t, http.StatusOK).Body
		if sy["progress"] == nil {
			t.Fatalf("completed sync = %v", sy)
		}
		list := e.do(t, &acmeAdmin, http.MethodGet, "/v1/syncs", "").mustStatus(t, http.StatusOK)
		if p := list.items()[0]["progress"]; p != nil {
			t.Fatalf("listing reads progress of finished syncs: %v", p)
		}
	})
	t.Run("a failed preview carries its error", func(t *testing.T) {
		failed := e.do(t, &acmeAdmin, http.MethodPost, "/v1/syncs", "").mustStatus(t, http.StatusAccepted).Body["id"].(string)
		e.failPreview(t, "acme", failed, domain.SyncError{Code: domain.SyncErrCredentials, Message: "the client secret expired"})
		sy := e.do(t, &acmeAdmin, http.MethodGet, "/v1/syncs/"+failed, "").mustStatus(t, http.StatusOK).Body
		errObj, _ := sy["error"].(map[string]any)
		if sy["status"] != "PREVIEW_FAILED" || errObj["code"] != domain.SyncErrCredentials || errObj["message"] != "the client secret expired" {
			t.Fatalf("failed sync = %v", sy)
		}
		changes := e.do(t, &acmeAdmin, http.MethodGet, "/v1/syncs/"+failed+"/changes", "").mustStatus(t, http.StatusOK)
		if len(changes.items()) != 0 {
			t.Fatalf("a failed preview lists changes: %v", changes.items())
		}
	})
}

func (e *env) failPreview(t testing.TB, tenant, id string, reason domain.SyncError) {
	t.Helper()
	if err := e.store.FailPreview(t.Context(), domain.Lease{Tenant: tenant, SyncID: id}, reason); err != nil {
		t.Fatal(err)
	}
}

func TestRequestLog(t *testing.T) {
	e := newEnv(t)
	e.putConnection(t, acmeAdmin)
	id := e.startSyncWithPlan(t, acmeAdmin, samplePlan(1))
	token := "eyJhbGciOiJIUzI1NiJ9.secret-token-material.sig"
	r := e.do(t, &acmeAdmin, http.MethodGet, "/v1/syncs/"+id, "", "Authorization", "Bearer "+token)
	reqID := r.Header.Get("X-Request-Id")
	if reqID == "" {
		t.Fatal("no X-Request-Id")
	}
	var line map[string]any
	for _, l := range e.logs.lines(t) {
		if l["request_id"] == reqID && l["msg"] == "request" {
			line = l
		}
	}
	want := map[string]any{"method": "GET", "route": "GET /v1/syncs/{id}", "status": float64(200), "tenant_id": "acme", "sync_id": id, "level": "INFO"}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v (line %v)", k, line[k], v, line)
		}
	}
	if _, ok := line["duration_ms"].(float64); !ok {
		t.Errorf("no duration in %v", line)
	}
	if strings.Contains(e.logs.String(), "secret-token-material") {
		t.Fatal("the bearer token reached the logs")
	}

	e.do(t, nil, http.MethodGet, "/v1/users?x=1", "")
	e.do(t, &acmeAdmin, http.MethodGet, "/nowhere", "")
	lines := e.logs.lines(t)
	unauth, missing := lines[len(lines)-2], lines[len(lines)-1]
	if unauth["status"] != float64(401) || unauth["route"] != "GET /v1/users" || unauth["tenant_id"] != nil {
		t.Errorf("log of a 401 = %v", unauth)
	}
	if missing["status"] != float64(404) || missing["route"] != "unmatched" {
		t.Errorf("log of an unknown route = %v", missing)
	}
}

func TestHead(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, &acmeAdmin, http.MethodHead, "/v1/users", "")
	if r.Status != http.StatusOK {
		t.Fatalf("HEAD status = %d", r.Status)
	}
}

func TestUserBounds(t *testing.T) {
	e := newEnv(t)
	attrs := func(n, valueLen int) string {
		var b strings.Builder
		b.WriteString(`{`)
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"attr%02d":%q`, i, strings.Repeat("é", valueLen))
		}
		b.WriteString(`}`)
		return b.String()
	}
	tests := []struct {
		name      string
		body      string
		status    int
		inMessage string
	}{
		{"most attributes", `{"email":"a1@acme.test","attributes":` + attrs(maxAttributes, 4) + `}`, http.StatusCreated, ""},
		{"one attribute too many", `{"email":"a2@acme.test","attributes":` + attrs(maxAttributes+1, 4) + `}`, http.StatusBadRequest, "attributes: at most 64"},
		{"longest value", `{"email":"a3@acme.test","attributes":` + attrs(1, maxAttributeText) + `}`, http.StatusCreated, ""},
		{"value too long", `{"email":"a4@acme.test","attributes":` + attrs(1, maxAttributeText+1) + `}`, http.StatusBadRequest, "attributes.attr00: at most 1024 characters"},
		{"display name too long", `{"email":"a5@acme.test","displayName":"` + strings.Repeat("x", maxAttributeText+1) + `"}`, http.StatusBadRequest, "displayName: at most"},
		{"email too long", `{"email":"` + strings.Repeat("a", 250) + `@acme.test"}`, http.StatusBadRequest, "email: must be a plain email address"},
		{"longest attribute name", `{"email":"a6@acme.test","attributes":{"` + "a" + strings.Repeat("b", maxAttributeName-1) + `":"x"}}`, http.StatusCreated, ""},
		{"attribute name too long", `{"email":"a7@acme.test","attributes":{"` + strings.Repeat("b", maxAttributeName+1) + `":"x"}}`, http.StatusBadRequest, "must be 1 to 64 letters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, &acmeAdmin, http.MethodPost, "/v1/users", tt.body).mustStatus(t, tt.status)
			if tt.inMessage != "" && !strings.Contains(r.errorMessage(), tt.inMessage) {
				t.Fatalf("message = %q, want %q", r.errorMessage(), tt.inMessage)
			}
		})
	}
}

func TestConfirmAndCancel(t *testing.T) {
	e := newEnv(t)
	e.putConnection(t, acmeAdmin)
	id := e.startSyncWithPlan(t, acmeAdmin, samplePlan(3))
	path := "/v1/syncs/" + id

	tests := []struct {
		name   string
		caller auth.Claims
		method string
		path   string
		body   string
		status int
		code   string
	}{
		{"unknown field", acmeAdmin, http.MethodPost, path + "/confirm", `{"allowDeletes":true}`, 400, domain.EInvalid},
		{"wrong type", acmeAdmin, http.MethodPost, path + "/confirm", `{"allowDeactivations":"yes"}`, 400, domain.EInvalid},
		{"another tenant", otherAdmin, http.MethodPost, path + "/confirm", "", 404, domain.ENotFound},
		{"another tenant cancels", otherAdmin, http.MethodPost, path + "/cancel", "", 404, domain.ENotFound},
		{"bad id", acmeAdmin, http.MethodPost, "/v1/syncs/a.b/confirm", "", 400, domain.EInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, &tt.caller, tt.method, tt.path, tt.body).mustStatus(t, tt.status)
			if r.errorCode() != tt.code {
				t.Fatalf("code %q, want %q", r.errorCode(), tt.code)
			}
		})
	}

	for i := 0; i < 2; i++ { // a repeated confirm answers the same
		r := e.do(t, &acmeAdmin, http.MethodPost, path+"/confirm", `{"allowDeactivations":false}`).mustStatus(t, http.StatusAccepted)
		if r.Body["status"] != "APPLYING" || r.Body["id"] != id {
			t.Fatalf("confirm %d = %v", i, r.Body)
		}
	}
	if len(e.executions.started) != 1 {
		t.Fatalf("executions %v", e.executions.started)
	}
	r := e.do(t, &acmeAdmin, http.MethodPost, path+"/cancel", "").mustStatus(t, http.StatusAccepted)
	if r.Body["status"] != "CANCELLED" || len(e.executions.stopped) != 1 {
		t.Fatalf("cancel = %v, stopped %v", r.Body, e.executions.stopped)
	}
	r = e.do(t, &acmeAdmin, http.MethodPost, path+"/confirm", "").mustStatus(t, http.StatusConflict)
	if r.errorCode() != domain.EConflict {
		t.Fatalf("confirm after cancel: %v", r.Body)
	}
}

// A preview whose worker's lease lapsed reads as PREVIEW_FAILED worker_lost,
// on GET /v1/syncs/{id} and on GET .../progress alike (the progress
// function may only read: reads derive the state, they do not store it).
func TestLapsedPreviewOverHTTP(t *testing.T) {
	e := newEnv(t)
	e.putConnection(t, acmeAdmin)
	started := e.do(t, &acmeAdmin, http.MethodPost, "/v1/syncs", "").mustStatus(t, http.StatusAccepted)
	id := started.Body["id"].(string)
	e.store.SetClock(func() time.Time { return time.Now().Add(2 * time.Hour) })
	defer e.store.SetClock(time.Now)

	p := e.do(t, &acmeAdmin, http.MethodGet, "/v1/syncs/"+id+"/progress", "").mustStatus(t, http.StatusOK)
	if p.Body["status"] != "PREVIEW_FAILED" {
		t.Fatalf("progress = %v", p.Body)
	}
	got := e.do(t, &acmeAdmin, http.MethodGet, "/v1/syncs/"+id, "").mustStatus(t, http.StatusOK)
	errBody, _ := got.Body["error"].(map[string]any)
	if got.Body["status"] != "PREVIEW_FAILED" || errBody["code"] != domain.SyncErrWorkerLost {
		t.Fatalf("GET sync = %v, want PREVIEW_FAILED worker_lost", got.Body)
	}
	// The tenant can start again: the new preview stores the old one's end.
	e.do(t, &acmeAdmin, http.MethodPost, "/v1/syncs", "").mustStatus(t, http.StatusAccepted)
}

// POST /v1/syncs takes an optional {"fullRead": bool}; the sync records it
// for the worker.
func TestStartSyncFullRead(t *testing.T) {
	e := newEnv(t)
	e.putConnection(t, acmeAdmin)
	tests := []struct {
		body     string
		status   int
		fullRead bool
	}{
		{"", http.StatusAccepted, false},
		{"{}", http.StatusAccepted, false},
		{`{"fullRead":false}`, http.StatusAccepted, false},
		{`{"fullRead":true}`, http.StatusAccepted, true},
		{`{"fullRead":"yes"}`, http.StatusBadRequest, false},
		{`{"fullRead":null}`, http.StatusBadRequest, false},
		{`{"fullread":true}`, http.StatusBadRequest, false},
		{`{"fullRead":true,"other":1}`, http.StatusBadRequest, false},
	}
	for _, tt := range tests {
		r := e.do(t, &acmeAdmin, http.MethodPost, "/v1/syncs", tt.body).mustStatus(t, tt.status)
		if tt.status != http.StatusAccepted {
			if r.errorCode() != domain.EInvalid {
				t.Fatalf("%s: error %q, want invalid", tt.body, r.errorCode())
			}
			continue
		}
		id, _ := r.Body["id"].(string)
		sy, err := e.store.GetSync(t.Context(), "acme", id)
		if err != nil {
			t.Fatal(err)
		}
		if sy.FullRead != tt.fullRead {
			t.Fatalf("%q: the sync records fullRead %v, want %v", tt.body, sy.FullRead, tt.fullRead)
		}
		// End it, so the next start is not refused as concurrent.
		if err := e.store.FailPreview(t.Context(), domain.Lease{Tenant: "acme", SyncID: id}, domain.SyncError{Code: domain.SyncErrInternal, Message: "test"}); err != nil {
			t.Fatal(err)
		}
	}
}

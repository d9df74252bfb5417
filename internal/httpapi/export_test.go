package httpapi

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"dirsync/internal/auth"
	"dirsync/internal/domain"
)

func TestNegotiate(t *testing.T) {
	cases := []struct {
		accept string
		want   representation
		err    bool
	}{
		{"", asJSON, false},
		{"application/json", asJSON, false},
		{"*/*", asJSON, false},
		{"text/csv", asCSV, false},
		{"text/csv; charset=utf-8", asCSV, false},
		{"TEXT/CSV", asCSV, false},
		{"text/*", asCSV, false},
		{"application/*", asJSON, false},
		{"text/csv, application/json", asJSON, false}, // a tie goes to the default
		{"application/json;q=0.5, text/csv", asCSV, false},
		{"text/csv;q=0.9, */*;q=0.1", asCSV, false},
		{"*/*;q=0.1, text/csv;q=0", asJSON, false}, // csv refused, json by the wildcard
		{"text/html, application/xhtml+xml, */*;q=0.8", asJSON, false},
		{"text/html", 0, true},
		{"application/xml, image/*", 0, true},
		{"application/json;q=0, text/csv;q=0", 0, true},
		{"text/csv;q=2", 0, true}, // an invalid q matches nothing
		{"garbage", 0, true},
	}
	for _, tc := range cases {
		got, err := negotiate([]string{tc.accept})
		if tc.err {
			if domain.ErrorCode(err) != CodeNotAcceptable {
				t.Errorf("Accept %q: err %v, want not_acceptable", tc.accept, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Accept %q = %v, %v; want %v", tc.accept, got, err, tc.want)
		}
	}
}

func TestCells(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"Ada Lovelace", "Ada Lovelace"},
		{"=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"},
		{"+1 555", "'+1 555"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", "'\tx"},
		{"\rx", "'\rx"},
		{"a=b", "a=b"},
		{"'quoted", "'quoted"},
		{" =x", " =x"}, // only the first character counts, as spreadsheets read it
	}
	for _, tc := range cases {
		if got := SafeCell(tc.in); got != tc.want {
			t.Errorf("SafeCell(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	fields := []struct {
		in   []domain.FieldChange
		want string
	}{
		{nil, ""},
		{[]domain.FieldChange{{Name: "jobTitle", Before: "Captain", After: "Rear Admiral"}}, "jobTitle: Captain → Rear Admiral"},
		{[]domain.FieldChange{{Name: "mobilePhone", After: "+1"}, {Name: "department", Before: "R&D"}},
			"mobilePhone: (empty) → +1; department: R&D → (empty)"},
	}
	for _, tc := range fields {
		if got := FieldsCell(tc.in); got != tc.want {
			t.Errorf("FieldsCell(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// exportPlan is a plan whose subjects carry what CSV and spreadsheets
// trip on.
func exportPlan() *domain.Plan {
	p := &domain.Plan{Safeguards: []domain.Safeguard{{Name: domain.SafeguardDeactivationPercent, Limit: 20}}}
	add := func(c domain.Change) {
		c.Seq = len(p.Changes) + 1
		p.Changes = append(p.Changes, c)
	}
	user := func(kind domain.ChangeKind, ext, email, name string) domain.Change {
		return domain.Change{ObjectType: domain.ObjectUser, Kind: kind, Subject: domain.Subject{ExternalID: ext, Email: email, DisplayName: name},
			Attributes: domain.Attrs{{Name: "displayName", Value: name}}}
	}
	add(user(domain.KindAdd, "ext-1", "ada@acme.test", `Ada "The Countess" Lovelace`))
	add(user(domain.KindAdd, "ext-2", "babbage@acme.test", "Babbage, Charles"))
	add(user(domain.KindAdd, "ext-3", "multi@acme.test", "Line one\nLine two"))
	add(user(domain.KindAdd, "ext-4", "+1@acme.test", `=HYPERLINK("http://evil.test","click")`))
	add(user(domain.KindAdd, "ext-5", "@handle@acme.test", "-minus"))
	add(user(domain.KindAdd, "ext-6", "tab@acme.test", "\tTabbed"))
	add(user(domain.KindAdd, "ext-7", "zoe@acme.test", "Zoë Ångström 李"))
	upd := user(domain.KindUpdate, "ext-grace", "grace@acme.test", "Grace Hopper")
	upd.TargetID, upd.BaseRevision, upd.Attributes = "u-grace", 3, nil
	upd.Fields = []domain.FieldChange{{Name: "jobTitle", Before: "Captain", After: "Rear Admiral"}, {Name: "mobilePhone", After: "+1 555 0100"}}
	add(upd)
	skip := user(domain.KindSkip, "ext-dup", "dup@acme.test", "Dup")
	skip.Reason, skip.Attributes = domain.ReasonDuplicateEmail, nil
	add(skip)
	add(domain.Change{ObjectType: domain.ObjectGroup, Kind: domain.KindAdd, Subject: domain.Subject{ExternalID: "grp-eng", DisplayName: "Engineering"},
		MembersAdded: []domain.MemberRef{{ExternalID: "ext-1"}}})
	p.Counts.Users.Add, p.Counts.Users.Update, p.Counts.Users.Skip = 7, 1, 1
	p.Counts.Groups.Add, p.Counts.Memberships.Add = 1, 1
	return p
}

// csvResponse is a raw response, for bodies that are not JSON.
func (e *env) raw(t *testing.T, caller auth.Claims, path string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := newRequest(http.MethodGet, path, "", headers...)
	req = req.WithContext(auth.NewContext(req.Context(), caller))
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

func parseCSV(t *testing.T, body string) [][]string {
	t.Helper()
	r := csv.NewReader(strings.NewReader(body))
	r.FieldsPerRecord = len(ExportColumns)
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, body)
	}
	return rows
}

func TestExportChanges(t *testing.T) {
	e := newEnv(t)
	e.putConnection(t, acmeAdmin)
	id := e.startSyncWithPlan(t, acmeAdmin, exportPlan())
	e.do(t, &acmeAdmin, http.MethodPatch, "/v1/syncs/"+id+"/changes/2", `{"excluded":true}`).mustStatus(t, http.StatusOK)
	path := "/v1/syncs/" + id + "/changes"
	header := "seq,objectType,kind,email,displayName,externalId,targetId,fields,reason,excluded,outcome,outcomeReason\r\n"

	all := e.raw(t, acmeAdmin, path, "Accept", "text/csv")
	if all.Code != http.StatusOK {
		t.Fatalf("status %d\n%s", all.Code, all.Body)
	}
	for k, want := range map[string]string{
		"Content-Type":        "text/csv; charset=utf-8",
		"Content-Disposition": `attachment; filename="sync-` + id + `-changes.csv"`,
		"Vary":                "Accept",
		"Cache-Control":       "no-store",
	} {
		if got := all.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	body := all.Body.String()
	if !strings.HasPrefix(body, header) || !strings.HasSuffix(body, "\r\n") {
		t.Fatalf("body does not start with the header row or end with CRLF:\n%q", body)
	}
	if strings.Contains(strings.ReplaceAll(body, "\r\n", ""), "\n") {
		t.Errorf("a line end that is not CRLF:\n%q", body)
	}
	rows := parseCSV(t, body)
	want := [][]string{
		ExportColumns,
		{"1", "user", "add", "ada@acme.test", `Ada "The Countess" Lovelace`, "ext-1", "", "", "", "false", "", ""},
		{"2", "user", "add", "babbage@acme.test", "Babbage, Charles", "ext-2", "", "", "", "true", "", ""},
		{"3", "user", "add", "multi@acme.test", "Line one\nLine two", "ext-3", "", "", "", "false", "", ""},
		{"4", "user", "add", "'+1@acme.test", `'=HYPERLINK("http://evil.test","click")`, "ext-4", "", "", "", "false", "", ""},
		{"5", "user", "add", "'@handle@acme.test", "'-minus", "ext-5", "", "", "", "false", "", ""},
		{"6", "user", "add", "tab@acme.test", "'\tTabbed", "ext-6", "", "", "", "false", "", ""},
		{"7", "user", "add", "zoe@acme.test", "Zoë Ångström 李", "ext-7", "", "", "", "false", "", ""},
		{"8", "user", "update", "grace@acme.test", "Grace Hopper", "ext-grace", "u-grace",
			"jobTitle: Captain → Rear Admiral; mobilePhone: (empty) → +1 555 0100", "", "false", "", ""},
		{"9", "user", "skip", "dup@acme.test", "Dup", "ext-dup", "", "", domain.ReasonDuplicateEmail, "false", "", ""},
		{"10", "group", "add", "", "Engineering", "grp-eng", "", "", "", "false", "", ""},
	}
	if !slices.EqualFunc(rows, want, slices.Equal) {
		t.Errorf("rows:\n%q\nwant\n%q", rows, want)
	}
	// Quotes are doubled and a cell with a comma, quote or line break is
	// quoted (RFC 4180); the line break inside a cell is CRLF too.
	for _, raw := range []string{`"Ada ""The Countess"" Lovelace"`, `"Babbage, Charles"`, "\"Line one\r\nLine two\"", `"'=HYPERLINK(""http://evil.test"",""click"")"`} {
		if !strings.Contains(body, raw) {
			t.Errorf("body lacks %s", raw)
		}
	}

	// The same filters as the JSON listing; an empty result is the header.
	filters := []struct {
		query string
		seqs  []string
	}{
		{"kind=update", []string{"8"}},
		{"objectType=group", []string{"10"}},
		{"objectType=user&kind=add&q=acme.test", []string{"1", "2", "3", "4", "5", "6", "7"}},
		{"q=babbage", []string{"2"}},
		{"excluded=true", []string{"2"}},
		{"excluded=false&kind=add&objectType=user", []string{"1", "3", "4", "5", "6", "7"}},
		{"kind=deactivate", nil},
		{"outcome=applied", nil},
	}
	for _, f := range filters {
		rec := e.raw(t, acmeAdmin, path+"?"+f.query, "Accept", "text/csv")
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d\n%s", f.query, rec.Code, rec.Body)
		}
		rows := parseCSV(t, rec.Body.String())
		var seqs []string
		for _, r := range rows[1:] {
			seqs = append(seqs, r[0])
		}
		if !slices.Equal(seqs, f.seqs) {
			t.Errorf("%s: seqs %v, want %v", f.query, seqs, f.seqs)
		}
		// The JSON listing agrees.
		items := e.do(t, &acmeAdmin, http.MethodGet, path+"?limit=100&"+f.query, "").mustStatus(t, http.StatusOK).items()
		if len(items) != len(f.seqs) {
			t.Errorf("%s: JSON has %d changes, CSV %d", f.query, len(items), len(f.seqs))
		}
		if len(f.seqs) == 0 && rec.Body.String() != header {
			t.Errorf("%s: empty export = %q, want the header row only", f.query, rec.Body)
		}
	}

	// Refusals, in the error shape (and as docs/openapi.yaml says).
	refusals := []struct {
		name    string
		caller  auth.Claims
		path    string
		accept  string
		status  int
		code    string
		message string
	}{
		{"html only", acmeAdmin, path, "text/html", http.StatusNotAcceptable, CodeNotAcceptable, "application/json or text/csv"},
		{"csv refused", acmeAdmin, path, "text/csv;q=0", http.StatusNotAcceptable, CodeNotAcceptable, ""},
		{"limit", acmeAdmin, path + "?limit=10", "text/csv", http.StatusBadRequest, domain.EInvalid, "limit: does not apply"},
		{"malformed cursor", acmeAdmin, path + "?cursor=abc", "text/csv", http.StatusBadRequest, domain.EInvalid, "cursor"},
		{"bad filter", acmeAdmin, path + "?kind=nope", "text/csv", http.StatusBadRequest, domain.EInvalid, "kind"},
		{"unknown parameter", acmeAdmin, path + "?format=csv", "text/csv", http.StatusBadRequest, domain.EInvalid, "format"},
		{"other tenant", otherAdmin, path, "text/csv", http.StatusNotFound, domain.ENotFound, ""},
		{"missing sync", acmeAdmin, "/v1/syncs/nope/changes", "text/csv", http.StatusNotFound, domain.ENotFound, ""},
		{"not admin", acmeUser, path, "text/csv", http.StatusForbidden, domain.EForbidden, ""},
	}
	for _, tc := range refusals {
		r := e.do(t, &tc.caller, http.MethodGet, tc.path, "", "Accept", tc.accept)
		if r.Status != tc.status || r.errorCode() != tc.code || !strings.Contains(r.errorMessage(), tc.message) {
			t.Errorf("%s: %d %q %q, want %d %q ~%q", tc.name, r.Status, r.errorCode(), r.errorMessage(), tc.status, tc.code, tc.message)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", tc.name, ct)
		}
	}
	// JSON stays the default, whatever the wildcard.
	for _, accept := range []string{"", "application/json", "*/*"} {
		r := e.do(t, &acmeAdmin, http.MethodGet, path, "", "Accept", accept).mustStatus(t, http.StatusOK)
		if len(r.items()) != 10 || r.Header.Get("Vary") != "Accept" {
			t.Errorf("Accept %q: %d items, Vary %q", accept, len(r.items()), r.Header.Get("Vary"))
		}
	}
}

// pagedSyncs counts the export's reads; every read after the first
// slowFrom of them waits delay, so a timeout falls between two reads
// however loaded the machine is.
type pagedSyncs struct {
	SyncStore
	reads, slowFrom int
	delay           time.Duration
}

func (p *pagedSyncs) ListChanges(ctx context.Context, tenant, syncID string, f domain.ChangeFilter, pg domain.Page) ([]domain.Change, string, error) {
	p.reads++
	if p.delay > 0 && p.reads > p.slowFrom {
		select {
		case <-time.After(p.delay):
		case <-ctx.Done():
			return nil, "", fmt.Errorf("store: list changes: %w", ctx.Err())
		}
	}
	return p.SyncStore.ListChanges(ctx, tenant, syncID, f, pg)
}

// exportParts follows an export's Link headers from path, and returns the
// parts' bodies.
func (e *env) exportParts(t *testing.T, path string) []string {
	t.Helper()
	var parts []string
	for path != "" {
		rec := e.raw(t, acmeAdmin, path, "Accept", "text/csv")
		if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") {
			t.Fatalf("GET %s = %d %s\n%s", path, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
		parts = append(parts, rec.Body.String())
		path = ""
		if link := rec.Header().Get("Link"); link != "" {
			target, rel, ok := strings.Cut(link, ">; ")
			if !ok || rel != `rel="next"` || !strings.HasPrefix(target, "</v1/syncs/") {
				t.Fatalf("Link %q", link)
			}
			path = strings.TrimPrefix(target, "<")
		}
		if len(parts) > 100 {
			t.Fatal("the export does not end")
		}
	}
	return parts
}

// An export larger than one part arrives in parts, each within the limit
// and cut between changes, which concatenated are the export read whole.
func TestExportParts(t *testing.T) {
	e := newEnv(t)
	e.putConnection(t, acmeAdmin)
	id := e.startSyncWithPlan(t, acmeAdmin, samplePlan(40)) // 43 changes
	path := "/v1/syncs/" + id + "/changes"
	syncs := &pagedSyncs{SyncStore: e.h.deps.Syncs}
	e.h.deps.Syncs = syncs
	e.h.exportPageSize = 10

	whole := e.exportParts(t, path)
	if rows := parseCSV(t, whole[0]); len(whole) != 1 || len(rows) != 44 || syncs.reads != 5 {
		t.Fatalf("%d parts, %d rows, %d reads; want 44 rows in one part, 5 reads of 10", len(whole), len(rows), syncs.reads)
	}
	size := len(whole[0])
	firstPage := len(strings.Join(strings.SplitAfter(whole[0], "\r\n")[:11], "")) // the header and 10 changes

	cases := []struct {
		name      string
		query     string
		maxBytes  int
		slowFrom  int // reads at once, then each outlasts the timeout
		wantParts int
	}{
		{"exactly at the limit", "", size, 0, 1},
		{"one byte over: the last page is the next part", "", size - 1, 0, 2},
		{"a page per part", "", firstPage, 0, 5},
		{"a page too large alone is read in smaller ones", "", firstPage / 3, 0, 0}, // 0: more parts than pages
		{"a filter", "?kind=update", size, 0, 1},
		{"out of time after a page: the rest in the next part", "", size, 1, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.h.exportMaxBytes, e.h.exportTimeout, e.h.exportPageSize = tc.maxBytes, time.Minute, 10
			syncs.delay, syncs.slowFrom = 0, 0
			if tc.slowFrom > 0 {
				e.h.exportTimeout, syncs.delay = time.Second, time.Minute
			}
			var parts []string
			if tc.slowFrom > 0 {
				// Each request reads one page at once, then runs out of time.
				for p := path + tc.query; p != ""; {
					syncs.reads, syncs.slowFrom = 0, tc.slowFrom
					rec := e.raw(t, acmeAdmin, p, "Accept", "text/csv")
					if rec.Code != http.StatusOK {
						t.Fatalf("GET %s = %d\n%s", p, rec.Code, rec.Body)
					}
					parts = append(parts, rec.Body.String())
					target, _, _ := strings.Cut(rec.Header().Get("Link"), ">; ")
					p = strings.TrimPrefix(target, "<")
				}
			} else {
				parts = e.exportParts(t, path+tc.query)
			}
			if len(parts) != tc.wantParts && (tc.wantParts != 0 || len(parts) <= 5) {
				t.Fatalf("%d parts, want %d", len(parts), tc.wantParts)
			}
			for i, p := range parts {
				if len(p) > tc.maxBytes {
					t.Errorf("part %d is %d bytes, over %d", i, len(p), tc.maxBytes)
				}
				if i > 0 && strings.HasPrefix(p, "seq,objectType") {
					t.Errorf("part %d repeats the header row", i)
				}
			}
			e.h.exportMaxBytes, e.h.exportTimeout, syncs.delay = MaxExportBytes, time.Minute, 0
			want := e.exportParts(t, path+tc.query)
			if got := strings.Join(parts, ""); got != want[0] {
				t.Fatalf("the parts concatenated differ from the export read whole:\n%s\nwant\n%s", got, want[0])
			}
		})
	}

	// Nothing read within the timeout: refused, no CSV.
	e.h.exportMaxBytes, e.h.exportTimeout, syncs.delay, syncs.reads, syncs.slowFrom = MaxExportBytes, time.Second, time.Minute, 0, 0
	r := e.do(t, &acmeAdmin, http.MethodGet, path, "", "Accept", "text/csv")
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.errorMessage(), "no change of the export was read within 1s") {
		t.Fatalf("a read outlasting the timeout: %d %q", r.Status, r.errorMessage())
	}
}

package localstack

import (
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"dirsync/internal/domain"
	"dirsync/internal/httpapi"
	"dirsync/local/fakeentra"
)

// getAccept sends a GET with an Accept header and returns the raw answer.
func (c *client) getAccept(path, accept string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest("GET", c.stack.URL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, string(raw)
}

// exportParts follows a CSV export from path through its Link headers
// and returns its parts, checking each is CSV of at most one part's size.
func (c *client) exportParts(path string) []string {
	c.t.Helper()
	var parts []string
	for path != "" {
		resp, body := c.getAccept(path, "text/csv")
		if resp.StatusCode != http.StatusOK || len(body) > httpapi.MaxExportBytes {
			c.t.Fatalf("GET %s as CSV = %d, %d bytes", path, resp.StatusCode, len(body))
		}
		parts = append(parts, body)
		path = ""
		if link := resp.Header.Get("Link"); link != "" {
			target, rel, ok := strings.Cut(link, ">; ")
			if !ok || rel != `rel="next"` {
				c.t.Fatalf("Link %q", link)
			}
			path = strings.TrimPrefix(target, "<")
		}
	}
	return parts
}

// csvRow is the export's row for a change, by the rules docs/openapi.yaml
// states, written out here apart from the handler's code.
func csvRow(ch changeBody) []string {
	var fields []string
	for _, f := range ch.Fields {
		show := func(v string) string {
			if v == "" {
				return "(empty)"
			}
			return v
		}
		fields = append(fields, f.Name+": "+show(f.Before)+" → "+show(f.After))
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	row := []string{strconv.Itoa(ch.Seq), ch.ObjectType, ch.Kind, ch.Subject.Email, ch.Subject.DisplayName, ch.Subject.ExternalID,
		str(ch.TargetID), strings.Join(fields, "; "), str(ch.Reason), strconv.FormatBool(ch.Excluded), str(ch.Outcome), str(ch.OutcomeReason)}
	for i, cell := range row {
		if cell != "" && strings.ContainsAny(cell[:1], "=+-@\t\r") {
			row[i] = "'" + cell
		}
	}
	return row
}

// The CSV export through API Gateway and the preview function's real
// bootstrap: every change of a preview, parsed back, is the JSON listing's;
// a filter exports what it lists; names that would run as spreadsheet
// formulas are defused; another tenant's sync is 404.
func TestExportChangesAsCSV(t *testing.T) {
	ctx := context.Background()
	c := adminOf(t, "initech")
	dir := fakeentra.Generate(fakeentra.Spec{TenantID: "c0ffee00-1417-4e17-9a00-00000000cafe", Domain: "initech.onmicrosoft.com", Seed: 47, Users: 150})
	var members []int
	for i, u := range dir.Users {
		if u.AccountEnabled && u.UserType == "Member" && u.Mail != nil {
			members = append(members, i)
		}
	}
	// What a directory may hold and a spreadsheet must not run.
	dir.Users[members[0]].DisplayName = `=HYPERLINK("http://evil.test","open")`
	dir.Users[members[1]].DisplayName = "Lumbergh, \"Bill\"\nVice President"
	dir.Users[members[2]].DisplayName = "@SUM(1+1)"
	// A manual user the sync links by email: an update with fields.
	if err := stack.Store.SeedUsers(ctx, "initech", []domain.User{{PlatformUser: domain.PlatformUser{
		Email: *dir.Users[members[3]].Mail, Source: domain.SourceManual, Status: domain.StatusActive,
		Attributes: domain.Attrs{{Name: "displayName", Value: "Old Name"}},
	}}}); err != nil {
		t.Fatal(err)
	}
	connectTenant(t, c, dir, `{}`)
	sy := c.preview()
	if sy.Status != string(domain.SyncPreviewReady) {
		t.Fatalf("preview = %+v", sy)
	}
	base := "/v1/syncs/" + sy.ID + "/changes"

	export := func(query string) [][]string {
		t.Helper()
		resp, body := c.getAccept(base+query, "text/csv")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s as CSV = %d %s", base+query, resp.StatusCode, body)
		}
		if ct, cd := resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"); ct != "text/csv; charset=utf-8" ||
			cd != `attachment; filename="sync-`+sy.ID+`-changes.csv"` {
			t.Fatalf("Content-Type %q, Content-Disposition %q", ct, cd)
		}
		if !strings.HasSuffix(body, "\r\n") || strings.Contains(strings.ReplaceAll(body, "\r\n", ""), "\n") {
			t.Fatalf("line ends are not CRLF: %q", body[:min(len(body), 300)])
		}
		r := csv.NewReader(strings.NewReader(body))
		r.FieldsPerRecord = 12
		rows, err := r.ReadAll()
		if err != nil {
			t.Fatalf("export is not CSV: %v", err)
		}
		if want := "seq,objectType,kind,email,displayName,externalId,targetId,fields,reason,excluded,outcome,outcomeReason"; strings.Join(rows[0], ",") != want {
			t.Fatalf("header %q", rows[0])
		}
		return rows[1:]
	}
	want := func(query string) [][]string {
		var rows [][]string
		for _, ch := range c.changes(sy.ID, query) {
			rows = append(rows, csvRow(ch))
		}
		return rows
	}

	all := export("")
	if len(all) < 100 {
		t.Fatalf("%d changes exported, want the preview's (over 100: more than a page)", len(all))
	}
	if w := want(""); !slices.EqualFunc(all, w, slices.Equal) {
		t.Fatalf("the CSV (%d rows) is not the JSON listing (%d changes)", len(all), len(w))
	}
	var defused, updates int
	for _, row := range all {
		if strings.HasPrefix(row[4], "'=HYPERLINK") || strings.HasPrefix(row[4], "'@SUM") {
			defused++
		}
		if row[2] == "update" && strings.Contains(row[7], "displayName: Old Name → ") {
			updates++
		}
	}
	if defused != 2 || updates != 1 {
		t.Errorf("%d formula names defused (want 2), %d linked update with fields (want 1)", defused, updates)
	}

	for _, q := range []string{"?kind=update", "?objectType=user&kind=add&q=lumbergh", "?objectType=group", "?kind=remove"} {
		got := export(q)
		if w := want("&" + q[1:]); !slices.EqualFunc(got, w, slices.Equal) {
			t.Errorf("%s: CSV %q, JSON %q", q, got, w)
		}
	}
	if got := export("?q=lumbergh"); len(got) != 1 || got[0][4] != "Lumbergh, \"Bill\"\nVice President" {
		t.Errorf("q=lumbergh exported %q", got)
	}

	// Another tenant's sync is not found; an Accept allowing neither
	// representation is 406; both in the error shape.
	for _, tc := range []struct {
		who    *client
		accept string
		status int
		code   string
	}{
		{adminOf(t, DemoTenantAcme), "text/csv", http.StatusNotFound, "not_found"},
		{c, "text/html", http.StatusNotAcceptable, "not_acceptable"},
	} {
		resp, body := tc.who.getAccept(base, tc.accept)
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(body, `"code":"`+tc.code+`"`) {
			t.Errorf("Accept %s: %d %s %s", tc.accept, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}

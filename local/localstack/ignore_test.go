package localstack

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"dirsync/internal/domain"
	"dirsync/internal/httpapi"
	"dirsync/local/fakeentra"
)

// The connection's ignoredUsers, over HTTP through the real functions: a
// new Entra user, a linked one whose attributes changed in Entra ID, and a
// linked one deleted from it (deactivateMissing on) are counted as ignored,
// listed with reason ignored_by_admin, and a confirm leaves those platform
// users exactly as they were (and creates no user for the new one).
func TestIgnoredUsersAreLeftAlone(t *testing.T) {
	ctx := context.Background()
	const tenant = "initrode"
	c := adminOf(t, tenant)
	dir := fakeentra.Generate(fakeentra.Spec{TenantID: "1a0ed000-5017-4e17-9a00-00000000beef", Domain: "initrode.onmicrosoft.com", Seed: 41, Users: 60})
	var members []*fakeentra.User
	for i := range dir.Users {
		if u := &dir.Users[i]; u.Mail != nil && u.AccountEnabled && u.UserType == "Member" {
			members = append(members, u)
		}
	}
	newcomer, changed := members[0], members[1]
	const goneID = "0d0d0d0d-0000-4000-8000-000000000001"
	seed := []domain.User{
		{PlatformUser: domain.PlatformUser{ // linked, with a job title Entra ID no longer has
			Email: *changed.Mail, Source: domain.SourceEntra, Status: domain.StatusActive,
			ExternalID: changed.ID, ExternalTenantID: dir.ID,
			Attributes: domain.Attrs{{Name: "displayName", Value: "Old Name"}, {Name: "jobTitle", Value: "Stale title"}},
		}},
		{PlatformUser: domain.PlatformUser{ // linked, deleted from Entra ID
			Email: "gone@initrode.example", Source: domain.SourceEntra, Status: domain.StatusActive,
			ExternalID: goneID, ExternalTenantID: dir.ID,
		}},
	}
	if err := stack.Store.SeedUsers(ctx, tenant, seed); err != nil {
		t.Fatal(err)
	}
	ignored := []string{strings.ToUpper(newcomer.ID), changed.ID, goneID}
	connectTenant(t, c, dir, `{"deactivateMissing":true,"ignoredUsers":["`+strings.Join(ignored, `","`)+`"]}`)

	byExternal := func() map[string]userBody {
		m := map[string]userBody{}
		for _, u := range c.users() {
			m[strings.ToLower(u.ExternalID)] = u
			m[strings.ToLower(u.Email)] = u
		}
		return m
	}
	before := byExternal()

	sy := c.preview()
	if sy.Status != string(domain.SyncPreviewReady) || sy.Counts.Users.Ignored != 3 || sy.Counts.Users.Deactivate != 0 {
		t.Fatalf("preview = %s %+v, want 3 ignored and no deactivation", sy.Status, sy.Counts.Users)
	}
	want := map[string]bool{strings.ToLower(newcomer.ID): true, changed.ID: true, goneID: true}
	for _, ch := range c.changes(sy.ID, "&objectType=user") {
		id := strings.ToLower(ch.Subject.ExternalID)
		switch {
		case ch.Reason != nil && *ch.Reason == domain.ReasonIgnoredByAdmin:
			if ch.Kind != "skip" || !want[id] {
				t.Errorf("change %d (%s %s) is ignored_by_admin", ch.Seq, ch.Kind, id)
			}
			delete(want, id)
		case id == strings.ToLower(newcomer.ID) || id == changed.ID || id == goneID:
			t.Errorf("change %d %s touches ignored user %s", ch.Seq, ch.Kind, id)
		}
	}
	if len(want) != 0 {
		t.Fatalf("ignored users not listed as ignored_by_admin: %v", want)
	}

	if code := c.do("POST", "/v1/syncs/"+sy.ID+"/confirm", `{}`, nil); code != 202 {
		t.Fatalf("confirm = %d", code)
	}
	if p := c.waitApplied(sy.ID); p.Status != string(domain.SyncCompleted) {
		t.Fatalf("apply ended %+v", p)
	}
	after := byExternal()
	for _, id := range []string{changed.ID, goneID} {
		if !reflect.DeepEqual(before[id], after[id]) || after[id].ID == "" {
			t.Errorf("ignored platform user %s changed:\nbefore %+v\n after %+v", id, before[id], after[id])
		}
	}
	if u, ok := after[strings.ToLower(newcomer.ID)]; ok {
		t.Errorf("ignored Entra user %s was created: %+v", newcomer.ID, u)
	}
	if u, ok := after[strings.ToLower(*newcomer.Mail)]; ok {
		t.Errorf("a user with the ignored user's email was created: %+v", u)
	}
	if len(after) <= len(before) {
		t.Errorf("the other users were not imported: %d keys before, %d after", len(before), len(after))
	}
}

// TestTenThousandIgnoredUsers fills the ignore list to its limit through
// the API (in edits of a thousand: the whole list is 390 KB of JSON, far
// past the 64 KiB body limit) and checks a preview leaves every one out,
// while the connection and the syncs stay small enough to read.
func TestTenThousandIgnoredUsers(t *testing.T) {
	const tenant, ignoredInScope = "globex-ignores", 9_000
	c := adminOf(t, tenant)
	dir := fakeentra.Generate(fakeentra.Spec{TenantID: "1a0ed000-1000-4e17-9a00-0000000010a0", Domain: "globexignores.onmicrosoft.com", Seed: 43, Users: 36_000}) // its CSV (about 130 B a change) is over one part
	mails := map[string]int{}
	for _, u := range dir.Users {
		if u.Mail != nil {
			mails[strings.ToLower(*u.Mail)]++
		}
	}
	// In-scope users with a mail of their own, then ids Entra ID does not
	// have (users deleted there, say): every kind of entry counts.
	var ids []string
	for _, u := range dir.Users {
		if len(ids) < ignoredInScope && u.Mail != nil && mails[strings.ToLower(*u.Mail)] == 1 && u.AccountEnabled && u.UserType == "Member" {
			ids = append(ids, u.ID)
		}
	}
	if len(ids) != ignoredInScope {
		t.Fatalf("the generated tenant has only %d users to ignore", len(ids))
	}
	for i := len(ids); i < domain.MaxIgnoredUsers; i++ {
		ids = append(ids, fmt.Sprintf("0e0e0e0e-%04x-4000-8000-%012x", i%0x10000, i))
	}
	connectTenant(t, c, dir, `{}`)

	whole, _ := json.Marshal(map[string]any{"directoryTenantId": dir.ID, "clientId": dir.Apps[0].ClientID, "options": map[string]any{"ignoredUsers": ids}})
	if code := c.do("PUT", "/v1/connection", whole, nil); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("PUT with %d ignored users (%d bytes) = %d, want 413", len(ids), len(whole), code)
	}
	type edit struct {
		IDs     []string `json:"ids"`
		Ignored bool     `json:"ignored"`
	}
	var answer struct{ Count, Changed int }
	for from := 0; from < len(ids); from += domain.MaxIgnoredUsersPerEdit {
		part := ids[from : from+domain.MaxIgnoredUsersPerEdit]
		if i := from / domain.MaxIgnoredUsersPerEdit; i%2 == 1 {
			part[0] = strings.ToUpper(part[0]) // ids are compared without case
		}
		if code := c.do("POST", "/v1/connection/ignored-users", edit{part, true}, &answer); code != 200 || answer.Count != from+len(part) || answer.Changed != len(part) {
			t.Fatalf("edit at %d = %d %+v", from, code, answer)
		}
	}
	for i := range ids {
		ids[i] = strings.ToLower(ids[i])
	}
	if code := c.do("POST", "/v1/connection/ignored-users", edit{ids[:3], true}, &answer); code != 200 || answer.Count != len(ids) || answer.Changed != 0 {
		t.Fatalf("ignoring users already ignored = %d %+v, want 200 and nothing changed", code, answer)
	}
	for name, tc := range map[string]struct {
		body string
		want int
	}{
		"past the limit":               {`{"ids":["0f0f0f0f-0000-4000-8000-000000000001"],"ignored":true}`, http.StatusUnprocessableEntity},
		"more than a thousand at once": {fmt.Sprintf(`{"ids":[%s"%s"],"ignored":false}`, strings.Repeat(`"`+ids[0]+`",`, domain.MaxIgnoredUsersPerEdit), ids[0]), http.StatusBadRequest},
		"no ignored":                   {`{"ids":["` + ids[0] + `"]}`, http.StatusBadRequest},
		"not a GUID":                   {`{"ids":["bob@globex.example"],"ignored":true}`, http.StatusBadRequest},
	} {
		if code := c.do("POST", "/v1/connection/ignored-users", tc.body, nil); code != tc.want {
			t.Errorf("%s: edit = %d, want %d", name, code, tc.want)
		}
	}
	if code := adminOf(t, "globex-ignores-other").do("POST", "/v1/connection/ignored-users", edit{ids[:1], true}, nil); code != http.StatusNotFound {
		t.Errorf("another tenant (without a connection) edits = %d, want 404", code)
	}

	// Replacing the connection without the list keeps it.
	keep := fmt.Sprintf(`{"directoryTenantId":%q,"clientId":%q,"options":{"includeGuests":false}}`, dir.ID, dir.Apps[0].ClientID)
	if code := c.do("PUT", "/v1/connection", keep, nil); code != 200 {
		t.Fatalf("PUT without ignoredUsers = %d", code)
	}
	var conn struct {
		Options struct {
			IgnoredUsers []string `json:"ignoredUsers"`
		} `json:"options"`
	}
	if code := c.do("GET", "/v1/connection", nil, &conn); code != 200 || !slices.Equal(conn.Options.IgnoredUsers, ids) {
		t.Fatalf("GET /v1/connection = %d with %d ignored users, want the %d in the order added", code, len(conn.Options.IgnoredUsers), len(ids))
	}

	sy := c.preview()
	if sy.Status != string(domain.SyncPreviewReady) || sy.Counts.Users.Ignored != ignoredInScope {
		t.Fatalf("preview = %s %+v %v, want %d ignored", sy.Status, sy.Counts.Users, sy.Error, ignoredInScope)
	}
	ignored := map[string]bool{}
	for _, id := range ids {
		ignored[id] = true
	}
	adds := c.changes(sy.ID, "&objectType=user&kind=add")
	if len(adds) != sy.Counts.Users.Add || len(adds) == 0 {
		t.Fatalf("%d adds listed, the counts say %d", len(adds), sy.Counts.Users.Add)
	}
	for _, ch := range adds {
		if ignored[strings.ToLower(ch.Subject.ExternalID)] {
			t.Fatalf("change %d adds ignored user %s", ch.Seq, ch.Subject.ExternalID)
		}
	}
	// The sync pins the list by version and shows its size, not its ids.
	var got map[string]any
	if code := c.do("GET", "/v1/syncs/"+sy.ID, nil, &got); code != 200 {
		t.Fatalf("GET sync = %d", code)
	}
	opts, _ := got["options"].(map[string]any)
	if _, listed := opts["ignoredUsers"]; listed || opts["ignoredUserCount"] != float64(len(ids)) {
		t.Fatalf("sync options = %v, want ignoredUserCount %d and no list", opts, len(ids))
	}

	// The export of every change arrives in parts no Lambda response
	// refuses, which together hold each change once, in order.
	parts := c.exportParts("/v1/syncs/" + sy.ID + "/changes")
	r := csv.NewReader(strings.NewReader(strings.Join(parts, "")))
	r.FieldsPerRecord = len(httpapi.ExportColumns)
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("the parts together are not CSV: %v", err)
	}
	listed := c.changes(sy.ID, "")
	if len(rows)-1 != len(listed) || len(parts) < 2 {
		t.Fatalf("%d parts (%d bytes) with %d changes; the listing has %d, in more than one part", len(parts), len(strings.Join(parts, "")), len(rows)-1, len(listed))
	}
	for i, row := range rows[1:] {
		if row[0] != strconv.Itoa(listed[i].Seq) {
			t.Fatalf("row %d is change %s, the listing's is %d", i+1, row[0], listed[i].Seq)
		}
	}

	// Importing users again frees room.
	if code := c.do("POST", "/v1/connection/ignored-users", edit{ids[:domain.MaxIgnoredUsersPerEdit], false}, &answer); code != 200 || answer.Count != len(ids)-domain.MaxIgnoredUsersPerEdit || answer.Changed != domain.MaxIgnoredUsersPerEdit {
		t.Fatalf("stop ignoring a thousand = %d %+v", code, answer)
	}
}

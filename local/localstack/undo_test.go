package localstack

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"dirsync/internal/domain"
	"dirsync/local/fakeentra"
)

// dumpedUser is a user as the API shows it, every attribute included.
type dumpedUser map[string]any

// directoryDump is the tenant's whole directory through the API: users by
// email (their groups by display name), groups by display name with their
// members' emails, and the groups' descriptions. Ids of groups are left
// out: a group an undo adds back has a new one.
type directoryDump struct {
	users        map[string]dumpedUser
	groups       map[string][]string
	descriptions map[string]string
}

func (c *client) dump() directoryDump {
	c.t.Helper()
	d := directoryDump{users: map[string]dumpedUser{}, groups: map[string][]string{}, descriptions: map[string]string{}}
	idToEmail := map[string]string{}
	for cursor := ""; ; {
		var page struct {
			Items      []dumpedUser `json:"items"`
			NextCursor string       `json:"nextCursor"`
		}
		if code := c.do("GET", "/v1/users?limit=100&cursor="+cursor, nil, &page); code != http.StatusOK {
			c.t.Fatalf("GET /v1/users = %d", code)
		}
		for _, u := range page.Items {
			email := strings.ToLower(u["email"].(string))
			idToEmail[u["id"].(string)] = email
			// What the sync does not own: revision and timestamps move
			// with every write, also the undo's.
			for _, k := range []string{"revision", "updatedAt", "createdAt"} {
				delete(u, k)
			}
			var groups []string
			listed, _ := u["groups"].([]any)
			for _, g := range listed {
				groups = append(groups, g.(map[string]any)["displayName"].(string))
			}
			slices.Sort(groups)
			u["groups"] = groups
			d.users[email] = u
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	var groups struct {
		Items []struct {
			ID          string `json:"id"`
			DisplayName string `json:"displayName"`
			Description string `json:"description"`
		} `json:"items"`
		NextCursor string `json:"nextCursor"`
	}
	if code := c.do("GET", "/v1/groups?limit=100", nil, &groups); code != http.StatusOK || groups.NextCursor != "" {
		c.t.Fatalf("GET /v1/groups = %d (next %q)", code, groups.NextCursor)
	}
	for _, g := range groups.Items {
		var members []string
		for cursor := ""; ; {
			var page struct {
				Items      []struct{ Email string } `json:"items"`
				NextCursor string                   `json:"nextCursor"`
			}
			if code := c.do("GET", "/v1/groups/"+g.ID+"/members?limit=100&cursor="+cursor, nil, &page); code != http.StatusOK {
				c.t.Fatalf("GET members of %s = %d", g.DisplayName, code)
			}
			for _, m := range page.Items {
				members = append(members, strings.ToLower(m.Email))
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		slices.Sort(members)
		d.groups[g.DisplayName] = members
		d.descriptions[g.DisplayName] = g.Description
	}
	return d
}

// equalUsers fails t, naming the first user that differs, unless got and
// want hold the same users, attribute for attribute.
func equalUsers(t *testing.T, got, want directoryDump, what string) {
	t.Helper()
	for email, u := range got.users {
		if asJSON(u) != asJSON(want.users[email]) {
			t.Fatalf("user %s %s\n%s\nwant\n%s", email, what, asJSON(u), asJSON(want.users[email]))
		}
	}
	if len(got.users) != len(want.users) {
		t.Fatalf("%d users %s, want %d", len(got.users), what, len(want.users))
	}
}

func (c *client) waitPreview(syncID string) syncBody {
	c.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		var sy syncBody
		if code := c.do("GET", "/v1/syncs/"+syncID, nil, &sy); code != http.StatusOK {
			c.t.Fatalf("GET sync = %d", code)
		}
		if sy.Status != string(domain.SyncPreviewing) {
			return sy
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatal("preview did not finish within 2 minutes")
	return syncBody{}
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Undo end to end: a sync adds, links by email, updates and deactivates
// users and adds groups with members; its undo, confirmed, brings every
// user, field, group and membership the sync touched back to its state
// before the sync (the users it added are kept, deactivated), except a
// user edited in between, which is a conflict and left as edited.
func TestUndoRestoresTheDirectory(t *testing.T) {
	ctx := context.Background()
	c := adminOf(t, "vandelay")
	dir := fakeentra.Generate(fakeentra.Spec{TenantID: "d00dfeed-0000-4e17-9a00-00000000f00d", Domain: "vandelay.onmicrosoft.com", Seed: 41, Users: 120})
	byID := map[string]*fakeentra.User{}
	for i := range dir.Users {
		byID[dir.Users[i].ID] = &dir.Users[i]
	}
	var manual, stale, edited *fakeentra.User
	for i := range dir.Users {
		u := &dir.Users[i]
		if !u.AccountEnabled || u.UserType != "Member" || u.Mail == nil || u.JobTitle == "" {
			continue
		}
		switch {
		case manual == nil:
			manual = u
		case stale == nil:
			stale = u
		case edited == nil:
			edited = u
		}
	}
	staleAttrs := func(u *fakeentra.User) domain.Attrs {
		attrs := MappedAttributes(u, byID)
		for i := range attrs {
			if attrs[i].Name == "jobTitle" {
				attrs[i].Value = "Trainee"
			}
		}
		return attrs
	}
	seed := []domain.User{
		{PlatformUser: domain.PlatformUser{Email: *manual.Mail, Source: domain.SourceManual, Attributes: domain.Attrs{{Name: "jobTitle", Value: "Temp"}}}},
		{PlatformUser: domain.PlatformUser{Email: *stale.Mail, Source: domain.SourceEntra, ExternalID: stale.ID, ExternalTenantID: dir.ID, Attributes: staleAttrs(stale)}},
		{PlatformUser: domain.PlatformUser{Email: *edited.Mail, Source: domain.SourceEntra, ExternalID: edited.ID, ExternalTenantID: dir.ID, Attributes: staleAttrs(edited)}},
	}
	for i := 0; i < 3; i++ {
		seed = append(seed, domain.User{PlatformUser: domain.PlatformUser{
			Email: fmt.Sprintf("left%d@vandelay.example", i), Source: domain.SourceEntra,
			ExternalID: fmt.Sprintf("00000000-0000-4000-9000-%012d", i), ExternalTenantID: dir.ID,
		}})
	}
	if err := stack.Store.SeedUsers(ctx, "vandelay", seed); err != nil {
		t.Fatal(err)
	}
	connectTenant(t, c, dir, `{"deactivateMissing":true,"deactivationThreshold":{"percent":100,"count":100000}}`)
	before := c.dump()

	sy := c.preview()
	if sy.Status != string(domain.SyncPreviewReady) || sy.Counts.Users.Add == 0 || sy.Counts.Users.Update < 3 || sy.Counts.Users.Deactivate != 3 || sy.Counts.Groups.Add == 0 {
		t.Fatalf("preview %+v", sy)
	}
	// Undo refuses a sync that did not apply.
	if code := c.do("POST", "/v1/syncs/"+sy.ID+"/undo", nil, nil); code != http.StatusConflict {
		t.Fatalf("undo of a ready preview = %d, want 409", code)
	}
	if code := c.do("POST", "/v1/syncs/"+sy.ID+"/confirm", `{}`, nil); code != http.StatusAccepted {
		t.Fatalf("confirm = %d", code)
	}
	if p := c.waitApplied(sy.ID); p.Status != string(domain.SyncCompleted) {
		t.Fatalf("apply %+v", p)
	}
	after := c.dump()

	// An admin edits one of the users the sync updated.
	editedUser := after.users[strings.ToLower(*edited.Mail)]
	if code := c.do("PATCH", "/v1/users/"+editedUser["id"].(string), `{"attributes":{"jobTitle":"Edited by hand"}}`, nil); code != http.StatusOK {
		t.Fatalf("PATCH user = %d", code)
	}

	if code := adminOf(t, "kramerica").do("POST", "/v1/syncs/"+sy.ID+"/undo", nil, nil); code != http.StatusNotFound {
		t.Fatalf("another tenant's undo = %d, want 404", code)
	}
	var started struct {
		ID     string `json:"id"`
		Kind   string `json:"kind"`
		Undoes string `json:"undoes"`
		Status string `json:"status"`
	}
	if code := c.do("POST", "/v1/syncs/"+sy.ID+"/undo", nil, &started); code != http.StatusAccepted ||
		started.Kind != "undo" || started.Undoes != sy.ID || started.Status != string(domain.SyncPreviewing) {
		t.Fatalf("undo = %d %+v", code, started)
	}
	undo := c.waitPreview(started.ID)
	cu := undo.Counts.Users
	if undo.Status != string(domain.SyncPreviewReady) || cu.Deactivate != sy.Counts.Users.Add || cu.Reactivate != 3 ||
		cu.Update != sy.Counts.Users.Update || undo.Counts.Groups.Remove != sy.Counts.Groups.Add {
		t.Fatalf("undo preview %+v of sync %+v", undo.Counts, sy.Counts)
	}
	conflicted := 0
	for _, ch := range c.changes(undo.ID, "") {
		if ch.Reason != nil && *ch.Reason == domain.ReasonChangedSinceSync {
			conflicted++
			if !strings.EqualFold(ch.Subject.Email, *edited.Mail) {
				t.Fatalf("change %+v marked changed since the sync; only %s was", ch, *edited.Mail)
			}
		}
	}
	if conflicted != 1 {
		t.Fatalf("%d changes marked changed since the sync, want 1", conflicted)
	}
	if code := c.do("POST", "/v1/syncs/"+undo.ID+"/confirm", `{"allowDeactivations":true}`, nil); code != http.StatusAccepted {
		t.Fatalf("confirm undo = %d", code)
	}
	p := c.waitApplied(undo.ID)
	if p.Status != string(domain.SyncCompletedWithErrors) || p.Conflicts != 1 || p.Processed != p.Total {
		t.Fatalf("undo apply %+v, want every change processed and the edited user a conflict", p)
	}

	undone := c.dump()
	if !maps.EqualFunc(undone.groups, before.groups, slices.Equal) {
		t.Fatalf("groups after the undo %v, before the sync %v", undone.groups, before.groups)
	}
	for email, u := range undone.users {
		was, existed := before.users[email]
		switch {
		case email == strings.ToLower(*edited.Mail):
			if u["jobTitle"] != "Edited by hand" {
				t.Fatalf("the user edited in between was not left as edited: %v", u)
			}
		case !existed:
			if u["status"] != "inactive" {
				t.Fatalf("user %s the sync added is %v after the undo, want inactive", email, u["status"])
			}
		case asJSON(u) != asJSON(was):
			t.Fatalf("user %s after the undo\n%s\nbefore the sync\n%s", email, asJSON(u), asJSON(was))
		}
	}
	if len(undone.users) != len(after.users) {
		t.Fatalf("%d users after the undo, %d after the sync: an undo deletes nobody", len(undone.users), len(after.users))
	}

	// The undone sync can no longer be undone: a later sync (the undo) applied.
	if code := c.do("POST", "/v1/syncs/"+sy.ID+"/undo", nil, nil); code != http.StatusConflict {
		t.Fatalf("a second undo of the sync = %d, want 409", code)
	}
}

// Undo of a sync that removed a group with members and reactivated a user
// whose fields it changed: the group comes back with its name,
// description and every member, the user inactive with its fields as
// they were; the directory is as it was before the sync.
func TestUndoRestoresARemovedGroupAndAReactivation(t *testing.T) {
	c := adminOf(t, "sterling")
	dir := fakeentra.Generate(fakeentra.Spec{TenantID: "5ca1ab1e-0000-4e17-9a00-0000000da7a5", Domain: "sterling.onmicrosoft.com", Seed: 47, Users: 120})
	connectTenant(t, c, dir, `{"deactivateMissing":true,"deactivationThreshold":{"percent":100,"count":100000}}`)
	apply := func(sy syncBody, body string) {
		t.Helper()
		if code := c.do("POST", "/v1/syncs/"+sy.ID+"/confirm", body, nil); code != http.StatusAccepted {
			t.Fatalf("confirm = %d", code)
		}
		if p := c.waitApplied(sy.ID); p.Status != string(domain.SyncCompleted) {
			t.Fatalf("apply %+v", p)
		}
	}
	update := func(fn func(t *fakeentra.Tenant)) {
		t.Helper()
		if err := stack.Fake.Update(dir.ID, fn); err != nil {
			t.Fatal(err)
		}
	}
	apply(c.preview(), `{}`)
	imported := c.dump()

	// The group to remove: one with members and a description that no
	// other group nests (so its removal changes no other group).
	nested := map[string]bool{}
	for _, g := range dir.Groups {
		for _, id := range g.MemberGroupIDs {
			nested[id] = true
		}
	}
	var removed fakeentra.Group // a copy: its name and id stay as they are
	for _, g := range dir.Groups {
		if !nested[g.ID] && g.Description != "" && len(imported.groups[g.DisplayName]) >= 3 &&
			(removed.ID == "" || len(imported.groups[g.DisplayName]) < len(imported.groups[removed.DisplayName])) {
			removed = g
		}
	}
	if removed.ID == "" {
		t.Fatal("the generated directory has no group to remove")
	}
	// The user to reactivate: an enabled member with a mailbox and a job title.
	var back *fakeentra.User
	for i := range dir.Users {
		if u := &dir.Users[i]; back == nil && u.AccountEnabled && u.UserType == "Member" && u.Mail != nil && u.JobTitle != "" {
			back = u
		}
	}
	// The fake owns dir now (Update changes it): keep what the test needs.
	backID, backEmail, backTitle := back.ID, strings.ToLower(*back.Mail), back.JobTitle
	setUser := func(enabled bool, title string) func(t *fakeentra.Tenant) {
		return func(t *fakeentra.Tenant) {
			for i := range t.Users {
				if t.Users[i].ID == backID {
					t.Users[i].AccountEnabled, t.Users[i].JobTitle = enabled, title
				}
			}
		}
	}

	// A sync deactivates the user (disabled in Entra ID) ...
	update(setUser(false, backTitle))
	left := c.preview()
	if left.Counts.Users.Deactivate != 1 {
		t.Fatalf("the deactivating preview %+v", left.Counts)
	}
	apply(left, `{"allowDeactivations":true}`)
	before := c.dump()
	if before.users[backEmail]["status"] != "inactive" {
		t.Fatalf("%s before the sync undone: %v, want inactive", backEmail, before.users[backEmail])
	}

	// ... and the sync undone reactivates it with a new job title and
	// removes the group.
	update(func(t *fakeentra.Tenant) {
		setUser(true, "Returned from leave")(t)
		t.Groups = slices.DeleteFunc(t.Groups, func(g fakeentra.Group) bool { return g.ID == removed.ID })
	})
	sy := c.preview()
	members := len(before.groups[removed.DisplayName])
	if sy.Counts.Users.Reactivate != 1 || sy.Counts.Groups.Remove != 1 || sy.Counts.Memberships.Remove != members {
		t.Fatalf("preview %+v, want one reactivation and the removal of %q with its %d memberships", sy.Counts, removed.DisplayName, members)
	}
	reactivations := c.changes(sy.ID, "&kind=reactivate")
	if len(reactivations) != 1 || !slices.ContainsFunc(reactivations[0].Fields, func(f domain.FieldChange) bool {
		return f.Name == "jobTitle" && f.Before == backTitle && f.After == "Returned from leave"
	}) {
		t.Fatalf("reactivation %+v, want it to change the job title", reactivations)
	}
	apply(sy, `{"allowDeactivations":true}`)
	after := c.dump()
	if _, still := after.groups[removed.DisplayName]; still || after.users[backEmail]["jobTitle"] != "Returned from leave" {
		t.Fatalf("after the sync: group %q %v, %s %v", removed.DisplayName, after.groups[removed.DisplayName], backEmail, after.users[backEmail])
	}

	var started struct {
		ID string `json:"id"`
	}
	if code := c.do("POST", "/v1/syncs/"+sy.ID+"/undo", nil, &started); code != http.StatusAccepted {
		t.Fatalf("undo = %d", code)
	}
	undo := c.waitPreview(started.ID)
	if cu := undo.Counts; undo.Status != string(domain.SyncPreviewReady) || cu.Users.Deactivate != 1 || cu.Groups.Add != 1 ||
		cu.Memberships.Add != members || cu.Memberships.Remove != sy.Counts.Memberships.Add {
		t.Fatalf("undo preview %+v of sync %+v, want the group back with its %d members", undo.Counts, sy.Counts, members)
	}
	for _, ch := range c.changes(undo.ID, "") {
		if ch.Reason != nil && *ch.Reason == domain.ReasonChangedSinceSync {
			t.Fatalf("change %+v marked changed since the sync; nothing was", ch)
		}
	}
	apply(undo, `{"allowDeactivations":true}`)

	undone := c.dump()
	if !maps.EqualFunc(undone.groups, before.groups, slices.Equal) || !maps.Equal(undone.descriptions, before.descriptions) {
		t.Fatalf("groups after the undo %v (%v), before the sync %v (%v)", undone.groups, undone.descriptions, before.groups, before.descriptions)
	}
	equalUsers(t, undone, before, "after the undo")
}

// Past UNDO_WINDOW a sync can no longer be undone: 410. The stack runs on
// a template whose preview function has a one-second window.
func TestUndoPastItsWindowIsGone(t *testing.T) {
	st := alteredStack(t, [2]string{
		"          PREVIEW_WORKER_FUNCTION: !Ref PreviewWorkerFunction\n",
		"          PREVIEW_WORKER_FUNCTION: !Ref PreviewWorkerFunction\n          UNDO_WINDOW: 1s\n",
	})
	c := adminOn(t, st, "bluth")
	dir := fakeentra.Generate(fakeentra.Spec{TenantID: "b1a7b1a7-0000-4e17-9a00-0000000b1a7e", Domain: "bluth.onmicrosoft.com", Seed: 43, Users: 20})
	connectTenant(t, c, dir, `{}`)
	sy := c.preview()
	if code := c.do("POST", "/v1/syncs/"+sy.ID+"/confirm", `{}`, nil); code != http.StatusAccepted {
		t.Fatalf("confirm = %d", code)
	}
	if p := c.waitApplied(sy.ID); p.Status != string(domain.SyncCompleted) {
		t.Fatalf("apply %+v", p)
	}
	time.Sleep(1500 * time.Millisecond)
	var refused apiError
	if code := c.do("POST", "/v1/syncs/"+sy.ID+"/undo", nil, &refused); code != http.StatusGone || !strings.Contains(refused.Error.Message, "could be undone until") {
		t.Fatalf("undo past the window = %d %+v, want 410 saying until when", code, refused)
	}
}

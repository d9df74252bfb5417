package localstack

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"dirsync/internal/domain"
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

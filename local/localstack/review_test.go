package localstack

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"dirsync/internal/domain"
	"dirsync/local/fakeentra"
)

func (c *client) groupMemberTotal() (groups, members int) {
	c.t.Helper()
	var page struct {
		Items []struct {
			MemberCount int `json:"memberCount"`
		} `json:"items"`
		NextCursor string `json:"nextCursor"`
	}
	if code := c.do("GET", "/v1/groups?limit=100", nil, &page); code != http.StatusOK || page.NextCursor != "" {
		c.t.Fatalf("GET /v1/groups = %d (next %q)", code, page.NextCursor)
	}
	for _, g := range page.Items {
		members += g.MemberCount
	}
	return len(page.Items), members
}

// An admin excludes changes of a tripped preview until the safeguard
// clears, and the confirm applies exactly the changes left included:
// excluded adds are not created, excluded deactivations stay active, an
// excluded group is not created, and the memberships applied are exactly
// the count the preview showed after the exclusions.
func TestExcludeThenConfirmAppliesOnlyTheIncluded(t *testing.T) {
	ctx := context.Background()
	c := adminOf(t, "exclusion-review")
	dir := fakeentra.Generate(fakeentra.Spec{TenantID: "c0ffee00-5017-4e17-9a00-00000000beef", Domain: "exclusion-review.onmicrosoft.com", Seed: 31, Users: 200})
	// 30 linked users the directory no longer has: deactivating all of them
	// trips both the 20 % and the 25-user safeguards.
	var gone []domain.User
	for i := 0; i < 30; i++ {
		gone = append(gone, domain.User{PlatformUser: domain.PlatformUser{
			Email: fmt.Sprintf("left%02d@exclusion-review.example", i), Source: domain.SourceEntra,
			ExternalID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), ExternalTenantID: dir.ID,
		}})
	}
	if err := stack.Store.SeedUsers(ctx, "exclusion-review", gone); err != nil {
		t.Fatal(err)
	}
	connectTenant(t, c, dir, `{"deactivateMissing":true,"deactivationThreshold":{"percent":20,"count":25}}`)
	sy := c.preview()
	if sy.Status != string(domain.SyncPreviewReady) || sy.Counts.Users.Deactivate != 30 || sy.Counts.Users.Skip == 0 || sy.Counts.Groups.Add < 2 {
		t.Fatalf("preview = %+v, want 30 deactivations, some skips and groups", sy)
	}
	if code := c.do("POST", "/v1/syncs/"+sy.ID+"/confirm", `{}`, nil); code != http.StatusUnprocessableEntity {
		t.Fatalf("confirm of the tripped preview = %d, want 422", code)
	}
	all := c.changes(sy.ID, "")
	var deactivations, adds, skips, groups []changeBody
	for _, ch := range all {
		switch {
		case ch.Kind == "deactivate":
			deactivations = append(deactivations, ch)
		case ch.Kind == "skip":
			skips = append(skips, ch)
		case ch.ObjectType == "user" && ch.Kind == "add":
			adds = append(adds, ch)
		case ch.ObjectType == "group" && ch.Kind == "add":
			groups = append(groups, ch)
		}
	}
	base := "/v1/syncs/" + sy.ID

	// Refusals: bad input 400, another tenant's sync or an unknown seq 404,
	// a skip 422.
	for _, tc := range []struct {
		method, path, body string
		want               int
	}{
		{"PATCH", base + "/changes/" + fmt.Sprint(adds[0].Seq), `{}`, http.StatusBadRequest},
		{"PATCH", base + "/changes/0", `{"excluded":true}`, http.StatusBadRequest},
		{"PATCH", base + "/changes/x", `{"excluded":true}`, http.StatusBadRequest},
		{"PATCH", base + "/changes/99999", `{"excluded":true}`, http.StatusNotFound},
		{"PATCH", base + "/changes/" + fmt.Sprint(skips[0].Seq), `{"excluded":true}`, http.StatusUnprocessableEntity},
		{"POST", base + "/exclusions", `{"seqs":[],"excluded":true}`, http.StatusBadRequest},
		{"POST", base + "/exclusions", fmt.Sprintf(`{"seqs":[%s],"excluded":true}`, strings.TrimSuffix(strings.Repeat("1,", 1001), ",")), http.StatusBadRequest},
		{"POST", base + "/exclusions", `{"seqs":[1],"excluded":"yes"}`, http.StatusBadRequest},
	} {
		if code := c.do(tc.method, tc.path, tc.body, nil); code != tc.want {
			t.Errorf("%s %s %s = %d, want %d", tc.method, tc.path, tc.body, code, tc.want)
		}
	}
	other := adminOf(t, "weyland")
	if code := other.do("PATCH", base+"/changes/"+fmt.Sprint(adds[0].Seq), `{"excluded":true}`, nil); code != http.StatusNotFound {
		t.Fatalf("another tenant's PATCH = %d, want 404", code)
	}
	if code := other.do("POST", base+"/exclusions", `{"seqs":[1],"excluded":true}`, nil); code != http.StatusNotFound {
		t.Fatalf("another tenant's exclusions = %d, want 404", code)
	}

	// Exclude 25 deactivations in bulk: 5 of 30 (16.7 %) clears both.
	var seqs []int
	for _, d := range deactivations[:25] {
		seqs = append(seqs, d.Seq)
	}
	var after syncBody
	if code := c.do("POST", base+"/exclusions", map[string]any{"seqs": seqs, "excluded": true}, &after); code != http.StatusOK {
		t.Fatalf("bulk exclusion = %d", code)
	}
	if after.Counts.Users.Deactivate != 5 || after.Counts.Users.Excluded != 25 {
		t.Fatalf("counts after excluding 25 deactivations: %+v", after.Counts.Users)
	}
	for _, g := range after.Safeguards {
		if g.Tripped {
			t.Fatalf("safeguard %+v still tripped after the exclusions", g)
		}
	}
	// One add (with its memberships) and one group, by PATCH; one
	// deactivation back in.
	var ch changeBody
	if code := c.do("PATCH", base+"/changes/"+fmt.Sprint(adds[0].Seq), `{"excluded":true}`, &ch); code != http.StatusOK || !ch.Excluded || ch.Seq != adds[0].Seq {
		t.Fatalf("PATCH exclude = %d %+v", code, ch)
	}
	if code := c.do("PATCH", base+"/changes/"+fmt.Sprint(groups[0].Seq), `{"excluded":true}`, &ch); code != http.StatusOK || !ch.Excluded {
		t.Fatalf("PATCH exclude group = %d %+v", code, ch)
	}
	if code := c.do("PATCH", base+"/changes/"+fmt.Sprint(deactivations[0].Seq), `{"excluded":false}`, &ch); code != http.StatusOK || ch.Excluded {
		t.Fatalf("PATCH include = %d %+v", code, ch)
	}
	var ready syncBody
	c.do("GET", base, nil, &ready)
	cu := ready.Counts.Users
	if cu.Deactivate != 6 || cu.Excluded != 25 || cu.Add != sy.Counts.Users.Add-1 || ready.Counts.Groups.Excluded != 1 || ready.Counts.Groups.Add != sy.Counts.Groups.Add-1 {
		t.Fatalf("counts after the edits: %+v", ready.Counts)
	}
	if ready.Counts.Memberships.Add >= sy.Counts.Memberships.Add {
		t.Fatalf("memberships add %d, want fewer than the %d before the add and the group were excluded", ready.Counts.Memberships.Add, sy.Counts.Memberships.Add)
	}
	excluded := c.changes(sy.ID, "&excluded=true")
	if len(excluded) != 26 {
		t.Fatalf("%d changes listed as excluded, want 26", len(excluded))
	}
	if inc := c.changes(sy.ID, "&excluded=false"); len(inc)+len(excluded) != len(all) {
		t.Fatalf("%d included + %d excluded, want the plan's %d", len(inc), len(excluded), len(all))
	}

	if code := c.do("POST", base+"/confirm", `{}`, nil); code != http.StatusAccepted {
		t.Fatalf("confirm after the exclusions = %d, want 202 (the safeguard cleared)", code)
	}
	p := c.waitApplied(sy.ID)
	included := cu.Add + cu.Update + cu.Deactivate + cu.Reactivate + ready.Counts.Groups.Add + ready.Counts.Groups.Update + ready.Counts.Groups.Remove
	if p.Status != string(domain.SyncCompleted) || p.Total != included || p.Processed != included || p.Succeeded != included {
		t.Fatalf("progress %+v, want COMPLETED with exactly the %d included changes", p, included)
	}
	if code := c.do("PATCH", base+"/changes/"+fmt.Sprint(adds[1].Seq), `{"excluded":true}`, nil); code != http.StatusConflict {
		t.Fatalf("PATCH after the confirm = %d, want 409", code)
	}
	if code := c.do("POST", base+"/exclusions", `{"seqs":[1],"excluded":true}`, nil); code != http.StatusConflict {
		t.Fatalf("exclusions after the confirm = %d, want 409", code)
	}

	byEmail := map[string]userBody{}
	for _, u := range c.users() {
		byEmail[strings.ToLower(u.Email)] = u
	}
	if _, ok := byEmail[strings.ToLower(adds[0].Subject.Email)]; ok {
		t.Fatalf("excluded add %s was created", adds[0].Subject.Email)
	}
	if len(byEmail) != len(gone)+cu.Add {
		t.Fatalf("%d platform users, want the %d seeded + %d added", len(byEmail), len(gone), cu.Add)
	}
	inactive := 0
	for _, d := range deactivations {
		if byEmail[strings.ToLower(d.Subject.Email)].Status == "inactive" {
			inactive++
		}
	}
	if inactive != 6 {
		t.Fatalf("%d users deactivated, want the 6 included", inactive)
	}
	for _, applied := range c.changes(sy.ID, "&excluded=true") {
		if applied.Outcome != nil {
			t.Fatalf("excluded change %d has outcome %s", applied.Seq, *applied.Outcome)
		}
	}
	ng, members := c.groupMemberTotal()
	if ng != ready.Counts.Groups.Add || members != ready.Counts.Memberships.Add {
		t.Fatalf("%d groups with %d memberships, the preview said %d and %d", ng, members, ready.Counts.Groups.Add, ready.Counts.Memberships.Add)
	}
}

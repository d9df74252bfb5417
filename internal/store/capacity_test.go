package store

import (
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dirsync/internal/domain"
	"dirsync/internal/plan"
	"dirsync/local/dynamolocal"
	"dirsync/local/fakeentra"
)

// TestCapacityModelItemSizes measures the items a first import writes, as
// the store builds them, for the capacity model in docs/performance.md: a
// generated tenant of CAPACITY_USERS users (1000000 for the model; about
// 90 s and 4 GB) and 20,000 groups with their transitive members, planned
// by the plan engine against an empty directory. It logs, per kind of
// item, how many there are, their average size as DynamoDB counts it and
// the write units of writing each once. Skipped unless CAPACITY_USERS is
// set.
func TestCapacityModelItemSizes(t *testing.T) {
	users, err := strconv.Atoi(os.Getenv("CAPACITY_USERS"))
	if err != nil || users <= 0 {
		t.Skip("set CAPACITY_USERS (e.g. 1000000) to measure")
	}
	const tenant = "tenant-0123456789"
	ten := fakeentra.Generate(fakeentra.Spec{Users: users, Groups: 20_000, Seed: 1})
	p, err := plan.Compute(domain.PlanInput{Snapshot: snapshotOf(ten), Directory: &domain.Directory{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("counts %+v", p.Counts)

	now := time.Now()
	syncID := domain.NewID(now)
	marker := avS(syncID + "#0000012345")
	ttl := avN(now.Add(30 * 24 * time.Hour).Unix())
	layout := planLayout{tenant: tenant, syncID: syncID, perShard: DefaultPlanShardSize}
	s := &Store{DirectoryShards: DefaultDirectoryShards}
	type tally struct{ n, bytes, wcu int }
	tallies := map[string]*tally{}
	add := func(kind string, it item) {
		tl := tallies[kind]
		if tl == nil {
			tl = &tally{}
			tallies[kind] = tl
		}
		b := dynamolocal.ItemSize(it)
		tl.n, tl.bytes, tl.wcu = tl.n+1, tl.bytes+b, tl.wcu+(b+1023)/1024
	}
	// Apply's write units per directory key: transactional writes (users,
	// groups and their claims) cost twice.
	dirKeyWCU := map[string]int{}
	addDir := func(kind string, it item, transactional bool) {
		add(kind, it)
		wcu := (dynamolocal.ItemSize(it) + 1023) / 1024
		if transactional {
			wcu *= 2
		}
		dirKeyWCU[getS(it, "pk")] += wcu
	}
	var userAdds []int
	for i := range p.Changes {
		c := &p.Changes[i]
		its, err := changeItems(layout.pk(c.Seq), c, ttl)
		if err != nil {
			t.Fatal(err)
		}
		add("C# "+string(c.ObjectType)+"/"+string(c.Kind), its[0])
		for _, ch := range its[1:] {
			add("CM#", ch)
		}
		switch {
		case c.ObjectType == domain.ObjectUser && c.Kind == domain.KindAdd:
			userAdds = append(userAdds, dynamolocal.ItemSize(its[0]))
			its[0]["oc"] = avS(domain.OutcomeApplied)
			add("C# user/add, with its outcome", its[0])
			u := domain.User{PlatformUser: domain.PlatformUser{ID: domain.NewID(now), Email: c.Subject.Email, Status: domain.StatusActive,
				Source: domain.SourceEntra, ExternalID: c.Subject.ExternalID, ExternalTenantID: ten.ID, Attributes: c.Attributes, Revision: 1},
				CreatedAt: now, UpdatedAt: now}
			ui := s.userItem(tenant, &u)
			ui["ls"] = marker
			addDir("U#", ui, true)
			addDir("E#", s.claimItem(tenant, emailSK(u.Email), u.ID), true)
			addDir("X#", s.claimItem(tenant, linkSK(ten.ID, u.ExternalID), u.ID), true)
		case c.ObjectType == domain.ObjectGroup && c.Kind == domain.KindAdd:
			g := domain.Group{ID: domain.NewID(now), DisplayName: c.Subject.DisplayName, Description: c.Subject.DisplayName,
				Source: domain.SourceEntra, ExternalID: c.Subject.ExternalID, ExternalTenantID: ten.ID, Revision: 1, MemberCount: len(c.MembersAdded)}
			gi := s.groupItem(tenant, &g)
			gi["ls"] = marker
			addDir("G#", gi, true)
			gx := s.dirKey(tenant, groupLinkSK(ten.ID, c.Subject.ExternalID))
			gx["gid"] = avS(g.ID)
			addDir("GX#", gx, true)
			for range c.MembersAdded {
				uid := domain.NewID(now)
				addDir("M#", s.dirKey(tenant, memberSK(g.ID, uid)), false)
				ug := s.dirKey(tenant, userGroupSK(uid, g.ID))
				ug["dn"] = avS(c.Subject.DisplayName)
				addDir("UG#", ug, false)
			}
		}
	}
	batches := domain.CutBatches(p.Changes, domain.BatchSizes{})
	done := &types.AttributeValueMemberNS{}
	for _, b := range batches {
		it := key(syncDataPK(tenant, syncID), batchSK(b.Index))
		it["ot"], it["from"], it["to"], it["n"], it["ttl"] = avS(string(b.ObjectType)), avN(int64(b.From)), avN(int64(b.To)), avN(int64(b.Size)), ttl
		add("B#", it)
		done.Value = append(done.Value, strconv.Itoa(b.Index))
	}
	progress := key(syncDataPK(tenant, syncID), progressSK)
	for _, f := range []string{"st", "total", "processed", "succeeded", "failed", "conflicts", "sat", "uat"} {
		progress[f] = avS("2025-01-01T00:00:00.000000000Z")
	}
	progress["doneBatches"] = done
	t.Logf("P with every batch counted: %d B", dynamolocal.ItemSize(progress))

	if len(userAdds) > 0 {
		slices.Sort(userAdds)
		t.Logf("C# user/add sizes: min %d, median %d, p99 %d, max %d B", userAdds[0], userAdds[len(userAdds)/2], userAdds[len(userAdds)*99/100], userAdds[len(userAdds)-1])
	}
	kinds := make([]string, 0, len(tallies))
	for k := range tallies {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		tl := tallies[k]
		t.Logf("%-30s %9d items, %6d B average, %9d WCU written once", k, tl.n, tl.bytes/tl.n, tl.wcu)
	}
	t.Logf("%d batches, %d shards of changes", len(batches), layout.shard(len(p.Changes))+1)
	total, hottest, coolest := 0, 0, -1
	for _, w := range dirKeyWCU {
		total += w
		hottest = max(hottest, w)
		if coolest < 0 || w < coolest {
			coolest = w
		}
	}
	t.Logf("directory writes of apply: %d WCU over %d keys, %d to %d a key: %.0f s at 1,000 WCU/s per key",
		total, len(dirKeyWCU), coolest, hottest, float64(hottest)/1000)
}

// snapshotOf is what the Entra reader makes of a generated tenant with the
// default mapping: every user, and each group with its transitive user
// members.
func snapshotOf(ten *fakeentra.Tenant) *domain.Snapshot {
	byID := make(map[string]*fakeentra.User, len(ten.Users))
	for i := range ten.Users {
		byID[ten.Users[i].ID] = &ten.Users[i]
	}
	props := domain.UserProperties(domain.DefaultMapping())
	snap := &domain.Snapshot{DirectoryTenantID: ten.ID, UserProperties: props}
	for i := range ten.Users {
		u := &ten.Users[i]
		manager := ""
		if m := byID[u.ManagerID]; m != nil {
			manager = m.UserPrincipalName
			if m.Mail != nil && *m.Mail != "" {
				manager = *m.Mail
			}
		}
		values := map[string]string{
			"displayName": u.DisplayName, "givenName": u.GivenName, "surname": u.Surname,
			"userPrincipalName": u.UserPrincipalName, "jobTitle": u.JobTitle, "department": u.Department,
			"officeLocation": u.OfficeLocation, "mobilePhone": u.MobilePhone,
			"businessPhones": strings.Join(u.BusinessPhones, domain.BusinessPhonesSeparator),
			"employeeId":     u.EmployeeID, "companyName": u.CompanyName, "country": u.Country, domain.ManagerProperty: manager,
		}
		su := domain.SourceUser{ID: u.ID, UserPrincipalName: u.UserPrincipalName, AccountEnabled: u.AccountEnabled, Guest: u.UserType == "Guest"}
		if u.Mail != nil {
			su.Mail = *u.Mail
		}
		for _, prop := range props {
			su.Values = append(su.Values, values[prop])
		}
		snap.Users = append(snap.Users, su)
	}
	groups := make(map[string]*fakeentra.Group, len(ten.Groups))
	for i := range ten.Groups {
		groups[ten.Groups[i].ID] = &ten.Groups[i]
	}
	var collect func(g *fakeentra.Group, seen, members map[string]bool)
	collect = func(g *fakeentra.Group, seen, members map[string]bool) {
		if seen[g.ID] {
			return
		}
		seen[g.ID] = true
		for _, id := range g.MemberUserIDs {
			members[id] = true
		}
		for _, id := range g.MemberGroupIDs {
			collect(groups[id], seen, members)
		}
	}
	for i := range ten.Groups {
		g := &ten.Groups[i]
		members := map[string]bool{}
		collect(g, map[string]bool{}, members)
		sg := domain.SourceGroup{ID: g.ID, DisplayName: g.DisplayName, Description: g.Description}
		for id := range members {
			sg.MemberIDs = append(sg.MemberIDs, id)
		}
		sort.Strings(sg.MemberIDs)
		if g.Mail != nil {
			sg.Mail = *g.Mail
		}
		snap.Groups = append(snap.Groups, sg)
	}
	return snap
}

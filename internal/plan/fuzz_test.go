package plan

import (
	"cmp"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"dirsync/internal/domain"
)

// checkInvariants verifies what must hold for every plan, whatever the
// input: numbering, order, counts, scope accounting and the users a sync
// must never deactivate. It recomputes the scope from the rules, not from
// the engine's own state.
func checkInvariants(t testing.TB, in domain.PlanInput, p *domain.Plan) {
	t.Helper()
	userRank := map[domain.ChangeKind]int{
		domain.KindAdd: 0, domain.KindUpdate: 1, domain.KindReactivate: 2, domain.KindDeactivate: 3, domain.KindSkip: 4,
	}
	groupRank := map[domain.ChangeKind]int{domain.KindAdd: 0, domain.KindUpdate: 1, domain.KindRemove: 2}

	// Ignored users, compared case-insensitively: source users listed,
	// and platform users linked to a listed id.
	ignoredID := map[string]bool{}
	for _, id := range in.Options.IgnoredUsers {
		ignoredID[strings.ToLower(strings.TrimSpace(id))] = true
	}
	ignoredSource := map[string]bool{}
	inSource := map[string]bool{}
	for _, u := range in.Snapshot.Users {
		inSource[u.ID] = true
		if ignoredID[strings.ToLower(u.ID)] {
			ignoredSource[u.ID] = true
		}
	}
	ignoredPlatform := map[string]bool{}
	if in.Directory != nil {
		for _, pu := range in.Directory.Users {
			if pu.ExternalID != "" && pu.ExternalTenantID == in.Snapshot.DirectoryTenantID && ignoredID[strings.ToLower(pu.ExternalID)] {
				ignoredPlatform[pu.ID] = true
			}
		}
	}
	// rank orders user changes: ignored users after the other skips, those
	// still in the source before those gone from it.
	rank := func(ch domain.Change) int {
		if ch.Reason == domain.ReasonIgnoredByAdmin {
			if inSource[ch.Subject.ExternalID] {
				return 5
			}
			return 6
		}
		return userRank[ch.Kind]
	}

	var got domain.Counts
	seenGroup := false
	for i, ch := range p.Changes {
		if ch.Seq != i+1 {
			t.Fatalf("change %d has seq %d", i, ch.Seq)
		}
		switch ch.ObjectType {
		case domain.ObjectUser:
			if seenGroup {
				t.Fatalf("user change %d after a group change", ch.Seq)
			}
			if _, ok := userRank[ch.Kind]; !ok {
				t.Fatalf("user change %d has kind %q", ch.Seq, ch.Kind)
			}
		case domain.ObjectGroup:
			seenGroup = true
			if _, ok := groupRank[ch.Kind]; !ok {
				t.Fatalf("group change %d has kind %q", ch.Seq, ch.Kind)
			}
			got.Memberships.Add += len(ch.MembersAdded)
			got.Memberships.Remove += len(ch.MembersRemoved)
		default:
			t.Fatalf("change %d has object type %q", ch.Seq, ch.ObjectType)
		}
		if i > 0 && p.Changes[i-1].ObjectType == ch.ObjectType {
			prev := p.Changes[i-1]
			var order int
			if ch.ObjectType == domain.ObjectUser {
				order = cmp.Or(cmp.Compare(rank(prev), rank(ch)),
					strings.Compare(domain.NormalizeEmail(prev.Subject.Email), domain.NormalizeEmail(ch.Subject.Email)),
					strings.Compare(prev.Subject.ExternalID, ch.Subject.ExternalID))
			} else {
				order = cmp.Or(cmp.Compare(groupRank[prev.Kind], groupRank[ch.Kind]),
					strings.Compare(strings.ToLower(prev.Subject.DisplayName), strings.ToLower(ch.Subject.DisplayName)),
					strings.Compare(prev.Subject.ExternalID, ch.Subject.ExternalID))
			}
			if order > 0 {
				t.Fatalf("changes %d and %d are out of order:\n%s\n%s", prev.Seq, ch.Seq, summary(prev), summary(ch))
			}
		}
		if ch.ObjectType == domain.ObjectGroup && ch.Kind == domain.KindRemove {
			// A removal drops every membership the group holds, an ignored
			// user's too: it lists exactly those.
			var held []domain.MemberRef
			for _, g := range in.Directory.Groups { // a removal's group is in the directory
				if g.ID == ch.TargetID {
					held = memberRefs(g.MemberIDs)
				}
			}
			if len(ch.MembersAdded) > 0 || !slices.Equal(ch.MembersRemoved, held) {
				t.Fatalf("removal %d lists %v, the group holds %v: %s", ch.Seq, ch.MembersRemoved, held, summary(ch))
			}
		}
		for _, refs := range [][]domain.MemberRef{ch.MembersAdded, ch.MembersRemoved} {
			for _, r := range refs {
				if ch.Kind != domain.KindRemove && (ignoredPlatform[r.UserID] || ignoredSource[r.ExternalID]) {
					t.Fatalf("change %d changes the membership of an ignored user: %s", ch.Seq, summary(ch))
				}
			}
			for j := 1; j < len(refs); j++ {
				if compareRefs(refs[j-1], refs[j]) >= 0 {
					t.Fatalf("change %d: member refs not sorted and unique: %v", ch.Seq, refs)
				}
			}
		}
		count(&got, ch)
	}

	// Scope, recomputed from the rules.
	scopeMembers := map[string]bool{}
	scoped := len(in.Options.Scope.Groups) > 0
	for _, g := range in.Snapshot.Groups {
		for _, id := range in.Options.Scope.Groups {
			if strings.TrimSpace(id) == g.ID {
				for _, m := range g.MemberIDs {
					scopeMembers[m] = true
				}
			}
		}
	}
	inScope := map[string]bool{}
	for _, u := range in.Snapshot.Users {
		if !ignoredSource[u.ID] && u.AccountEnabled && (!u.Guest || in.Options.IncludeGuests) && (!scoped || scopeMembers[u.ID]) {
			inScope[u.ID] = true
		}
	}
	placed := map[string]int{}
	emails := map[string]string{}
	platform := map[string]*domain.PlatformUser{}
	holders := map[string][]string{} // normalised email -> platform ids
	if in.Directory != nil {
		for i := range in.Directory.Users {
			pu := &in.Directory.Users[i]
			platform[pu.ID] = pu
			e := domain.NormalizeEmail(pu.Email)
			holders[e] = append(holders[e], pu.ID)
		}
	}
	for _, ch := range p.Changes {
		if ch.ObjectType != domain.ObjectUser {
			continue
		}
		if ch.Reason == domain.ReasonIgnoredByAdmin {
			if ch.Kind != domain.KindSkip || !ignoredID[strings.ToLower(ch.Subject.ExternalID)] {
				t.Fatalf("change %d is ignored_by_admin but not a skip of an ignored user: %s", ch.Seq, summary(ch))
			}
			continue
		}
		if ignoredSource[ch.Subject.ExternalID] || ignoredPlatform[ch.TargetID] {
			t.Fatalf("change %d touches an ignored user: %s", ch.Seq, summary(ch))
		}
		switch ch.Kind {
		case domain.KindAdd, domain.KindUpdate, domain.KindReactivate, domain.KindSkip:
			if !inScope[ch.Subject.ExternalID] {
				t.Fatalf("change %d is about %s, which is not in scope", ch.Seq, ch.Subject.ExternalID)
			}
			placed[ch.Subject.ExternalID]++
			if placed[ch.Subject.ExternalID] > 1 {
				t.Fatalf("source user %s has more than one change", ch.Subject.ExternalID)
			}
		}
		switch ch.Kind {
		case domain.KindAdd:
			if ch.TargetID != "" {
				t.Fatalf("add %d has a target", ch.Seq)
			}
		case domain.KindUpdate, domain.KindReactivate, domain.KindDeactivate:
			if platform[ch.TargetID] == nil {
				t.Fatalf("change %d targets unknown platform user %q", ch.Seq, ch.TargetID)
			}
		}
		if ch.Kind == domain.KindAdd || ch.Kind == domain.KindUpdate || ch.Kind == domain.KindReactivate {
			e := domain.NormalizeEmail(ch.Subject.Email)
			if prev, dup := emails[e]; dup {
				t.Fatalf("changes for %s and %s both write email %q", prev, ch.Subject.ExternalID, e)
			}
			emails[e] = ch.Subject.ExternalID
			if v, _ := ch.Attributes.Get(domain.EmailAttribute); v != ch.Subject.Email {
				t.Fatalf("change %d: email attribute %q, subject email %q", ch.Seq, v, ch.Subject.Email)
			}
			// One email identity: an add takes an email no platform user
			// holds, an email change one no other platform user holds, and
			// an update without one keeps the target's address.
			moved := slices.ContainsFunc(ch.Fields, func(f domain.FieldChange) bool { return f.Name == domain.EmailAttribute })
			if ch.Kind != domain.KindAdd && !moved && domain.NormalizeEmail(platform[ch.TargetID].Email) != e {
				t.Fatalf("change %d writes %q over %q without an email change", ch.Seq, ch.Subject.Email, platform[ch.TargetID].Email)
			}
			if ch.Kind == domain.KindAdd || moved {
				for _, id := range holders[e] {
					if id != ch.TargetID {
						t.Fatalf("change %d gives %q to %s, but platform user %s holds %q", ch.Seq, ch.Subject.Email, ch.Subject.ExternalID, id, platform[id].Email)
					}
				}
			}
		}
		if ch.Kind == domain.KindDeactivate {
			pu := platform[ch.TargetID]
			switch {
			case !in.Options.DeactivateMissing:
				t.Fatalf("deactivation %d although deactivateMissing is off", ch.Seq)
			case pu.Source != domain.SourceEntra || pu.ExternalID == "":
				t.Fatalf("deactivation %d of a user the sync does not own: %+v", ch.Seq, pu)
			case pu.ExternalTenantID != in.Snapshot.DirectoryTenantID:
				t.Fatalf("deactivation %d of another tenant's user: %+v", ch.Seq, pu)
			case pu.Protected:
				t.Fatalf("deactivation %d of a protected user", ch.Seq)
			case in.ActorEmail != "" && domain.NormalizeEmail(pu.Email) == domain.NormalizeEmail(in.ActorEmail):
				t.Fatalf("deactivation %d of the actor", ch.Seq)
			case pu.Status != domain.StatusActive:
				t.Fatalf("deactivation %d of a user who is not active", ch.Seq)
			case inScope[pu.ExternalID]:
				t.Fatalf("deactivation %d of a user still in scope", ch.Seq)
			}
		}
	}
	wantIgnored := len(ignoredSource)
	if in.Directory != nil {
		for _, pu := range in.Directory.Users {
			if ignoredPlatform[pu.ID] && !inSource[pu.ExternalID] {
				wantIgnored++
			}
		}
	}
	if p.Counts.Users.Ignored != wantIgnored {
		t.Fatalf("ignored = %d, want %d (every listed source user, every platform user linked to a listed id gone from the source)", p.Counts.Users.Ignored, wantIgnored)
	}
	got.Users.Unchanged = len(inScope) - len(placed)
	got.Users.OutOfScope = len(in.Snapshot.Users) - len(inScope) - len(ignoredSource)
	if got != p.Counts {
		t.Fatalf("counts = %+v, the changes and scope say %+v", p.Counts, got)
	}
	checkSafeguards(t, in, p)
}

// checkSafeguards recomputes every threshold from the input: its base
// (active linked users, owned groups, memberships those groups hold) and
// the changes counted against it.
func checkSafeguards(t testing.TB, in domain.PlanInput, p *domain.Plan) {
	t.Helper()
	tenant := in.Snapshot.DirectoryTenantID
	var activeLinked, ownedGroups, held int
	if in.Directory != nil {
		for _, pu := range in.Directory.Users {
			if pu.Source == domain.SourceEntra && pu.ExternalID != "" && pu.ExternalTenantID == tenant && pu.Status == domain.StatusActive &&
				!ignoredLink(in.Options.IgnoredUsers, pu.ExternalID) {
				activeLinked++
			}
		}
		for _, g := range in.Directory.Groups {
			if g.Source == domain.SourceEntra && g.ExternalTenantID == tenant {
				ownedGroups++
				held += len(g.MemberIDs)
			}
		}
	}
	percentLimit := cmp.Or(in.Options.DeactivationThreshold.Percent, domain.DefaultThresholdPercent)
	countLimit := cmp.Or(in.Options.DeactivationThreshold.Count, domain.DefaultThresholdCount)
	share := func(n, base int) float64 {
		if base == 0 {
			return 0
		}
		return float64(n) * 100 / float64(base)
	}
	want := []struct {
		percent, count string
		n, base        int
	}{
		{domain.SafeguardDeactivationPercent, domain.SafeguardDeactivationCount, p.Counts.Users.Deactivate, activeLinked},
		{domain.SafeguardGroupRemovalPercent, domain.SafeguardGroupRemovalCount, p.Counts.Groups.Remove, ownedGroups},
		{domain.SafeguardMembershipRemovalPercent, domain.SafeguardMembershipRemovalCount, p.Counts.Memberships.Remove, held},
	}
	if len(p.Safeguards) != 2*len(want) {
		t.Fatalf("safeguards = %+v, want %d", p.Safeguards, 2*len(want))
	}
	tripped := false
	for i, w := range want {
		if w.n > w.base {
			t.Fatalf("%s: %d counted against a base of %d", w.count, w.n, w.base)
		}
		pc, ct := p.Safeguards[2*i], p.Safeguards[2*i+1]
		actual := share(w.n, w.base)
		if pc.Name != w.percent || pc.Limit != percentLimit || pc.Actual != actual || pc.Tripped != (actual > percentLimit) {
			t.Fatalf("safeguard %+v, want %s limit %v actual %v (%d of %d)", pc, w.percent, percentLimit, actual, w.n, w.base)
		}
		if ct.Name != w.count || ct.Limit != float64(countLimit) || ct.Actual != float64(w.n) || ct.Tripped != (w.n > countLimit) {
			t.Fatalf("safeguard %+v, want %s limit %d actual %d", ct, w.count, countLimit, w.n)
		}
		tripped = tripped || pc.Tripped || ct.Tripped
	}
	if p.Tripped() != tripped {
		t.Fatalf("Tripped() = %v with safeguards %+v", p.Tripped(), p.Safeguards)
	}
}

func count(c *domain.Counts, ch domain.Change) {
	if ch.ObjectType == domain.ObjectGroup {
		switch ch.Kind {
		case domain.KindAdd:
			c.Groups.Add++
		case domain.KindUpdate:
			c.Groups.Update++
		case domain.KindRemove:
			c.Groups.Remove++
		}
		return
	}
	switch ch.Kind {
	case domain.KindAdd:
		c.Users.Add++
	case domain.KindUpdate:
		c.Users.Update++
	case domain.KindReactivate:
		c.Users.Reactivate++
	case domain.KindDeactivate:
		c.Users.Deactivate++
	case domain.KindSkip:
		if ch.Reason == domain.ReasonIgnoredByAdmin {
			c.Users.Ignored++
		} else {
			c.Users.Skip++
		}
	}
}

// ignoredLink reports whether the Entra object id is in ids, in any case.
func ignoredLink(ids []string, id string) bool {
	return slices.ContainsFunc(ids, func(x string) bool { return strings.EqualFold(strings.TrimSpace(x), id) })
}

// fuzzReader draws small choices from fuzz bytes; past the end it returns
// zeros, so every input is a valid description.
type fuzzReader struct {
	data []byte
	pos  int
}

func (r *fuzzReader) byte() byte {
	if r.pos >= len(r.data) {
		return 0
	}
	b := r.data[r.pos]
	r.pos++
	return b
}

func (r *fuzzReader) intn(n int) int         { return int(r.byte()) % n }
func (r *fuzzReader) bool() bool             { return r.byte()&1 == 1 }
func (r *fuzzReader) pick(s []string) string { return s[r.intn(len(s))] }

var (
	// Look-alikes of s@x.com, k@x.com and é@x.com sit next to them: some
	// are one address (case, Kelvin sign, NFC), the others never are.
	fuzzEmails = []string{
		"a@x.com", "A@X.com", "b@x.com", "c@x.com", " d@x.com", "no-at",
		"g_x.com#EXT#@t.onmicrosoft.com", "", "admin@x.com", "e@x.com",
		"s@x.com", "ſ@x.com", "S@x.com", "k@x.com", "\u212a@x.com", "é@x.com", "e\u0301@x.com", "É@x.com",
		"İ@x.com", "i@x.com",
	}
	fuzzValues = []string{"", "Eng", "Sales", "eng", "Ops"}
)

// fuzzInput builds a small snapshot, directory and options from data.
// Pools are tiny so emails, links and ids collide often.
func fuzzInput(data []byte) domain.PlanInput {
	r := &fuzzReader{data: data}
	snap := &domain.Snapshot{DirectoryTenantID: tenant, UserProperties: testProps}
	tenants := []string{tenant, tenant, otherTenant, ""}

	nUsers := r.intn(9)
	for i := range nUsers {
		u := domain.SourceUser{
			ID:                "s" + strconv.Itoa(i),
			Mail:              r.pick(fuzzEmails),
			UserPrincipalName: r.pick(fuzzEmails),
			AccountEnabled:    r.intn(4) != 0,
			Guest:             r.intn(4) == 0,
			Values:            values("displayName", r.pick(fuzzValues), "jobTitle", r.pick(fuzzValues)),
		}
		snap.Users = append(snap.Users, u)
	}
	for i := range r.intn(4) {
		g := domain.SourceGroup{ID: "g" + strconv.Itoa(i), DisplayName: r.pick([]string{"Team", "team", "Ops", ""})}
		for j := range nUsers + 1 {
			if r.bool() {
				if j == nUsers {
					g.MemberIDs = append(g.MemberIDs, "s-unknown")
				} else {
					g.MemberIDs = append(g.MemberIDs, "s"+strconv.Itoa(j))
				}
			}
		}
		snap.Groups = append(snap.Groups, g)
	}

	dir := &domain.Directory{}
	nPlatform := r.intn(9)
	for i := range nPlatform {
		pu := domain.PlatformUser{
			ID:                "p" + strconv.Itoa(i),
			Email:             r.pick(fuzzEmails),
			Status:            []domain.UserStatus{domain.StatusActive, domain.StatusInactive}[r.intn(2)],
			Source:            []domain.UserSource{domain.SourceEntra, domain.SourceManual}[r.intn(2)],
			Protected:         r.intn(5) == 0,
			DeactivatedBySync: r.bool(),
			Revision:          int64(r.intn(10)),
		}
		if n := r.intn(nUsers + 3); n < nUsers+1 {
			pu.ExternalID = "s" + strconv.Itoa(n) // may name a user not in the source
			pu.ExternalTenantID = r.pick(tenants)
		}
		if v := r.pick(fuzzValues); v != "" {
			pu.Attributes = attrsOf("displayName", v, "jobTitle", r.pick(fuzzValues))
		}
		dir.Users = append(dir.Users, pu)
	}
	for i := range r.intn(4) {
		pg := domain.PlatformGroup{
			ID:               "pg" + strconv.Itoa(i),
			DisplayName:      r.pick([]string{"Team", "Old", ""}),
			Source:           []domain.UserSource{domain.SourceEntra, domain.SourceManual}[r.intn(2)],
			ExternalID:       r.pick([]string{"g0", "g1", "g2", "g9", ""}),
			ExternalTenantID: r.pick(tenants),
		}
		for j := range nPlatform + 1 {
			if r.bool() {
				pg.MemberIDs = append(pg.MemberIDs, "p"+strconv.Itoa(j)) // p<nPlatform> is unknown
			}
		}
		dir.Groups = append(dir.Groups, pg)
	}

	opts := domain.Options{
		IncludeGuests:     r.bool(),
		DeactivateMissing: r.bool(),
		DeactivationThreshold: domain.Threshold{
			Percent: float64(r.intn(4) * 10),
			Count:   r.intn(3),
		},
	}
	for range r.intn(3) {
		opts.Scope.Groups = append(opts.Scope.Groups, r.pick([]string{"g0", "g1", "g9"}))
	}
	if r.bool() {
		opts.Mapping = []domain.Mapping{{Attribute: "title", Source: "jobTitle"}, {Attribute: "displayName", Source: "displayName"}}
	}
	// Read last, so the corpus written before ignoredUsers keeps its meaning.
	for range r.intn(3) {
		opts.IgnoredUsers = append(opts.IgnoredUsers, r.pick([]string{"s0", "S1", "s2", "s9"}))
	}
	return domain.PlanInput{Snapshot: snap, Directory: dir, Options: opts, ActorEmail: r.pick(fuzzEmails)}
}

func FuzzCompute(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x05\x00\x01\x01\x00\x02\x03\x00\x01\x04\x02\x01\x01\x01\x03\x00"))
	f.Add([]byte("\x08\x01\x01\x01\x01\x02\x02\x01\x01\x03\x03\x00\x03\x04\x05\x06\x07\x08\x09\x01\x02\x03\x04\x05\x06\x07\x08\x01\x01\x01\x01\x01"))
	f.Add([]byte("\x03\x00\x00\x01\x01\x00\x02\x00\x01\x01\x03\x01\x00\x01\x01\x05\x01\x00\x00\x00\x01\x02\x01\x00\x01\x03\x04\x01\x01"))
	f.Add([]byte("\x07\x09\x08\x07\x06\x05\x04\x03\x02\x01\x00\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5\xf4\xf3\xf2\xf1\xf0\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := fuzzInput(data)
		p, err := Compute(in)
		switch {
		case errors.Is(err, domain.ErrSourceEmpty):
			if len(in.Snapshot.Users) != 0 {
				t.Fatalf("domain.ErrSourceEmpty with %d source users", len(in.Snapshot.Users))
			}
			return
		case errors.Is(err, domain.ErrScopeGroupsMissing):
			if len(in.Options.Scope.Groups) == 0 {
				t.Fatal("domain.ErrScopeGroupsMissing without scope groups")
			}
			return
		case err != nil:
			t.Fatalf("Compute: %v", err)
		}
		checkInvariants(t, in, p)

		again, err := Compute(shuffledCopy(in, rand.New(rand.NewPCG(uint64(len(data)), 7))))
		if err != nil {
			t.Fatalf("Compute on shuffled input: %v", err)
		}
		if !reflect.DeepEqual(again, p) {
			t.Fatalf("shuffled input gives another plan:\n%s\nvs\n%s",
				strings.Join(summaries(again), "\n"), strings.Join(summaries(p), "\n"))
		}
	})
}

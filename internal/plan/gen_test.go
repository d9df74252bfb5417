package plan

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"dirsync/internal/domain"
)

// genConfig describes a synthetic tenant: a snapshot and, for a resync, the
// directory a previous sync of it left behind, then drifted.
type genConfig struct {
	users           int
	groups          int
	membersPerGroup int
	// resync builds a directory mirroring the source, then drifts it:
	// changedPct of the users get a new attribute value, deletedPct are
	// deleted from the source, addedPct are new in the source.
	resync     bool
	changedPct float64
	deletedPct float64
	addedPct   float64
	seed       uint64
}

const genTenant = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"

var (
	genGiven = []string{
		"Ada", "Alan", "Grace", "Linus", "Ken", "Barbara", "Edsger", "Donald", "Frances", "John",
		"Margaret", "Dennis", "Radia", "Tim", "Katherine", "Niklaus", "Leslie", "Shafi", "Whitfield", "Hedy",
		"Sophie", "Mateo", "Aiko", "Omar", "Ingrid", "Chen", "Priya", "Lars", "Amara", "Diego",
	}
	genSurname = []string{
		"Lovelace", "Turing", "Hopper", "Torvalds", "Thompson", "Liskov", "Dijkstra", "Knuth", "Allen", "Backus",
		"Hamilton", "Ritchie", "Perlman", "Berners-Lee", "Johnson", "Wirth", "Lamport", "Goldwasser", "Diffie", "Lamarr",
		"Wilson", "Garcia", "Tanaka", "Haddad", "Larsen", "Wei", "Sharma", "Nilsson", "Okafor", "Rivera",
	}
	genJobTitles   = []string{"Engineer", "Senior Engineer", "Manager", "Director", "Analyst", "Designer", "Accountant", "Sales Representative", "Recruiter", "Support Specialist"}
	genDepartments = []string{"Engineering", "Sales", "Marketing", "Finance", "Human Resources", "Support", "Legal", "Operations"}
	genOffices     = []string{"Seattle", "London", "Berlin", "Tokyo", "Sydney", "Toronto", "Dublin", "Singapore"}
	genCountries   = []string{"US", "GB", "DE", "JP", "AU", "CA", "IE", "SG"}
	genDomains     = []string{"contoso.example", "Contoso.example", "fabrikam.example"}
)

type generator struct {
	rng   *rand.Rand
	buf   []byte
	props []string
	index map[string]int
}

func newGenerator(seed uint64) *generator {
	props := domain.UserProperties(domain.DefaultMapping())
	g := &generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), props: props, index: map[string]int{}}
	for i, p := range props {
		g.index[p] = i
	}
	return g
}

// objectID returns a random Entra-style object id (a GUID string).
func (g *generator) objectID() string {
	const hex = "0123456789abcdef"
	g.buf = g.buf[:0]
	hi, lo := g.rng.Uint64(), g.rng.Uint64()
	for i := 0; i < 32; i++ {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			g.buf = append(g.buf, '-')
		}
		var nib uint64
		if i < 16 {
			nib = hi >> (60 - 4*i) & 0xf
		} else {
			nib = lo >> (60 - 4*(i-16)) & 0xf
		}
		g.buf = append(g.buf, hex[nib])
	}
	return string(g.buf)
}

// platformID returns an id shaped like the store's: a base-32 creation
// time in 9 characters (so ids of one import share a prefix), then 16
// random base-32 characters.
func (g *generator) platformID(n int) string {
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	g.buf = g.buf[:0]
	ms := uint64(1_790_000_000_000 + n/50)
	for i := 8; i >= 0; i-- {
		g.buf = append(g.buf, alphabet[ms>>(5*uint(i))&31])
	}
	for range 16 {
		g.buf = append(g.buf, alphabet[g.rng.IntN(32)])
	}
	return string(g.buf)
}

func (g *generator) pick(pool []string) string { return pool[g.rng.IntN(len(pool))] }

func (g *generator) phone(prefix string) string {
	g.buf = append(g.buf[:0], prefix...)
	g.buf = strconv.AppendInt(g.buf, int64(1000000+g.rng.IntN(9000000)), 10)
	return string(g.buf)
}

// user returns source user number n; its email is unique through n.
func (g *generator) user(n int) domain.SourceUser {
	given, surname := g.pick(genGiven), g.pick(genSurname)
	g.buf = append(g.buf[:0], given...)
	g.buf = append(g.buf, '.')
	g.buf = append(g.buf, surname...)
	g.buf = strconv.AppendInt(g.buf, int64(n), 10)
	g.buf = append(g.buf, '@')
	g.buf = append(g.buf, g.pick(genDomains)...)
	email := string(g.buf)

	u := domain.SourceUser{
		ID:                g.objectID(),
		UserPrincipalName: email,
		Mail:              email,
		AccountEnabled:    true,
		Values:            make([]string, len(g.props)),
	}
	if g.rng.IntN(10) == 0 {
		u.Mail = "" // no mailbox: matched by userPrincipalName
	}
	set := func(prop, v string) {
		if i, ok := g.index[prop]; ok {
			u.Values[i] = v
		}
	}
	set("displayName", given+" "+surname)
	set("givenName", given)
	set("surname", surname)
	set("userPrincipalName", email)
	set("jobTitle", g.pick(genJobTitles))
	set("department", g.pick(genDepartments))
	if g.rng.IntN(5) != 0 {
		set("officeLocation", g.pick(genOffices))
	}
	if g.rng.IntN(3) != 0 {
		set("mobilePhone", g.phone("+1 555 "))
	}
	set("businessPhones", g.phone("+1 425 "))
	set("employeeId", "E"+strconv.Itoa(100000+n))
	set("companyName", "Contoso")
	set("country", g.pick(genCountries))
	return u
}

// generate builds a deterministic domain.PlanInput for cfg.
func generate(cfg genConfig) domain.PlanInput {
	g := newGenerator(cfg.seed)
	snap := &domain.Snapshot{DirectoryTenantID: genTenant, UserProperties: g.props}
	users := make([]domain.SourceUser, cfg.users)
	for i := range users {
		users[i] = g.user(i)
	}
	// Managers are other users' emails, as the reader expands them.
	if mi, ok := g.index[domain.ManagerProperty]; ok {
		for i := range users {
			if i > 0 && g.rng.IntN(10) != 0 {
				users[i].Values[mi] = users[g.rng.IntN(i)].UserPrincipalName
			}
		}
	}
	snap.Groups = make([]domain.SourceGroup, cfg.groups)
	for i := range snap.Groups {
		sg := domain.SourceGroup{
			ID:          g.objectID(),
			DisplayName: "Team " + strconv.Itoa(i),
			Description: "Synthetic group " + strconv.Itoa(i),
		}
		n := min(cfg.membersPerGroup, len(users))
		sg.MemberIDs = make([]string, 0, n)
		for range n {
			sg.MemberIDs = append(sg.MemberIDs, users[g.rng.IntN(len(users))].ID)
		}
		slices.Sort(sg.MemberIDs)
		sg.MemberIDs = slices.Compact(sg.MemberIDs)
		// A reader decodes each membership page into strings of its own.
		for j, id := range sg.MemberIDs {
			sg.MemberIDs[j] = strings.Clone(id)
		}
		snap.Groups[i] = sg
	}

	in := domain.PlanInput{
		Snapshot:   snap,
		Directory:  &domain.Directory{},
		Options:    domain.Options{DeactivateMissing: true},
		ActorEmail: "admin@contoso.example",
	}
	if !cfg.resync {
		snap.Users = users
		return in
	}

	dir := in.Directory
	dir.Users = make([]domain.PlatformUser, len(users))
	mapping := domain.DefaultMapping()
	for i := range users {
		dir.Users[i] = mirrorUser(g, &users[i], g.platformID(i), mapping)
	}
	platformID := make(map[string]string, len(users))
	for i := range users {
		platformID[users[i].ID] = dir.Users[i].ID
	}
	dir.Groups = make([]domain.PlatformGroup, len(snap.Groups))
	for i, sg := range snap.Groups {
		pg := domain.PlatformGroup{
			ID:               "g" + strconv.Itoa(i),
			DisplayName:      strings.Clone(sg.DisplayName),
			Description:      strings.Clone(sg.Description),
			Source:           domain.SourceEntra,
			ExternalID:       strings.Clone(sg.ID),
			ExternalTenantID: genTenant,
			Revision:         1,
		}
		for _, id := range sg.MemberIDs {
			if g.rng.IntN(100) != 0 { // ~1% of memberships drifted away
				pg.MemberIDs = append(pg.MemberIDs, platformID[id])
			}
		}
		pg.MemberIDs = append(pg.MemberIDs, dir.Users[g.rng.IntN(len(users))].ID)
		slices.Sort(pg.MemberIDs)
		pg.MemberIDs = slices.Compact(pg.MemberIDs)
		// The store decodes each group's members into strings of their own.
		for j, id := range pg.MemberIDs {
			pg.MemberIDs[j] = strings.Clone(id)
		}
		dir.Groups[i] = pg
	}

	// Drift the source away from the directory.
	jobTitle := g.index["jobTitle"]
	kept := users[:0]
	for i := range users {
		r := g.rng.Float64() * 100
		switch {
		case r < cfg.deletedPct:
			continue
		case r < cfg.deletedPct+cfg.changedPct:
			v := slices.Clone(users[i].Values)
			v[jobTitle] = "Principal " + v[jobTitle]
			users[i].Values = v
		}
		kept = append(kept, users[i])
	}
	added := int(float64(cfg.users) * cfg.addedPct / 100)
	for n := range added {
		kept = append(kept, g.user(cfg.users+n))
	}
	snap.Users = kept
	return in
}

// mirrorUser is the platform user a previous sync of u wrote: every string
// is its own copy, as a store would return it.
func mirrorUser(g *generator, u *domain.SourceUser, id string, mapping []domain.Mapping) domain.PlatformUser {
	email := u.Mail
	if email == "" {
		email = u.UserPrincipalName
	}
	attrs := make(domain.Attrs, 0, len(mapping)+1)
	for _, m := range mapping {
		if i := slices.Index(g.props, m.Source); i >= 0 && u.Values[i] != "" {
			attrs = append(attrs, domain.Attr{Name: strings.Clone(m.Attribute), Value: strings.Clone(u.Values[i])})
		}
	}
	attrs = append(attrs, domain.Attr{Name: domain.EmailAttribute, Value: strings.Clone(email)})
	slices.SortFunc(attrs, func(a, b domain.Attr) int { return strings.Compare(a.Name, b.Name) })
	return domain.PlatformUser{
		ID:               id,
		Email:            strings.Clone(email),
		Status:           domain.StatusActive,
		Source:           domain.SourceEntra,
		ExternalID:       strings.Clone(u.ID),
		ExternalTenantID: genTenant,
		Attributes:       attrs,
		Revision:         int64(1 + g.rng.IntN(5)),
	}
}

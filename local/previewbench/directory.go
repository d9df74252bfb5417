package previewbench

import (
	"fmt"
	"slices"
	"strings"

	"dirsync/internal/domain"
	"dirsync/local/fakeentra"
	"dirsync/local/localstack"
)

// ExistingDirectory returns the platform users of a directory that already
// knows part of the Entra tenant t:
//   - linked users linked to their Entra user, with the attributes the
//     default mapping gives it (so a preview finds them unchanged);
//   - manual users carrying the email of an Entra user in upper case (so a
//     preview links them by email).
//
// Both are taken among the tenant's enabled members with a mailbox of their
// own (a mail no other user shares), in the tenant's order, which is by
// object id and so unrelated to names, departments or the hierarchy.
func ExistingDirectory(t *fakeentra.Tenant, linked, manual int) ([]domain.User, error) {
	if linked < 0 || manual < 0 {
		return nil, fmt.Errorf("previewbench: existing directory: negative count (linked %d, manual %d)", linked, manual)
	}
	byID := make(map[string]*fakeentra.User, len(t.Users))
	for i := range t.Users {
		byID[t.Users[i].ID] = &t.Users[i]
	}
	importable := importableFilter(t)
	out := make([]domain.User, 0, linked+manual)
	for i := range t.Users {
		if len(out) == linked+manual {
			break
		}
		u := &t.Users[i]
		if !importable(u) {
			continue
		}
		if len(out) < linked {
			out = append(out, domain.User{PlatformUser: domain.PlatformUser{
				Email: *u.Mail, Status: domain.StatusActive, Source: domain.SourceEntra,
				ExternalID: u.ID, ExternalTenantID: t.ID,
				Attributes: localstack.MappedAttributes(u, byID),
			}})
			continue
		}
		out = append(out, domain.User{PlatformUser: domain.PlatformUser{
			Email: strings.ToUpper(*u.Mail), Status: domain.StatusActive, Source: domain.SourceManual,
			Attributes: domain.Attrs{{Name: "displayName", Value: u.DisplayName}},
		}})
	}
	if len(out) < linked+manual {
		return nil, fmt.Errorf("previewbench: existing directory: the tenant has %d eligible users, %d asked for", len(out), linked+manual)
	}
	return out, nil
}

// ImportedDirectory returns the platform users a first import of t with
// the default options leaves: every enabled member whose email (its mail,
// else its userPrincipalName) no other user shares, linked and with the
// attributes the default mapping gives it.
func ImportedDirectory(t *fakeentra.Tenant) []domain.User {
	emailOf := func(u *fakeentra.User) string {
		if u.Mail != nil {
			return *u.Mail
		}
		return u.UserPrincipalName
	}
	count := make(map[string]int, len(t.Users))
	byID := make(map[string]*fakeentra.User, len(t.Users))
	for i := range t.Users {
		byID[t.Users[i].ID] = &t.Users[i]
		count[domain.NormalizeEmail(emailOf(&t.Users[i]))]++
	}
	var out []domain.User
	for i := range t.Users {
		u := &t.Users[i]
		if u.UserType != "Member" || !u.AccountEnabled || count[domain.NormalizeEmail(emailOf(u))] != 1 {
			continue
		}
		out = append(out, domain.User{PlatformUser: domain.PlatformUser{
			Email: emailOf(u), Status: domain.StatusActive, Source: domain.SourceEntra,
			ExternalID: u.ID, ExternalTenantID: t.ID, Attributes: localstack.MappedAttributes(u, byID),
		}})
	}
	return out
}

// importableFilter tells the tenant's enabled members with a mailbox of
// their own (a mail no other user shares).
func importableFilter(t *fakeentra.Tenant) func(*fakeentra.User) bool {
	mailCount := make(map[string]int, len(t.Users))
	for i := range t.Users {
		if m := t.Users[i].Mail; m != nil {
			mailCount[domain.NormalizeEmail(*m)]++
		}
	}
	return func(u *fakeentra.User) bool {
		return u.UserType == "Member" && u.AccountEnabled && u.Mail != nil && mailCount[domain.NormalizeEmail(*u.Mail)] == 1
	}
}

// ImportedGroup is a platform group as a first import of it leaves it,
// with its members' platform ids.
type ImportedGroup struct {
	Group     domain.Group
	MemberIDs []string
}

// ImportedGroups returns every group of t as imported: linked to its Entra
// group, with its name and description, and as members the platform users
// (users, as SeedUsers left them, ids filled in) linked to its transitive
// members.
func ImportedGroups(t *fakeentra.Tenant, users []domain.User) []ImportedGroup {
	platformID := make(map[string]string, len(users))
	for i := range users {
		if users[i].ExternalID != "" {
			platformID[users[i].ExternalID] = users[i].ID
		}
	}
	m := &domain.SourceMirror{DirectoryTenantID: t.ID}
	for i := range t.Users {
		m.Users = append(m.Users, domain.SourceUser{ID: t.Users[i].ID})
	}
	slices.SortFunc(m.Users, func(a, b domain.SourceUser) int { return strings.Compare(a.ID, b.ID) })
	for _, g := range t.Groups {
		m.Groups = append(m.Groups, domain.DirectGroup{ID: g.ID, DisplayName: g.DisplayName, Description: g.Description,
			UserIDs: g.MemberUserIDs, GroupIDs: g.MemberGroupIDs})
	}
	out := make([]ImportedGroup, 0, len(t.Groups))
	for i, g := range m.Snapshot(nil).Groups {
		ig := ImportedGroup{Group: domain.Group{
			ID: fmt.Sprintf("imported-group-%06d", i), DisplayName: g.DisplayName, Description: g.Description,
			Source: domain.SourceEntra, ExternalID: g.ID, ExternalTenantID: t.ID,
		}}
		for _, member := range g.MemberIDs {
			if id, ok := platformID[member]; ok {
				ig.MemberIDs = append(ig.MemberIDs, id)
			}
		}
		slices.Sort(ig.MemberIDs)
		out = append(out, ig)
	}
	return out
}

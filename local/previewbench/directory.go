package previewbench

import (
	"fmt"
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

// ImportableUsers counts the users ExistingDirectory can take: what a
// first import with the default options brings in.
func ImportableUsers(t *fakeentra.Tenant) int {
	importable := importableFilter(t)
	n := 0
	for i := range t.Users {
		if importable(&t.Users[i]) {
			n++
		}
	}
	return n
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

package localstack

import (
	"sort"
	"strings"

	"dirsync/internal/domain"
	"dirsync/local/fakeentra"
)

// Demo platform tenants and their Entra directories. The ids are fixed so
// the README's curl flow and the tests can name them.
const (
	DemoTenantAcme   = "acme"
	DemoTenantGlobex = "globex"

	DemoAcmeDirectory   = "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f"
	DemoAcmeClientID    = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"
	DemoGlobexDirectory = "2b7e151b-9a3c-4f2d-8e1a-5c6d7e8f9a0b"
	DemoGlobexClientID  = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
)

// DemoEntraTenant generates a demo Entra directory: realistic users and
// nested groups, including guests, disabled accounts, users without a
// mailbox and duplicate mail addresses.
func DemoEntraTenant(directoryID, clientID, secret, domainName string, seed uint64, users int) *fakeentra.Tenant {
	return fakeentra.Generate(fakeentra.Spec{
		TenantID: directoryID, Domain: domainName, Seed: seed, Users: users, ClientID: clientID, Secret: secret,
	})
}

// DemoPlatformUsers picks users of the Entra tenant that already exist on
// the platform, so the first preview shows every kind of change:
//   - 3 manual users with the same email (in other case): linked by email;
//   - 10 linked users, 6 exactly as in Entra (unchanged), 4 with a stale
//     job title and office (updates with before and after);
//   - 1 linked user whose Entra account is gone and 1 whose account is
//     disabled (deactivated when deactivateMissing is on: 2 of 12 linked);
//   - 1 manual user sharing a duplicated Entra mail address (both Entra
//     users are skipped; the manual user is left alone);
//   - 1 protected manual operator that Entra does not know (untouched).
func DemoPlatformUsers(t *fakeentra.Tenant, platformDomain string) []domain.User {
	byID := make(map[string]*fakeentra.User, len(t.Users))
	mailCount := map[string]int{}
	for i := range t.Users {
		u := &t.Users[i]
		byID[u.ID] = u
		if u.Mail != nil {
			mailCount[domain.NormalizeEmail(*u.Mail)]++
		}
	}
	var eligible, disabled []*fakeentra.User
	var duplicated string
	for i := range t.Users {
		u := &t.Users[i]
		if u.UserType != "Member" || u.Mail == nil {
			continue
		}
		switch {
		case mailCount[domain.NormalizeEmail(*u.Mail)] > 1:
			if duplicated == "" {
				duplicated = domain.NormalizeEmail(*u.Mail)
			}
		case !u.AccountEnabled:
			disabled = append(disabled, u)
		default:
			eligible = append(eligible, u)
		}
	}
	var out []domain.User
	manual := func(email string, attrs domain.Attrs) domain.User {
		return domain.User{PlatformUser: domain.PlatformUser{Email: email, Source: domain.SourceManual, Status: domain.StatusActive, Attributes: attrs}}
	}
	linked := func(u *fakeentra.User, attrs domain.Attrs) domain.User {
		return domain.User{PlatformUser: domain.PlatformUser{
			Email: *u.Mail, Source: domain.SourceEntra, Status: domain.StatusActive,
			ExternalID: u.ID, ExternalTenantID: t.ID, Attributes: attrs,
		}}
	}
	for _, u := range pick(eligible, 0, 3) {
		out = append(out, manual(strings.ToUpper(*u.Mail), domain.Attrs{{Name: "displayName", Value: u.DisplayName}}))
	}
	for i, u := range pick(eligible, 3, 10) {
		attrs := MappedAttributes(u, byID)
		if i%3 == 0 { // 4 of 10: stale job title and office
			attrs = setAttr(attrs, "jobTitle", "Trainee")
			attrs = setAttr(attrs, "officeLocation", "Old Building")
		}
		out = append(out, linked(u, attrs))
	}
	gone := "Former Employee"
	out = append(out, domain.User{PlatformUser: domain.PlatformUser{
		Email: "former.employee@" + t.Domain, Source: domain.SourceEntra, Status: domain.StatusActive,
		ExternalID: "00000000-dead-4bee-8000-000000000001", ExternalTenantID: t.ID,
		Attributes: domain.Attrs{{Name: "displayName", Value: gone}},
	}})
	if len(disabled) > 0 {
		out = append(out, linked(disabled[0], MappedAttributes(disabled[0], byID)))
	}
	if duplicated != "" {
		out = append(out, manual(duplicated, domain.Attrs{{Name: "displayName", Value: "Shared Mailbox"}}))
	}
	ops := manual("ops@"+platformDomain, domain.Attrs{{Name: "displayName", Value: "Platform Operator"}})
	ops.Protected = true
	out = append(out, ops)
	return out
}

func pick(us []*fakeentra.User, from, n int) []*fakeentra.User {
	if from >= len(us) {
		return nil
	}
	return us[from:min(from+n, len(us))]
}

// MappedAttributes is what the default attribute mapping makes of an Entra
// user (the manager as the manager's email), sorted by name.
func MappedAttributes(u *fakeentra.User, byID map[string]*fakeentra.User) domain.Attrs {
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
		"employeeId":     u.EmployeeID, "companyName": u.CompanyName, "country": u.Country, "manager": manager,
	}
	var attrs domain.Attrs
	for k, v := range values {
		if v != "" {
			attrs = append(attrs, domain.Attr{Name: k, Value: v})
		}
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].Name < attrs[j].Name })
	return attrs
}

func setAttr(a domain.Attrs, name, value string) domain.Attrs {
	out := make(domain.Attrs, 0, len(a)+1)
	set := false
	for _, at := range a {
		if at.Name == name {
			at.Value, set = value, true
		}
		out = append(out, at)
	}
	if !set {
		out = append(out, domain.Attr{Name: name, Value: value})
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	}
	return out
}

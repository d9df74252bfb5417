package entra

import (
	"fmt"
	"slices"
	"strings"

	"dirsync/internal/domain"
)

// userProperty reads one Graph user property as a string.
type userProperty struct {
	get func(*userJSON) string
	// shared marks properties whose values repeat across many users
	// (department, country, manager...), which are interned.
	shared bool
}

var userProperties = map[string]userProperty{
	"displayName":              {get: func(u *userJSON) string { return u.DisplayName }},
	"givenName":                {get: func(u *userJSON) string { return u.GivenName }},
	"surname":                  {get: func(u *userJSON) string { return u.Surname }},
	"mail":                     {get: func(u *userJSON) string { return u.Mail }},
	"userPrincipalName":        {get: func(u *userJSON) string { return u.UserPrincipalName }},
	"jobTitle":                 {get: func(u *userJSON) string { return u.JobTitle }, shared: true},
	"department":               {get: func(u *userJSON) string { return u.Department }, shared: true},
	"officeLocation":           {get: func(u *userJSON) string { return u.OfficeLocation }, shared: true},
	"mobilePhone":              {get: func(u *userJSON) string { return u.MobilePhone }},
	"businessPhones":           {get: businessPhones},
	"employeeId":               {get: func(u *userJSON) string { return u.EmployeeID }},
	"employeeType":             {get: func(u *userJSON) string { return u.EmployeeType }, shared: true},
	"companyName":              {get: func(u *userJSON) string { return u.CompanyName }, shared: true},
	"country":                  {get: func(u *userJSON) string { return u.Country }, shared: true},
	"city":                     {get: func(u *userJSON) string { return u.City }, shared: true},
	"state":                    {get: func(u *userJSON) string { return u.State }, shared: true},
	"streetAddress":            {get: func(u *userJSON) string { return u.StreetAddress }},
	"postalCode":               {get: func(u *userJSON) string { return u.PostalCode }, shared: true},
	"usageLocation":            {get: func(u *userJSON) string { return u.UsageLocation }, shared: true},
	"preferredLanguage":        {get: func(u *userJSON) string { return u.PreferredLanguage }, shared: true},
	"onPremisesSamAccountName": {get: func(u *userJSON) string { return u.OnPremisesSamAccountName }},
	domain.ManagerProperty:     {get: managerEmail, shared: true},
}

// identityFields are selected whatever the mapping: they identify, match
// and scope a user.
var identityFields = []string{"id", "userPrincipalName", "mail", "accountEnabled", "userType"}

// userPlan is how one read selects and converts users for a mapping.
type userPlan struct {
	props         []string // Snapshot.UserProperties
	readers       []userProperty
	selectFields  []string
	expandManager bool
	scratch       []string // reused by convert; a plan converts on one goroutine
}

// clone is a plan converting on another goroutine.
func (p *userPlan) clone() *userPlan {
	c := *p
	c.scratch = nil
	return &c
}

func newUserPlan(props []string) (*userPlan, error) {
	p := &userPlan{props: props, readers: make([]userProperty, len(props))}
	p.selectFields = append(p.selectFields, identityFields...)
	for i, name := range props {
		prop, ok := userProperties[name]
		if !ok {
			return nil, fmt.Errorf("entra: the mapping names %q, which is not a supported Graph user property", name)
		}
		p.readers[i] = prop
		switch {
		case name == domain.ManagerProperty:
			p.expandManager = true
		case !slices.Contains(p.selectFields, name):
			p.selectFields = append(p.selectFields, name)
		}
	}
	return p, nil
}

// convert compacts one Graph user. The user's own strings (id, names,
// phones...) are copied into one allocation, which costs far less than one
// small allocation each; values shared across users are interned instead.
func (p *userPlan) convert(u *userJSON, shared *interner) (domain.SourceUser, error) {
	id := u.ID
	if id == "" {
		return domain.SourceUser{}, malformed("Graph answered a user without an id")
	}
	// Graph returns accountEnabled whenever it is selected; a missing value
	// is not evidence of a disabled account, and reading it as one would
	// deactivate the user.
	enabled := true
	if u.AccountEnabled != nil {
		enabled = *u.AccountEnabled
	}
	upn, mail, manager := u.UserPrincipalName, u.Mail, ""
	if p.expandManager {
		manager = u.Manager.ID
	}
	values := make([]string, len(p.readers))
	own := append(p.scratch[:0], id, upn, mail, manager)
	for i, prop := range p.readers {
		v := prop.get(u)
		switch {
		case prop.shared:
			values[i] = shared.intern(v)
		case v == upn || v == mail:
			values[i] = v // re-pointed at the packed copy below
		default:
			values[i] = v
			own = append(own, v)
		}
	}
	packed := pack(own)
	id, upn, mail, manager = packed[0], packed[1], packed[2], packed[3]
	next := 4
	for i, prop := range p.readers {
		switch {
		case prop.shared:
		case values[i] == upn:
			values[i] = upn
		case values[i] == mail:
			values[i] = mail
		default:
			values[i] = packed[next]
			next++
		}
	}
	p.scratch = packed[:0]
	return domain.SourceUser{
		ID:                id,
		UserPrincipalName: upn,
		Mail:              mail,
		AccountEnabled:    enabled,
		Guest:             strings.EqualFold(u.UserType, "Guest"),
		Values:            values,
		ManagerID:         manager,
	}, nil
}

// pack copies the strings into one backing allocation and returns them,
// in place, as substrings of it.
func pack(parts []string) []string {
	n := 0
	for _, s := range parts {
		n += len(s)
	}
	var b strings.Builder
	b.Grow(n)
	for _, s := range parts {
		b.WriteString(s)
	}
	all := b.String()
	off := 0
	for i, s := range parts {
		parts[i] = all[off : off+len(s)]
		off += len(s)
	}
	return parts
}

func businessPhones(u *userJSON) string {
	return strings.Join(u.BusinessPhones, domain.BusinessPhonesSeparator)
}

// managerEmail is the manager's mail, else its userPrincipalName.
func managerEmail(u *userJSON) string {
	return managerValue(u.Manager.Mail, u.Manager.UserPrincipalName)
}

func managerValue(mail, upn string) string {
	if mail != "" {
		return mail
	}
	return upn
}

// interner shares the memory of equal strings. It is bounded, so its own
// cost stays flat however large the directory.
type interner struct {
	seen map[string]string
}

const maxInterned = 1 << 15

func newInterner() *interner { return &interner{seen: make(map[string]string)} }

func (in *interner) intern(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := in.seen[s]; ok {
		return v
	}
	if len(in.seen) < maxInterned {
		in.seen[s] = s
	}
	return s
}

package entra

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"dirsync/internal/domain"
)

// userProperty reads one Graph user property as a string.
type userProperty struct {
	get func(models.Userable) string
	// shared marks properties whose values repeat across many users
	// (department, country, manager...), which are interned.
	shared bool
}

func str(get func(models.Userable) *string) func(models.Userable) string {
	return func(u models.Userable) string { return deref(get(u)) }
}

var userProperties = map[string]userProperty{
	"displayName":              {get: str(models.Userable.GetDisplayName)},
	"givenName":                {get: str(models.Userable.GetGivenName)},
	"surname":                  {get: str(models.Userable.GetSurname)},
	"mail":                     {get: str(models.Userable.GetMail)},
	"userPrincipalName":        {get: str(models.Userable.GetUserPrincipalName)},
	"jobTitle":                 {get: str(models.Userable.GetJobTitle), shared: true},
	"department":               {get: str(models.Userable.GetDepartment), shared: true},
	"officeLocation":           {get: str(models.Userable.GetOfficeLocation), shared: true},
	"mobilePhone":              {get: str(models.Userable.GetMobilePhone)},
	"businessPhones":           {get: businessPhones},
	"employeeId":               {get: str(models.Userable.GetEmployeeId)},
	"employeeType":             {get: str(models.Userable.GetEmployeeType), shared: true},
	"companyName":              {get: str(models.Userable.GetCompanyName), shared: true},
	"country":                  {get: str(models.Userable.GetCountry), shared: true},
	"city":                     {get: str(models.Userable.GetCity), shared: true},
	"state":                    {get: str(models.Userable.GetState), shared: true},
	"streetAddress":            {get: str(models.Userable.GetStreetAddress)},
	"postalCode":               {get: str(models.Userable.GetPostalCode), shared: true},
	"usageLocation":            {get: str(models.Userable.GetUsageLocation), shared: true},
	"preferredLanguage":        {get: str(models.Userable.GetPreferredLanguage), shared: true},
	"onPremisesSamAccountName": {get: str(models.Userable.GetOnPremisesSamAccountName)},
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
func (p *userPlan) convert(u models.Userable, shared *interner) (domain.SourceUser, error) {
	id := deref(u.GetId())
	if id == "" {
		return domain.SourceUser{}, errors.New("Graph returned a user without an id")
	}
	// Graph returns accountEnabled whenever it is selected; a missing value
	// is not evidence of a disabled account, and reading it as one would
	// deactivate the user.
	enabled := true
	if e := u.GetAccountEnabled(); e != nil {
		enabled = *e
	}
	upn, mail := deref(u.GetUserPrincipalName()), deref(u.GetMail())
	values := make([]string, len(p.readers))
	own := append(p.scratch[:0], id, upn, mail)
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
	id, upn, mail = packed[0], packed[1], packed[2]
	next := 3
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
		Guest:             strings.EqualFold(deref(u.GetUserType()), "Guest"),
		Values:            values,
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

func businessPhones(u models.Userable) string {
	return strings.Join(u.GetBusinessPhones(), domain.BusinessPhonesSeparator)
}

// managerEmail is the manager's mail, else its userPrincipalName.
func managerEmail(u models.Userable) string {
	m := u.GetManager()
	if m == nil {
		return ""
	}
	if mu, ok := m.(models.Userable); ok {
		if mail := deref(mu.GetMail()); mail != "" {
			return mail
		}
		return deref(mu.GetUserPrincipalName())
	}
	// A manager served without an @odata.type is a bare directoryObject
	// whose properties land in its additional data.
	data := m.GetAdditionalData()
	if mail := anyString(data["mail"]); mail != "" {
		return mail
	}
	return anyString(data["userPrincipalName"])
}

func anyString(v any) string {
	switch s := v.(type) {
	case *string:
		return deref(s)
	case string:
		return s
	}
	return ""
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

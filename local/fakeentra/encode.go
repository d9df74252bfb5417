package fakeentra

import (
	"strings"
	"sync"
	"unicode/utf8"
)

// userProp is a Graph user property the fake serves.
type userProp uint8

const (
	upID userProp = iota
	upBusinessPhones
	upDisplayName
	upGivenName
	upJobTitle
	upMail
	upMobilePhone
	upOfficeLocation
	upPreferredLanguage
	upSurname
	upUserPrincipalName
	upAccountEnabled
	upUserType
	upDepartment
	upEmployeeID
	upEmployeeType
	upCompanyName
	upCountry
	upCity
	upState
	upStreetAddress
	upPostalCode
	upUsageLocation
	upOnPremisesSamAccountName
	numUserProps
)

var userPropNames = [numUserProps]string{
	upID:                       "id",
	upBusinessPhones:           "businessPhones",
	upDisplayName:              "displayName",
	upGivenName:                "givenName",
	upJobTitle:                 "jobTitle",
	upMail:                     "mail",
	upMobilePhone:              "mobilePhone",
	upOfficeLocation:           "officeLocation",
	upPreferredLanguage:        "preferredLanguage",
	upSurname:                  "surname",
	upUserPrincipalName:        "userPrincipalName",
	upAccountEnabled:           "accountEnabled",
	upUserType:                 "userType",
	upDepartment:               "department",
	upEmployeeID:               "employeeId",
	upEmployeeType:             "employeeType",
	upCompanyName:              "companyName",
	upCountry:                  "country",
	upCity:                     "city",
	upState:                    "state",
	upStreetAddress:            "streetAddress",
	upPostalCode:               "postalCode",
	upUsageLocation:            "usageLocation",
	upOnPremisesSamAccountName: "onPremisesSamAccountName",
}

// defaultUserProps is what Graph v1.0 returns for a user without $select.
var defaultUserProps = []userProp{
	upBusinessPhones, upDisplayName, upGivenName, upJobTitle, upMail, upMobilePhone,
	upOfficeLocation, upPreferredLanguage, upSurname, upUserPrincipalName, upID,
}

// userPropByName maps lower-case property names: Graph matches $select
// case-insensitively.
var userPropByName = func() map[string]userProp {
	m := make(map[string]userProp, numUserProps)
	for p, name := range userPropNames {
		m[strings.ToLower(name)] = userProp(p)
	}
	return m
}()

// groupProp is a Graph group property the fake serves.
type groupProp uint8

const (
	gpID groupProp = iota
	gpDisplayName
	gpDescription
	gpMail
	gpMailEnabled
	gpSecurityEnabled
	gpGroupTypes
	numGroupProps
)

var groupPropNames = [numGroupProps]string{
	gpID:              "id",
	gpDisplayName:     "displayName",
	gpDescription:     "description",
	gpMail:            "mail",
	gpMailEnabled:     "mailEnabled",
	gpSecurityEnabled: "securityEnabled",
	gpGroupTypes:      "groupTypes",
}

var defaultGroupProps = []groupProp{
	gpID, gpDescription, gpDisplayName, gpGroupTypes, gpMail, gpMailEnabled, gpSecurityEnabled,
}

var groupPropByName = func() map[string]groupProp {
	m := make(map[string]groupProp, numGroupProps)
	for p, name := range groupPropNames {
		m[strings.ToLower(name)] = groupProp(p)
	}
	return m
}()

// appendUser appends u as a JSON object with the given properties, the
// @odata.type annotation when typed, and the expanded manager when set.
func appendUser(b []byte, u *User, props []userProp, typed bool, mgr *managerExpand) []byte {
	b = append(b, '{')
	b = appendUserMembers(b, u, props, typed, mgr)
	return append(b, '}')
}

// appendUserMembers appends the members of appendUser's object, without
// the braces, so a single-entity response can put @odata.context first.
func appendUserMembers(b []byte, u *User, props []userProp, typed bool, mgr *managerExpand) []byte {
	if typed {
		b = append(b, `"@odata.type":"#microsoft.graph.user",`...)
	}
	for i, p := range props {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, userPropNames[p]...)
		b = append(b, `":`...)
		b = appendUserValue(b, u, p)
	}
	if mgr != nil && mgr.manager != nil {
		if m := mgr.manager(u.ManagerID); m != nil {
			if len(props) > 0 {
				b = append(b, ',')
			}
			b = append(b, `"manager":`...)
			b = appendUser(b, m, mgr.props, true, nil)
		}
	}
	return b
}

func appendUserValue(b []byte, u *User, p userProp) []byte {
	switch p {
	case upID:
		return appendString(b, u.ID)
	case upBusinessPhones:
		b = append(b, '[')
		for i, ph := range u.BusinessPhones {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, ph)
		}
		return append(b, ']')
	case upDisplayName:
		return appendNullable(b, u.DisplayName)
	case upGivenName:
		return appendNullable(b, u.GivenName)
	case upJobTitle:
		return appendNullable(b, u.JobTitle)
	case upMail:
		if u.Mail == nil {
			return append(b, "null"...)
		}
		return appendString(b, *u.Mail)
	case upMobilePhone:
		return appendNullable(b, u.MobilePhone)
	case upOfficeLocation:
		return appendNullable(b, u.OfficeLocation)
	case upPreferredLanguage:
		return appendNullable(b, u.PreferredLanguage)
	case upSurname:
		return appendNullable(b, u.Surname)
	case upUserPrincipalName:
		return appendNullable(b, u.UserPrincipalName)
	case upAccountEnabled:
		if u.AccountEnabled {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case upUserType:
		return appendNullable(b, u.UserType)
	case upDepartment:
		return appendNullable(b, u.Department)
	case upEmployeeID:
		return appendNullable(b, u.EmployeeID)
	case upEmployeeType:
		return appendNullable(b, u.EmployeeType)
	case upCompanyName:
		return appendNullable(b, u.CompanyName)
	case upCountry:
		return appendNullable(b, u.Country)
	case upCity:
		return appendNullable(b, u.City)
	case upState:
		return appendNullable(b, u.State)
	case upStreetAddress:
		return appendNullable(b, u.StreetAddress)
	case upPostalCode:
		return appendNullable(b, u.PostalCode)
	case upUsageLocation:
		return appendNullable(b, u.UsageLocation)
	case upOnPremisesSamAccountName:
		return appendNullable(b, u.OnPremisesSamAccountName)
	default:
		return append(b, "null"...)
	}
}

// appendGroup appends g as a JSON object with the given properties; typed
// adds the @odata.type annotation, members the members@delta list.
func appendGroup(b []byte, g *Group, props []groupProp, typed bool, members []dirObject, withMembers bool) []byte {
	b = append(b, '{')
	b = appendGroupMembers(b, g, props, typed, members, withMembers)
	return append(b, '}')
}

// appendGroupMembers appends the members of appendGroup's object, without
// the braces.
func appendGroupMembers(b []byte, g *Group, props []groupProp, typed bool, members []dirObject, withMembers bool) []byte {
	if typed {
		b = append(b, `"@odata.type":"#microsoft.graph.group",`...)
	}
	for i, p := range props {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, groupPropNames[p]...)
		b = append(b, `":`...)
		switch p {
		case gpID:
			b = appendString(b, g.ID)
		case gpDisplayName:
			b = appendNullable(b, g.DisplayName)
		case gpDescription:
			b = appendNullable(b, g.Description)
		case gpMail:
			if g.Mail == nil {
				b = append(b, "null"...)
			} else {
				b = appendString(b, *g.Mail)
			}
		case gpMailEnabled:
			if g.Mail != nil {
				b = append(b, "true"...)
			} else {
				b = append(b, "false"...)
			}
		case gpSecurityEnabled:
			b = append(b, "true"...)
		case gpGroupTypes:
			b = append(b, "[]"...)
		}
	}
	if withMembers {
		if len(props) > 0 {
			b = append(b, ',')
		}
		b = append(b, `"members@delta":[`...)
		for i, m := range members {
			if i > 0 {
				b = append(b, ',')
			}
			if m.user != nil {
				b = append(b, `{"@odata.type":"#microsoft.graph.user","id":`...)
			} else {
				b = append(b, `{"@odata.type":"#microsoft.graph.group","id":`...)
			}
			b = appendString(b, m.id())
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return b
}

// appendGroupDelta appends g with the given properties and members@delta
// listing membership changes: members added as in an initial round,
// members removed with @removed reason "deleted", as Graph reports a
// removed membership whatever became of the member.
func appendGroupDelta(b []byte, g *Group, props []groupProp, diff []memberDelta) []byte {
	b = append(b, '{')
	b = appendGroupMembers(b, g, props, false, nil, false)
	if len(props) > 0 {
		b = append(b, ',')
	}
	b = append(b, `"members@delta":[`...)
	for i, m := range diff {
		if i > 0 {
			b = append(b, ',')
		}
		if m.isGroup {
			b = append(b, `{"@odata.type":"#microsoft.graph.group","id":`...)
		} else {
			b = append(b, `{"@odata.type":"#microsoft.graph.user","id":`...)
		}
		b = appendString(b, m.id)
		if m.removed {
			b = append(b, `,"@removed":{"reason":"deleted"}`...)
		}
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// appendRemoved appends a delta entry for a removed object: reason
// "changed" when soft-deleted (restorable from the deleted items),
// "deleted" when gone for good.
func appendRemoved(b []byte, id string, soft bool) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, id)
	if soft {
		return append(b, `,"@removed":{"reason":"changed"}}`...)
	}
	return append(b, `,"@removed":{"reason":"deleted"}}`...)
}

// appendNullable appends s as a JSON string, or null when empty: Graph
// serves unset string properties as null.
func appendNullable(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

// appendString appends s as a JSON string. Valid UTF-8 passes through;
// invalid bytes become U+FFFD, as with encoding/json.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&15])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// bufPool recycles response buffers; a 999-user page is a few hundred KB.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 8<<20 {
		return // let an unusually large buffer go rather than pin it
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

package domain

import (
	"fmt"
	"strings"
)

// EmailAttribute is the platform attribute holding a user's email. It is not
// part of the configurable mapping: it is always the source user's mail,
// else its userPrincipalName, because it is also how users are matched.
const EmailAttribute = "email"

// ManagerProperty is read through $expand; its value is the manager's email
// (mail, else userPrincipalName).
const ManagerProperty = "manager"

// BusinessPhonesSeparator joins the multi-valued businessPhones property.
const BusinessPhonesSeparator = ", "

// SupportedUserProperties are the Graph user properties a mapping may name.
var SupportedUserProperties = []string{
	"displayName", "givenName", "surname", "mail", "userPrincipalName",
	"jobTitle", "department", "officeLocation", "mobilePhone", "businessPhones",
	"employeeId", "employeeType", "companyName", "country", "city", "state",
	"streetAddress", "postalCode", "usageLocation", "preferredLanguage",
	"onPremisesSamAccountName", ManagerProperty,
}

// DefaultMapping is the attribute mapping used when a connection names none.
func DefaultMapping() []Mapping {
	names := []string{
		"displayName", "givenName", "surname", "userPrincipalName", "jobTitle",
		"department", "officeLocation", "mobilePhone", "businessPhones",
		"employeeId", "companyName", "country", ManagerProperty,
	}
	m := make([]Mapping, len(names))
	for i, n := range names {
		m[i] = Mapping{Attribute: n, Source: n}
	}
	return m
}

// EffectiveMapping returns the options' mapping, or the default one.
func (o Options) EffectiveMapping() []Mapping {
	if len(o.Mapping) == 0 {
		return DefaultMapping()
	}
	return o.Mapping
}

// ValidateMapping reports the first problem in a mapping: unknown source
// property, empty or duplicate attribute name, or the reserved email name.
func ValidateMapping(m []Mapping) error {
	seen := make(map[string]bool, len(m))
	for i, e := range m {
		switch {
		case e.Attribute == "":
			return fmt.Errorf("mapping[%d].attribute: must not be empty", i)
		case strings.EqualFold(e.Attribute, EmailAttribute):
			return fmt.Errorf("mapping[%d].attribute: %q is reserved (always mail, else userPrincipalName)", i, e.Attribute)
		case seen[e.Attribute]:
			return fmt.Errorf("mapping[%d].attribute: %q is mapped twice", i, e.Attribute)
		case !isSupportedProperty(e.Source):
			return fmt.Errorf("mapping[%d].source: %q is not a supported Graph user property", i, e.Source)
		}
		seen[e.Attribute] = true
	}
	return nil
}

func isSupportedProperty(p string) bool {
	for _, s := range SupportedUserProperties {
		if s == p {
			return true
		}
	}
	return false
}

// UserProperties lists, once each and in mapping order, the Graph user
// properties a mapping reads. It is what a reader puts in
// Snapshot.UserProperties.
func UserProperties(m []Mapping) []string {
	out := make([]string, 0, len(m))
	for _, e := range m {
		dup := false
		for _, p := range out {
			if p == e.Source {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, e.Source)
		}
	}
	return out
}

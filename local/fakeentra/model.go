package fakeentra

// Tenant is one Entra ID directory: its registered apps, users and groups.
// Object ids must be unique within their kind.
type Tenant struct {
	ID     string // directory (tenant) id, a GUID
	Domain string // e.g. "contoso.onmicrosoft.com"
	Apps   []App
	Users  []User
	Groups []Group
}

// App is an app registration that can get tokens with the client-credentials
// grant.
type App struct {
	ClientID string
	Secret   string
	// Roles are application permissions granted with admin consent, e.g.
	// "User.Read.All", "Group.Read.All", "Directory.Read.All".
	Roles []string
}

// User is an Entra ID user. Empty strings are served as JSON null, as Graph
// does for unset properties.
type User struct {
	ID, DisplayName, GivenName, Surname, UserPrincipalName string
	Mail                                                   *string // nil = no mailbox (JSON null)
	AccountEnabled                                         bool
	UserType                                               string // "Member" | "Guest"

	JobTitle, Department, OfficeLocation, MobilePhone, EmployeeID, EmployeeType, CompanyName,
	Country, City, State, StreetAddress, PostalCode, UsageLocation, PreferredLanguage,
	OnPremisesSamAccountName string

	BusinessPhones []string
	ManagerID      string // "" = none
}

// Group is an Entra ID security or Microsoft 365 group.
type Group struct {
	ID, DisplayName, Description string
	Mail                         *string  // nil = not mail-enabled
	MemberUserIDs                []string // direct user members
	// MemberGroupIDs are direct nested groups; transitive membership follows
	// them, and cycles are tolerated.
	MemberGroupIDs []string
}

package fakeentra

import "slices"

// Tenant is one Entra ID directory: its registered apps, users and groups.
// Object ids must be unique within their kind, deleted items included.
type Tenant struct {
	ID     string // directory (tenant) id, a GUID
	Domain string // e.g. "contoso.onmicrosoft.com"
	Apps   []App
	Users  []User
	Groups []Group

	// DeletedUsers and DeletedGroups are the directory's deleted items:
	// soft-deleted objects, no longer served but restorable. A user or
	// group that leaves Users or Groups for them is reported by delta as
	// @removed reason "changed"; one that leaves the tenant altogether, as
	// "deleted". Group memberships naming a deleted object stay recorded
	// but do not count until it is restored, as Entra restores them.
	DeletedUsers  []User
	DeletedGroups []Group
}

// SoftDeleteUser moves the user with the given id to DeletedUsers; false if
// Users has none.
func (t *Tenant) SoftDeleteUser(id string) bool {
	return moveByID(&t.Users, &t.DeletedUsers, id, userID)
}

// RestoreUser moves a soft-deleted user back to Users; false if
// DeletedUsers has none with that id.
func (t *Tenant) RestoreUser(id string) bool {
	return moveByID(&t.DeletedUsers, &t.Users, id, userID)
}

// DeleteUserPermanently removes the user from Users or DeletedUsers.
func (t *Tenant) DeleteUserPermanently(id string) bool {
	return removeByID(&t.Users, id, userID) || removeByID(&t.DeletedUsers, id, userID)
}

// SoftDeleteGroup moves the group with the given id to DeletedGroups.
func (t *Tenant) SoftDeleteGroup(id string) bool {
	return moveByID(&t.Groups, &t.DeletedGroups, id, groupID)
}

// RestoreGroup moves a soft-deleted group back to Groups.
func (t *Tenant) RestoreGroup(id string) bool {
	return moveByID(&t.DeletedGroups, &t.Groups, id, groupID)
}

// DeleteGroupPermanently removes the group from Groups or DeletedGroups.
func (t *Tenant) DeleteGroupPermanently(id string) bool {
	return removeByID(&t.Groups, id, groupID) || removeByID(&t.DeletedGroups, id, groupID)
}

func moveByID[T any](from, to *[]T, id string, idOf func(*T) string) bool {
	for i := range *from {
		if idOf(&(*from)[i]) == id {
			*to = append(*to, (*from)[i])
			*from = slices.Delete(*from, i, i+1)
			return true
		}
	}
	return false
}

func removeByID[T any](items *[]T, id string, idOf func(*T) string) bool {
	for i := range *items {
		if idOf(&(*items)[i]) == id {
			*items = slices.Delete(*items, i, i+1)
			return true
		}
	}
	return false
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

package domain

// The listings and edits the HTTP API asks of the store, in the API's
// terms; the store translates them into queries and conditional writes.

// Page asks for one page of a listing.
type Page struct {
	Limit  int
	Cursor string
}

// UserFilter narrows a user listing.
type UserFilter struct {
	Status UserStatus // "" = any
	Q      string     // case-insensitive substring of email or display name
}

// ChangeFilter narrows a change listing.
type ChangeFilter struct {
	ObjectType ObjectType
	Kind       ChangeKind
	Outcome    string
	Q          string // case-insensitive substring of email or display name
	Excluded   *bool  // nil = either
}

// NewUser is a manually created user.
type NewUser struct {
	Email      string
	Attributes Attrs
	Status     UserStatus // "" = active
	Protected  bool
}

// UserPatch is an edit of a user; nil fields are left alone. In Attributes
// an empty value removes the attribute.
type UserPatch struct {
	Email      *string
	Attributes map[string]string
	Status     *UserStatus
	Protected  *bool
	// IfRevision, when set, makes the edit conditional on the revision.
	IfRevision *int64
}

package domain

// ApplyTo returns u as p edits it: nil fields are left alone, an empty
// attribute value removes the attribute, and reactivating a user clears
// DeactivatedBySync (it is no longer a sync's deactivation to undo). The
// revision and timestamps are the store's to set.
func (p UserPatch) ApplyTo(u User) User {
	u.Attributes = u.Attributes.Merge(p.Attributes)
	if p.Email != nil {
		u.Email = *p.Email
	}
	if p.Status != nil {
		u.Status = *p.Status
		if *p.Status == StatusActive {
			u.DeactivatedBySync = false
		}
	}
	if p.Protected != nil {
		u.Protected = *p.Protected
	}
	return u
}

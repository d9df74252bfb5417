package domain

import (
	"reflect"
	"testing"
)

func TestUserPatchApplyTo(t *testing.T) {
	cur := User{PlatformUser: PlatformUser{
		ID: "u-1", Email: "ada@example.com", Status: StatusInactive, Source: SourceEntra, ExternalID: "x-1",
		DeactivatedBySync: true, Attributes: Attrs{{"department", "R&D"}, {"displayName", "Ada"}}, Revision: 4,
	}}
	with := func(edit func(u *User)) User {
		u := cur
		edit(&u)
		return u
	}
	email := "ada@lovelace.org"
	active, inactive := StatusActive, StatusInactive
	yes := true
	rev := int64(4)
	tests := []struct {
		name  string
		patch UserPatch
		want  User
	}{
		{"an empty patch changes nothing", UserPatch{}, cur},
		{"only a revision condition changes nothing", UserPatch{IfRevision: &rev}, cur},
		{"a new email", UserPatch{Email: &email}, with(func(u *User) { u.Email = email })},
		{"an attribute set and one removed", UserPatch{Attributes: map[string]string{"jobTitle": "Countess", "department": ""}},
			with(func(u *User) { u.Attributes = Attrs{{"displayName", "Ada"}, {"jobTitle", "Countess"}} })},
		{"reactivating clears the sync's deactivation", UserPatch{Status: &active},
			with(func(u *User) { u.Status, u.DeactivatedBySync = StatusActive, false })},
		{"deactivating by hand keeps the flag as it is", UserPatch{Status: &inactive}, cur},
		{"protected", UserPatch{Protected: &yes}, with(func(u *User) { u.Protected = true })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.patch.ApplyTo(cur); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ApplyTo = %+v, want %+v", got, tc.want)
			}
		})
	}
	t.Run("the user given is left as it is", func(t *testing.T) {
		before := cur
		before.Attributes = append(Attrs(nil), cur.Attributes...)
		UserPatch{Email: &email, Attributes: map[string]string{"department": ""}, Status: &active}.ApplyTo(cur)
		if !reflect.DeepEqual(cur, before) {
			t.Fatalf("ApplyTo changed its input: %+v", cur)
		}
	})
}

package domain

import (
	"reflect"
	"testing"
)

func TestDropExcludedMembers(t *testing.T) {
	excluded := []Exclusion{
		{Seq: 1, ObjectType: ObjectUser, User: []MemberRef{{UserID: "u1"}}},
		{Seq: 2, ObjectType: ObjectUser, User: []MemberRef{{ExternalID: "x2"}}},
	}
	refs := []MemberRef{{UserID: "u1"}, {ExternalID: "x2"}, {UserID: "u3"}}
	tests := []struct {
		name                string
		change              Change
		wantAdded, wantGone []MemberRef
	}{
		{"a group add leaves out the excluded users' memberships",
			Change{ObjectType: ObjectGroup, Kind: KindAdd, MembersAdded: refs},
			[]MemberRef{{UserID: "u3"}}, nil},
		{"a group update leaves out the excluded users' memberships",
			Change{ObjectType: ObjectGroup, Kind: KindUpdate, MembersAdded: refs, MembersRemoved: refs},
			[]MemberRef{{UserID: "u3"}}, []MemberRef{{UserID: "u3"}}},
		{"a group removal keeps every membership: they go with the group",
			Change{ObjectType: ObjectGroup, Kind: KindRemove, MembersRemoved: refs},
			nil, refs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changes := []Change{tt.change}
			DropExcludedMembers(changes, excluded)
			got := changes[0]
			if len(got.MembersAdded)+len(tt.wantAdded) > 0 && !reflect.DeepEqual(got.MembersAdded, tt.wantAdded) {
				t.Errorf("added %v, want %v", got.MembersAdded, tt.wantAdded)
			}
			if len(got.MembersRemoved)+len(tt.wantGone) > 0 && !reflect.DeepEqual(got.MembersRemoved, tt.wantGone) {
				t.Errorf("removed %v, want %v", got.MembersRemoved, tt.wantGone)
			}
		})
	}
}

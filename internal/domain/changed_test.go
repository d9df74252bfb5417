package domain

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func randomMirror(rng *rand.Rand) *SourceMirror {
	m := &SourceMirror{DirectoryTenantID: "t"}
	for i := range 20 {
		m.Users = append(m.Users, SourceUser{ID: "u" + strconv.Itoa(10+i), Mail: "m" + strconv.Itoa(i), AccountEnabled: true})
	}
	for i := range 8 {
		g := DirectGroup{ID: "g" + strconv.Itoa(i)}
		for range rng.IntN(6) {
			g.UserIDs = append(g.UserIDs, m.Users[rng.IntN(len(m.Users))].ID)
		}
		for range rng.IntN(3) {
			g.GroupIDs = append(g.GroupIDs, "g"+strconv.Itoa(rng.IntN(9))) // g8 does not exist
		}
		m.Groups = append(m.Groups, g)
	}
	return m
}

func mutateMirror(m *SourceMirror, rng *rand.Rand) *SourceMirror {
	next := &SourceMirror{DirectoryTenantID: m.DirectoryTenantID, Users: slices.Clone(m.Users)}
	for _, g := range m.Groups {
		g.UserIDs, g.GroupIDs = slices.Clone(g.UserIDs), slices.Clone(g.GroupIDs)
		next.Groups = append(next.Groups, g)
	}
	for step := range 1 + rng.IntN(3) {
		u := rng.IntN(len(next.Users))
		g := &next.Groups[rng.IntN(len(next.Groups))]
		switch rng.IntN(8) {
		case 0:
			next.Users[u].Mail += "x"
		case 1:
			next.Users = slices.Delete(next.Users, u, u+1)
		case 2:
			next.Users = append(next.Users, SourceUser{ID: "u9" + strconv.Itoa(step)})
			slices.SortFunc(next.Users, func(a, b SourceUser) int { return strings.Compare(a.ID, b.ID) })
		case 3:
			g.UserIDs = append(g.UserIDs, next.Users[u].ID)
		case 4:
			if len(g.UserIDs) > 0 {
				g.UserIDs = g.UserIDs[1:]
			}
		case 5:
			g.GroupIDs = append(g.GroupIDs, "g"+strconv.Itoa(rng.IntN(8)))
		case 6:
			if len(g.GroupIDs) > 0 {
				g.GroupIDs = g.GroupIDs[1:]
			}
		case 7:
			if rng.IntN(2) == 0 {
				i := rng.IntN(len(next.Groups))
				next.Groups = slices.Delete(next.Groups, i, i+1)
			} else {
				next.Groups = append(next.Groups, DirectGroup{ID: "g-new" + strconv.Itoa(step), UserIDs: []string{next.Users[u].ID}, GroupIDs: []string{"g1"}})
			}
		}
	}
	return next
}

// groupsOfUsers maps each user to the sorted groups of snapshot s that
// hold it.
func groupsOfUsers(s *Snapshot) map[string][]string {
	out := map[string][]string{}
	for _, g := range s.Groups {
		for _, id := range g.MemberIDs {
			out[id] = append(out[id], g.ID)
		}
	}
	for id := range out {
		slices.Sort(out[id])
	}
	return out
}

// TestChangedUsersCoversEveryDifference checks, over random mirrors and
// changes, that every user whose record or transitive groups differ
// (under any scope) is listed.
func TestChangedUsersCoversEveryDifference(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	for n := range 2000 {
		prev := randomMirror(rng)
		next := mutateMirror(prev, rng)
		got := ChangedUsers(prev, next)
		if !slices.IsSorted(got) {
			t.Fatalf("case %d: not sorted: %v", n, got)
		}
		scope := []string{"g" + strconv.Itoa(rng.IntN(8))}
		for _, sc := range [][]string{nil, scope} {
			before, after := groupsOfUsers(prev.Snapshot(sc)), groupsOfUsers(next.Snapshot(sc))
			users := map[string]*SourceUser{}
			for i := range prev.Users {
				users[prev.Users[i].ID] = &prev.Users[i]
			}
			for i := range next.Users {
				u := &next.Users[i]
				p, ok := users[u.ID]
				differs := !ok || !sameUser(p, u) || !slices.Equal(before[u.ID], after[u.ID])
				if differs && !slices.Contains(got, u.ID) {
					t.Fatalf("case %d (scope %v): user %s changed but is not listed: %v", n, sc, u.ID, got)
				}
				delete(users, u.ID)
			}
			for id := range users {
				if !slices.Contains(got, id) {
					t.Fatalf("case %d: user %s is gone but not listed: %v", n, id, got)
				}
			}
		}
	}
}

func TestChangedUsers(t *testing.T) {
	prev := &SourceMirror{
		Users: []SourceUser{{ID: "a", Mail: "a@x"}, {ID: "b"}, {ID: "c"}, {ID: "d"}},
		Groups: []DirectGroup{
			{ID: "top", GroupIDs: []string{"team"}},
			{ID: "team", UserIDs: []string{"a", "b"}},
			{ID: "other", UserIDs: []string{"c"}},
		},
	}
	cases := []struct {
		name   string
		change func(m *SourceMirror)
		want   []string
	}{
		{"nothing", func(*SourceMirror) {}, []string{}},
		{"a record", func(m *SourceMirror) { m.Users[0].Mail = "new@x" }, []string{"a"}},
		{"a direct member", func(m *SourceMirror) { m.Groups[2].UserIDs = []string{"c", "d"} }, []string{"d"}},
		{"the same members in another order", func(m *SourceMirror) { m.Groups[1].UserIDs = []string{"b", "a"} }, []string{}},
		{"a nested group unlinked", func(m *SourceMirror) { m.Groups[0].GroupIDs = nil }, []string{"a", "b"}},
		{"a group deleted", func(m *SourceMirror) { m.Groups = m.Groups[:2] }, []string{"c"}},
		{"a user deleted", func(m *SourceMirror) { m.Users = m.Users[1:] }, []string{"a"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			next := &SourceMirror{Users: slices.Clone(prev.Users)}
			for _, g := range prev.Groups {
				g.UserIDs, g.GroupIDs = slices.Clone(g.UserIDs), slices.Clone(g.GroupIDs)
				next.Groups = append(next.Groups, g)
			}
			tc.change(next)
			if got := ChangedUsers(prev, next); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

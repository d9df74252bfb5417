package domain

import "slices"

// ChangedUsers lists, sorted, the users whose record or groups may differ
// between two mirrors of one tenant, and those only one of them holds: the
// users a plan from the changes starts from. Groups are compared by their
// direct members: a user added to or removed from a group directly, the
// users under a nested group linked or unlinked, and the users under a
// group added or deleted are listed (some may still reach every group
// they reached before through another path; listing them costs a little
// work, never a wrong plan).
func ChangedUsers(prev, next *SourceMirror) []string {
	changed := map[string]struct{}{}
	i, j := 0, 0
	for i < len(prev.Users) || j < len(next.Users) {
		switch {
		case j == len(next.Users) || (i < len(prev.Users) && prev.Users[i].ID < next.Users[j].ID):
			changed[prev.Users[i].ID] = struct{}{}
			i++
		case i == len(prev.Users) || next.Users[j].ID < prev.Users[i].ID:
			changed[next.Users[j].ID] = struct{}{}
			j++
		default:
			if !sameUser(&prev.Users[i], &next.Users[j]) {
				changed[next.Users[j].ID] = struct{}{}
			}
			i, j = i+1, j+1
		}
	}

	before, after := newGroupTree(prev), newGroupTree(next)
	for gi := range next.Groups {
		g := &next.Groups[gi]
		old, ok := before.position[g.ID]
		if !ok {
			after.usersUnder(gi, changed)
			continue
		}
		p := &prev.Groups[old]
		added, removed := symmetricDifference(p.UserIDs, g.UserIDs)
		for _, id := range slices.Concat(added, removed) {
			changed[id] = struct{}{}
		}
		linked, unlinked := symmetricDifference(p.GroupIDs, g.GroupIDs)
		for _, id := range linked {
			if child, ok := after.position[id]; ok {
				after.usersUnder(child, changed)
			}
		}
		for _, id := range unlinked {
			if child, ok := before.position[id]; ok {
				before.usersUnder(child, changed)
			}
		}
	}
	for gi := range prev.Groups {
		if _, ok := after.position[prev.Groups[gi].ID]; !ok {
			before.usersUnder(gi, changed)
		}
	}
	out := make([]string, 0, len(changed))
	for id := range changed {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func sameUser(a, b *SourceUser) bool {
	return a.ID == b.ID && a.UserPrincipalName == b.UserPrincipalName && a.Mail == b.Mail &&
		a.AccountEnabled == b.AccountEnabled && a.Guest == b.Guest && a.ManagerID == b.ManagerID &&
		slices.Equal(a.Values, b.Values)
}

// symmetricDifference returns what b has that a has not, and what a has
// that b has not; neither input is ordered.
func symmetricDifference(a, b []string) (added, removed []string) {
	if slices.Equal(a, b) {
		return nil, nil
	}
	x, y := slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case j == len(y) || (i < len(x) && x[i] < y[j]):
			removed = append(removed, x[i])
			i++
		case i == len(x) || y[j] < x[i]:
			added = append(added, y[j])
			j++
		default:
			i, j = i+1, j+1
		}
	}
	return added, removed
}

// groupTree finds the users under a group of a mirror, nested groups
// followed.
type groupTree struct {
	m        *SourceMirror
	position map[string]int
}

func newGroupTree(m *SourceMirror) groupTree {
	t := groupTree{m: m, position: make(map[string]int, len(m.Groups))}
	for i := range m.Groups {
		t.position[m.Groups[i].ID] = i
	}
	return t
}

// usersUnder adds to into every user under group gi, each nested group
// visited once, so a cycle ends.
func (t groupTree) usersUnder(gi int, into map[string]struct{}) {
	seen := map[int]bool{gi: true}
	stack := []int{gi}
	for len(stack) > 0 {
		g := &t.m.Groups[stack[len(stack)-1]]
		stack = stack[:len(stack)-1]
		for _, id := range g.UserIDs {
			into[id] = struct{}{}
		}
		for _, id := range g.GroupIDs {
			if child, ok := t.position[id]; ok && !seen[child] {
				seen[child] = true
				stack = append(stack, child)
			}
		}
	}
}

package fakeentra

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// ChurnResult counts what Churn changed.
type ChurnResult struct {
	Updated     int `json:"updated"`     // a property changed (department, job title)
	Disabled    int `json:"disabled"`    // accountEnabled turned false
	SoftDeleted int `json:"softDeleted"` // moved to DeletedUsers
	Added       int `json:"added"`       // new users, each put in a group
	LeftGroup   int `json:"leftGroup"`   // a direct membership removed
}

// Touched is how many users the churn touched.
func (c ChurnResult) Touched() int {
	return c.Updated + c.Disabled + c.SoftDeleted + c.Added + c.LeftGroup
}

// Churn changes about fraction of t's users the way a day in a directory
// does, the same way for the same seed: of every ten users touched, six
// change a property, one is disabled, one is soft-deleted, one leaves a
// group it is a direct member of, and one new user joins a group. It runs
// in one pass over the tenant whatever its size, so it is meant for Update
// on large generated tenants.
func Churn(t *Tenant, fraction float64, seed uint64) ChurnResult {
	var res ChurnResult
	n := int(float64(len(t.Users)) * fraction)
	if n <= 0 || len(t.Users) == 0 {
		return res
	}
	rng := rand.New(rand.NewPCG(seed, 0x6368_7572_6e))
	// Users by index, in the order drawn; the k-th one drawn gets change
	// k % 10.
	seen := make(map[int]bool, n)
	picked := make([]int, 0, n)
	for len(picked) < n && len(picked) < len(t.Users) {
		if i := rng.IntN(len(t.Users)); !seen[i] {
			seen[i] = true
			picked = append(picked, i)
		}
	}
	deleted := make(map[string]bool)
	leaving := make(map[string]bool)
	for k, i := range picked {
		u := &t.Users[i]
		switch k % 10 {
		case 0, 1, 2, 3, 4, 5:
			u.Department = fmt.Sprintf("Reorganised %d", rng.IntN(20))
			u.JobTitle = fmt.Sprintf("Role %d", rng.IntN(1000))
			res.Updated++
		case 6:
			u.AccountEnabled = false
			res.Disabled++
		case 7:
			deleted[u.ID] = true
		case 8:
			leaving[u.ID] = true
		case 9:
			id := fmt.Sprintf("%08x-c0de-4000-8000-%012x", seed&0xffffffff, uint64(len(t.Users)+res.Added))
			upn := fmt.Sprintf("joiner%d.%d@%s", seed, res.Added, t.Domain)
			t.Users = append(t.Users, User{ID: id, DisplayName: fmt.Sprintf("Joiner %d", res.Added), UserPrincipalName: upn,
				Mail: &upn, AccountEnabled: true, UserType: "Member", Department: u.Department})
			if len(t.Groups) > 0 {
				g := &t.Groups[rng.IntN(len(t.Groups))]
				g.MemberUserIDs = append(g.MemberUserIDs, id)
			}
			res.Added++
		}
	}
	// A leaver leaves the first group it is a direct member of.
	for gi := range t.Groups {
		if len(leaving) == 0 {
			break
		}
		g := &t.Groups[gi]
		g.MemberUserIDs = slices.DeleteFunc(g.MemberUserIDs, func(id string) bool {
			if leaving[id] {
				delete(leaving, id)
				res.LeftGroup++
				return true
			}
			return false
		})
	}
	if len(deleted) > 0 {
		kept := t.Users[:0]
		for _, u := range t.Users {
			if deleted[u.ID] {
				t.DeletedUsers = append(t.DeletedUsers, u)
				res.SoftDeleted++
			} else {
				kept = append(kept, u)
			}
		}
		clear(t.Users[len(kept):])
		t.Users = kept
	}
	return res
}

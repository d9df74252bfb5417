package entra

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"dirsync/internal/domain"
)

// Member types in members@delta.
const (
	odataUser  = "#microsoft.graph.user"
	odataGroup = "#microsoft.graph.group"
)

// groupDeltaFields are selected in the groups delta round; "members" asks
// for each group's direct members in members@delta.
var groupDeltaFields = []string{"id", "displayName", "description", "mail", "members"}

// deltaGroupJSON is one entry of a groups delta round.
type deltaGroupJSON struct {
	ID          string            `json:"id"`
	DisplayName string            `json:"displayName"`
	Description string            `json:"description"`
	Mail        string            `json:"mail"`
	Members     []deltaMemberJSON `json:"members@delta"`
	Removed     *struct{}         `json:"@removed"`
}

// deltaMemberJSON is one direct member in members@delta.
type deltaMemberJSON struct {
	Type    string    `json:"@odata.type"`
	ID      string    `json:"id"`
	Removed *struct{} `json:"@removed"`
}

// groupRound is the outcome of a groups delta round: every group with its
// direct user members and nested groups (positions in groups).
type groupRound struct {
	groups    []domain.SourceGroup
	users     [][]string // direct user member ids, by group
	nested    [][]int32  // direct nested groups, by group
	deltaLink string
}

// readGroupRound reads every group and its direct members in one groups
// delta round. Graph may list a large group on several pages, each time
// with more of its members: they are merged. The round must end with a
// deltaLink on the Graph endpoint, and the groups are checked against
// Graph's $count.
func (r *Reader) readGroupRound(ctx context.Context) (*groupRound, error) {
	config := &groups.DeltaRequestBuilderGetRequestConfiguration{
		QueryParameters: &groups.DeltaRequestBuilderGetQueryParameters{Select: groupDeltaFields, Top: r.top()},
	}
	delta := r.groups.Delta()
	round := &groupRound{}
	position := make(map[string]int32)
	// Nested groups are known by id until the round ends: a group may nest
	// one the round lists later.
	var nestedIDs [][]string
	deltaLink, err := readPagesToEnd(ctx, r, "groups delta", permGroups,
		func(ctx context.Context, link string) (*abs.RequestInformation, error) {
			if link == "" {
				return delta.ToGetRequestInformation(ctx, config)
			}
			return delta.WithUrl(link).ToGetRequestInformation(ctx, nil)
		},
		func(g *deltaGroupJSON) error {
			if g.ID == "" {
				return malformed("Graph answered a group without an id")
			}
			if g.Removed != nil {
				return nil // a first round lists no removals; nothing to mirror
			}
			at, seen := position[g.ID]
			if !seen {
				at = int32(len(round.groups))
				position[g.ID] = at
				round.groups = append(round.groups, domain.SourceGroup{ID: g.ID, DisplayName: g.DisplayName, Description: g.Description, Mail: g.Mail})
				round.users = append(round.users, nil)
				nestedIDs = append(nestedIDs, nil)
			}
			for _, m := range g.Members {
				switch {
				case m.ID == "":
					return malformed("Graph answered a member of group %s without an id", g.ID)
				case m.Removed != nil:
				case m.Type == odataUser:
					round.users[at] = append(round.users[at], m.ID)
				case m.Type == odataGroup:
					nestedIDs[at] = append(nestedIDs[at], m.ID)
				case m.Type == "":
					return malformed("Graph answered a member of group %s without an @odata.type", g.ID)
				}
				// Devices, contacts and service principals are not mirrored.
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	if deltaLink == "" {
		return nil, fmt.Errorf("entra: read groups delta: %w", malformed("Graph ended the groups delta round without an @odata.deltaLink"))
	}
	round.deltaLink = deltaLink
	round.nested = make([][]int32, len(nestedIDs))
	for i, ids := range nestedIDs {
		for _, id := range ids {
			// A nested group the round did not list (deleted meanwhile)
			// brings no members.
			if j, ok := position[id]; ok {
				round.nested[i] = append(round.nested[i], j)
			}
		}
	}

	counted, err := r.count(ctx, "groups", permGroups, func(ctx context.Context) (*abs.RequestInformation, error) {
		return r.groups.Count().ToGetRequestInformation(ctx, &groups.CountRequestBuilderGetRequestConfiguration{Headers: eventualConsistency()})
	})
	if err != nil {
		return nil, err
	}
	if err := checkComplete("groups", len(round.groups), counted); err != nil {
		return nil, err
	}
	return round, nil
}

// mirror returns the groups the snapshot mirrors (all of them, or the
// scope groups in scope order) with their transitive user members: nested
// groups followed, each group once, so a cycle ends. A member that is one
// of sourceUsers (sorted by id) shares its id's memory; MemberIDs are
// sorted and unique. A scope group the round did not list fails with
// ErrScopeGroupNotFound, naming every missing one.
func (round *groupRound) mirror(sourceUsers []domain.SourceUser, scope []string) ([]domain.SourceGroup, error) {
	chosen := make([]int, 0, len(round.groups))
	if len(scope) == 0 {
		for i := range round.groups {
			chosen = append(chosen, i)
		}
	} else {
		byID := make(map[string]int, len(round.groups))
		for i := range round.groups {
			byID[strings.ToLower(round.groups[i].ID)] = i
		}
		var absent []string
		for _, id := range uniqueIDs(scope) {
			if i, ok := byID[strings.ToLower(id)]; ok {
				if !slices.Contains(chosen, i) {
					chosen = append(chosen, i)
				}
			} else {
				absent = append(absent, id)
			}
		}
		if len(absent) > 0 {
			return nil, scopeGroupsNotFound(absent)
		}
	}

	userIDs := make([]string, len(sourceUsers))
	for i := range sourceUsers {
		userIDs[i] = sourceUsers[i].ID
	}
	known := newIDIndex(userIDs)
	// stamp marks, per user and per group, the group whose closure last
	// reached it, so each closure visits each once without clearing.
	userStamp := make([]int32, len(sourceUsers))
	groupStamp := make([]int32, len(round.groups))
	var positions []int32
	var strangers []string // members not among sourceUsers
	var stack []int32
	out := make([]domain.SourceGroup, 0, len(chosen))
	for n, gi := range chosen {
		stamp := int32(n + 1)
		positions, strangers = positions[:0], strangers[:0]
		stack = append(stack[:0], int32(gi))
		groupStamp[gi] = stamp
		for len(stack) > 0 {
			g := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, id := range round.users[g] {
				if p, ok := known.position(id); ok {
					if userStamp[p] != stamp {
						userStamp[p] = stamp
						positions = append(positions, int32(p))
					}
				} else {
					strangers = append(strangers, id)
				}
			}
			for _, child := range round.nested[g] {
				if groupStamp[child] != stamp {
					groupStamp[child] = stamp
					stack = append(stack, child)
				}
			}
		}
		// Users are sorted by id, so positions order the members by id.
		slices.Sort(positions)
		slices.Sort(strangers)
		strangers = slices.Compact(strangers)
		members := make([]string, 0, len(positions)+len(strangers))
		for _, p := range positions {
			members = append(members, userIDs[p])
		}
		if len(strangers) > 0 {
			members = append(members, strangers...)
			slices.Sort(members)
		}
		group := round.groups[gi]
		group.MemberIDs = members
		out = append(out, group)
	}
	return out, nil
}

// uniqueIDs drops empty and repeated ids, keeping the first of each.
func uniqueIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// latestUsersDeltaLink asks Graph for a users deltaLink that starts now
// ($deltatoken=latest, no users listed), with the same selection as the
// users read, so the next round lists what changes from here on.
func (r *Reader) latestUsersDeltaLink(ctx context.Context, plan *userPlan) (string, error) {
	query := &users.DeltaRequestBuilderGetQueryParameters{Select: plan.selectFields}
	if plan.expandManager {
		query.Expand = []string{managerExpand}
	}
	delta := r.users.Delta()
	link, err := readPagesToEnd(ctx, r, "users delta", permUsers,
		func(ctx context.Context, link string) (*abs.RequestInformation, error) {
			if link != "" {
				return delta.WithUrl(link).ToGetRequestInformation(ctx, nil)
			}
			info, err := delta.ToGetRequestInformation(ctx, &users.DeltaRequestBuilderGetRequestConfiguration{QueryParameters: query})
			if err != nil {
				return nil, err
			}
			// The request builder has no $deltatoken parameter; the adapter
			// fills in the base URL only when it sends.
			info.PathParameters["baseurl"] = r.adapter.GetBaseUrl()
			u, err := info.GetUri()
			if err != nil {
				return nil, err
			}
			q := u.Query()
			q.Set("$deltatoken", "latest")
			u.RawQuery = strings.ReplaceAll(q.Encode(), "%24", "$")
			return delta.WithUrl(u.String()).ToGetRequestInformation(ctx, nil)
		},
		func(*struct{}) error { return nil })
	if err != nil {
		return "", err
	}
	if link == "" {
		return "", fmt.Errorf("entra: read users delta: %w", malformed("Graph answered $deltatoken=latest without an @odata.deltaLink"))
	}
	return link, nil
}

// checkDeltaLink refuses a deltaLink off the Graph endpoint, as a nextLink
// is refused: it will be followed with the access token.
func (r *Reader) checkDeltaLink(link string) error {
	u, err := url.Parse(link)
	if err != nil || !r.onGraph(u) {
		return malformed("Graph answered an @odata.deltaLink outside %s: %s", r.graphURL, truncate(link))
	}
	return nil
}

package entra

import (
	"context"
	"fmt"
	"net/url"
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
	ID string `json:"id"`
	// The properties are nil when the entry leaves them out (an entry of
	// an incremental round may list only what changed, members included),
	// and "" when Graph sends them null.
	DisplayName *string           `json:"displayName"`
	Description *string           `json:"description"`
	Mail        *string           `json:"mail"`
	Members     []deltaMemberJSON `json:"members@delta"`
	Removed     *struct{}         `json:"@removed"`
}

// properties are the group's properties as the entry gives them, those it
// leaves out taken from was.
func (g *deltaGroupJSON) properties(was domain.DirectGroup) domain.DirectGroup {
	or := func(v *string, old string) string {
		if v == nil {
			return old
		}
		return *v
	}
	return domain.DirectGroup{ID: g.ID, DisplayName: or(g.DisplayName, was.DisplayName),
		Description: or(g.Description, was.Description), Mail: or(g.Mail, was.Mail)}
}

// deltaMemberJSON is one direct member in members@delta.
type deltaMemberJSON struct {
	Type    string    `json:"@odata.type"`
	ID      string    `json:"id"`
	Removed *struct{} `json:"@removed"`
}

// readGroupDelta reads one groups delta round: the initial one (link "",
// every group with its direct members) or the changes since the deltaLink
// link. Graph may list a large group on several pages, each time with more
// of its members; each entry is handed to each as it comes. The round
// must end with a deltaLink on the Graph endpoint, which is returned.
func (r *Reader) readGroupDelta(ctx context.Context, link string, each func(*deltaGroupJSON) error) (string, error) {
	config := &groups.DeltaRequestBuilderGetRequestConfiguration{
		QueryParameters: &groups.DeltaRequestBuilderGetQueryParameters{Select: groupDeltaFields, Top: r.top()},
	}
	delta := r.groups.Delta()
	deltaLink, err := readPagesToEnd(ctx, r, "groups delta", permGroups,
		func(ctx context.Context, next string) (*abs.RequestInformation, error) {
			switch {
			case next != "":
				return delta.WithUrl(next).ToGetRequestInformation(ctx, nil)
			case link != "":
				return delta.WithUrl(link).ToGetRequestInformation(ctx, nil)
			}
			return delta.ToGetRequestInformation(ctx, config)
		},
		func(g *deltaGroupJSON) error {
			if g.ID == "" {
				return malformed("Graph answered a group without an id")
			}
			for _, m := range g.Members {
				if m.ID == "" {
					return malformed("Graph answered a member of group %s without an id", g.ID)
				}
				if m.Type == "" && m.Removed == nil {
					return malformed("Graph answered a member of group %s without an @odata.type", g.ID)
				}
			}
			return each(g)
		})
	if err != nil {
		return "", err
	}
	if deltaLink == "" {
		return "", fmt.Errorf("entra: read groups delta: %w", malformed("Graph ended the groups delta round without an @odata.deltaLink"))
	}
	return deltaLink, nil
}

// readGroupRound reads every group and its direct members in one initial
// groups delta round, merging a group Graph lists on several pages, and
// checks the groups against Graph's $count.
func (r *Reader) readGroupRound(ctx context.Context) ([]domain.DirectGroup, string, error) {
	var out []domain.DirectGroup
	position := make(map[string]int)
	deltaLink, err := r.readGroupDelta(ctx, "", func(g *deltaGroupJSON) error {
		if g.Removed != nil {
			return nil // a first round lists no removals; nothing to mirror
		}
		at, seen := position[g.ID]
		if !seen {
			at = len(out)
			position[g.ID] = at
			out = append(out, g.properties(domain.DirectGroup{}))
		}
		addMembers(&out[at], g.Members)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	counted, err := r.countGroups(ctx)
	if err != nil {
		return nil, "", err
	}
	if err := checkComplete("groups", len(out), counted); err != nil {
		return nil, "", err
	}
	return out, deltaLink, nil
}

// addMembers adds the members a members@delta lists as present to g.
// Devices, contacts and service principals are not mirrored.
func addMembers(g *domain.DirectGroup, members []deltaMemberJSON) {
	for _, m := range members {
		switch {
		case m.Removed != nil:
		case m.Type == odataUser:
			g.UserIDs = append(g.UserIDs, m.ID)
		case m.Type == odataGroup:
			g.GroupIDs = append(g.GroupIDs, m.ID)
		}
	}
}

func (r *Reader) countGroups(ctx context.Context) (int, error) {
	return r.count(ctx, "groups", permGroups, func(ctx context.Context) (*abs.RequestInformation, error) {
		return r.groups.Count().ToGetRequestInformation(ctx, &groups.CountRequestBuilderGetRequestConfiguration{Headers: eventualConsistency()})
	})
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

package entra

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"golang.org/x/sync/errgroup"

	"dirsync/internal/domain"
)

// Searching groups by name and naming groups by id, for an admin choosing
// a connection's scope groups.
const (
	// MaxGroupMatches is how many groups one search answers (its $top).
	MaxGroupMatches = 25
	// idsPerFilter is how many ids one "id in (...)" filter names: Graph
	// takes at most 15 values in an "in" clause without advanced queries.
	idsPerFilter = 15
	// countConcurrency bounds the $count requests of one search, so 25 of
	// them do not get the application throttled.
	countConcurrency = 5
	// memberCountWait is how long a search waits for its member counts
	// after the search itself answered; a count that is not in by then is
	// left out rather than keep the admin waiting.
	memberCountWait = 3 * time.Second
)

var matchFields = []string{"id", "displayName"}

// odataString quotes s as an OData string literal: a quote doubles, so a
// name such as O'Brien cannot end the literal early.
func odataString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// SearchGroups finds at most MaxGroupMatches groups whose displayName
// starts with prefix (Graph compares case-insensitively), in Graph's order,
// with a single request; then counts each one's transitive user members
// (the users it would bring into scope), countConcurrency at a time. A
// count that fails or is late leaves that group's MemberCount nil: it
// never fails the search.
func (r *Reader) SearchGroups(ctx context.Context, prefix string) ([]domain.DirectoryGroup, error) {
	filter := "startswith(displayName," + odataString(prefix) + ")"
	top := int32(MaxGroupMatches)
	config := &groups.GroupsRequestBuilderGetRequestConfiguration{
		QueryParameters: &groups.GroupsRequestBuilderGetQueryParameters{Filter: &filter, Select: matchFields, Top: &top},
	}
	page, err := r.groupPage(ctx, "search groups", func(ctx context.Context) (*abs.RequestInformation, error) {
		return r.groups.ToGetRequestInformation(ctx, config)
	})
	if err != nil {
		return nil, err
	}
	// Only the first page: more matches than the $top means the admin
	// should type more of the name.
	out := make([]domain.DirectoryGroup, 0, min(len(page), MaxGroupMatches))
	for _, g := range page[:min(len(page), MaxGroupMatches)] {
		out = append(out, domain.DirectoryGroup{ID: g.ID, DisplayName: g.DisplayName})
	}
	r.countMembers(ctx, out)
	return out, nil
}

// countMembers sets the MemberCount of each group Graph counts within
// memberCountWait.
func (r *Reader) countMembers(ctx context.Context, found []domain.DirectoryGroup) {
	ctx, cancel := context.WithTimeout(ctx, memberCountWait)
	defer cancel()
	config := &groups.ItemTransitiveMembersGraphUserCountRequestBuilderGetRequestConfiguration{Headers: eventualConsistency()}
	var g errgroup.Group
	g.SetLimit(countConcurrency)
	for i := range found {
		g.Go(func() error {
			id := found[i].ID
			n, err := r.count(ctx, "transitive user members of group "+id, permGroups, func(ctx context.Context) (*abs.RequestInformation, error) {
				return r.groups.ByGroupId(id).TransitiveMembers().GraphUser().Count().ToGetRequestInformation(ctx, config)
			})
			if err == nil {
				found[i].MemberCount = &n
			}
			return nil // a missing count is shown as unknown, not as a failure
		})
	}
	_ = g.Wait() // every function returns nil
}

// GroupNames looks up the display names of the given group ids, keyed by
// lower-case id: one request per idsPerFilter ids ($filter=id in (...)),
// sent concurrently. Ids Graph does not know (deleted groups, or not
// groups) are absent from the map; any request that fails fails the
// lookup.
func (r *Reader) GroupNames(ctx context.Context, ids []string) (map[string]string, error) {
	unique := make([]string, 0, len(ids))
	for _, id := range ids {
		id = strings.ToLower(strings.TrimSpace(id))
		if id != "" && !slices.Contains(unique, id) {
			unique = append(unique, id)
		}
	}
	chunks := slices.Collect(slices.Chunk(unique, idsPerFilter))
	found := make([][]groupJSON, len(chunks))
	err := parallel(ctx, countConcurrency, len(chunks), func(ctx context.Context, i int) error {
		quoted := make([]string, len(chunks[i]))
		for j, id := range chunks[i] {
			quoted[j] = odataString(id)
		}
		filter := "id in (" + strings.Join(quoted, ",") + ")"
		config := &groups.GroupsRequestBuilderGetRequestConfiguration{
			QueryParameters: &groups.GroupsRequestBuilderGetQueryParameters{Filter: &filter, Select: matchFields},
		}
		page, err := r.groupPage(ctx, "name groups", func(ctx context.Context) (*abs.RequestInformation, error) {
			return r.groups.ToGetRequestInformation(ctx, config)
		})
		found[i] = page
		return err
	})
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(unique))
	for _, page := range found {
		for _, g := range page {
			names[strings.ToLower(g.ID)] = g.DisplayName
		}
	}
	return names, nil
}

// groupPage sends one request for a page of groups and decodes it; every
// group must have an id.
func (r *Reader) groupPage(ctx context.Context, what string, request func(context.Context) (*abs.RequestInformation, error)) ([]groupJSON, error) {
	trace := &requestTrace{}
	traced := withTrace(ctx, trace)
	info, err := request(traced)
	if err != nil {
		return nil, fmt.Errorf("entra: %s: %w", what, err)
	}
	body, err := r.getBody(traced, info)
	if err != nil {
		return nil, fmt.Errorf("entra: %s: %w", what, classify(ctx, err, trace, permGroups))
	}
	var page collectionPage[groupJSON]
	if err := decodePage(body, trace.status, &page); err != nil {
		return nil, fmt.Errorf("entra: %s: %w", what, err)
	}
	for _, g := range page.Value {
		if g.ID == "" {
			return nil, fmt.Errorf("entra: %s: %w", what, malformed("Graph answered a group without an id"))
		}
	}
	return page.Value, nil
}

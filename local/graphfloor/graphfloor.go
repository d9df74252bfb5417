// Package graphfloor is the raw floor of a read of an Entra tenant: the
// requests the Entra reader (internal/entra) sends for a full read, sent
// with plain net/http and encoding/json, each page decoded into minimal
// structs and let go. Benchmarks measure the reader (and the preview built
// on it) beside this floor in the same run, on the same fake and Graph
// model, so the difference is what the SDK and the reader's work cost.
//
// The requests, as the reader sends them: a client-credentials token; the
// users deltaLink ($deltatoken=latest); then, beside one groups delta
// round with members followed by the groups $count: the users $count, in
// a tenant of more pages than PartitionConcurrency a filtered $count of
// each of UPNInitials, and the users in the userPrincipalName partitions
// the reader's rule (domain.UserPartitioning) chooses from those counts,
// PartitionConcurrency at a time. A throttled GET waits what Retry-After
// says and is sent again, as any complete read of a throttled tenant must.
package graphfloor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"dirsync/internal/domain"
)

// Source names a directory and the app that reads it. BaseURL is both the
// Graph endpoint (without /v1.0) and the authority host, as the fake Entra
// ID serves them.
type Source struct {
	BaseURL           string
	DirectoryTenantID string
	ClientID          string
	ClientSecret      string
}

// Stats is what Read fetched and how long its parts took.
type Stats struct {
	Users, Groups int
	// DirectMembers counts the members@delta entries of the groups round.
	DirectMembers int
	// Requests counts the Graph requests sent (the token request excluded).
	Requests int
	// UsersTime covers the token, the deltaLink, the users counts and the
	// user partitions; GroupsTime the groups delta round and its count,
	// which run beside them.
	UsersTime, GroupsTime time.Duration
}

// PageSize is the $top of every listing: Graph's maximum, as the reader uses.
const PageSize = 999

// PartitionConcurrency is how many user partitions are read at once (the
// reader's default).
const PartitionConcurrency = 16

// UPNInitials are the characters a userPrincipalName may start with, one
// partition each (Graph compares case-insensitively): domain.UPNInitials,
// the reader's list; a test in internal/entra keeps the two equal.
var UPNInitials = domain.UPNInitials()

// groupDeltaSelect is what the reader selects in the groups delta round.
const groupDeltaSelect = "id,displayName,description,mail,members"

// identitySelect is selected whatever the mapping: what identifies, matches
// and scopes a user.
var identitySelect = []string{"id", "userPrincipalName", "mail", "accountEnabled", "userType"}

// UserQuery is the query of the user listings for a mapping: the identity
// properties and the mapped ones in $select, $top=999, and the manager
// through $expand when the mapping names it.
func UserQuery(mapping []domain.Mapping) url.Values {
	fields := append([]string(nil), identitySelect...)
	expandManager := false
	for _, p := range domain.UserProperties(mapping) {
		switch {
		case p == domain.ManagerProperty:
			expandManager = true
		case !contains(fields, p):
			fields = append(fields, p)
		}
	}
	q := url.Values{"$select": {strings.Join(fields, ",")}, "$top": {strconv.Itoa(PageSize)}}
	if expandManager {
		q.Set("$expand", "manager($select=id,mail,userPrincipalName)")
	}
	return q
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// rawUser is a user entry decoded into the fields a sync needs, and no
// further: the least work a client can do with a page.
type rawUser struct {
	ID                string   `json:"id"`
	UserPrincipalName string   `json:"userPrincipalName"`
	Mail              *string  `json:"mail"`
	AccountEnabled    *bool    `json:"accountEnabled"`
	UserType          *string  `json:"userType"`
	DisplayName       *string  `json:"displayName"`
	GivenName         *string  `json:"givenName"`
	Surname           *string  `json:"surname"`
	JobTitle          *string  `json:"jobTitle"`
	Department        *string  `json:"department"`
	OfficeLocation    *string  `json:"officeLocation"`
	MobilePhone       *string  `json:"mobilePhone"`
	BusinessPhones    []string `json:"businessPhones"`
	EmployeeID        *string  `json:"employeeId"`
	CompanyName       *string  `json:"companyName"`
	Country           *string  `json:"country"`
	Manager           *struct {
		Mail              *string `json:"mail"`
		UserPrincipalName *string `json:"userPrincipalName"`
	} `json:"manager"`
}

// rawGroup is an entry of the groups delta round.
type rawGroup struct {
	ID          string  `json:"id"`
	DisplayName *string `json:"displayName"`
	Description *string `json:"description"`
	Mail        *string `json:"mail"`
	Members     []struct {
		Type string `json:"@odata.type"`
		ID   string `json:"id"`
	} `json:"members@delta"`
}

// Read sends a full read's requests for the user query (UserQuery) and
// returns what they fetched.
func Read(ctx context.Context, client *http.Client, src Source, query url.Values) (Stats, error) {
	var st Stats
	start := time.Now()
	token, err := fetchToken(ctx, client, src)
	if err != nil {
		return st, err
	}
	c := &pager{client: client, token: token}
	base, q := src.BaseURL+"/v1.0/", query.Encode()

	var latest struct {
		DeltaLink string `json:"@odata.deltaLink"`
	}
	// The deltaLink request lists nothing, so the reader sends it without $top.
	latestQuery := url.Values{}
	for k, v := range query {
		if k != "$top" {
			latestQuery[k] = v
		}
	}
	latestQuery.Set("$deltatoken", "latest")
	if err := c.get(ctx, base+"users/delta()?"+latestQuery.Encode(), &latest); err != nil {
		return st, fmt.Errorf("graphfloor: users deltaLink: %w", err)
	}
	// The page size is the query's $top (UserQuery's PageSize), as the
	// reader's page size is every listing's: the groups round's too, and
	// the partitions are split as the reader splits them at that size.
	pageSize := PageSize
	if n, err := strconv.Atoi(query.Get("$top")); err == nil && n > 0 {
		pageSize = n
	}
	shape := domain.UserPartitioning{PageSize: pageSize, Workers: PartitionConcurrency}
	var users, userRequests, groupPages int
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer func() { st.UsersTime = time.Since(start) }()
		total, err := c.count(gctx, base+"users/$count")
		if err != nil {
			return fmt.Errorf("graphfloor: users count: %w", err)
		}
		userRequests++
		var counts []int
		if shape.CountsInitials(total) {
			counts = make([]int, len(UPNInitials))
			parts, pctx := errgroup.WithContext(gctx)
			parts.SetLimit(PartitionConcurrency)
			for i, initial := range UPNInitials {
				parts.Go(func() (err error) {
					counts[i], err = c.count(pctx, base+"users/$count?"+partitionFilter(initial))
					if err != nil {
						return fmt.Errorf("graphfloor: count users starting with %q: %w", initial, err)
					}
					return nil
				})
			}
			if err := parts.Wait(); err != nil {
				return err
			}
			userRequests += len(UPNInitials)
		}
		prefixes := shape.Partitions(total, counts)
		partUsers := make([]int, len(prefixes))
		pages := make([]int, len(prefixes))
		parts, pctx := errgroup.WithContext(gctx)
		parts.SetLimit(PartitionConcurrency)
		for i, prefix := range prefixes {
			parts.Go(func() error {
				next := base + "users?" + q + "&" + partitionFilter(prefix)
				for page := 1; next != ""; page++ {
					var body struct {
						Value    []rawUser `json:"value"`
						NextLink string    `json:"@odata.nextLink"`
					}
					if err := c.get(pctx, next, &body); err != nil {
						return fmt.Errorf("graphfloor: users starting with %q page %d: %w", prefix, page, err)
					}
					partUsers[i] += len(body.Value)
					pages[i]++
					next = body.NextLink
				}
				return nil
			})
		}
		if err := parts.Wait(); err != nil {
			return err
		}
		for i := range prefixes {
			users += partUsers[i]
			userRequests += pages[i]
		}
		return nil
	})
	g.Go(func() error {
		groupsStart := time.Now()
		defer func() { st.GroupsTime = time.Since(groupsStart) }()
		next := base + "groups/delta()?" + url.Values{"$select": {groupDeltaSelect}, "$top": {strconv.Itoa(pageSize)}}.Encode()
		seen := make(map[string]bool)
		for page := 1; next != ""; page++ {
			var body struct {
				Value     []rawGroup `json:"value"`
				NextLink  string     `json:"@odata.nextLink"`
				DeltaLink string     `json:"@odata.deltaLink"`
			}
			if err := c.get(gctx, next, &body); err != nil {
				return fmt.Errorf("graphfloor: groups delta page %d: %w", page, err)
			}
			for _, gr := range body.Value {
				seen[gr.ID] = true // a large group comes back on several pages
				st.DirectMembers += len(gr.Members)
			}
			groupPages++
			next = body.NextLink
		}
		st.Groups = len(seen)
		// The reader cross-checks the groups with Graph's $count after
		// the round (and the users with the count taken first); so does
		// the floor, so both send the same requests.
		if _, err := c.count(gctx, base+"groups/$count"); err != nil {
			return fmt.Errorf("graphfloor: groups count: %w", err)
		}
		groupPages++
		return nil
	})
	if err := g.Wait(); err != nil {
		return st, err
	}
	st.Users = users
	st.Requests = 1 + userRequests + groupPages
	return st, nil
}

// partitionFilter is the $filter, encoded, of the users whose
// userPrincipalName starts with prefix (a quote doubled in the literal).
func partitionFilter(prefix string) string {
	return url.Values{"$filter": {"startswith(userPrincipalName,'" + strings.ReplaceAll(prefix, "'", "''") + "')"}}.Encode()
}

type pager struct {
	client *http.Client
	token  string
}

func (c *pager) get(ctx context.Context, link string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	return DoJSON(c.client, req, v)
}

// count asks Graph's $count (text/plain, a number), which needs
// ConsistencyLevel: eventual.
func (c *pager) count(ctx context.Context, link string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("ConsistencyLevel", "eventual")
	var n int
	return n, DoJSON(c.client, req, &n)
}

func fetchToken(ctx context.Context, client *http.Client, src Source) (string, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {src.ClientID},
		"client_secret": {src.ClientSecret},
		"scope":         {src.BaseURL + "/.default"},
	}
	endpoint := src.BaseURL + "/" + url.PathEscape(src.DirectoryTenantID) + "/oauth2/v2.0/token"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("graphfloor: token: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var token struct {
		AccessToken string `json:"access_token"`
	}
	if err := DoJSON(client, req, &token); err != nil {
		return "", fmt.Errorf("graphfloor: token: %w", err)
	}
	if token.AccessToken == "" {
		return "", errors.New("graphfloor: token: the answer holds no access_token")
	}
	return token.AccessToken, nil
}

// maxThrottledAttempts bounds how often doJSON sends a throttled GET.
const maxThrottledAttempts = 10

// DoJSON decodes the answer to req (a 200 with JSON, else an error). A throttled GET waits what Retry-After
// says (whole seconds, as Graph sends it) and is sent again.
func DoJSON(client *http.Client, req *http.Request, v any) error {
	resp, err := client.Do(req)
	for attempt := 1; err == nil && resp.StatusCode == http.StatusTooManyRequests &&
		req.Method == http.MethodGet && attempt < maxThrottledAttempts; attempt++ {
		wait := time.Second
		if secs, perr := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); perr == nil && secs >= 0 {
			wait = time.Duration(secs) * time.Second
		}
		_ = resp.Body.Close()
		timer := time.NewTimer(wait)
		select {
		case <-req.Context().Done():
			timer.Stop()
			return req.Context().Err()
		case <-timer.C:
		}
		resp, err = client.Do(req)
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(snippet)))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	// Drain what the decoder left so the connection is reused.
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

// ReadChanges sends a re-sync's requests: a token, both deltaLinks
// followed to their next deltaLinks (at once, as the reader does) and the
// users and groups $count. Stats counts the entries the rounds listed.
func ReadChanges(ctx context.Context, client *http.Client, src Source, links domain.DeltaLinks) (Stats, error) {
	var st Stats
	start := time.Now()
	token, err := fetchToken(ctx, client, src)
	if err != nil {
		return st, err
	}
	c := &pager{client: client, token: token}
	var userPages, groupPages int
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		defer func() { st.UsersTime = time.Since(start) }()
		userPages, err = follow(gctx, c, links.Users, "users delta", func(users []rawUser) { st.Users += len(users) })
		return err
	})
	g.Go(func() (err error) {
		groupsStart := time.Now()
		defer func() { st.GroupsTime = time.Since(groupsStart) }()
		groupPages, err = follow(gctx, c, links.Groups, "groups delta", func(groups []rawGroup) {
			st.Groups += len(groups)
			for _, gr := range groups {
				st.DirectMembers += len(gr.Members)
			}
		})
		return err
	})
	if err := g.Wait(); err != nil {
		return st, err
	}
	st.Requests = userPages + groupPages
	for _, collection := range []string{"users", "groups"} {
		if _, err := c.count(ctx, src.BaseURL+"/v1.0/"+collection+"/$count"); err != nil {
			return st, fmt.Errorf("graphfloor: %s count: %w", collection, err)
		}
		st.Requests++
	}
	return st, nil
}

// follow pages link to its end, handing each page's entries to each, and
// returns how many pages it read.
func follow[T any](ctx context.Context, c *pager, link, what string, each func([]T)) (int, error) {
	pages := 0
	for next := link; next != ""; {
		var body struct {
			Value    []T    `json:"value"`
			NextLink string `json:"@odata.nextLink"`
		}
		if err := c.get(ctx, next, &body); err != nil {
			return pages, fmt.Errorf("graphfloor: %s page %d: %w", what, pages+1, err)
		}
		each(body.Value)
		pages++
		next = body.NextLink
	}
	return pages, nil
}

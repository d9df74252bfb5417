package previewbench

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
	"sync"
	"time"

	"dirsync/internal/domain"
)

// GraphSource names a directory and the app that reads it. BaseURL is both
// the Graph endpoint (without /v1.0) and the authority host, as the fake
// Entra ID serves them.
type GraphSource struct {
	BaseURL           string
	DirectoryTenantID string
	ClientID          string
	ClientSecret      string
}

// PageStats is what PageDirectory fetched and how long each part took.
type PageStats struct {
	Users, Groups, Members int
	// Pages counts the Graph requests sent: pages and $count (token request excluded).
	Pages int
	// UsersTime covers the token and the user pages; GroupsTime the group
	// pages and every group's transitive member pages.
	UsersTime, GroupsTime time.Duration
}

// pageSize is the $top of every listing: Graph's maximum, as the reader uses.
const pageSize = 999

// groupSelect is what the reader selects of a group.
const groupSelect = "id,displayName,description,mail"

// identitySelect is selected whatever the mapping: what identifies, matches
// and scopes a user.
var identitySelect = []string{"id", "userPrincipalName", "mail", "accountEnabled", "userType"}

// UserQuery is the query of the first user page for a mapping: the identity
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
	q := url.Values{"$select": {strings.Join(fields, ",")}, "$top": {strconv.Itoa(pageSize)}}
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

// rawUser is a user page entry decoded into the fields a sync needs, and no
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

type rawGroup struct {
	ID          string  `json:"id"`
	DisplayName *string `json:"displayName"`
	Description *string `json:"description"`
	Mail        *string `json:"mail"`
}

type rawMember struct {
	ID string `json:"id"`
}

// PageDirectory fetches what a preview reads of a directory with plain
// net/http and encoding/json: a token by a plain client-credentials POST,
// every user page (UserQuery(mapping)), every group page, and every group's
// transitive user members, memberConcurrency groups at a time (the reader's
// default when 0). Each page is decoded into minimal structs and let go.
func PageDirectory(ctx context.Context, client *http.Client, src GraphSource, mapping []domain.Mapping, memberConcurrency int) (PageStats, error) {
	var st PageStats
	start := time.Now()
	token, err := fetchToken(ctx, client, src)
	if err != nil {
		return st, err
	}
	c := &pager{client: client, token: token}

	next := src.BaseURL + "/v1.0/users?" + UserQuery(mapping).Encode()
	for page := 1; next != ""; page++ {
		var body struct {
			Value    []rawUser `json:"value"`
			NextLink string    `json:"@odata.nextLink"`
		}
		if err := c.get(ctx, next, &body); err != nil {
			return st, fmt.Errorf("previewbench: users page %d: %w", page, err)
		}
		st.Users += len(body.Value)
		st.Pages++
		next = body.NextLink
	}
	// The reader cross-checks each collection with Graph's $count; so does
	// the floor, so both do the same requests.
	if _, err := c.count(ctx, src.BaseURL+"/v1.0/users/$count"); err != nil {
		return st, fmt.Errorf("previewbench: users count: %w", err)
	}
	st.Pages++
	st.UsersTime = time.Since(start)

	start = time.Now()
	var groupIDs []string
	next = src.BaseURL + "/v1.0/groups?" + url.Values{"$select": {groupSelect}, "$top": {strconv.Itoa(pageSize)}}.Encode()
	for page := 1; next != ""; page++ {
		var body struct {
			Value    []rawGroup `json:"value"`
			NextLink string     `json:"@odata.nextLink"`
		}
		if err := c.get(ctx, next, &body); err != nil {
			return st, fmt.Errorf("previewbench: groups page %d: %w", page, err)
		}
		for _, g := range body.Value {
			groupIDs = append(groupIDs, g.ID)
		}
		st.Pages++
		next = body.NextLink
	}
	if _, err := c.count(ctx, src.BaseURL+"/v1.0/groups/$count"); err != nil {
		return st, fmt.Errorf("previewbench: groups count: %w", err)
	}
	st.Pages++
	st.Groups = len(groupIDs)

	if memberConcurrency <= 0 {
		memberConcurrency = 4
	}
	members, pages, err := c.members(ctx, src.BaseURL, groupIDs, memberConcurrency)
	if err != nil {
		return st, err
	}
	st.Members += members
	st.Pages += pages
	st.GroupsTime = time.Since(start)
	return st, nil
}

// members pages every group's transitive user members, n groups at a time,
// and returns the member and page counts.
func (c *pager) members(ctx context.Context, base string, groupIDs []string, n int) (members, pages int, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	query := url.Values{"$select": {"id"}, "$top": {strconv.Itoa(pageSize)}}.Encode()
	work := make(chan string)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	for range n {
		wg.Go(func() {
			for id := range work {
				m, p, err := c.groupMembers(ctx, base+"/v1.0/groups/"+url.PathEscape(id)+"/transitiveMembers/graph.user?"+query)
				mu.Lock()
				members, pages = members+m, pages+p
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("previewbench: members of group %s: %w", id, err)
					cancel()
				}
				mu.Unlock()
			}
		})
	}
feed:
	for _, id := range groupIDs {
		select {
		case work <- id:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return members, pages, firstErr
}

func (c *pager) groupMembers(ctx context.Context, next string) (members, pages int, err error) {
	for next != "" {
		var body struct {
			Value    []rawMember `json:"value"`
			NextLink string      `json:"@odata.nextLink"`
		}
		if err := c.get(ctx, next, &body); err != nil {
			return members, pages, fmt.Errorf("page %d: %w", pages+1, err)
		}
		members += len(body.Value)
		pages++
		next = body.NextLink
	}
	return members, pages, nil
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
	return doJSON(c.client, req, v)
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
	return n, doJSON(c.client, req, &n)
}

func fetchToken(ctx context.Context, client *http.Client, src GraphSource) (string, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {src.ClientID},
		"client_secret": {src.ClientSecret},
		"scope":         {src.BaseURL + "/.default"},
	}
	endpoint := src.BaseURL + "/" + url.PathEscape(src.DirectoryTenantID) + "/oauth2/v2.0/token"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("previewbench: token: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var token struct {
		AccessToken string `json:"access_token"`
	}
	if err := doJSON(client, req, &token); err != nil {
		return "", fmt.Errorf("previewbench: token: %w", err)
	}
	if token.AccessToken == "" {
		return "", errors.New("previewbench: token: the answer holds no access_token")
	}
	return token.AccessToken, nil
}

// maxThrottledAttempts bounds how often doJSON sends a throttled GET.
const maxThrottledAttempts = 10

// doJSON decodes the answer to req. A throttled GET waits what Retry-After
// says (whole seconds, as Graph sends it) and is sent again: riding out
// throttling is work any complete read of a tenant does.
func doJSON(client *http.Client, req *http.Request, v any) error {
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

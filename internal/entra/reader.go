package entra

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abs "github.com/microsoft/kiota-abstractions-go"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	kauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	jsonser "github.com/microsoft/kiota-serialization-json-go"
	core "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
	"golang.org/x/sync/errgroup"

	"dirsync/internal/domain"
)

// Reader reads one Entra ID directory through Microsoft Graph. It is safe
// for concurrent use.
type Reader struct {
	cfg       Config
	graphURL  string   // e.g. https://graph.microsoft.com
	graph     *url.URL // graphURL parsed, for checking next links
	authority string
	tokens    *tokenSource
	adapter   abs.RequestAdapter
	users     *users.UsersRequestBuilder
	groups    *groups.GroupsRequestBuilder
}

// NewReader builds a Reader; it does no I/O.
func NewReader(c Config) (*Reader, error) {
	switch {
	case strings.TrimSpace(c.DirectoryTenantID) == "":
		return nil, errors.New("entra: the directory (tenant) ID is required")
	case strings.TrimSpace(c.ClientID) == "":
		return nil, errors.New("entra: the application (client) ID is required")
	case c.ClientSecret == "":
		return nil, errors.New("entra: the client secret is required")
	}
	graphURL, authority, err := c.Endpoints()
	if err != nil {
		return nil, err
	}
	if c.PageSize <= 0 || c.PageSize > DefaultPageSize {
		c.PageSize = DefaultPageSize
	}
	if c.MemberConcurrency <= 0 {
		c.MemberConcurrency = DefaultMemberConcurrency
	}
	if c.UserPartitionConcurrency <= 0 {
		c.UserPartitionConcurrency = DefaultUserPartitionConcurrency
	}
	c.Retry = c.Retry.withDefaults()
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
		if t, ok := http.DefaultTransport.(*http.Transport); ok {
			base = t.Clone()
		}
	}

	credentialOptions := &azidentity.ClientSecretCredentialOptions{
		ClientOptions: policy.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: authority},
			Transport: &http.Client{Transport: base},
			Retry:     tokenRetryOptions(c.Retry),
		},
		// Instance discovery asks the public cloud about the authority,
		// which an overridden authority is not known to.
		DisableInstanceDiscovery: c.AuthorityHost != "",
	}
	scopes := []string{graphURL + "/.default"}
	tokens, err := newTokenSource(scopes, func() (azcore.TokenCredential, error) {
		return azidentity.NewClientSecretCredential(c.DirectoryTenantID, c.ClientID, c.ClientSecret, credentialOptions)
	})
	if err != nil {
		return nil, fmt.Errorf("entra: credential: %w", err)
	}

	graphHost, err := url.Parse(graphURL)
	if err != nil {
		return nil, fmt.Errorf("entra: graph endpoint: %w", err)
	}
	// Without the Graph host among the valid hosts the provider silently
	// sends no token.
	auth, err := kauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(tokens, scopes, []string{graphHost.Hostname()})
	if err != nil {
		return nil, fmt.Errorf("entra: authentication provider: %w", err)
	}
	httpClient, err := newGraphHTTPClient(newRetryTransport(base, c.Retry, tokens))
	if err != nil {
		return nil, err
	}
	// The adapter parses OData error bodies with these; pages themselves
	// the reader decodes itself (getBody, decodePage).
	parseNodes := absser.NewParseNodeFactoryRegistry()
	parseNodes.ContentTypeAssociatedFactories["application/json"] = jsonser.NewJsonParseNodeFactory()
	writers := absser.NewSerializationWriterFactoryRegistry()
	writers.ContentTypeAssociatedFactories["application/json"] = jsonser.NewJsonSerializationWriterFactory()
	adapter, err := core.NewGraphRequestAdapterBaseWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(
		auth, core.GraphClientOptions{}, parseNodes, writers, httpClient)
	if err != nil {
		return nil, fmt.Errorf("entra: request adapter: %w", err)
	}
	adapter.SetBaseUrl(graphURL + "/v1.0")

	// The users and groups request builders are built directly, rather than
	// through msgraph-sdk-go's root client, whose import pulls in every
	// Graph API package and tens of MB of binary.
	return &Reader{
		cfg:       c,
		graphURL:  graphURL,
		graph:     graphHost,
		authority: authority,
		tokens:    tokens,
		adapter:   adapter,
		users:     users.NewUsersRequestBuilderInternal(map[string]string{}, adapter),
		groups:    groups.NewGroupsRequestBuilderInternal(map[string]string{}, adapter),
	}, nil
}

// newGraphHTTPClient builds the client the Graph SDK sends through: the
// msgraph-sdk-go-core middleware over transport (a retryTransport), with
// kiota's retry handler switched off so attempts are not multiplied.
func newGraphHTTPClient(transport http.RoundTripper) (*http.Client, error) {
	noRetry := &khttp.RetryHandlerOptions{
		ShouldRetry: func(time.Duration, int, *http.Request, *http.Response) bool { return false },
	}
	kiota, err := khttp.GetDefaultMiddlewaresWithOptions(noRetry)
	if err != nil {
		return nil, fmt.Errorf("entra: graph middleware: %w", err)
	}
	options := core.GraphClientOptions{}
	middleware := append([]khttp.Middleware{
		core.NewGraphTelemetryHandler(&options),
		khttp.NewUrlReplaceHandler(true, core.ReplacementPairs),
	}, kiota...)
	return &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(transport, middleware...),
		// kiota's redirect handler follows redirects itself.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// tokenRetryOptions applies the Graph retry budget to token requests, which
// azcore retries itself.
func tokenRetryOptions(p RetryPolicy) policy.RetryOptions {
	retries := int32(p.MaxAttempts - 1)
	if retries == 0 {
		retries = -1 // azcore reads 0 as "default"
	}
	return policy.RetryOptions{
		MaxRetries:    retries,
		TryTimeout:    p.AttemptTimeout,
		RetryDelay:    p.BaseDelay,
		MaxRetryDelay: p.MaxDelay,
	}
}

// Read reads the directory's users and groups into a Snapshot: a full read
// (ReadMirror) taken as a snapshot of opts' scope.
func (r *Reader) Read(ctx context.Context, opts domain.Options) (*domain.Snapshot, error) {
	m, err := r.ReadMirror(ctx, opts)
	if err != nil {
		return nil, err
	}
	return m.Snapshot(opts.Scope.Groups), nil
}

// ReadMirror reads the whole directory into a mirror: all users, with the
// properties opts' mapping needs, and every group with its direct members.
// Users are read in userPrincipalName partitions, the groups and their
// direct members in one groups delta round, both at once. The read is
// complete or it fails: any request that still fails after its retries, a
// malformed page or paging loop (ErrMalformedResponse), a collection short
// of Graph's own $count (ErrSourceIncomplete: users, groups, each of opts'
// scope groups' members) and a scope group that does not exist
// (ErrScopeGroupNotFound) fail the whole read, and no mirror comes back.
// The mirror carries the deltaLinks ReadChanges continues from.
func (r *Reader) ReadMirror(ctx context.Context, opts domain.Options) (*domain.SourceMirror, error) {
	ctx = withBodyBuffers(ctx)
	started := time.Now().UTC()
	props := domain.UserProperties(opts.EffectiveMapping())
	plan, err := newUserPlan(props)
	if err != nil {
		return nil, err
	}
	// Taken before the users are read, so what changes during the read is
	// in the next round.
	usersLink, err := r.latestUsersDeltaLink(ctx, plan)
	if err != nil {
		return nil, err
	}
	m := &domain.SourceMirror{
		DirectoryTenantID: r.cfg.DirectoryTenantID,
		UserProperties:    props,
		FullReadAt:        started,
		Basis:             domain.MirrorBasis(r.cfg.DirectoryTenantID, props),
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		m.Users, err = r.readUsers(gctx, plan)
		return err
	})
	g.Go(func() (err error) {
		m.Groups, m.DeltaLinks.Groups, err = r.readGroupRound(gctx)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	m.DeltaLinks.Users = usersLink
	if err := r.checkScope(ctx, m, opts.Scope.Groups); err != nil {
		return nil, err
	}
	return m, nil
}

// checkScope refuses a mirror that lacks one of the scope groups, and
// checks each scope group's transitive members against Graph's count:
// scope groups decide who is in scope. (In all-groups mode that would be a
// request per group.)
func (r *Reader) checkScope(ctx context.Context, m *domain.SourceMirror, scope []string) error {
	if len(scope) == 0 {
		return nil
	}
	if absent := m.AbsentGroups(scope); len(absent) > 0 {
		return scopeGroupsNotFound(absent)
	}
	return r.checkScopeMembers(ctx, m.Snapshot(scope).Groups)
}

func (r *Reader) top() *int32 {
	n := int32(r.cfg.PageSize)
	return &n
}

// scopeGroupsNotFound explains scope groups Graph does not list.
func scopeGroupsNotFound(ids []string) error {
	msg := fmt.Sprintf("entra: scope group %s does not exist in the directory; remove it from the connection's scope groups", ids[0])
	if len(ids) > 1 {
		msg = fmt.Sprintf("entra: scope groups %s do not exist in the directory; remove them from the connection's scope groups", strings.Join(ids, ", "))
	}
	return &readError{Kind: ErrScopeGroupNotFound, Status: http.StatusNotFound, Message: msg}
}

// checkScopeMembers checks each scope group's transitive user members
// against Graph's $count of them, MemberConcurrency groups at a time.
func (r *Reader) checkScopeMembers(ctx context.Context, scopeGroups []domain.SourceGroup) error {
	config := &groups.ItemTransitiveMembersGraphUserCountRequestBuilderGetRequestConfiguration{Headers: eventualConsistency()}
	return parallel(ctx, r.cfg.MemberConcurrency, len(scopeGroups), func(ctx context.Context, i int) error {
		group := &scopeGroups[i]
		what := "transitive user members of group " + group.ID
		counted, err := r.count(ctx, what, permGroups, func(ctx context.Context) (*abs.RequestInformation, error) {
			return r.groups.ByGroupId(group.ID).TransitiveMembers().GraphUser().Count().ToGetRequestInformation(ctx, config)
		})
		if err != nil {
			return err
		}
		return checkComplete(what, len(group.MemberIDs), counted)
	})
}

// readPages reads a Graph listing with readPagesToEnd.
func readPages[T any](
	ctx context.Context, r *Reader, what, permission string,
	request func(ctx context.Context, link string) (*abs.RequestInformation, error),
	each func(*T) error,
) error {
	_, err := readPagesToEnd(ctx, r, what, permission, request, each)
	return err
}

// readPagesToEnd reads a Graph collection page by page. request builds each
// page's request with a msgraph-sdk-go request builder: the first page
// (link "") with its query, the next ones through WithUrl(@odata.nextLink).
// Each page has its own retries, its own error context ("read users page
// 3") and is handed to each item by item, then let go. Only a page without
// a nextLink ends the collection, and its @odata.deltaLink (of a delta
// round; "" for a listing) is returned; a page that is not one, a nextLink
// off the Graph endpoint and one already followed fail it, and so does a
// deltaLink off the Graph endpoint.
func readPagesToEnd[T any](
	ctx context.Context, r *Reader, what, permission string,
	request func(ctx context.Context, link string) (*abs.RequestInformation, error),
	each func(*T) error,
) (deltaLink string, err error) {
	var page collectionPage[T]
	// Every link this collection followed: a loop through any number of
	// pages comes back to one of them.
	followed := make(map[string]struct{})
	link := ""
	for n := 1; ; n++ {
		trace := &requestTrace{}
		pageCtx := withTrace(ctx, trace)
		info, err := request(pageCtx, link)
		if err != nil {
			return "", fmt.Errorf("entra: read %s page %d: %w", what, n, err)
		}
		if n == 1 {
			if u, err := info.GetUri(); err == nil {
				followed[u.String()] = struct{}{}
			}
		}
		body, err := r.getBody(pageCtx, info)
		if err != nil {
			return "", fmt.Errorf("entra: read %s page %d: %w", what, n, classify(ctx, err, trace, permission))
		}
		page.reset()
		if err := decodePage(body, trace.status, &page); err != nil {
			return "", fmt.Errorf("entra: read %s page %d: %w", what, n, err)
		}
		for i := range page.Value {
			if err := each(&page.Value[i]); err != nil {
				return "", fmt.Errorf("entra: read %s page %d: %w", what, n, err)
			}
		}
		if page.NextLink == "" {
			if page.DeltaLink != "" {
				if err := r.checkDeltaLink(page.DeltaLink); err != nil {
					return "", fmt.Errorf("entra: read %s page %d: %w", what, n, err)
				}
			}
			return page.DeltaLink, nil
		}
		if err := r.checkNextLink(page.NextLink, followed); err != nil {
			return "", fmt.Errorf("entra: read %s page %d: %w", what, n, err)
		}
		link = page.NextLink
	}
}

// checkNextLink refuses a next link that leaves the Graph endpoint (the
// access token is only ever sent there) or that the collection already
// followed (a loop would never end), and records it in followed.
func (r *Reader) checkNextLink(next string, followed map[string]struct{}) error {
	u, err := url.Parse(next)
	if err != nil || !r.onGraph(u) {
		return malformed("Graph answered an @odata.nextLink outside %s: %s", r.graphURL, truncate(next))
	}
	if _, ok := followed[next]; ok {
		return malformed("Graph answered an @odata.nextLink this read already followed, a paging loop: %s", truncate(next))
	}
	followed[next] = struct{}{}
	return nil
}

// onGraph reports whether u is an absolute URL on the Graph endpoint: the
// same scheme, host and port, and no userinfo (which is how
// "https://graph.microsoft.com@evil.example/" names the host evil.example).
func (r *Reader) onGraph(u *url.URL) bool {
	return u.Scheme == r.graph.Scheme && u.Opaque == "" && u.User == nil &&
		strings.EqualFold(u.Hostname(), r.graph.Hostname()) && portOf(u) == portOf(r.graph)
}

// portOf is u's port, the scheme's default when it has none.
func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch u.Scheme {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// parallel runs fn for 0..count-1 on at most workers goroutines. The first
// error cancels the others and is returned; so is ctx's end.
func parallel(ctx context.Context, workers, count int, fn func(context.Context, int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, workers))
	for i := range count {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return fn(gctx, i) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

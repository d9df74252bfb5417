// Package entra reads an organisation's users and groups from Microsoft
// Entra ID through Microsoft Graph (msgraph-sdk-go, authenticated with an
// azidentity client-secret credential) and compacts them, page by page, into
// a domain.Snapshot.
package entra

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Cloud names the national cloud a directory lives in.
type Cloud string

// Supported clouds. The empty Cloud means CloudGlobal.
const (
	CloudGlobal Cloud = "global"
	CloudUSGov  Cloud = "usgov"
	CloudChina  Cloud = "china"
)

// Environment variables read by ConfigFromEnv.
const (
	EnvGraphEndpoint = "GRAPH_ENDPOINT"
	EnvAuthorityHost = "AZURE_AUTHORITY_HOST"
)

// Defaults applied by NewReader to zero Config fields.
const (
	DefaultPageSize          = 999 // Graph's maximum $top for users and groups
	DefaultMemberConcurrency = 4
	// DefaultUserPartitionConcurrency: 16 partitions paged at once read a
	// million users in about 3 minutes under the realistic Graph model (the
	// largest partition's time), spending at most about 30 of the 800
	// resource units a second Graph allows a large tenant
	// (docs/architecture.md).
	DefaultUserPartitionConcurrency = 16
)

// Config is what a Reader needs to reach one Entra ID directory.
type Config struct {
	DirectoryTenantID string
	ClientID          string
	ClientSecret      string
	Cloud             Cloud

	// GraphEndpoint overrides the cloud's Graph host: a bare URL such as
	// "https://graph.microsoft.com", without "/v1.0".
	GraphEndpoint string
	// AuthorityHost overrides the cloud's Entra ID authority host.
	AuthorityHost string

	// Transport is the base transport for Graph and token requests; nil
	// means a clone of http.DefaultTransport (which honours SSL_CERT_FILE).
	Transport http.RoundTripper

	// PageSize is the $top of user, group and member pages (1..999).
	PageSize int
	// Retry bounds how long one Graph request may be retried.
	Retry RetryPolicy
	// MemberConcurrency is how many scope groups' member counts are asked
	// in parallel.
	MemberConcurrency int
	// UserPartitionConcurrency is how many userPrincipalName partitions of
	// the users are paged at once.
	UserPartitionConcurrency int
	// SequentialUsers reads the users in one listing, page after page, as
	// the partitioned read falls back to when its partitions do not add up.
	SequentialUsers bool
}

// RetryPolicy bounds the retries of one Graph request; zero fields take the
// defaults (6 attempts, backoff from 500 ms doubling up to 60 s, at most
// 2 min of waiting per request, 100 s per attempt). Throttling (429),
// 503, 504, dropped connections and timed-out attempts are retried with
// exponential backoff and jitter, honouring Retry-After (capped at
// MaxDelay; a wait that would overrun MaxWait is not started). A 500 is not
// retried: Graph's guidance names 429, 503 and 504 as the transient answers,
// and a preview should fail fast with the server's reason rather than spend
// its budget on a fault that repeats.
type RetryPolicy struct {
	// MaxAttempts counts every try of one request, the first included.
	MaxAttempts int
	// BaseDelay is the first backoff; each further one doubles, up to MaxDelay.
	BaseDelay time.Duration
	// MaxDelay caps one backoff and one Retry-After.
	MaxDelay time.Duration
	// MaxWait caps the total time one request spends waiting between tries.
	MaxWait time.Duration
	// AttemptTimeout bounds one try, from sending it to reading its body.
	AttemptTimeout time.Duration
}

// defaultRetryPolicy fills zero RetryPolicy fields.
var defaultRetryPolicy = RetryPolicy{
	MaxAttempts:    6,
	BaseDelay:      500 * time.Millisecond,
	MaxDelay:       60 * time.Second,
	MaxWait:        2 * time.Minute,
	AttemptTimeout: 100 * time.Second,
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := defaultRetryPolicy
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = d.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = d.MaxDelay
	}
	if p.MaxWait <= 0 {
		p.MaxWait = d.MaxWait
	}
	if p.AttemptTimeout <= 0 {
		p.AttemptTimeout = d.AttemptTimeout
	}
	return p
}

// ConfigFromEnv returns c with the GRAPH_ENDPOINT and AZURE_AUTHORITY_HOST
// overrides applied when they are set. A nil getenv reads the process
// environment.
func ConfigFromEnv(c Config, getenv func(string) string) Config {
	if getenv == nil {
		getenv = os.Getenv
	}
	if v := strings.TrimSpace(getenv(EnvGraphEndpoint)); v != "" {
		c.GraphEndpoint = v
	}
	if v := strings.TrimSpace(getenv(EnvAuthorityHost)); v != "" {
		c.AuthorityHost = v
	}
	return c
}

type cloudEndpoints struct{ graph, authority string }

var clouds = map[Cloud]cloudEndpoints{
	CloudGlobal: {"https://graph.microsoft.com", "https://login.microsoftonline.com/"},
	CloudUSGov:  {"https://graph.microsoft.us", "https://login.microsoftonline.us/"},
	CloudChina:  {"https://microsoftgraph.chinacloudapi.cn", "https://login.chinacloudapi.cn/"},
}

// Endpoints returns the Graph host URL (no trailing slash, no /v1.0) and the
// authority host URL (with a trailing slash) for the config's cloud, with the
// overrides applied.
func (c Config) Endpoints() (graph, authority string, err error) {
	name := Cloud(strings.ToLower(strings.TrimSpace(string(c.Cloud))))
	if name == "" {
		name = CloudGlobal
	}
	ep, ok := clouds[name]
	if !ok {
		return "", "", fmt.Errorf("entra: unknown cloud %q (want %q, %q or %q)", c.Cloud, CloudGlobal, CloudUSGov, CloudChina)
	}
	graph, authority = ep.graph, ep.authority
	if c.GraphEndpoint != "" {
		u, err := parseHostURL(c.GraphEndpoint)
		if err != nil {
			return "", "", fmt.Errorf("entra: graph endpoint: %w", err)
		}
		graph = u
	}
	if c.AuthorityHost != "" {
		u, err := parseHostURL(c.AuthorityHost)
		if err != nil {
			return "", "", fmt.Errorf("entra: authority host: %w", err)
		}
		authority = u + "/"
	}
	return graph, authority, nil
}

// parseHostURL checks that raw is a bare https host URL and returns it
// without a trailing slash.
func parseHostURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", err
	}
	switch {
	case u.Scheme != "https":
		return "", fmt.Errorf("%q: must be an https URL", raw)
	case u.Host == "":
		return "", fmt.Errorf("%q: has no host", raw)
	case u.Path != "" && u.Path != "/":
		return "", fmt.Errorf("%q: must be the bare host URL, without a path such as /v1.0", raw)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return "", fmt.Errorf("%q: must be the bare host URL", raw)
	}
	return u.Scheme + "://" + u.Host, nil
}

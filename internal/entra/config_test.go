package entra

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"dirsync/internal/domain"
)

func TestEndpoints(t *testing.T) {
	tests := []struct {
		name          string
		config        Config
		wantGraph     string
		wantAuthority string
		wantErr       string
	}{
		{name: "empty is global", config: Config{},
			wantGraph: "https://graph.microsoft.com", wantAuthority: "https://login.microsoftonline.com/"},
		{name: "global", config: Config{Cloud: CloudGlobal},
			wantGraph: "https://graph.microsoft.com", wantAuthority: "https://login.microsoftonline.com/"},
		{name: "us government", config: Config{Cloud: CloudUSGov},
			wantGraph: "https://graph.microsoft.us", wantAuthority: "https://login.microsoftonline.us/"},
		{name: "china", config: Config{Cloud: CloudChina},
			wantGraph: "https://microsoftgraph.chinacloudapi.cn", wantAuthority: "https://login.chinacloudapi.cn/"},
		{name: "cloud name is case-insensitive", config: Config{Cloud: "USGov"},
			wantGraph: "https://graph.microsoft.us", wantAuthority: "https://login.microsoftonline.us/"},
		{name: "overrides win over the cloud",
			config:    Config{Cloud: CloudChina, GraphEndpoint: "https://127.0.0.1:8443/", AuthorityHost: "https://127.0.0.1:8443"},
			wantGraph: "https://127.0.0.1:8443", wantAuthority: "https://127.0.0.1:8443/"},
		{name: "graph override alone", config: Config{GraphEndpoint: "https://graph.example.test"},
			wantGraph: "https://graph.example.test", wantAuthority: "https://login.microsoftonline.com/"},
		{name: "unknown cloud", config: Config{Cloud: "mars"}, wantErr: `unknown cloud "mars"`},
		{name: "graph override with /v1.0", config: Config{GraphEndpoint: "https://graph.microsoft.com/v1.0"}, wantErr: "bare host"},
		{name: "plain http override", config: Config{AuthorityHost: "http://127.0.0.1:1"}, wantErr: "https"},
		{name: "override without host", config: Config{GraphEndpoint: "https://"}, wantErr: "no host"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			graph, authority, err := tc.config.Endpoints()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Endpoints() error = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Endpoints(): %v", err)
			}
			if graph != tc.wantGraph || authority != tc.wantAuthority {
				t.Errorf("Endpoints() = %q, %q; want %q, %q", graph, authority, tc.wantGraph, tc.wantAuthority)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	base := Config{ClientID: "app", GraphEndpoint: "https://configured.example", AuthorityHost: "https://login.configured.example"}
	tests := []struct {
		name          string
		env           map[string]string
		wantGraph     string
		wantAuthority string
	}{
		{name: "no variables keep the config", env: nil,
			wantGraph: base.GraphEndpoint, wantAuthority: base.AuthorityHost},
		{name: "both variables override",
			env:       map[string]string{EnvGraphEndpoint: "https://127.0.0.1:9000", EnvAuthorityHost: " https://127.0.0.1:9001 "},
			wantGraph: "https://127.0.0.1:9000", wantAuthority: "https://127.0.0.1:9001"},
		{name: "blank variable is ignored", env: map[string]string{EnvGraphEndpoint: "  "},
			wantGraph: base.GraphEndpoint, wantAuthority: base.AuthorityHost},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ConfigFromEnv(base, func(k string) string { return tc.env[k] })
			if got.GraphEndpoint != tc.wantGraph || got.AuthorityHost != tc.wantAuthority || got.ClientID != base.ClientID {
				t.Errorf("ConfigFromEnv = %+v, want graph %q authority %q", got, tc.wantGraph, tc.wantAuthority)
			}
		})
	}
}

func TestNewReaderValidatesConfig(t *testing.T) {
	valid := Config{DirectoryTenantID: "contoso.onmicrosoft.com", ClientID: "app", ClientSecret: "s"}
	tests := []struct {
		name    string
		adjust  func(*Config)
		wantErr string
	}{
		{name: "valid", adjust: func(*Config) {}},
		{name: "no tenant", adjust: func(c *Config) { c.DirectoryTenantID = " " }, wantErr: "directory (tenant) ID"},
		{name: "no client", adjust: func(c *Config) { c.ClientID = "" }, wantErr: "application (client) ID"},
		{name: "no secret", adjust: func(c *Config) { c.ClientSecret = "" }, wantErr: "client secret"},
		{name: "unknown cloud", adjust: func(c *Config) { c.Cloud = "moon" }, wantErr: "unknown cloud"},
		{name: "malformed tenant", adjust: func(c *Config) { c.DirectoryTenantID = "no/slashes" }, wantErr: "credential"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := valid
			tc.adjust(&c)
			r, err := NewReader(c)
			if tc.wantErr == "" {
				if err != nil || r == nil {
					t.Fatalf("NewReader = %v, %v", r, err)
				}
				if r.cfg.PageSize != DefaultPageSize || r.cfg.MemberConcurrency != DefaultMemberConcurrency ||
					r.cfg.Retry != defaultRetryPolicy {
					t.Errorf("defaults not applied: %+v", r.cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewReader error = %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{"0.5", 500 * time.Millisecond, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(7 * time.Second).Format(http.TimeFormat), 7 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
	}
	for _, tc := range tests {
		got, ok := retryAfter(tc.header, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tc.header, got, ok, tc.want, tc.ok)
		}
	}
}

func TestBackoffGrowsWithinBounds(t *testing.T) {
	policy := RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}.withDefaults()
	tests := []struct {
		jitter  float64
		attempt int
		want    time.Duration
	}{
		{1, 1, 100 * time.Millisecond},
		{1, 2, 200 * time.Millisecond},
		{1, 4, 800 * time.Millisecond},
		{1, 5, time.Second}, // capped
		{1, 40, time.Second},
		{0.5, 3, 200 * time.Millisecond},
	}
	for _, tc := range tests {
		tr := &retryTransport{policy: policy, jitter: func() float64 { return tc.jitter }}
		if got := tr.backoff(tc.attempt); got != tc.want {
			t.Errorf("backoff(%d) with jitter %v = %v, want %v", tc.attempt, tc.jitter, got, tc.want)
		}
	}
}

func TestReadRejectsUnsupportedProperty(t *testing.T) {
	r, err := NewReader(Config{DirectoryTenantID: "contoso.onmicrosoft.com", ClientID: "app", ClientSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	// The mapping is checked before any request is sent.
	snap, err := r.Read(context.Background(), domain.Options{Mapping: []domain.Mapping{{Attribute: "x", Source: "favouriteColour"}}})
	if snap != nil || err == nil || !strings.Contains(err.Error(), `"favouriteColour"`) {
		t.Fatalf("Read = %v, %v; want an unsupported property error", snap, err)
	}
}

func TestEverySupportedPropertyHasAReader(t *testing.T) {
	for _, p := range domain.SupportedUserProperties {
		if _, ok := userProperties[p]; !ok {
			t.Errorf("no reader for supported property %q", p)
		}
	}
}

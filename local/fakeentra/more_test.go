package fakeentra

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestTrust(t *testing.T) {
	s, _ := generatedServer(t, 5)
	fromPEM := x509.NewCertPool()
	if !fromPEM.AppendCertsFromPEM(s.CACertPEM()) {
		t.Fatal("CACertPEM is not a PEM certificate")
	}
	port := s.URL()[strings.LastIndex(s.URL(), ":"):]
	tests := []struct {
		name string
		pool *x509.CertPool
		url  string
	}{
		{"CertPool", s.CertPool(), s.URL()},
		{"CACertPEM", fromPEM, s.URL()},
		{"localhost name", s.CertPool(), "https://localhost" + port},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: tc.pool}}}
			defer client.CloseIdleConnections()
			resp, err := client.Get(tc.url + "/" + testTenantID + "/v2.0/.well-known/openid-configuration")
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d", resp.StatusCode)
			}
		})
	}
	t.Run("untrusted", func(t *testing.T) {
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}}
		if _, err := client.Get(s.URL() + "/"); err == nil {
			t.Error("a client without the CA connected")
		}
	})
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestWithLogger(t *testing.T) {
	var out syncBuffer
	logger := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, _ := generatedServer(t, 5, WithLogger(logger))
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	get(t, s, tok, "/v1.0/groups?$top=2")
	if !strings.Contains(out.String(), "path=/v1.0/groups") {
		t.Errorf("log lacks the request:\n%s", out.String())
	}
}

func TestAllUserProperties(t *testing.T) {
	s, tn := generatedServer(t, 200)
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	var u *User
	for i := range tn.Users {
		if c := &tn.Users[i]; c.UserType == "Member" && c.MobilePhone != "" && len(c.BusinessPhones) > 0 && c.OnPremisesSamAccountName != "" {
			u = c
			break
		}
	}
	if u == nil {
		t.Fatal("no fully populated user")
	}
	status, _, body := get(t, s, tok, "/v1.0/users/"+u.ID+"?$select="+strings.Join(userPropNames[:], ","))
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": u.ID, "displayName": u.DisplayName, "givenName": u.GivenName, "surname": u.Surname,
		"userPrincipalName": u.UserPrincipalName, "mail": *u.Mail, "accountEnabled": u.AccountEnabled, "userType": u.UserType,
		"jobTitle": u.JobTitle, "department": u.Department, "officeLocation": u.OfficeLocation, "mobilePhone": u.MobilePhone,
		"employeeId": u.EmployeeID, "employeeType": u.EmployeeType, "companyName": u.CompanyName, "country": u.Country,
		"city": u.City, "state": u.State, "streetAddress": u.StreetAddress, "postalCode": u.PostalCode,
		"usageLocation": u.UsageLocation, "preferredLanguage": u.PreferredLanguage,
		"onPremisesSamAccountName": u.OnPremisesSamAccountName, "businessPhones": []any{u.BusinessPhones[0]},
	}
	for k, v := range want {
		gotV, _ := json.Marshal(got[k])
		wantV, _ := json.Marshal(v)
		if !bytes.Equal(gotV, wantV) {
			t.Errorf("%s = %s, want %s", k, gotV, wantV)
		}
	}
	if len(got) != len(want)+1 { // + @odata.context
		t.Errorf("%d properties, want %d", len(got), len(want)+1)
	}

	status, _, body = get(t, s, tok, "/v1.0/users/"+u.ID+"/manager?$select=id,userPrincipalName")
	if status != http.StatusOK || !strings.Contains(string(body), u.ManagerID) || !strings.Contains(string(body), `"@odata.type":"#microsoft.graph.user"`) {
		t.Errorf("manager: status %d body %s", status, body)
	}
	ceo := tn.Users[0]
	for _, c := range tn.Users {
		if c.JobTitle == "Chief Executive Officer" {
			ceo = c
		}
	}
	if status, _, body = get(t, s, tok, "/v1.0/users/"+ceo.ID+"/manager"); status != http.StatusNotFound {
		t.Errorf("manager of the CEO: status %d body %s", status, body)
	}
}

func TestOrganizationAndPrefer(t *testing.T) {
	s, _ := generatedServer(t, 300)
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	p := getPage(t, s, tok, "/v1.0/organization")
	if len(p.Value) != 1 || p.Value[0]["id"] != testTenantID {
		t.Errorf("organization %v", p.Value)
	}

	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/v1.0/users/delta()", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Prefer", "return=minimal, odata.maxpagesize=250")
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var first page
	if err := json.NewDecoder(resp.Body).Decode(&first); err != nil {
		t.Fatal(err)
	}
	if len(first.Value) != 250 || first.NextLink == "" {
		t.Fatalf("maxpagesize=250: %d users, nextLink %q", len(first.Value), first.NextLink)
	}
	// The page size sticks to the round without the header.
	second := getPage(t, s, tok, first.NextLink)
	if len(second.Value) != 50 || second.DeltaLink == "" {
		t.Errorf("second page: %d users, deltaLink %q", len(second.Value), second.DeltaLink)
	}
}

func TestGroupSelect(t *testing.T) {
	s, tn := generatedServer(t, 50)
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	p := getPage(t, s, tok, "/v1.0/groups?$select=displayName,mailEnabled,groupTypes&$top=999")
	if len(p.Value) != len(tn.Groups) {
		t.Fatalf("%d groups, want %d", len(p.Value), len(tn.Groups))
	}
	byID := make(map[string]Group)
	for _, g := range tn.Groups {
		byID[g.ID] = g
	}
	for _, g := range p.Value {
		src := byID[g["id"].(string)]
		if len(g) != 4 || g["displayName"] != src.DisplayName || g["mailEnabled"] != (src.Mail != nil) {
			t.Errorf("group %v, source %+v", g, src)
		}
	}
	for _, path := range []string{"/v1.0/groups?$select=shoeSize", "/v1.0/groups?$select=members", "/v1.0/groups?$expand=members"} {
		if status, _, body := get(t, s, tok, path); status != http.StatusBadRequest {
			t.Errorf("%s: status %d body %s", path, status, body)
		}
	}
}

func TestHasTenant(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.AddTenant(&Tenant{ID: "11111111-2222-4333-8444-555555555555", Domain: "has.onmicrosoft.com"})
	for _, tt := range []struct {
		name string
		want bool
	}{
		{"11111111-2222-4333-8444-555555555555", true},
		{"HAS.onmicrosoft.com", true},
		{"22222222-2222-4333-8444-555555555555", false},
	} {
		if got := s.HasTenant(tt.name); got != tt.want {
			t.Errorf("HasTenant(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

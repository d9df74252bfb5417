package fakeentra

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// getHeaders is get with extra request headers.
func getHeaders(t testing.TB, s *Server, token, pathOrURL string, headers map[string]string) (int, http.Header, []byte) {
	t.Helper()
	u := pathOrURL
	if !strings.HasPrefix(u, "https://") {
		u = s.URL() + pathOrURL
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", u, err)
	}
	return resp.StatusCode, resp.Header, body
}

var eventual = map[string]string{"ConsistencyLevel": "eventual"}

// count asks a $count path and returns the number Graph answered.
func count(t testing.TB, s *Server, token, path string) int {
	t.Helper()
	status, hdr, body := getHeaders(t, s, token, path, eventual)
	if status != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, status, body)
	}
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("GET %s: Content-Type %q, want text/plain", path, ct)
	}
	n, err := strconv.Atoi(string(body))
	if err != nil {
		t.Fatalf("GET %s: body %q is not an integer", path, body)
	}
	return n
}

// listed counts the items of a listing, following its nextLinks.
func listed(t testing.TB, s *Server, token, path string) int {
	t.Helper()
	n := 0
	for _, p := range getAll(t, s, token, path) {
		n += len(p.Value)
	}
	return n
}

func groupNamed(t testing.TB, tn *Tenant, name string) *Group {
	t.Helper()
	for i := range tn.Groups {
		if tn.Groups[i].DisplayName == name {
			return &tn.Groups[i]
		}
	}
	t.Fatalf("no group %q", name)
	return nil
}

func TestCount(t *testing.T) {
	s, tn := generatedServer(t, 700)
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	staff := groupNamed(t, tn, "All Staff").ID
	leaders := groupNamed(t, tn, "Leadership Team").ID
	paths := []struct{ count, listing string }{
		{"/v1.0/users/$count", "/v1.0/users?$top=999"},
		{"/v1.0/groups/$count", "/v1.0/groups?$top=999"},
		{"/v1.0/groups/" + staff + "/transitiveMembers/graph.user/$count", "/v1.0/groups/" + staff + "/transitiveMembers/graph.user?$top=999"},
		{"/v1.0/groups/" + staff + "/transitiveMembers/$count", "/v1.0/groups/" + staff + "/transitiveMembers?$top=999"},
		{"/v1.0/groups/" + staff + "/members/$count", "/v1.0/groups/" + staff + "/members?$top=999"},
		{"/v1.0/groups/" + leaders + "/transitiveMembers/graph.user/$count", "/v1.0/groups/" + leaders + "/transitiveMembers/graph.user"},
	}
	check := func(t *testing.T, stage string) {
		for _, p := range paths {
			if got, want := count(t, s, tok, p.count), listed(t, s, tok, p.listing); got != want {
				t.Errorf("%s: %s = %d, the listing has %d", stage, p.count, got, want)
			}
		}
	}

	t.Run("matches the listing", func(t *testing.T) {
		check(t, "generated")
		if n := count(t, s, tok, "/v1.0/users/$count"); n != 700 {
			t.Errorf("users/$count = %d, want 700", n)
		}
	})

	t.Run("follows updates", func(t *testing.T) {
		err := s.Update(testTenantID, func(tn *Tenant) {
			removed := tn.Users[100].ID
			tn.Users = append(tn.Users[:100], tn.Users[101:]...)
			extra := tn.Users[0]
			extra.ID, extra.UserPrincipalName = "ffffffff-0000-4000-8000-000000000001", "extra@"+testDomain
			tn.Users = append(tn.Users, extra, extra)
			tn.Users[len(tn.Users)-1].ID = "ffffffff-0000-4000-8000-000000000002"
			tn.Users[len(tn.Users)-1].UserPrincipalName = "extra2@" + testDomain
			tn.Groups = tn.Groups[1:]
			for i := range tn.Groups {
				if tn.Groups[i].ID == staff {
					tn.Groups[i].MemberUserIDs = append(tn.Groups[i].MemberUserIDs, extra.ID, removed)
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		check(t, "after Update")
		if n := count(t, s, tok, "/v1.0/users/$count"); n != 701 {
			t.Errorf("users/$count after one removal and two additions = %d, want 701", n)
		}
	})

	t.Run("refused without ConsistencyLevel eventual", func(t *testing.T) {
		for _, headers := range []map[string]string{nil, {"ConsistencyLevel": "session"}} {
			for _, p := range paths {
				status, _, body := getHeaders(t, s, tok, p.count, headers)
				if status != http.StatusBadRequest || odataErrorCode(t, body) != "Request_BadRequest" ||
					!bytes.Contains(body, []byte("$count is not currently supported.")) {
					t.Errorf("%s with %v: status %d body %s", p.count, headers, status, body)
				}
			}
		}
	})

	t.Run("unknown group and permissions", func(t *testing.T) {
		status, _, body := getHeaders(t, s, tok, "/v1.0/groups/no-such-group/transitiveMembers/graph.user/$count", eventual)
		if status != http.StatusNotFound || odataErrorCode(t, body) != "Request_ResourceNotFound" {
			t.Errorf("unknown group: status %d body %s", status, body)
		}
	})

	t.Run("skew", func(t *testing.T) {
		want := count(t, s, tok, "/v1.0/users/$count")
		remove := s.InjectFault(Fault{PathPrefix: "/v1.0/users", Kind: FaultCountSkew, CountSkew: -40, Times: 1})
		defer remove()
		// A listing does not use up a count fault.
		if n := listed(t, s, tok, "/v1.0/users?$top=999"); n != want {
			t.Fatalf("listing under a count fault has %d users, want %d", n, want)
		}
		if got := count(t, s, tok, "/v1.0/users/$count"); got != want-40 {
			t.Errorf("skewed count = %d, want %d", got, want-40)
		}
		if got := count(t, s, tok, "/v1.0/users/$count"); got != want {
			t.Errorf("count after the fault ran out = %d, want %d", got, want)
		}
		defer s.InjectFault(Fault{PathPrefix: "/v1.0/groups/$count", Kind: FaultCountSkew, CountSkew: -1_000_000})()
		if got := count(t, s, tok, "/v1.0/groups/$count"); got != 0 {
			t.Errorf("count skewed below zero = %d, want 0", got)
		}
	})
}

// rawPage decodes a page keeping every member, to tell absent from empty.
func rawPage(t *testing.T, body []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("page is not a JSON object: %v\n%s", err, body)
	}
	return m
}

func nextLinkOf(t *testing.T, body []byte) string {
	t.Helper()
	raw, ok := rawPage(t, body)["@odata.nextLink"]
	if !ok {
		return ""
	}
	var link string
	if err := json.Unmarshal(raw, &link); err != nil {
		t.Fatal(err)
	}
	return link
}

func TestMalformedPageFaults(t *testing.T) {
	s, tn := generatedServer(t, 250)
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)
	staff := groupNamed(t, tn, "All Staff").ID

	// Three pages of 100 (then 50) for users and for All Staff's members;
	// the groups listing in pages of 5.
	listings := map[string]string{
		"users":   "/v1.0/users?$select=id,mail&$top=100",
		"members": "/v1.0/groups/" + staff + "/transitiveMembers/graph.user?$select=id&$top=100",
		"groups":  "/v1.0/groups?$top=5",
	}
	prefixes := map[string]string{
		"users":   "/v1.0/users",
		"members": "/v1.0/groups/" + staff + "/transitiveMembers",
		"groups":  "/v1.0/groups",
	}
	// links holds each listing's healthy nextLinks: links[c][i] leads to
	// page i+2.
	links := map[string][]string{}
	healthy := map[string][][]byte{}
	for c, first := range listings {
		for next := first; next != ""; {
			status, _, body := get(t, s, tok, next)
			if status != http.StatusOK {
				t.Fatalf("%s: status %d", next, status)
			}
			healthy[c] = append(healthy[c], body)
			next = nextLinkOf(t, body)
			if next != "" {
				links[c] = append(links[c], next)
			}
		}
		if len(links[c]) < 2 {
			t.Fatalf("%s has %d pages, want at least 3", c, len(links[c])+1)
		}
	}

	tests := []struct {
		name  string
		fault Fault
		// check looks at the answer to page 2 (3 for repeat-on-last-page).
		check func(t *testing.T, c string, status int, hdr http.Header, body []byte)
	}{
		{
			name:  "empty body",
			fault: Fault{Kind: FaultEmptyBody},
			check: func(t *testing.T, _ string, status int, _ http.Header, body []byte) {
				if status != http.StatusOK || len(body) != 0 {
					t.Errorf("status %d body %q, want 200 and nothing", status, body)
				}
			},
		},
		{
			name:  "no content",
			fault: Fault{Kind: FaultNoContent},
			check: func(t *testing.T, _ string, status int, _ http.Header, body []byte) {
				if status != http.StatusNoContent || len(body) != 0 {
					t.Errorf("status %d body %q, want 204", status, body)
				}
			},
		},
		{
			name:  "null",
			fault: Fault{Kind: FaultBody, Body: "null"},
			check: func(t *testing.T, _ string, status int, hdr http.Header, body []byte) {
				if status != http.StatusOK || string(body) != "null" || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
					t.Errorf("status %d type %q body %q, want 200 JSON null", status, hdr.Get("Content-Type"), body)
				}
			},
		},
		{
			name:  "empty object",
			fault: Fault{Kind: FaultBody, Body: "{}"},
			check: func(t *testing.T, _ string, status int, _ http.Header, body []byte) {
				if status != http.StatusOK || string(body) != "{}" {
					t.Errorf("status %d body %q, want 200 {}", status, body)
				}
			},
		},
		{
			name:  "no value",
			fault: Fault{Kind: FaultNoValue},
			check: func(t *testing.T, c string, status int, _ http.Header, body []byte) {
				m := rawPage(t, body)
				if _, has := m["value"]; has || status != http.StatusOK {
					t.Errorf("status %d, page still has a value: %s", status, body)
				}
				if next := nextLinkOf(t, body); next != links[c][1] {
					t.Errorf("nextLink %q, want the healthy %q", next, links[c][1])
				}
			},
		},
		{
			name:  "truncated",
			fault: Fault{Kind: FaultTruncated},
			check: func(t *testing.T, c string, status int, _ http.Header, body []byte) {
				whole := healthy[c][1]
				if status != http.StatusOK || len(body) != len(whole)/2 || !bytes.HasPrefix(whole, body) || json.Valid(body) {
					t.Errorf("status %d, %d bytes, want the first %d bytes of the page and invalid JSON", status, len(body), len(whole)/2)
				}
			},
		},
		{
			name:  "nextLink dropped",
			fault: Fault{Kind: FaultDropNextLink},
			check: func(t *testing.T, c string, status int, _ http.Header, body []byte) {
				var p page
				if err := json.Unmarshal(body, &p); err != nil || status != http.StatusOK {
					t.Fatalf("status %d, not a page: %v", status, err)
				}
				var want page
				_ = json.Unmarshal(healthy[c][1], &want)
				if p.NextLink != "" || len(p.Value) != len(want.Value) {
					t.Errorf("nextLink %q and %d items, want none and %d", p.NextLink, len(p.Value), len(want.Value))
				}
			},
		},
		{
			name:  "nextLink back at the page before",
			fault: Fault{Kind: FaultRepeatNextLink},
			check: func(t *testing.T, c string, _ int, _ http.Header, body []byte) {
				// Page 2's page before is page 1, which the client asked
				// for without a $skiptoken: the loop link asks for it with
				// one at offset 0.
				next := nextLinkOf(t, body)
				if next == "" || next == links[c][1] {
					t.Fatalf("nextLink %q, want one back at page 1", next)
				}
				status, _, again := get(t, s, tok, next)
				if status != http.StatusOK || !bytes.Equal(again, healthy[c][0]) {
					t.Errorf("the loop link serves status %d and not page 1", status)
				}
			},
		},
		{
			name:  "nextLink to another host",
			fault: Fault{Kind: FaultForeignNextLink},
			check: func(t *testing.T, c string, _ int, _ http.Header, body []byte) {
				want := DefaultForeignNextLinkBase + strings.TrimPrefix(links[c][1], s.URL())
				if next := nextLinkOf(t, body); next != want {
					t.Errorf("nextLink %q, want %q", next, want)
				}
			},
		},
		{
			name:  "nextLink with userinfo",
			fault: Fault{Kind: FaultForeignNextLink, NextLinkBase: s.URL() + "@evil.example"},
			check: func(t *testing.T, c string, _ int, _ http.Header, body []byte) {
				want := s.URL() + "@evil.example" + strings.TrimPrefix(links[c][1], s.URL())
				if next := nextLinkOf(t, body); next != want {
					t.Errorf("nextLink %q, want %q", next, want)
				}
			},
		},
	}
	for _, tc := range tests {
		for c := range listings {
			t.Run(tc.name+"/"+c, func(t *testing.T) {
				f := tc.fault
				f.PathPrefix, f.Page, f.Times = prefixes[c], 2, 1
				remove := s.InjectFault(f)
				defer remove()
				// Page 1 and single objects are not page 2, and a $count is
				// not a listing: none of them uses the fault up.
				if status, _, body := get(t, s, tok, listings[c]); status != http.StatusOK || !bytes.Equal(body, healthy[c][0]) {
					t.Fatalf("page 1 altered by a page 2 fault: status %d", status)
				}
				status, hdr, body := get(t, s, tok, links[c][0])
				tc.check(t, c, status, hdr, body)
				if status, _, body := get(t, s, tok, links[c][0]); status != http.StatusOK || !bytes.Equal(body, healthy[c][1]) {
					t.Errorf("page 2 still altered after the fault ran out: status %d", status)
				}
			})
		}
	}

	t.Run("repeat on the last page points back", func(t *testing.T) {
		defer s.InjectFault(Fault{PathPrefix: "/v1.0/users", Page: 3, Kind: FaultRepeatNextLink})()
		status, _, body := get(t, s, tok, links["users"][1])
		if next := nextLinkOf(t, body); status != http.StatusOK || next != links["users"][0] {
			t.Errorf("last page nextLink %q, want page 2's link %q", next, links["users"][0])
		}
	})

	t.Run("page faults leave other requests alone", func(t *testing.T) {
		s.ResetRequests()
		remove := s.InjectFault(Fault{PathPrefix: "/v1.0/", Kind: FaultTruncated, Times: 1})
		defer remove()
		if n := count(t, s, tok, "/v1.0/users/$count"); n != len(tn.Users) {
			t.Errorf("count under a page fault = %d", n)
		}
		if status, _, body := get(t, s, tok, "/v1.0/groups/"+staff); status != http.StatusOK || !json.Valid(body) {
			t.Errorf("single group under a page fault: status %d body %s", status, body)
		}
		if status, _, body := get(t, s, tok, listings["users"]); status != http.StatusOK || json.Valid(body) {
			t.Errorf("the listing did not get the fault: status %d", status)
		}
	})

	t.Run("body faults apply to any Graph answer", func(t *testing.T) {
		defer s.InjectFault(Fault{PathPrefix: "/v1.0/users/$count", Kind: FaultBody, Body: "many"})()
		status, _, body := getHeaders(t, s, tok, "/v1.0/users/$count", eventual)
		if status != http.StatusOK || string(body) != "many" {
			t.Errorf("count under a body fault: status %d body %q", status, body)
		}
	})
}

func TestFaultKindString(t *testing.T) {
	for k := FaultStatus; k <= FaultCountSkew; k++ {
		if name := k.String(); name == "" || strings.HasPrefix(name, "FaultKind(") {
			t.Errorf("FaultKind %d has no name", int(k))
		}
	}
	if got := FaultKind(99).String(); got != "FaultKind(99)" {
		t.Errorf("unknown kind = %q", got)
	}
}

package fakeentra

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestParseGroupFilter(t *testing.T) {
	tests := []struct {
		raw    string
		prefix string   // want a startswith filter with this prefix
		ids    []string // want an "in" filter with these (lower-case) ids
		err    string   // want a refusal whose message holds this
	}{
		{raw: "startswith(displayName,'Eng')", prefix: "Eng"},
		{raw: " StartsWith ( displayname , 'Eng' ) ", prefix: "Eng"},
		{raw: "startswith(displayName,'O''Brien')", prefix: "O'Brien"},
		{raw: "startswith(displayName,'''')", prefix: "'"},
		{raw: "startswith(displayName,'')", prefix: ""},
		{raw: "startswith(displayName,'Office – Mün')", prefix: "Office – Mün"},
		{raw: "id in ('A','b')", ids: []string{"a", "b"}},
		{raw: "id in ( 'a' )", ids: []string{"a"}},
		{raw: "id in ('" + strings.Repeat("x','", 14) + "x')", ids: []string{"x"}},
		{raw: "id in ('" + strings.Repeat("x','", 15) + "x')", err: "Too many child clauses specified in search filter expression containing 'OR' operators: 16. Max allowed: 15."},
		{raw: "startswith(displayName,'O'Brien')", err: "Invalid filter clause"},
		{raw: "startswith(displayName,'Eng'", err: "Invalid filter clause"},
		{raw: "startswith(mail,'eng')", err: "Invalid filter clause"},
		{raw: "startswith(displayName,'Eng') and id in ('a')", err: "Invalid filter clause"},
		{raw: "startswithx(displayName,'Eng')", err: "Unsupported Query."},
		{raw: "id in ()", err: "Invalid filter clause"},
		{raw: "idx in ('a')", err: "Unsupported Query."},
		{raw: "displayName eq 'Sales'", err: "Unsupported Query."},
		{raw: "", err: "Unsupported Query."},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			f, errMsg := parseGroupFilter(tt.raw)
			switch {
			case tt.err != "":
				if !strings.Contains(errMsg, tt.err) {
					t.Fatalf("error %q, want %q", errMsg, tt.err)
				}
			case errMsg != "":
				t.Fatalf("refused: %s", errMsg)
			case tt.ids == nil:
				if !f.hasPrefix || f.prefix != tt.prefix {
					t.Fatalf("filter %+v, want prefix %q", f, tt.prefix)
				}
			default:
				got := make([]string, 0, len(f.ids))
				for id := range f.ids {
					got = append(got, id)
				}
				slices.Sort(got)
				if f.hasPrefix || !slices.Equal(got, tt.ids) {
					t.Fatalf("filter %+v, want ids %v", f, tt.ids)
				}
			}
		})
	}
}

func TestHasPrefixFold(t *testing.T) {
	tests := []struct {
		s, prefix string
		want      bool
	}{
		{"Engineering", "eng", true},
		{"Engineering", "ENGINEERING", true},
		{"Eng", "Engineering", false},
		{"München Office", "MÜN", true},
		{"Kelvin", "\u212aelvin", true}, // KELVIN SIGN folds to k: a different UTF-8 length
		{"Sales", "", true},
		{"Sales", "Sb", false},
	}
	for _, tt := range tests {
		if got := hasPrefixFold(tt.s, tt.prefix); got != tt.want {
			t.Errorf("hasPrefixFold(%q, %q) = %v", tt.s, tt.prefix, got)
		}
	}
}

// filterPath is /v1.0/groups with $filter (and more options) encoded as a
// client sends them.
func filterPath(filter string, more ...string) string {
	q := url.Values{"$filter": {filter}}
	for i := 0; i+1 < len(more); i += 2 {
		q.Set(more[i], more[i+1])
	}
	return "/v1.0/groups?" + q.Encode()
}

func TestGroupFilter(t *testing.T) {
	s := startServer(t)
	tn := Generate(Spec{TenantID: testTenantID, Domain: testDomain, Seed: 42, Users: 300, Groups: 60, ClientID: testClientID, Secret: testSecret})
	tn.Groups = append(tn.Groups, Group{ID: "ffffffff-0000-4000-8000-000000000001", DisplayName: "O'Brien Fans"})
	s.AddTenant(tn)
	tok := mustToken(t, s, testTenantID, testClientID, testSecret)

	// want lists, in id order, the names of the groups whose name starts
	// with prefix under case folding.
	want := func(prefix string) []string {
		var out []string
		for _, g := range slices.SortedFunc(slices.Values(tn.Groups), func(a, b Group) int { return strings.Compare(a.ID, b.ID) }) {
			if hasPrefixFold(g.DisplayName, prefix) {
				out = append(out, g.DisplayName)
			}
		}
		return out
	}
	names := func(pages []page) []string {
		var out []string
		for _, p := range pages {
			for _, v := range p.Value {
				out = append(out, v["displayName"].(string))
			}
		}
		return out
	}

	t.Run("startswith is case-insensitive and in id order", func(t *testing.T) {
		for _, prefix := range []string{"eng", "OFFICE – ", "all ", "Office – mün", "o'brien"} {
			odata := "startswith(displayName,'" + strings.ReplaceAll(prefix, "'", "''") + "')"
			got := names(getAll(t, s, tok, filterPath(odata)))
			if w := want(prefix); len(w) == 0 || !slices.Equal(got, w) {
				t.Errorf("%q: got %q, want %q", prefix, got, w)
			}
		}
	})
	t.Run("no match is an empty page", func(t *testing.T) {
		p := getPage(t, s, tok, filterPath("startswith(displayName,'zzz')"))
		if p.Value == nil || len(p.Value) != 0 || p.NextLink != "" {
			t.Fatalf("page %+v", p)
		}
	})
	t.Run("top and select; the nextLink keeps the filter", func(t *testing.T) {
		pages := getAll(t, s, tok, filterPath("startswith(displayName,'office')", "$top", "5", "$select", "id,displayName"))
		if len(pages) < 2 {
			t.Fatalf("%d pages, want several of 5", len(pages))
		}
		for _, p := range pages[:len(pages)-1] {
			if len(p.Value) != 5 {
				t.Fatalf("a page of %d, want 5", len(p.Value))
			}
			if !strings.Contains(p.NextLink, "filter=") || !strings.Contains(p.NextLink, "startswith") {
				t.Fatalf("nextLink %s drops the filter", p.NextLink)
			}
		}
		for _, v := range pages[0].Value {
			if len(v) != 2 || v["id"] == nil || v["displayName"] == nil {
				t.Fatalf("$select=id,displayName answered %v", v)
			}
		}
		if got, w := names(pages), want("office"); !slices.Equal(got, w) {
			t.Fatalf("got %q, want %q", got, w)
		}
	})
	t.Run("id in, unknown ids left out", func(t *testing.T) {
		a, b := tn.Groups[3], tn.Groups[7]
		p := getPage(t, s, tok, filterPath("id in ('"+strings.ToUpper(a.ID)+"','"+b.ID+"','00000000-0000-4000-8000-00000000dead')"))
		got := names([]page{p})
		slices.Sort(got)
		w := []string{a.DisplayName, b.DisplayName}
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Fatalf("got %q, want %q", got, w)
		}
	})
	t.Run("refused filters", func(t *testing.T) {
		for _, path := range []string{
			filterPath("id in ('" + strings.Repeat("a','", 15) + "a')"),
			filterPath("startswith(displayName,'unterminated)"),
			filterPath("displayName eq 'Sales'"),
			"/v1.0/users?" + url.Values{"$filter": {"startswith(displayName,'a')"}}.Encode(),
			"/v1.0/groups/" + tn.Groups[0].ID + "/members?" + url.Values{"$filter": {"startswith(displayName,'a')"}}.Encode(),
		} {
			status, _, body := get(t, s, tok, path)
			if status != http.StatusBadRequest || odataErrorCode(t, body) != "Request_UnsupportedQuery" {
				t.Errorf("%s: %d %s, want 400 Request_UnsupportedQuery", path, status, body)
			}
		}
	})
	t.Run("a match's transitive members are counted with ConsistencyLevel only", func(t *testing.T) {
		staff := groupNamed(t, tn, "All Staff")
		path := "/v1.0/groups/" + staff.ID + "/transitiveMembers/$count"
		if n := count(t, s, tok, path); n != listed(t, s, tok, "/v1.0/groups/"+staff.ID+"/transitiveMembers?$top=999") || n == 0 {
			t.Fatalf("transitiveMembers/$count = %d", n)
		}
		status, _, body := get(t, s, tok, path)
		if status != http.StatusBadRequest || !strings.Contains(string(body), "$count is not currently supported.") {
			t.Fatalf("without ConsistencyLevel: %d %s", status, body)
		}
	})
}

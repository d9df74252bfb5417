package fakeentra

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	tests := []string{
		"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr", "\x00\x01\x1f control",
		"José Álvarez", "Łukasz Żółć", "王芳", "O'Brien", "emoji 🙂", "line\u2028sep\u2029",
		"bad \xff utf8 \xc3", "<script>&</script>",
	}
	for _, in := range tests {
		got := appendString(nil, in)
		var fromOurs, fromStd string
		if err := json.Unmarshal(got, &fromOurs); err != nil {
			t.Errorf("appendString(%q) = %s: invalid JSON: %v", in, got, err)
			continue
		}
		std, _ := json.Marshal(in)
		if err := json.Unmarshal(std, &fromStd); err != nil {
			t.Fatal(err)
		}
		if fromOurs != fromStd {
			t.Errorf("appendString(%q) decodes to %q, encoding/json to %q", in, fromOurs, fromStd)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "Zoë", "\xff", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var fromOurs, fromStd string
		if err := json.Unmarshal(appendString(nil, in), &fromOurs); err != nil {
			t.Fatalf("invalid JSON for %q: %v", in, err)
		}
		std, _ := json.Marshal(in)
		_ = json.Unmarshal(std, &fromStd)
		if fromOurs != fromStd {
			t.Fatalf("%q decodes to %q, encoding/json to %q", in, fromOurs, fromStd)
		}
	})
}

func FuzzPageToken(f *testing.F) {
	f.Add(pageToken{offset: 999, top: 999, snap: 3, since: 2}.encode())
	f.Add("")
	f.Add("nonsense")
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := decodePageToken(raw)
		if err != nil {
			return
		}
		if tok.top < 1 || tok.top > maxPageSize || tok.offset < 0 {
			t.Fatalf("decoded out-of-range token %+v from %q", tok, raw)
		}
		again, err := decodePageToken(tok.encode())
		if err != nil || again != tok {
			t.Fatalf("round trip of %+v: %+v, %v", tok, again, err)
		}
	})
}

// userPageSelect is what a sync reads: the default attribute mapping plus
// the fields matching needs.
const userPageSelect = "id,displayName,givenName,surname,userPrincipalName,mail,accountEnabled,userType,jobTitle,department," +
	"officeLocation,mobilePhone,businessPhones,employeeId,companyName,country"

// discardResponse is a ResponseWriter that keeps nothing but the size.
type discardResponse struct {
	header http.Header
	status int
	n      int
}

func (d *discardResponse) Header() http.Header  { return d.header }
func (d *discardResponse) WriteHeader(code int) { d.status = code }
func (d *discardResponse) Write(b []byte) (int, error) {
	d.n += len(b)
	return len(b), nil
}

// BenchmarkServeUsersPage measures the server's cost for one 999-user page
// (the second, so a $skiptoken is decoded): in-process through ServeHTTP,
// and over HTTPS with the body read by the client.
func BenchmarkServeUsersPage(b *testing.B) {
	s, _ := generatedServer(b, 10_000)
	tok := mustToken(b, s, testTenantID, testClientID, testSecret)
	first := getPage(b, s, tok, "/v1.0/users?$select="+userPageSelect+"&$expand=manager($select=id,mail,userPrincipalName)&$top=999")
	if first.NextLink == "" {
		b.Fatal("no second page")
	}

	b.Run("handler", func(b *testing.B) {
		req := httptest.NewRequest(http.MethodGet, first.NextLink, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		b.ReportAllocs()
		var size int
		for b.Loop() {
			w := &discardResponse{header: make(http.Header, 8)}
			s.ServeHTTP(w, req)
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
			size = w.n
		}
		b.SetBytes(int64(size))
		b.ReportMetric(float64(size), "bytes/page")
	})

	b.Run("https", func(b *testing.B) {
		client := s.HTTPClient()
		b.ReportAllocs()
		var size int64
		for b.Loop() {
			req, _ := http.NewRequest(http.MethodGet, first.NextLink, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			size, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
		b.SetBytes(size)
	})
}

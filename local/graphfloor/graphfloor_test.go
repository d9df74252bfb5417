package graphfloor

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"dirsync/internal/domain"
	"dirsync/local/fakeentra"
)

const (
	testTenantID = "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b"
	testDomain   = "contoso.onmicrosoft.com"
	testClientID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
	testSecret   = "s3cret"
)

// tenant holds one user per local part.
func tenant(locals []string) *fakeentra.Tenant {
	tn := &fakeentra.Tenant{
		ID: testTenantID, Domain: testDomain,
		Apps: []fakeentra.App{{ClientID: testClientID, Secret: testSecret, Roles: []string{"Directory.Read.All"}}},
	}
	for i, local := range locals {
		tn.Users = append(tn.Users, fakeentra.User{
			ID:                fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1),
			UserPrincipalName: local + "@" + testDomain, AccountEnabled: true, UserType: "Member",
		})
	}
	return tn
}

// TestReadSplitsAsTheReader reads a tenant whose 'j' holds most users, in
// pages of $top: the floor counts the initials and reads the partitions
// domain.UserPartitioning chooses only when the tenant has more pages than
// PartitionConcurrency, as the reader does.
func TestReadSplitsAsTheReader(t *testing.T) {
	var locals []string
	for i := range 120 {
		locals = append(locals, fmt.Sprintf("j%c%d", "aeiou.-_"[i%8], i))
	}
	locals = append(locals, "j", "anna", "bob", "zoe", "7seas", "o'neil")
	tests := []struct {
		name      string
		top       int
		wantSplit bool
	}{
		{name: "pages of 999: the initials as they are", top: PageSize},
		{name: "pages of 5: 26 pages, counted and split", top: 5, wantSplit: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake, err := fakeentra.Start()
			if err != nil {
				t.Fatal(err)
			}
			defer fake.Close()
			fake.AddTenant(tenant(locals))
			query := UserQuery(domain.DefaultMapping())
			query.Set("$top", fmt.Sprint(tc.top))
			src := Source{BaseURL: fake.URL(), DirectoryTenantID: testTenantID, ClientID: testClientID, ClientSecret: testSecret}
			st, err := Read(context.Background(), fake.HTTPClient(), src, query)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			var counts, partitions []string
			requests := 0
			for _, r := range fake.Requests() {
				if !strings.HasPrefix(r.Path, "/v1.0/") {
					continue
				}
				requests++
				q, _ := url.ParseQuery(r.Query)
				filter := q.Get("$filter")
				prefix := strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(filter, "startswith(userPrincipalName,'"), "')"), "''", "'")
				switch {
				case filter == "":
				case r.Path == "/v1.0/users/$count":
					counts = append(counts, prefix)
				case r.Path == "/v1.0/users" && r.Page == 1:
					partitions = append(partitions, prefix)
				}
			}
			wantCounts := []string(nil)
			want := UPNInitials
			if tc.wantSplit {
				wantCounts = UPNInitials
				want = append(slices.DeleteFunc(slices.Clone(UPNInitials), func(c string) bool { return c == "j" }), domain.SubPartitions("j")...)
			}
			slices.Sort(counts)
			slices.Sort(partitions)
			if !slices.Equal(counts, sorted(wantCounts)) {
				t.Errorf("counted %q, want %q", counts, sorted(wantCounts))
			}
			if !slices.Equal(partitions, sorted(want)) {
				t.Errorf("read partitions %q, want %q", partitions, sorted(want))
			}
			if st.Users != len(locals) || st.Requests != requests {
				t.Errorf("stats %+v; want %d users in the %d requests the fake answered", st, len(locals), requests)
			}
		})
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

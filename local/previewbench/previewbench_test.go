package previewbench

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"dirsync/internal/domain"
	"dirsync/internal/entra"
	"dirsync/local/fakeentra"
	"dirsync/local/graphfloor"
)

// TestBenchmarkSetup runs the benchmarks' setup, one preview and one floor
// at a small size: the preview must end PREVIEW_READY with the counts the
// seeded directory gives, and the floor must page every user and group and
// write as many items, of the same total size, as the preview did.
func TestBenchmarkSetup(t *testing.T) {
	const users = 200
	ctx := context.Background()
	f := fixtureFor(t, users, firstImport)

	run, err := f.preview(ctx, noTimer{})
	if err != nil {
		t.Fatal(err)
	}
	sy := run.sync
	if sy.Counts.Users.Add == 0 || sy.Counts.Users.Unchanged != users*linkedPercent/100 || sy.Counts.Users.Update != manualUsers(users) {
		t.Fatalf("counts %+v: want adds, %d unchanged and %d linked by email", sy.Counts.Users, users*linkedPercent/100, manualUsers(users))
	}
	// Every change, batch and the progress counter, plus member chunks.
	minItems := int64(sy.ChangeTotal + sy.Batches + 1)
	if run.written.Items < minItems || run.written.Items > minItems+int64(sy.Counts.Groups.Add) {
		t.Errorf("the plan write put %d items, want %d..%d (changes %d, batches %d, progress, member chunks)",
			run.written.Items, minItems, minItems+int64(sy.Counts.Groups.Add), sy.ChangeTotal, sy.Batches)
	}
	if per := run.written.Bytes / max(run.written.Items, 1); per < 100 || per > 4000 {
		t.Errorf("plan items average %d bytes, want a few hundred", per)
	}
	for name, d := range map[string]float64{"read": run.read.Seconds(), "load": run.load.Seconds(), "plan": run.plan.Seconds(), "write": run.write.Seconds()} {
		if d <= 0 || d > run.elapsed.Seconds() {
			t.Errorf("%s phase took %gs of a %gs run", name, d, run.elapsed.Seconds())
		}
	}
	if run.peak.Objects == 0 {
		t.Error("the heap sampler saw no heap growth during the run")
	}

	before := f.db.Written()
	fl, err := f.floor(ctx, noTimer{})
	if err != nil {
		t.Fatal(err)
	}
	if fl.pages.Groups != fakeentra.DefaultGroupCount(users) || fl.pages.DirectMembers == 0 {
		t.Errorf("floor paged %d groups and %d memberships, want %d groups with members",
			fl.pages.Groups, fl.pages.DirectMembers, fakeentra.DefaultGroupCount(users))
	}
	wrote := f.db.Written().Sub(before)
	if wrote.Items != run.written.Items || abs(wrote.Bytes-run.written.Bytes) >= run.written.Items {
		t.Errorf("floor wrote %d items of %d bytes, want %d items of %d bytes", wrote.Items, wrote.Bytes, run.written.Items, run.written.Bytes)
	}
	stored, err := CountPartition(ctx, f.db, f.syncTable, "FLOOR#1")
	if err != nil {
		t.Fatal(err)
	}
	if int64(stored) != run.written.Items {
		t.Errorf("the floor's partition holds %d items, want %d", stored, run.written.Items)
	}
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// TestFloorFetchesTheReadersPages checks that the raw floor requests exactly
// the pages the reader does (same paths, same query parameters, every next
// link followed), so the two are measured on the same work.
func TestFloorFetchesTheReadersPages(t *testing.T) {
	fake, err := fakeentra.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	fake.AddTenant(benchTenant(1500)) // two user pages, and All Staff's members too
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: fake.CertPool()}}
	defer transport.CloseIdleConnections()
	ctx := context.Background()

	r, err := entra.NewReader(entra.Config{
		DirectoryTenantID: benchDirectory, ClientID: benchClientID, ClientSecret: benchSecret,
		GraphEndpoint: fake.URL(), AuthorityHost: fake.URL(), Transport: transport,
	})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := r.Read(ctx, domain.Options{})
	if err != nil {
		t.Fatal(err)
	}
	readerPages := graphGets(fake.Requests())
	fake.ResetRequests()

	src := graphfloor.Source{BaseURL: fake.URL(), DirectoryTenantID: benchDirectory, ClientID: benchClientID, ClientSecret: benchSecret}
	st, err := graphfloor.Read(ctx, &http.Client{Transport: transport}, src, graphfloor.UserQuery(domain.DefaultMapping()))
	if err != nil {
		t.Fatal(err)
	}
	floorPages := graphGets(fake.Requests())

	if onlyReader, onlyFloor := difference(readerPages, floorPages), difference(floorPages, readerPages); len(onlyReader)+len(onlyFloor) > 0 {
		t.Fatalf("the floor fetched other pages than the reader (%d and %d pages):\nonly the reader: %v\nonly the floor: %v",
			len(readerPages), len(floorPages), onlyReader, onlyFloor)
	}
	if st.Users != len(snap.Users) || st.Groups != len(snap.Groups) || st.Requests != len(floorPages) {
		t.Errorf("floor stats %+v; reader read %d users, %d groups in %d requests",
			st, len(snap.Users), len(snap.Groups), len(readerPages))
	}
}

// TestFloorRidesOutThrottling pages a tenant through a throttling budget
// far smaller than the read: the floor waits out every 429 and still pages
// everything, as it must to stand beside a reader that does.
func TestFloorRidesOutThrottling(t *testing.T) {
	const users = 300
	// 40 units a second against a read of about 100.
	fake, err := fakeentra.Start(fakeentra.WithGraphModel(fakeentra.GraphModel{Throttle: true, Budget: 40, Window: time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	fake.AddTenant(benchTenant(users))
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: fake.CertPool()}}
	defer transport.CloseIdleConnections()

	src := graphfloor.Source{BaseURL: fake.URL(), DirectoryTenantID: benchDirectory, ClientID: benchClientID, ClientSecret: benchSecret}
	st, err := graphfloor.Read(context.Background(), &http.Client{Transport: transport}, src, graphfloor.UserQuery(domain.DefaultMapping()))
	if err != nil {
		t.Fatal(err)
	}
	if throttled := fake.GraphStats().Throttled; throttled == 0 {
		t.Fatal("the fake throttled nothing: the test proves nothing")
	}
	if st.Users != users || st.Groups != fakeentra.DefaultGroupCount(users) {
		t.Errorf("paged %d users and %d groups, want %d and %d", st.Users, st.Groups, users, fakeentra.DefaultGroupCount(users))
	}
}

// graphGets lists the Graph GET requests as path and sorted, decoded query,
// sorted, so requests made concurrently compare in any order.
func graphGets(reqs []fakeentra.Request) []string {
	var out []string
	for _, r := range reqs {
		if r.Method != http.MethodGet || !strings.HasPrefix(r.Path, "/v1.0/") {
			continue
		}
		q, err := url.ParseQuery(r.Query)
		if err != nil {
			out = append(out, r.Path+"?<malformed "+r.Query+">")
			continue
		}
		var params []string
		for k, vs := range q {
			for _, v := range vs {
				params = append(params, k+"="+v)
			}
		}
		slices.Sort(params)
		out = append(out, r.Path+"?"+strings.Join(params, "&"))
	}
	slices.Sort(out)
	return out
}

// difference lists the entries of a missing from b, each entry counted:
// a page fetched twice by one and once by the other is a difference too.
func difference(a, b []string) []string {
	left := map[string]int{}
	for _, s := range b {
		left[s]++
	}
	var out []string
	for _, s := range a {
		if left[s] > 0 {
			left[s]--
			continue
		}
		out = append(out, s)
	}
	return out
}

func TestExistingDirectory(t *testing.T) {
	tenant := benchTenant(300)
	byID := map[string]*fakeentra.User{}
	for i := range tenant.Users {
		byID[tenant.Users[i].ID] = &tenant.Users[i]
	}
	tests := []struct {
		name           string
		linked, manual int
		wantErr        bool
	}{
		{"linked and manual", 90, 3, false},
		{"none", 0, 0, false},
		{"manual only", 0, 5, false},
		{"more than the eligible users", 300, 0, true},
		{"negative", -1, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			users, err := ExistingDirectory(tenant, tt.linked, tt.manual)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			emails := map[string]bool{}
			linked, manual := 0, 0
			for _, u := range users {
				key := strings.ToLower(u.Email)
				if emails[key] {
					t.Fatalf("email %s used twice", u.Email)
				}
				emails[key] = true
				switch u.Source {
				case domain.SourceEntra:
					linked++
					src := byID[u.ExternalID]
					if src == nil || u.ExternalTenantID != tenant.ID || src.Mail == nil || *src.Mail != u.Email || !src.AccountEnabled {
						t.Fatalf("linked user %+v does not match an enabled Entra user with that mail", u.PlatformUser)
					}
					if name, _ := u.Attributes.Get("displayName"); name != src.DisplayName {
						t.Fatalf("linked user %s has displayName %q, Entra %q", u.Email, name, src.DisplayName)
					}
				case domain.SourceManual:
					manual++
					if u.ExternalID != "" || u.Email != strings.ToUpper(u.Email) {
						t.Fatalf("manual user %+v: want no link and an upper-case email", u.PlatformUser)
					}
				}
			}
			if linked != tt.linked || manual != tt.manual {
				t.Fatalf("got %d linked and %d manual, want %d and %d", linked, manual, tt.linked, tt.manual)
			}
		})
	}
}

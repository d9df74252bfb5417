package entra

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"dirsync/local/benchheap"
	"dirsync/local/graphfloor"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"dirsync/internal/domain"
	"dirsync/local/fakeentra"
)

var benchSizes = []int{10_000, 100_000}

// graphBenchSizes are read again under the fake's realistic Graph model
// (fakeentra.RealisticGraphModel: 150 ms a request plus 1 ms a user, and
// Graph's throttling), the sub-benchmarks model=graph.
var graphBenchSizes = []int{10_000, 100_000}

// The enterprise tenant read under the realistic model beside the others:
// a million users and 20,000 groups, nested as fakeentra.Generate nests
// them (model=graph/users=1000k+groups=20k).
const (
	enterpriseUsers  = 1_000_000
	enterpriseGroups = 20_000
)

func usersName(n int) string { return fmt.Sprintf("users=%dk", n/1000) }

// The benchmark tenants of BenchmarkRead and BenchmarkRawFloor have no
// groups, so both fetch exactly the same pages.
func BenchmarkRead(b *testing.B) {
	read := func(r *Reader) func(context.Context) (any, int, error) {
		return func(ctx context.Context) (any, int, error) {
			snap, err := r.Read(ctx, domain.Options{})
			if err != nil {
				return nil, 0, err
			}
			return snap, len(snap.Users), nil
		}
	}
	for _, n := range benchSizes {
		b.Run(usersName(n), func(b *testing.B) {
			measure(b, n, read(startBenchFake(b, n, 0).reader(b)))
		})
	}
	b.Run("model=graph", func(b *testing.B) {
		for _, n := range graphBenchSizes {
			b.Run(usersName(n), func(b *testing.B) {
				f := startBenchFake(b, n, 0)
				f.setGraphModel(b, fakeentra.RealisticGraphModel())
				measureModeled(b, f, n, read(f.reader(b)))
			})
		}
		b.Run(enterpriseName(), func(b *testing.B) {
			f := startBenchFake(b, enterpriseUsers, enterpriseGroups)
			f.setGraphModel(b, fakeentra.RealisticGraphModel())
			measureModeled(b, f, enterpriseUsers, read(f.reader(b)))
		})
	})
}

func enterpriseName() string {
	return fmt.Sprintf("%s+groups=%dk", usersName(enterpriseUsers), enterpriseGroups/1000)
}

// BenchmarkRawFloor sends the requests Read sends with plain net/http and
// encoding/json (local/graphfloor: same $select, $top and $expand as Read's
// default mapping, the same userPrincipalName partitions as many at a
// time, the groups delta round beside them, the same counts), decoding
// into minimal structs and keeping nothing: the floor Read is measured
// against.
func BenchmarkRawFloor(b *testing.B) {
	plan, err := newUserPlan(domain.UserProperties(domain.DefaultMapping()))
	if err != nil {
		b.Fatal(err)
	}
	query := url.Values{
		"$select": {strings.Join(plan.selectFields, ",")},
		"$top":    {strconv.Itoa(DefaultPageSize)},
		"$expand": {"manager($select=id,mail,userPrincipalName)"},
	}
	read := func(b *testing.B, f *benchFake) func(context.Context) (any, int, error) {
		transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.pool}}
		b.Cleanup(transport.CloseIdleConnections)
		client := &http.Client{Transport: transport}
		return func(ctx context.Context) (any, int, error) {
			src := graphfloor.Source{BaseURL: f.url, DirectoryTenantID: testTenantID, ClientID: testClientID, ClientSecret: testSecret}
			st, err := graphfloor.Read(ctx, client, src, query)
			return nil, st.Users, err
		}
	}
	for _, n := range benchSizes {
		b.Run(usersName(n), func(b *testing.B) {
			f := startBenchFake(b, n, 0)
			measure(b, n, read(b, f))
		})
	}
	b.Run("model=graph", func(b *testing.B) {
		for _, n := range graphBenchSizes {
			b.Run(usersName(n), func(b *testing.B) {
				f := startBenchFake(b, n, 0)
				f.setGraphModel(b, fakeentra.RealisticGraphModel())
				measureModeled(b, f, n, read(b, f))
			})
		}
		b.Run(enterpriseName(), func(b *testing.B) {
			f := startBenchFake(b, enterpriseUsers, enterpriseGroups)
			f.setGraphModel(b, fakeentra.RealisticGraphModel())
			measureModeled(b, f, enterpriseUsers, read(b, f))
		})
	})
}

// measure runs read b.N times and reports users/s and memory above the
// heap before the read:
//   - heap-peak-MB: the highest heap seen (sampled every 2 ms), garbage not
//     yet collected included, so it also reflects GC pacing;
//   - live-peak-MB: the highest live heap measured by a GC during the read,
//     i.e. what the read actually holds at once;
//   - retained-B/user: the heap the result keeps, per user;
//   - transient-MB: live-peak minus retained, what the read needs on top of
//     its result. It should not grow with the directory.
func measure(b *testing.B, users int, read func(context.Context) (any, int, error)) (perRun time.Duration) {
	ctx := context.Background()
	var peak, livePeak, retained uint64
	var elapsed time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		runtime.GC()
		before := benchheap.ReadHeap()
		sampler := benchheap.StartHeapSampler(2 * time.Millisecond)
		b.StartTimer()

		start := time.Now()
		result, count, err := read(ctx)
		elapsed += time.Since(start)

		b.StopTimer()
		top := sampler.Stop()
		if err != nil {
			b.Fatal(err)
		}
		if count != users {
			b.Fatalf("read %d users, want %d", count, users)
		}
		runtime.GC()
		after := benchheap.ReadHeap()
		runtime.KeepAlive(result)
		peak = max(peak, top.Above(before).Objects)
		livePeak = max(livePeak, top.Above(before).Live)
		retained += after.Above(before).Objects
		b.StartTimer()
	}
	b.StopTimer()
	const mb = 1 << 20
	retainedPerRun := float64(retained) / float64(b.N)
	b.ReportMetric(float64(users*b.N)/elapsed.Seconds(), "users/s")
	b.ReportMetric(float64(peak)/mb, "heap-peak-MB")
	b.ReportMetric(float64(livePeak)/mb, "live-peak-MB")
	b.ReportMetric(retainedPerRun/float64(users), "retained-B/user")
	b.ReportMetric(max(float64(livePeak)-retainedPerRun, 0)/mb, "transient-MB")
	return elapsed / time.Duration(b.N)
}

// measureModeled is measure under the fake's Graph model, also reporting
// per read: requests (Graph requests the fake answered), 429s (those its
// budget throttled, which the read rode out) and wall-s.
func measureModeled(b *testing.B, f *benchFake, users int, read func(context.Context) (any, int, error)) {
	before := f.graphStats(b)
	perRun := measure(b, users, read)
	got := f.graphStats(b).Sub(before)
	runs := float64(b.N)
	b.ReportMetric(float64(got.Requests)/runs, "requests")
	b.ReportMetric(float64(got.Throttled)/runs, "429s")
	b.ReportMetric(perRun.Seconds(), "wall-s")
}

// BenchmarkReadWithGroups adds the generator's default groups and their
// transitive members to the read, which the raw floor does not fetch.
func BenchmarkReadWithGroups(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(usersName(n), func(b *testing.B) {
			r := startBenchFake(b, n, -1).reader(b)
			measure(b, n, func(ctx context.Context) (any, int, error) {
				snap, err := r.Read(ctx, domain.Options{})
				if err != nil {
					return nil, 0, err
				}
				return snap, len(snap.Users), nil
			})
		})
	}
}

// The benchmarks' fake Entra ID runs in a child process (this test binary,
// re-executed), so the heap figures hold the reader's memory alone, not the
// fake's directory and response buffers.
const benchFakeEnv = "ENTRA_BENCH_FAKE"

func TestMain(m *testing.M) {
	if spec := os.Getenv(benchFakeEnv); spec != "" {
		os.Exit(serveBenchFake(spec))
	}
	os.Exit(m.Run())
}

type benchFakeInfo struct {
	URL   string `json:"url"`
	CAPEM []byte `json:"ca"`
}

// serveBenchFake is the child process: it serves the tenant the spec
// ("<users>", "<users>+groups" for the default groups, "<users>+groups=<n>"
// for n groups) describes, prints where on stdout, and stops when stdin
// closes.
func serveBenchFake(spec string) int {
	usersText, groupsText, withGroups := strings.Cut(spec, "+groups")
	users, err := strconv.Atoi(usersText)
	groups := 0
	if n, ok := strings.CutPrefix(groupsText, "="); ok && err == nil {
		groups, err = strconv.Atoi(n)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bad %s=%q\n", benchFakeEnv, spec)
		return 2
	}
	tweak := func(t *fakeentra.Tenant) { t.Groups = nil }
	if withGroups {
		tweak = nil
	}
	fake, err := fakeentra.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer fake.Close()
	fake.AddTenant(generateTenant(users, groups, tweak))
	runtime.GC()
	if err := json.NewEncoder(os.Stdout).Encode(benchFakeInfo{URL: fake.URL(), CAPEM: fake.CACertPEM()}); err != nil {
		return 1
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

type benchFake struct {
	url  string
	pool *x509.CertPool
	// control reaches the fake's control paths.
	control *http.Client
}

func (f *benchFake) setGraphModel(b *testing.B, m fakeentra.GraphModel) {
	b.Helper()
	if err := fakeentra.SetRemoteGraphModel(context.Background(), f.control, f.url, m); err != nil {
		b.Fatal(err)
	}
}

func (f *benchFake) graphStats(b *testing.B) fakeentra.GraphStats {
	b.Helper()
	st, err := fakeentra.RemoteGraphStats(context.Background(), f.control, f.url)
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// startBenchFake starts the child serving users users and groups groups
// (0: none; -1: the generator's default count).
func startBenchFake(b *testing.B, users, groups int) *benchFake {
	b.Helper()
	spec := strconv.Itoa(users)
	switch {
	case groups < 0:
		spec += "+groups"
	case groups > 0:
		spec += "+groups=" + strconv.Itoa(groups)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), benchFakeEnv+"="+spec)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	var info benchFakeInfo
	if err := json.NewDecoder(stdout).Decode(&info); err != nil {
		b.Fatalf("fake Entra ID process: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(info.CAPEM) {
		b.Fatal("fake Entra ID process sent no CA certificate")
	}
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	b.Cleanup(transport.CloseIdleConnections)
	return &benchFake{url: info.URL, pool: pool, control: &http.Client{Transport: transport}}
}

func (f *benchFake) reader(b *testing.B) *Reader {
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.pool}}
	b.Cleanup(transport.CloseIdleConnections)
	r, err := NewReader(Config{
		DirectoryTenantID: testTenantID,
		ClientID:          testClientID,
		ClientSecret:      testSecret,
		GraphEndpoint:     f.url,
		AuthorityHost:     f.url,
		Transport:         transport,
	})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

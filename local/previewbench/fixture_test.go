package previewbench

import (
	"cmp"
	"context"
	"crypto/tls"
	"dirsync/local/benchheap"
	"dirsync/local/benchsizes"
	"dirsync/local/graphfloor"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"dirsync/internal/config"
	"dirsync/internal/domain"
	"dirsync/internal/entra"
	"dirsync/internal/plan"
	"dirsync/internal/preview"
	"dirsync/internal/store"
	"dirsync/local/dynamolocal"
	"dirsync/local/fakeentra"
)

// linkedPercent of the source users already exist on the platform, linked
// and up to date; one in a thousand (at least 3) exist as manual users with
// the same email, which the preview links.
const linkedPercent = 30

func manualUsers(users int) int { return max(3, users/1000) }

// heapSampleEvery is how often the worker's heap is read during a run.
const heapSampleEvery = 2 * time.Millisecond

// fixture is everything one tenant size needs, set up once and not timed:
// its tables in the shared DynamoDB Local, the fake Entra ID process, the
// seeded platform directory, the stored connection and the preview service.
type fixture struct {
	users     int
	actor     domain.Actor
	db        *CountingDB
	store     *store.Store
	syncTable string
	fake      *fakeProcess
	source    graphfloor.Source
	svc       *preview.Service
	jobs      *jobQueue
	clock     *phaseClock
	want      wantCounts
	// transports of the reader and of the raw floor, kept for closing.
	readerTransport, floorTransport *http.Transport
	floorClient                     *http.Client
	// lastWrite is what the latest preview's plan write put into DynamoDB:
	// the amount the raw write floor writes.
	lastWrite Written
	floorRuns atomic.Int64
	// churns counts the changes made to the fake's tenant (BenchmarkResync).
	churns int
}

// wantCounts are the plan counts the seeded directory must give.
type wantCounts struct {
	add, update, unchanged, skip, outOfScope, groupAdd int
}

// fixtureKind says what the platform side of a fixture holds.
type fixtureKind int

const (
	// firstImport: linkedPercent of the users linked, a few manual ones,
	// the rest to add (BenchmarkPreview).
	firstImport fixtureKind = iota
	// imported: every user a sync would import is linked and up to date,
	// as after a first import was applied (BenchmarkResync, which also
	// changes the fake's tenant).
	imported
)

type fixtureKey struct {
	users int
	kind  fixtureKind
}

var (
	fixturesMu sync.Mutex
	fixtures   = map[fixtureKey]*fixture{}
)

// fixtureFor returns the fixture of a size and kind, setting it up on
// first use. Fixtures live until the binary ends, so a benchmark and its
// floor share the fake process and the tables.
func fixtureFor(tb testing.TB, users int, kind fixtureKind) *fixture {
	tb.Helper()
	db := sharedDynamo(tb)
	fixturesMu.Lock()
	defer fixturesMu.Unlock()
	key := fixtureKey{users, kind}
	if f := fixtures[key]; f != nil {
		return f
	}
	f, err := newFixture(context.Background(), db, users, kind)
	if err != nil {
		tb.Fatalf("set up %d users: %v", users, err)
	}
	fixtures[key] = f
	return f
}

func closeFixtures() {
	fixturesMu.Lock()
	defer fixturesMu.Unlock()
	for n, f := range fixtures {
		f.close()
		delete(fixtures, n)
	}
}

func newFixture(ctx context.Context, db *dynamodb.Client, users int, kind fixtureKind) (_ *fixture, err error) {
	root, err := dynamolocal.RepoRoot()
	if err != nil {
		return nil, err
	}
	tenantID := fmt.Sprintf("bench-%d-%d", users, kind)
	f := &fixture{
		users: users,
		actor: domain.Actor{TenantID: tenantID, Subject: "bench-admin", Email: "admin@platform.example"},
		db:    NewCountingDB(db), jobs: &jobQueue{}, clock: &phaseClock{},
	}
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	names, err := dynamolocal.CreateTables(ctx, db, filepath.Join(root, "template.yaml"), fmt.Sprintf("bench%d-%d-", users, kind))
	if err != nil {
		return nil, err
	}
	f.syncTable = names["SyncTable"]
	f.store = store.New(f.db, names["DirectoryTable"], f.syncTable)

	if f.fake, err = startFakeProcess(users); err != nil {
		return nil, err
	}
	f.source = graphfloor.Source{BaseURL: f.fake.url, DirectoryTenantID: benchDirectory, ClientID: benchClientID, ClientSecret: benchSecret}
	// Idle connections for every parallel member read, as the local stack
	// configures its transport to the fake.
	f.readerTransport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.fake.pool}, MaxIdleConnsPerHost: 8}
	f.floorTransport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.fake.pool}, MaxIdleConnsPerHost: 8}
	f.floorClient = &http.Client{Transport: f.floorTransport}

	// The platform side is built from the same generated tenant the fake
	// serves, then let go: only the fake process keeps the directory.
	linked, manual := users*linkedPercent/100, manualUsers(users)
	var existing []domain.User
	if kind == imported {
		existing = ImportedDirectory(benchTenant(users))
	} else if existing, err = ExistingDirectory(benchTenant(users), linked, manual); err != nil {
		return nil, err
	}
	if err := f.store.SeedUsers(ctx, tenantID, existing); err != nil {
		return nil, err
	}
	if kind == imported {
		for _, g := range ImportedGroups(benchTenant(users), existing) {
			if err := f.store.SeedGroup(ctx, tenantID, g.Group, g.MemberIDs); err != nil {
				return nil, err
			}
		}
	}
	now := time.Now().UTC()
	if err := f.store.PutConnection(ctx, &domain.Connection{
		TenantID: tenantID, DirectoryTenantID: benchDirectory, ClientID: benchClientID, Cloud: domain.CloudGlobal,
		SecretHint: benchSecret[len(benchSecret)-4:], SecretSetAt: now, UpdatedAt: now,
	}, false); err != nil {
		return nil, err
	}
	excluded := fakeentra.PopulationCount(fakeentra.Guests, users) + fakeentra.PopulationCount(fakeentra.DisabledAccounts, users)
	duplicates := 2 * fakeentra.PopulationCount(fakeentra.DuplicateMailPairs, users)
	f.want = wantCounts{
		add: users - excluded - duplicates - linked - manual, update: manual, unchanged: linked,
		skip: duplicates, outOfScope: excluded, groupAdd: cmp.Or(benchsizes.Groups(users), fakeentra.DefaultGroupCount(users)),
	}

	// The product's defaults: batch size, TTL, retention, lock.
	cfg, err := config.FromEnv(func(string) string { return "" })
	if err != nil {
		return nil, err
	}
	f.svc = &preview.Service{
		Store:      &timedStore{Store: f.store, clock: f.clock},
		Dispatcher: f.jobs,
		Plan:       plan.Compute,
		PlanPart:   plan.ComputePart,
		NewReader: func(ctx context.Context, conn *domain.Connection) (preview.Reader, error) {
			r, err := entra.NewReader(entra.ConfigFor(conn, benchSecret, entra.Config{
				GraphEndpoint: f.fake.url, AuthorityHost: f.fake.url, Transport: f.readerTransport,
			}))
			if err != nil {
				return nil, err
			}
			return &timedReader{reader: r, clock: f.clock}, nil
		},
		Classify:      entra.SyncError,
		TTL:           cfg.PreviewTTL,
		Retention:     cfg.PreviewRetention,
		LockFor:       cfg.PreviewLock,
		UserBatchSize: cfg.UserBatchSize,
		Logger:        slog.New(slog.NewTextHandler(benchLog(), nil)),
	}
	return f, nil
}

func (f *fixture) close() {
	if f.fake != nil {
		f.fake.stop()
	}
	for _, t := range []*http.Transport{f.readerTransport, f.floorTransport} {
		if t != nil {
			t.CloseIdleConnections()
		}
	}
}

// jobQueue is the preview's dispatcher: it keeps the job, and the caller
// runs the worker on it at once, inside the timed part.
type jobQueue struct {
	mu   sync.Mutex
	jobs []preview.Job
}

func (q *jobQueue) Dispatch(_ context.Context, job preview.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, job)
	return nil
}

func (q *jobQueue) take() (preview.Job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.jobs) == 0 {
		return preview.Job{}, false
	}
	job := q.jobs[0]
	q.jobs = q.jobs[1:]
	return job, true
}

// phaseClock times the worker's phases around the calls it makes: the
// Graph read, the directory load (the whole directory, or every load of a
// part) and the plan write; the plan is what lies between the start of the
// first load and the start of the write, loads left out.
type phaseClock struct {
	read, load, write    time.Duration
	loadStart, saveStart time.Time
}

func (c *phaseClock) plan() time.Duration {
	if c.loadStart.IsZero() || c.saveStart.IsZero() {
		return 0
	}
	return c.saveStart.Sub(c.loadStart) - c.load
}

// loaded records one directory load that started at start.
func (c *phaseClock) loaded(start time.Time) {
	if c.loadStart.IsZero() {
		c.loadStart = start
	}
	c.load += time.Since(start)
}

type timedReader struct {
	reader preview.Reader
	clock  *phaseClock
}

func (r *timedReader) ReadMirror(ctx context.Context, opts domain.Options) (*domain.SourceMirror, error) {
	start := time.Now()
	m, err := r.reader.ReadMirror(ctx, opts)
	r.clock.read = time.Since(start)
	return m, err
}

func (r *timedReader) ReadChanges(ctx context.Context, opts domain.Options, prev *domain.SourceMirror) (*domain.SourceMirror, error) {
	start := time.Now()
	m, err := r.reader.ReadChanges(ctx, opts, prev)
	r.clock.read = time.Since(start)
	return m, err
}

type timedStore struct {
	preview.Store
	clock *phaseClock
}

func (s *timedStore) LoadDirectory(ctx context.Context, tenant string) (*domain.Directory, error) {
	defer s.clock.loaded(time.Now())
	return s.Store.LoadDirectory(ctx, tenant)
}

func (s *timedStore) LoadDirectoryPart(ctx context.Context, tenant string, part domain.DirectoryPart) (*domain.Directory, error) {
	defer s.clock.loaded(time.Now())
	return s.Store.LoadDirectoryPart(ctx, tenant, part)
}

func (s *timedStore) SavePlan(ctx context.Context, l domain.Lease, p *domain.Plan, w domain.PlanWrite) error {
	s.clock.saveStart = time.Now()
	err := s.Store.SavePlan(ctx, l, p, w)
	s.clock.write = time.Since(s.clock.saveStart)
	return err
}

// timer is the part of *testing.B a run switches on and off around the
// timed work; tests pass noTimer.
type timer interface {
	StartTimer()
	StopTimer()
}

type noTimer struct{}

func (noTimer) StartTimer() {}
func (noTimer) StopTimer()  {}

// previewRun is one measured preview.
type previewRun struct {
	elapsed                 time.Duration
	read, load, plan, write time.Duration
	// peak is the worker's highest heap above the heap before it started.
	peak    benchheap.Heap
	written Written
	sync    *domain.Sync
}

// preview runs one preview end to end: Service.Start, then the worker's
// Service.Run on the dispatched job, timed as one, with the heap sampled
// throughout. It fails unless the sync is PREVIEW_READY with the counts
// the seeded directory gives.
func (f *fixture) preview(ctx context.Context, t timer) (previewRun, error) {
	run, err := f.run(ctx, t, true)
	if err != nil {
		return run, err
	}
	if err := f.check(run.sync); err != nil {
		return run, err
	}
	f.lastWrite = run.written
	return run, nil
}

// run runs one preview end to end, a full read or as the worker chooses
// (fullRead false), and returns the sync it left.
func (f *fixture) run(ctx context.Context, t timer, fullRead bool) (previewRun, error) {
	var run previewRun
	*f.clock = phaseClock{}
	runtime.GC()
	base := benchheap.ReadHeap()
	before := f.db.Written()
	sampler := benchheap.StartHeapSampler(heapSampleEvery)

	t.StartTimer()
	start := time.Now()
	sy, err := f.svc.Start(ctx, f.actor, fullRead)
	if err == nil {
		job, ok := f.jobs.take()
		if !ok {
			err = errors.New("Start dispatched no job")
		} else {
			err = f.svc.Run(ctx, job)
		}
	}
	run.elapsed = time.Since(start)
	t.StopTimer()

	run.peak = sampler.Stop().Above(base)
	if err != nil {
		return run, err
	}
	run.written = f.db.Written().Sub(before)
	run.read, run.load, run.plan, run.write = f.clock.read, f.clock.load, f.clock.plan(), f.clock.write
	if run.sync, err = f.store.GetSync(ctx, f.actor.TenantID, sy.ID); err != nil {
		return run, err
	}
	if run.sync.Status != domain.SyncPreviewReady {
		return run, fmt.Errorf("sync %s is %s (error %+v), want %s", sy.ID, run.sync.Status, run.sync.Error, domain.SyncPreviewReady)
	}
	return run, nil
}

// check compares a finished sync with what the seeded directory must give.
func (f *fixture) check(sy *domain.Sync) error {
	if sy.Status != domain.SyncPreviewReady {
		return fmt.Errorf("sync %s is %s (error %+v), want %s", sy.ID, sy.Status, sy.Error, domain.SyncPreviewReady)
	}
	u := sy.Counts.Users
	got := wantCounts{
		add: u.Add, update: u.Update, unchanged: u.Unchanged, skip: u.Skip, outOfScope: u.OutOfScope,
		groupAdd: sy.Counts.Groups.Add,
	}
	if got != f.want || u.Deactivate != 0 || u.Reactivate != 0 {
		return fmt.Errorf("sync %s counts %+v, want %+v", sy.ID, sy.Counts, f.want)
	}
	return nil
}

// sizeFloor runs a preview, untimed, unless one already told how much the
// write floor writes.
func (f *fixture) sizeFloor(ctx context.Context) error {
	if f.lastWrite.Items != 0 {
		return nil
	}
	if _, err := f.preview(ctx, noTimer{}); err != nil {
		return fmt.Errorf("preview to size the write floor: %w", err)
	}
	return nil
}

// underGraphModel puts the fixture's fake Entra ID under the realistic
// Graph model until the benchmark ends (fixtures outlive benchmarks).
func (f *fixture) underGraphModel(b *testing.B) {
	b.Helper()
	ctx := context.Background()
	if err := fakeentra.SetRemoteGraphModel(ctx, f.floorClient, f.fake.url, fakeentra.RealisticGraphModel()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := fakeentra.SetRemoteGraphModel(ctx, f.floorClient, f.fake.url, fakeentra.GraphModel{}); err != nil {
			b.Error(err)
		}
	})
}

// graphStats reads the counts of the fixture's fake Entra ID.
func (f *fixture) graphStats(b *testing.B) fakeentra.GraphStats {
	b.Helper()
	st, err := fakeentra.RemoteGraphStats(context.Background(), f.floorClient, f.fake.url)
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// floorRun is one measured raw floor.
type floorRun struct {
	paging, write time.Duration
	pages         graphfloor.Stats
	itemBytes     int
}

// floor fetches the same Graph pages with plain net/http and writes as
// many items, of the same average size, as the latest preview wrote, with
// plain BatchWriteItem at the store's write concurrency. The first run of a
// fixture with no preview yet runs one, untimed, to know the amount.
func (f *fixture) floor(ctx context.Context, t timer) (floorRun, error) {
	var run floorRun
	if err := f.sizeFloor(ctx); err != nil {
		return run, err
	}
	run.itemBytes = int(f.lastWrite.Bytes / f.lastWrite.Items)
	write := RawWrite{
		Table: f.syncTable, Partition: fmt.Sprintf("FLOOR#%d", f.floorRuns.Add(1)),
		Items: int(f.lastWrite.Items), ItemBytes: run.itemBytes, Concurrency: f.store.WriteConcurrency,
	}
	runtime.GC()

	t.StartTimer()
	start := time.Now()
	pages, err := graphfloor.Read(ctx, f.floorClient, f.source, graphfloor.UserQuery(domain.DefaultMapping()))
	run.paging = time.Since(start)
	if err == nil {
		start = time.Now()
		err = WriteItems(ctx, f.db, write)
		run.write = time.Since(start)
	}
	t.StopTimer()

	run.pages = pages
	if err != nil {
		return run, err
	}
	if pages.Users != f.users {
		return run, fmt.Errorf("paged %d users, want %d", pages.Users, f.users)
	}
	return run, nil
}

// benchLog is where the worker logs: nowhere, unless PREVIEWBENCH_LOG=1
// asks for its log on stderr (the phases of a run, the part rounds).
func benchLog() io.Writer {
	if os.Getenv("PREVIEWBENCH_LOG") == "1" {
		return os.Stderr
	}
	return io.Discard
}

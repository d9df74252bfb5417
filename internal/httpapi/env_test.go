package httpapi

import (
	"bytes"
	"context"
	"dirsync/internal/apply"
	"dirsync/internal/review"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"dirsync/internal/auth"
	"dirsync/internal/domain"
	"dirsync/internal/preview"
	"dirsync/internal/store"
	"dirsync/local/dynamolocal"
)

var (
	tableCounter atomic.Int64

	// DynamoDB Local starts with the first test that needs it, so the
	// decoding, spec and fuzz tests (and fuzz workers) run without it.
	dynamoOnce sync.Once
	dynamoInst *dynamolocal.Instance
	testDB     *dynamodb.Client
	dynamoErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if dynamoInst != nil {
		dynamoInst.Stop()
	}
	os.Exit(code)
}

// dynamo returns the client of the package's one DynamoDB Local.
func dynamo(t testing.TB) *dynamodb.Client {
	t.Helper()
	dynamoOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if dynamoInst, dynamoErr = dynamolocal.Start(ctx); dynamoErr == nil {
			testDB = dynamolocal.Client(dynamoInst.Endpoint)
		}
	})
	if dynamoErr != nil {
		t.Fatalf("these tests need DynamoDB Local: %v", dynamoErr)
	}
	return testDB
}

// Callers used throughout the tests.
var (
	acmeAdmin  = auth.Claims{TenantID: "acme", Subject: "sub-ada", Email: "ada@acme.test", Roles: []string{"user", "admin"}}
	otherAdmin = auth.Claims{TenantID: "other", Subject: "sub-bob", Email: "bob@other.test", Roles: []string{"admin"}}
	acmeUser   = auth.Claims{TenantID: "acme", Subject: "sub-eve", Email: "eve@acme.test", Roles: []string{"user"}}
)

// env is one handler over fresh tables of the real store.
type env struct {
	store      *store.Store
	syncs      *syncOverlay
	secrets    *fakeSecrets
	dispatcher *fakeDispatcher
	tester     *fakeTester
	groups     *fakeEntraGroups
	logs       *lockedBuffer
	executions *fakeExecutions
	h          *Handler
}

func newEnv(t *testing.T) *env {
	t.Helper()
	prefix := fmt.Sprintf("h%d-", tableCounter.Add(1))
	names, err := dynamolocal.CreateTables(context.Background(), dynamo(t), filepath.Join("..", "..", "template.yaml"), prefix)
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(testDB, names["DirectoryTable"], names["SyncTable"])
	e := &env{
		store:      st,
		syncs:      &syncOverlay{Store: st, status: map[string]domain.SyncStatus{}},
		secrets:    &fakeSecrets{stored: map[string]string{}},
		dispatcher: &fakeDispatcher{},
		tester:     &fakeTester{},
		groups:     newFakeEntraGroups(),
		logs:       &lockedBuffer{},
	}
	svc := &preview.Service{Store: st, Dispatcher: e.dispatcher, LockFor: time.Hour, TTL: 24 * time.Hour}
	e.executions = &fakeExecutions{}
	applies := &apply.Service{Store: st, Executions: e.executions, MaxConcurrency: 2, CancelDrain: time.Minute}
	e.h = mustNew(t, Deps{
		Directory: st, Syncs: e.syncs, Connections: st, Secrets: e.secrets, Previews: svc, Tester: e.tester, EntraGroups: e.groups, Applies: applies,
		Reviews: mustReviews(t, st),
	}, Options{Logger: slog.New(slog.NewJSONHandler(e.logs, nil))}, Functions...)
	return e
}

// mustNew is New for a test: the handler of the given functions.
func mustNew(t testing.TB, deps Deps, opts Options, functions ...Function) *Handler {
	t.Helper()
	h, err := New(deps, opts, functions...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// fakeExecutions records started and stopped executions.
type fakeExecutions struct {
	mu      sync.Mutex
	started map[string]string
	stopped []string
}

func (f *fakeExecutions) Start(_ context.Context, name string, input []byte) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.started == nil {
		f.started = map[string]string{}
	}
	f.started[name] = string(input)
	return "exec:" + name, nil
}

func (f *fakeExecutions) Stop(_ context.Context, id, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, id)
	return nil
}

// response is a recorded response with its JSON body decoded.
type response struct {
	Status int
	Header http.Header
	Raw    string
	Body   map[string]any
}

// errorCode and errorMessage read the error shape.
func (r *response) errorCode() string    { return r.errorField("code") }
func (r *response) errorMessage() string { return r.errorField("message") }
func (r *response) errorField(k string) string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e[k].(string)
	return s
}

func (r *response) items() []map[string]any {
	raw, _ := r.Body["items"].([]any)
	out := make([]map[string]any, len(raw))
	for i, it := range raw {
		out[i], _ = it.(map[string]any)
	}
	return out
}

// do sends a request as caller (nil: no claims). A non-empty body is sent
// as JSON unless headers set another Content-Type. headers are name, value
// pairs.
func (e *env) do(t testing.TB, caller *auth.Claims, method, path, body string, headers ...string) *response {
	t.Helper()
	return e.send(t, caller, newRequest(method, path, body, headers...))
}

func newRequest(method, path, body string, headers ...string) *http.Request {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

// send serves req as caller. Every response is checked against
// docs/openapi.yaml.
func (e *env) send(t testing.TB, caller *auth.Claims, req *http.Request) *response {
	t.Helper()
	if caller != nil {
		req = req.WithContext(auth.NewContext(req.Context(), *caller))
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	resp := &response{Status: rec.Code, Header: rec.Header(), Raw: rec.Body.String()}
	if req.Method != http.MethodHead {
		if err := json.Unmarshal(rec.Body.Bytes(), &resp.Body); err != nil {
			t.Fatalf("%s %s: response is not a JSON object: %v\n%s", req.Method, req.URL, err, rec.Body)
		}
		if err := loadSpec(t).checkResponse(req.Method, req.URL.EscapedPath(), rec.Code, rec.Body.Bytes()); err != nil {
			t.Errorf("%s %s: response does not match docs/openapi.yaml: %v\n%s", req.Method, req.URL, err, rec.Body)
		}
	}
	return resp
}

// mustStatus fails the test unless the response has status.
func (r *response) mustStatus(t testing.TB, status int) *response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d\n%s", r.Status, status, r.Raw)
	}
	return r
}

// createUser creates a manual user through the API and returns its id.
func (e *env) createUser(t testing.TB, caller auth.Claims, email, displayName string) string {
	t.Helper()
	body := fmt.Sprintf(`{"email":%q,"displayName":%q}`, email, displayName)
	r := e.do(t, &caller, http.MethodPost, "/v1/users", body).mustStatus(t, http.StatusCreated)
	return r.Body["id"].(string)
}

// putConnection configures a connection through the API.
func (e *env) putConnection(t testing.TB, caller auth.Claims) {
	t.Helper()
	e.do(t, &caller, http.MethodPut, "/v1/connection", validConnection).mustStatus(t, http.StatusCreated)
}

const (
	dirTenantGUID = "11111111-2222-3333-4444-555555555555"
	clientGUID    = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	testSecret    = "s3cr3t-Value~0123456789abcdefWXYZ"
)

var validConnection = fmt.Sprintf(`{"directoryTenantId":%q,"clientId":%q,"clientSecret":%q}`, dirTenantGUID, clientGUID, testSecret)

// startSyncWithPlan starts a preview through the API and stores plan for
// it with the real store, as the worker would.
func (e *env) startSyncWithPlan(t testing.TB, caller auth.Claims, plan *domain.Plan) string {
	t.Helper()
	r := e.do(t, &caller, http.MethodPost, "/v1/syncs", "").mustStatus(t, http.StatusAccepted)
	id := r.Body["id"].(string)
	now := time.Now()
	err := e.store.SavePlan(context.Background(), domain.Lease{Tenant: caller.TenantID, SyncID: id}, plan, domain.PlanWrite{
		Batches:   domain.CutBatches(plan.Changes, domain.BatchSizes{}),
		ExpiresAt: now.Add(24 * time.Hour), RetainUntil: now.Add(48 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// samplePlan is a plan with users adds, one update, one skip and one group
// add, ordered as the plan engine orders them.
func samplePlan(adds int) *domain.Plan {
	p := &domain.Plan{
		Safeguards: []domain.Safeguard{{Name: domain.SafeguardDeactivationPercent, Limit: 20, Actual: 0}},
		Warnings:   []string{"2 users have no email"},
	}
	add := func(c domain.Change) {
		c.Seq = len(p.Changes) + 1
		p.Changes = append(p.Changes, c)
	}
	for i := 0; i < adds; i++ {
		add(domain.Change{ObjectType: domain.ObjectUser, Kind: domain.KindAdd,
			Subject:    domain.Subject{ExternalID: fmt.Sprintf("ext-%d", i), Email: fmt.Sprintf("new%02d@acme.test", i), DisplayName: fmt.Sprintf("New Person %d", i)},
			Attributes: domain.Attrs{{Name: "displayName", Value: fmt.Sprintf("New Person %d", i)}}})
	}
	add(domain.Change{ObjectType: domain.ObjectUser, Kind: domain.KindUpdate, TargetID: "u-grace", BaseRevision: 3,
		Subject: domain.Subject{ExternalID: "ext-grace", Email: "grace@acme.test", DisplayName: "Grace Hopper"},
		Fields:  []domain.FieldChange{{Name: "jobTitle", Before: "Captain", After: "Rear Admiral"}}})
	add(domain.Change{ObjectType: domain.ObjectUser, Kind: domain.KindSkip, Reason: domain.ReasonDuplicateEmail,
		Subject: domain.Subject{ExternalID: "ext-dup", Email: "dup@acme.test", DisplayName: "Dup"}})
	add(domain.Change{ObjectType: domain.ObjectGroup, Kind: domain.KindAdd,
		Subject:      domain.Subject{ExternalID: "grp-eng", DisplayName: "Engineering"},
		MembersAdded: []domain.MemberRef{{ExternalID: "ext-0"}}})
	p.Counts.Users.Add, p.Counts.Users.Update, p.Counts.Users.Skip = adds, 1, 1
	p.Counts.Groups.Add, p.Counts.Memberships.Add = 1, 1
	return p
}

// putGroup writes a group and its memberships with the store's seed
// writer: the routes under test only read them.
func (e *env) putGroup(t testing.TB, tenant, id, name string, memberIDs ...string) {
	t.Helper()
	g := domain.Group{ID: id, DisplayName: name, Source: domain.SourceEntra, ExternalID: "ext-" + id, ExternalTenantID: dirTenantGUID}
	if err := e.store.SeedGroup(context.Background(), tenant, g, memberIDs); err != nil {
		t.Fatal(err)
	}
}

// syncOverlay is the real store with some syncs shown in another status,
// standing in for confirm (which is not served yet) to reach APPLYING.
type syncOverlay struct {
	*store.Store
	mu     sync.Mutex
	status map[string]domain.SyncStatus
}

func (o *syncOverlay) setStatus(id string, st domain.SyncStatus) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.status[id] = st
}

func (o *syncOverlay) apply(sy *domain.Sync) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if st, ok := o.status[sy.ID]; ok {
		sy.Status = st
		at := sy.CreatedAt.Add(time.Minute)
		sy.ConfirmedAt, sy.ConfirmedBy = &at, "ada@acme.test"
	}
}

func (o *syncOverlay) GetSync(ctx context.Context, tenant, id string) (*domain.Sync, error) {
	sy, err := o.Store.GetSync(ctx, tenant, id)
	if err == nil {
		o.apply(sy)
	}
	return sy, err
}

func (o *syncOverlay) ListSyncs(ctx context.Context, tenant string, p domain.Page) ([]*domain.Sync, string, error) {
	syncs, next, err := o.Store.ListSyncs(ctx, tenant, p)
	for _, sy := range syncs {
		o.apply(sy)
	}
	return syncs, next, err
}

type fakeSecrets struct {
	mu     sync.Mutex
	stored map[string]string
	puts   int
}

func (f *fakeSecrets) PutSecret(_ context.Context, tenant, secret string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stored[tenant] = secret
	f.puts++
	return fmt.Sprintf("v%d", f.puts), nil
}

type fakeDispatcher struct {
	mu   sync.Mutex
	jobs []preview.Job
}

func (f *fakeDispatcher) Dispatch(_ context.Context, job preview.Job) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jobs = append(f.jobs, job)
	return nil
}

// fakeTester fails the read checks of a connection whose client id ends in
// "0", the way a missing permission does.
type fakeTester struct{}

func (fakeTester) Test(_ context.Context, conn *domain.Connection) ([]domain.ConnectionCheck, error) {
	checks := []domain.ConnectionCheck{{Name: "token", OK: true, Message: "got an access token"}}
	ok := !strings.HasSuffix(conn.ClientID, "0")
	msg := "read 1 user"
	if !ok {
		msg = "missing permission User.Read.All (application) with admin consent"
	}
	return append(checks, domain.ConnectionCheck{Name: "read_user", OK: ok, Message: msg}), nil
}

// lockedBuffer collects log output from concurrent requests.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the JSON log records.
func (b *lockedBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		out = append(out, m)
	}
	return out
}

func mustReviews(t testing.TB, st review.Store) *review.Service {
	t.Helper()
	svc, err := review.New(st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

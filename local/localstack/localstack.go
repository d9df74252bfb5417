// Package localstack runs the whole product on one machine with real local
// stand-ins: DynamoDB Local with the tables of template.yaml, the HTTP API
// (the same handler code the Lambdas run) behind a JWT check standing in
// for API Gateway's authorizer, the preview worker, and a fake Entra ID
// serving demo tenants unless a real connection is configured.
package localstack

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dirsync/internal/apply"
	"dirsync/internal/auth"
	"dirsync/internal/config"
	"dirsync/internal/console"
	"dirsync/internal/domain"
	"dirsync/internal/entra"
	"dirsync/internal/httpapi"
	"dirsync/internal/httpapi/lambdahttp"
	"dirsync/internal/preview"
	"dirsync/internal/samtemplate"
	"dirsync/internal/secrets"
	"dirsync/internal/sfnexec"
	"dirsync/internal/store"
	"dirsync/local/apigwlocal"
	"dirsync/local/dynamolocal"
	"dirsync/local/fakeentra"
	"dirsync/local/motolocal"
	"dirsync/local/sfnapi"
	"dirsync/local/sfnlocal"
)

// Local issuer and audience of the dev tokens.
const (
	LocalIssuer   = "https://auth.localhost/"
	LocalAudience = "directory-sync"
)

// Options configure a local stack.
type Options struct {
	// Addr to serve the HTTP API on; "127.0.0.1:0" picks a free port.
	Addr string
	// Root is the repository root (template.yaml, local/); "" = found from
	// the working directory.
	Root string
	// DataDir keeps the token signing key between runs, so printed tokens
	// survive a restart; "" keeps it in memory. (Secrets live in the local
	// Secrets Manager, in memory like the tables.)
	DataDir string
	// DemoUsers is the size of the acme demo Entra tenant (default 200);
	// globex gets a quarter of it.
	DemoUsers int
	// Demo seeds the demo tenants (connections, platform users).
	Demo bool
	// CorsOrigins are origins allowed to call the API besides the stack's
	// own (where the console is served), e.g. a console run elsewhere.
	CorsOrigins []string
	// Env is read for the configuration (PREVIEW_TTL, GRAPH_ENDPOINT, ...);
	// nil = os.Getenv.
	Env    func(string) string
	Logger *slog.Logger
}

// SecretStore keeps client secrets outside DynamoDB: Secrets Manager,
// served by moto_server.
type SecretStore interface {
	GetSecret(ctx context.Context, tenant string) (string, error)
	GetSecretVersion(ctx context.Context, tenant, version string) (string, error)
	PutSecret(ctx context.Context, tenant, secret string) (string, error)
}

// Stack is a running local stack.
type Stack struct {
	URL    string // base URL of the HTTP API
	Config config.Config
	Store  *store.Store
	Fake   *fakeentra.Server
	Issuer *auth.LocalIssuer
	// Preview is the preview service; Dispatcher runs its jobs in-process.
	Preview *preview.Service
	// Apply confirms and applies; Runner runs the template's state machine
	// with aws-local-stepfunctions, whose Lambda tasks reach the apply and
	// finalize handlers through the Lambda Invoke endpoint this stack serves.
	Apply  *apply.Service
	Runner *sfnlocal.Runner
	// StateMachineARN is the apply state machine's, as the Step Functions
	// API served at /stepfunctions knows it.
	StateMachineARN string
	sfnAPI          *sfnapi.Handler
	Secrets         SecretStore

	dynamo  *dynamolocal.Instance
	moto    *motolocal.Instance
	server  *http.Server
	jobs    sync.WaitGroup
	running sync.Map // *context.CancelCauseFunc of each running job
	logger  *slog.Logger
	closed  chan struct{}
}

// Start brings the stack up. Close stops everything it started.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	if opts.Env == nil {
		opts.Env = os.Getenv
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if opts.DemoUsers == 0 {
		opts.DemoUsers = 200
	}
	if opts.Root == "" {
		if opts.Root, err = dynamolocal.RepoRoot(); err != nil {
			return nil, err
		}
	}
	s := &Stack{logger: opts.Logger, closed: make(chan struct{})}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	cfg, err := config.FromEnv(opts.Env)
	if err != nil {
		return nil, err
	}
	s.Config = cfg

	if s.dynamo, err = dynamolocal.Start(ctx); err != nil {
		return nil, err
	}
	db := dynamolocal.Client(s.dynamo.Endpoint)
	templatePath := filepath.Join(opts.Root, "template.yaml")
	names, err := dynamolocal.CreateTables(ctx, db, templatePath, "")
	if err != nil {
		return nil, err
	}
	s.Store = store.New(db, names["DirectoryTable"], names["SyncTable"])

	if s.moto, err = motolocal.Start(ctx); err != nil {
		return nil, err
	}
	s.Secrets = &secrets.SecretsManager{Client: s.moto.SecretsManager(), Prefix: cfg.SecretPrefix}
	if s.Issuer, err = newIssuer(opts.DataDir); err != nil {
		return nil, err
	}
	if s.Fake, err = fakeentra.Start(fakeentra.WithLogger(opts.Logger)); err != nil {
		return nil, err
	}

	base := entra.ConfigFromEnv(entra.Config{}, opts.Env)
	fakeTransport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.Fake.CertPool()}, MaxIdleConnsPerHost: 8}
	// A connection to a directory the fake serves talks to the fake; any
	// other goes to the real Entra ID of its cloud (or the overrides).
	entraConfig := func(conn *domain.Connection, secret string) entra.Config {
		if s.fakeServes(conn.DirectoryTenantID) {
			c := entra.ConfigFor(conn, secret, base)
			c.GraphEndpoint, c.AuthorityHost, c.Transport = s.Fake.URL(), s.Fake.URL(), fakeTransport
			return c
		}
		return entra.ConfigFor(conn, secret, base)
	}

	s.Preview = &preview.Service{
		Store:      s.Store,
		Dispatcher: dispatcherFunc(s.dispatch),
		NewReader: func(ctx context.Context, conn *domain.Connection) (preview.Reader, error) {
			secret, err := s.Secrets.GetSecretVersion(ctx, conn.TenantID, conn.SecretVersion)
			if err != nil {
				return nil, err
			}
			return preview.NewReaderOrInvalid(entra.NewReader(entraConfig(conn, secret)))
		},
		Classify:      entra.SyncError,
		TTL:           cfg.PreviewTTL,
		Retention:     cfg.PreviewRetention,
		LockFor:       cfg.PreviewLock,
		UserBatchSize: cfg.UserBatchSize,
		Logger:        opts.Logger,
	}
	tester := &entra.Tester{Secrets: s.Secrets, Configure: entraConfig}

	// The HTTP listener comes first: the state machine runner needs the
	// Lambda Invoke endpoint's URL, which this server also serves.
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("localstack: listen on %s: %w", addr, err)
	}
	s.URL = "http://" + ln.Addr().String()
	s.Apply = &apply.Service{
		Store: s.Store, MaxConcurrency: cfg.ApplyMaxConcurrency, CancelDrain: cfg.CancelDrain, Concurrency: 8, Logger: opts.Logger,
	}
	invoke := sfnlocal.NewInvokeServer(opts.Logger)
	invoke.Register(sfnlocal.LocalARN("ApplyFunction"), sfnlocal.JSONFunction(s.Apply.ApplyBatch))
	finalizer := &apply.Finalizer{Apply: s.Apply, Previews: s.Preview}
	invoke.Register(sfnlocal.LocalARN("FinalizeFunction"), sfnlocal.JSONFunction(finalizer.Handle))
	definition, err := sfnlocal.DefinitionFromTemplate(templatePath, "ApplyStateMachine")
	if err != nil {
		ln.Close()
		return nil, err
	}
	if s.Runner, err = sfnlocal.NewRunner(ctx, sfnlocal.RunnerConfig{
		Root: opts.Root, Definition: definition, InvokeURL: s.URL, Logger: opts.Logger,
	}); err != nil {
		ln.Close()
		return nil, err
	}
	// Confirm starts and stops executions through the Step Functions API,
	// with AWS's rules (a name once used is taken; a repeated start with the
	// same input is the same execution), as the confirm function does.
	s.sfnAPI = sfnapi.New()
	if s.StateMachineARN, err = s.sfnAPI.Add(s.Runner); err != nil {
		ln.Close()
		return nil, err
	}
	s.Apply.Executions = &sfnexec.Executions{StateMachineARN: s.StateMachineARN, Client: sfn.New(sfn.Options{
		Region: sfnlocal.LocalRegion, BaseEndpoint: aws.String(s.URL + stepFunctionsPath),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	})}

	api := httpapi.New(httpapi.Deps{
		Directory: s.Store, Syncs: s.Store, Connections: s.Store, Secrets: s.Secrets,
		Previews: s.Preview, Tester: tester, Applies: s.Apply,
	}, httpapi.Options{
		ClaimNames: auth.ClaimNames{Tenant: cfg.TenantClaim, Roles: cfg.RolesClaim},
		AdminRole:  cfg.AdminRole, Logger: opts.Logger,
	})
	if err := checkRoutes(templatePath, api.Routes()); err != nil {
		ln.Close()
		return nil, err
	}

	if opts.Demo {
		if err := s.seedDemo(ctx, opts.DemoUsers); err != nil {
			ln.Close()
			return nil, err
		}
	}

	gateway, err := s.httpAPI(templatePath, api, opts.CorsOrigins)
	if err != nil {
		ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", gateway)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	// The Step Functions API, as the confirm function calls it.
	mux.Handle("POST "+stepFunctionsPath, s.sfnAPI)
	// The Lambda Invoke API, as the state machine runner calls it.
	mux.Handle("/2015-03-31/functions/", invoke)
	// The admin console: static files calling the API on the same origin.
	mux.Handle("/", console.Handler())

	s.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			opts.Logger.Error("http server stopped", "error", err)
		}
	}()
	return s, nil
}

// stepFunctionsPath is where the stack serves the Step Functions API.
const stepFunctionsPath = "/stepfunctions"

// httpAPI fronts the API handler with the HTTP API of template.yaml as API
// Gateway runs it: its routes, JWT authorizer, CORS and limits, each
// request delivered to the route's function as the payload 2.0 event API
// Gateway builds, through the same Lambda adapter the functions run.
// Every function's handler is the full API handler, in-process.
func (s *Stack) httpAPI(templatePath string, api http.Handler, corsOrigins []string) (*apigwlocal.Gateway, error) {
	tpl, err := samtemplate.Load(templatePath)
	if err != nil {
		return nil, err
	}
	function := apigwlocal.EventHandler(lambdahttp.Handler(api, auth.ClaimNames{Tenant: s.Config.TenantClaim, Roles: s.Config.RolesClaim}))
	functions := apigwlocal.Functions{}
	for _, f := range tpl.Functions() {
		functions[f.LogicalID] = function
	}
	// The console is served from this origin; others may be added.
	origins := append([]string{s.URL}, corsOrigins...)
	return apigwlocal.New(tpl, apigwlocal.Options{
		Parameters: map[string]string{
			"JwtIssuer": LocalIssuer, "JwtAudience": LocalAudience, "CorsAllowedOrigins": strings.Join(origins, ","),
			"TenantClaim": s.Config.TenantClaim, "RolesClaim": s.Config.RolesClaim,
		},
		Verifier: s.Issuer, Invoker: functions, Logger: s.logger,
	})
}

// checkRoutes makes the local API serve exactly the routes template.yaml
// gives API Gateway, so a route missing from the template fails here too.
func checkRoutes(templatePath string, served []string) error {
	tpl, err := samtemplate.Load(templatePath)
	if err != nil {
		return err
	}
	var declared []string
	for _, r := range tpl.Routes() {
		declared = append(declared, r.Pattern())
	}
	slices.Sort(declared)
	if !slices.Equal(declared, served) {
		return fmt.Errorf("localstack: template.yaml routes %v differ from the served routes %v", declared, served)
	}
	return nil
}

func (s *Stack) fakeServes(directoryID string) bool {
	return s.Fake != nil && s.Fake.HasTenant(directoryID)
}

type dispatcherFunc func(ctx context.Context, job preview.Job) error

func (f dispatcherFunc) Dispatch(ctx context.Context, job preview.Job) error { return f(ctx, job) }

// dispatch runs a preview job in the background, as Lambda's asynchronous
// invoke does in AWS.
func (s *Stack) dispatch(_ context.Context, job preview.Job) error {
	select {
	case <-s.closed:
		return errors.New("localstack: stopping")
	default:
	}
	s.jobs.Add(1)
	go func() {
		defer s.jobs.Done()
		// The worker function's timeout in template.yaml.
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		ctx, kill := context.WithCancelCause(ctx)
		s.running.Store(&kill, kill)
		defer s.running.Delete(&kill)
		if err := s.Preview.Run(ctx, job); err != nil {
			s.logger.Error("preview worker failed", "tenant_id", job.TenantID, "sync_id", job.SyncID, "error", err)
		}
	}()
	return nil
}

// WaitIdle waits until no preview job is running.
func (s *Stack) WaitIdle() { s.jobs.Wait() }

// errKilled is why KillWorkers ends a job.
var errKilled = errors.New("localstack: the worker invocation was killed")

// KillWorkers ends every running preview job at once, as Lambda ends an
// invocation at its timeout or on a crash: the job gets no chance to
// record anything.
func (s *Stack) KillWorkers() {
	s.running.Range(func(_, v any) bool {
		v.(context.CancelCauseFunc)(errKilled)
		return true
	})
	s.jobs.Wait()
}

// Token signs an admin token (or one with the given roles) for a tenant.
func (s *Stack) Token(tenant, email string, roles []string, ttl time.Duration) (string, error) {
	return s.Issuer.Sign(map[string]any{
		s.Config.TenantClaim: tenant, s.Config.RolesClaim: roles,
		"sub": "local-" + strings.SplitN(email, "@", 2)[0], "email": email,
	}, ttl)
}

// Close stops the server, waits for running jobs and stops every process
// the stack started.
func (s *Stack) Close() {
	select {
	case <-s.closed:
		return
	default:
		close(s.closed)
	}
	if s.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.server.Shutdown(ctx)
		cancel()
	}
	s.jobs.Wait()
	if s.Runner != nil {
		if s.sfnAPI != nil {
			_ = s.sfnAPI.Close()
		}
		_ = s.Runner.Close()
	}
	if s.Fake != nil {
		s.Fake.Close()
	}
	s.moto.Stop()
	s.dynamo.Stop()
}

// newIssuer keeps the signing key in dataDir, so tokens printed by one run
// still work after a restart; without a data dir the key is random.
func newIssuer(dataDir string) (*auth.LocalIssuer, error) {
	if dataDir == "" {
		return auth.NewLocalIssuer(LocalIssuer, LocalAudience, nil)
	}
	path := filepath.Join(dataDir, "jwt.key")
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("localstack: signing key: %w", err)
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("localstack: data dir: %w", err)
		}
		if err := os.WriteFile(path, key, 0o600); err != nil {
			return nil, fmt.Errorf("localstack: save signing key: %w", err)
		}
		return auth.NewLocalIssuer(LocalIssuer, LocalAudience, key)
	}
	if err != nil {
		return nil, fmt.Errorf("localstack: read signing key: %w", err)
	}
	return auth.NewLocalIssuer(LocalIssuer, LocalAudience, key)
}

// Package localstack runs the whole product on one machine as AWS runs it,
// from stand-ins: DynamoDB Local with the tables of template.yaml, Secrets
// Manager on moto_server, every function of template.yaml as its real
// bootstrap under the Lambda Runtime Interface Emulator (lambdalocal, with
// the template's environment, timeout, memory and EventInvokeConfig), the
// HTTP API of the template in front of them (apigwlocal: routes, JWT
// authorizer, CORS, payload 2.0), the apply state machine on
// aws-local-stepfunctions behind the Step Functions API (sfnlocal, sfnapi),
// a fake Entra ID serving demo tenants, and the admin console on an origin
// of its own. It builds no service of the product: the functions do that
// themselves, from their environment, as in AWS.
package localstack

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"dirsync/internal/auth"
	"dirsync/internal/config"
	"dirsync/internal/console"
	"dirsync/internal/samtemplate"
	"dirsync/internal/secrets"
	"dirsync/internal/store"
	"dirsync/local/apigwlocal"
	"dirsync/local/dynamolocal"
	"dirsync/local/eventslocal"
	"dirsync/local/fakeentra"
	"dirsync/local/iamlocal"
	"dirsync/local/lambdalocal"
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
	// Addr to serve the AWS side on (the HTTP API, the Lambda Invoke API,
	// the Step Functions API); "127.0.0.1:0" picks a free port.
	Addr string
	// ConsoleAddr serves the admin console, on an origin of its own as when
	// deployed; "" = a free port on Addr's host.
	ConsoleAddr string
	// Root is the repository root (template.yaml, local/); "" = found from
	// the working directory.
	Root string
	// Template is the SAM template to run; "" = Root/template.yaml. Tests
	// run altered copies (a shorter timeout, a statement removed).
	Template string
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
	// console, e.g. a console run elsewhere.
	CorsOrigins []string
	// Parameters override template parameters, as samconfig.toml's
	// parameter_overrides do (e.g. "PreviewTTL": "2h"). JwtIssuer,
	// JwtAudience and CorsAllowedOrigins are the stack's own; GraphEndpoint
	// and AzureAuthorityHost default to the fake Entra ID (set them to ""
	// to reach the real Entra ID of each connection's cloud).
	Parameters map[string]string
	// AsyncRetryDelays are Lambda's waits before the first and the second
	// retry of a failed asynchronous invocation; default Lambda's (about 1
	// and 2 minutes). Tests shorten them.
	AsyncRetryDelays []time.Duration
	// FunctionOutput receives every function's and emulator's output, each
	// line prefixed with the function's name; nil discards it.
	FunctionOutput io.Writer
	Logger         *slog.Logger
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
	URL        string // base URL of the HTTP API (and of the Lambda and Step Functions APIs)
	ConsoleURL string // the admin console, on its own origin
	// Config is the configuration the functions read from their
	// environment.
	Config config.Config
	// Store and Secrets reach the stack's tables and secrets directly, for
	// seeding and for tests; the functions have clients of their own.
	Store   *store.Store
	Secrets SecretStore
	Fake    *fakeentra.Server
	Issuer  *auth.LocalIssuer
	// Lambda runs the template's functions.
	Lambda *lambdalocal.Service
	// Runner runs the template's state machine with aws-local-stepfunctions,
	// its Lambda tasks invoking the functions through the Lambda Invoke API.
	Runner *sfnlocal.Runner
	// StateMachineARN is the apply state machine's, as the Step Functions
	// API served at /stepfunctions knows it.
	StateMachineARN string

	// Principals are the roles' credentials (and the admin's); IAM checks
	// every AWS call of a function against its role, and records what
	// each grant was used for.
	Principals *iamlocal.Principals
	IAM        *iamlocal.Authorizer

	sfnAPI       *sfnapi.Handler
	bus          *eventslocal.Bus
	dynamo       *dynamolocal.Instance
	moto         *motolocal.Instance
	dynamoFront  *iamlocal.Server
	secretsFront *iamlocal.Server
	faults       awsFaults
	servers      []*http.Server
	tmpDir       string
	logger       *slog.Logger
	closed       chan struct{}
}

// Start brings the stack up. Close stops everything it started.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
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
	templatePath := opts.Template
	if templatePath == "" {
		templatePath = filepath.Join(opts.Root, "template.yaml")
	}
	tpl, err := samtemplate.Load(templatePath)
	if err != nil {
		return nil, err
	}
	if s.tmpDir, err = os.MkdirTemp("", "localstack-"); err != nil {
		return nil, fmt.Errorf("localstack: %w", err)
	}

	// The listeners come first: the functions' environment names them.
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	apiListener, err := s.listen(addr)
	if err != nil {
		return nil, err
	}
	s.URL = "http://" + apiListener.Addr().String()
	consoleAddr := opts.ConsoleAddr
	if consoleAddr == "" {
		host, _, _ := net.SplitHostPort(apiListener.Addr().String())
		consoleAddr = net.JoinHostPort(host, "0")
	}
	consoleListener, err := s.listen(consoleAddr)
	if err != nil {
		return nil, err
	}
	s.ConsoleURL = "http://" + consoleListener.Addr().String()

	if s.Issuer, err = newIssuer(opts.DataDir); err != nil {
		return nil, err
	}
	if s.Fake, err = fakeentra.Start(fakeentra.WithLogger(opts.Logger)); err != nil {
		return nil, err
	}
	caFile := filepath.Join(s.tmpDir, "fake-entra-ca.pem")
	if err := os.WriteFile(caFile, s.Fake.CACertPEM(), 0o600); err != nil {
		return nil, fmt.Errorf("localstack: write the fake Entra ID's CA: %w", err)
	}

	// The template's parameters as the stack deploys it.
	params := map[string]string{
		"GraphEndpoint": s.Fake.URL(), "AzureAuthorityHost": s.Fake.URL(),
	}
	for k, v := range opts.Parameters {
		params[k] = v
	}
	// The console's origin, and any other the caller allows.
	origins := append([]string{s.ConsoleURL}, opts.CorsOrigins...)
	params["JwtIssuer"], params["JwtAudience"], params["CorsAllowedOrigins"] = LocalIssuer, LocalAudience, strings.Join(origins, ",")

	if s.dynamo, err = dynamolocal.Start(ctx); err != nil {
		return nil, err
	}
	db := dynamolocal.Client(s.dynamo.Endpoint)
	tables, err := dynamolocal.CreateTables(ctx, db, templatePath, "")
	if err != nil {
		return nil, err
	}
	if s.moto, err = motolocal.StartWith(ctx, motolocal.Options{EnforceIAM: true, AccountID: sfnlocal.LocalAccountID}); err != nil {
		return nil, err
	}
	// The template as CloudFormation deploys it (aws-sam-translator), its
	// resources named by logical id: the roles and the rules come from it.
	deployed, err := samtemplate.Transform(ctx, templatePath, iamlocal.LocalTransformOptions(params))
	if err != nil {
		return nil, err
	}
	// IAM: every role of the transformed template gets credentials, and
	// every stand-in the functions call checks them against its policies.
	if err := s.guard(deployed); err != nil {
		return nil, err
	}

	definition, err := sfnlocal.DefinitionFromTemplate(templatePath, "ApplyStateMachine")
	if err != nil {
		return nil, err
	}
	machine, err := s.Principals.For("ApplyStateMachine")
	if err != nil {
		return nil, err
	}
	if s.Runner, err = sfnlocal.NewRunner(ctx, sfnlocal.RunnerConfig{
		Root: opts.Root, Definition: definition, InvokeURL: s.URL, Credentials: machine.Credentials, Logger: opts.Logger,
	}); err != nil {
		return nil, err
	}
	// Confirm starts and stops executions through the Step Functions API,
	// with AWS's rules (a name once used is taken; a repeated start with the
	// same input is the same execution).
	s.sfnAPI = sfnapi.New()
	if s.StateMachineARN, err = s.sfnAPI.Add(s.Runner); err != nil {
		return nil, err
	}
	// EventBridge: Step Functions' status changes go on the default bus,
	// whose rules (the template's) invoke their targets asynchronously.
	if err := s.eventBus(deployed); err != nil {
		return nil, err
	}

	// The functions as CloudFormation deploys them, their references
	// naming the local resources, each with its role's credentials.
	for id, name := range tables {
		if ref, err := deployed.Str(map[string]any{"Ref": id}); err != nil || ref != name {
			return nil, fmt.Errorf("localstack: table %s is %q locally, the template's Ref says %q (%v)", id, name, ref, err)
		}
	}
	functions, err := lambdalocal.FunctionsFromTemplate(deployed, tpl)
	if err != nil {
		return nil, err
	}
	for i := range functions {
		p, err := s.Principals.For(functions[i].Name)
		if err != nil {
			return nil, err
		}
		maps.Copy(functions[i].Environment, p.Env())
	}
	if s.Config, err = functionConfig(functions); err != nil {
		return nil, err
	}
	s.Store = store.New(db, s.Config.DirectoryTable, s.Config.SyncTable)
	s.Secrets = &secrets.SecretsManager{Client: secretsmanager.New(secretsmanager.Options{
		Region: sfnlocal.LocalRegion, BaseEndpoint: aws.String(s.secretsFront.URL), Credentials: s.Principals.Admin().Provider(),
	}), Prefix: s.Config.SecretPrefix}
	if s.Lambda, err = lambdalocal.New(ctx, lambdalocal.Config{
		Root: opts.Root, Functions: functions, BuildDir: filepath.Join(s.tmpDir, "functions"),
		Environment: map[string]string{
			// Every AWS call of a function goes to the stand-ins.
			"AWS_ENDPOINT_URL_DYNAMODB":        s.dynamoFront.URL,
			"AWS_ENDPOINT_URL_SECRETS_MANAGER": s.secretsFront.URL,
			"AWS_ENDPOINT_URL_LAMBDA":          s.URL,
			"AWS_ENDPOINT_URL_SFN":             s.URL + stepFunctionsPath,
			"AWS_ENDPOINT_URL_EVENTBRIDGE":     s.URL + eventBridgePath,
			// The fake Entra ID's TLS certificate, trusted as the real
			// one's CA is in AWS.
			"SSL_CERT_FILE": caFile,
		},
		// Lambda delivers a function's destination records with the
		// function's role.
		AuthorizeDestination: func(function, destinationARN string) error {
			p, err := s.Principals.For(function)
			if err != nil {
				return err
			}
			return s.IAM.Authorize(p, "lambda:InvokeFunction", destinationARN)
		},
		RetryDelays: opts.AsyncRetryDelays, Output: opts.FunctionOutput, Logger: opts.Logger,
	}); err != nil {
		return nil, err
	}

	if opts.Demo {
		if err := s.seedDemo(ctx, opts.DemoUsers); err != nil {
			return nil, err
		}
	}

	// API Gateway invokes the functions as its integration allows (the
	// functions' resource policies SAM writes), not with a role of the
	// stack's: here, as the admin.
	gateway, err := apigwlocal.New(tpl, apigwlocal.Options{
		Parameters: params, Verifier: s.Issuer, Logger: s.logger,
		Invoker: apigwlocal.LambdaInvoker(awslambda.New(awslambda.Options{
			Region: sfnlocal.LocalRegion, BaseEndpoint: aws.String(s.URL), Credentials: s.Principals.Admin().Provider(),
		}), func(logicalID string) string { return logicalID }),
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", gateway)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	// The Step Functions API, as the confirm function calls it.
	mux.Handle("POST "+stepFunctionsPath, s.IAM.StepFunctions(s.sfnAPI))
	// The EventBridge API (PutEvents), as the functions publish lifecycle
	// events on the default bus.
	mux.Handle("POST "+eventBridgePath, s.IAM.EventBridge(s.bus.Handler()))
	// The Lambda Invoke API, as API Gateway, the state machine and the
	// preview function call it (function names are logical ids).
	mux.Handle("/2015-03-31/functions/", s.IAM.Lambda(s.Lambda, nil))
	s.serve(apiListener, mux)
	// The admin console: static files on their own origin calling the API
	// across origins, as when deployed behind a CDN.
	s.serve(consoleListener, console.HandlerFor(s.URL))
	return s, nil
}

// guard gives every role of the SAM-transformed template its credentials
// (moto issues them, so moto knows them too) and puts IAM in front of
// DynamoDB Local and moto, each behind an endpoint of its own.
func (s *Stack) guard(deployed *samtemplate.Deployed) error {
	roles, err := iamlocal.RolesFromTemplate(deployed)
	if err != nil {
		return err
	}
	if s.Principals, err = iamlocal.SetupMoto(context.Background(), s.moto, roles); err != nil {
		return err
	}
	if s.IAM, err = iamlocal.New(iamlocal.Config{Region: sfnlocal.LocalRegion, Principals: s.Principals, Logger: s.logger}); err != nil {
		return err
	}
	// DynamoDB Local keeps one database per access key: every request
	// reaches it signed with the one key the stack created the tables with.
	toDynamo, err := iamlocal.ResigningProxy(s.dynamo.Endpoint, dynamolocal.Credentials(), "dynamodb", dynamolocal.Region, s.logger)
	if err != nil {
		return err
	}
	if s.dynamoFront, err = iamlocal.Serve(s.IAM.DynamoDB(s.faults.wrap(toDynamo))); err != nil {
		return err
	}
	toMoto, err := iamlocal.Proxy(s.moto.Endpoint, s.logger)
	if err != nil {
		return err
	}
	s.secretsFront, err = iamlocal.Serve(s.IAM.SecretsManager(toMoto))
	return err
}

// eventBus routes the apply machine's execution status changes through
// the template's EventBridge rules to their targets, as Lambda's
// asynchronous invoke.
func (s *Stack) eventBus(deployed *samtemplate.Deployed) error {
	if machine, err := deployed.Str(map[string]any{"Ref": "ApplyStateMachine"}); err != nil || machine != s.StateMachineARN {
		return fmt.Errorf("localstack: the template's ApplyStateMachine is %q (%v), the runner's %q: rules would not match", machine, err, s.StateMachineARN)
	}
	rules, err := eventslocal.RulesFromTemplate(deployed)
	if err != nil {
		return err
	}
	bus, err := eventslocal.New(rules, sfnlocal.LocalAccountID, sfnlocal.LocalRegion, func(target string, event []byte) error {
		_, err := s.Lambda.InvokeAsync(target, event)
		return err
	}, s.logger)
	if err != nil {
		return err
	}
	s.bus = bus
	s.sfnAPI.OnStatusChange(func(c sfnapi.StatusChange) {
		if _, err := bus.Put(eventslocal.Event{
			Source: "aws.states", DetailType: "Step Functions Execution Status Change", Resources: []string{c.ExecutionArn}, Detail: c,
		}); err != nil {
			s.logger.Error("localstack: EventBridge delivery failed", "execution", c.ExecutionArn, "error", err)
		}
	})
	return nil
}

// caller names the function (logical id) whose role signed a request, ""
// for anyone else.
func (s *Stack) caller(r *http.Request) string {
	p, ok := s.Principals.SignedBy(r)
	if !ok || p.Role == nil {
		return ""
	}
	return p.Role.Session
}

// stepFunctionsPath is where the stack serves the Step Functions API.
const stepFunctionsPath = "/stepfunctions"

// eventBridgePath is where the stack serves the EventBridge API.
const eventBridgePath = "/eventbridge"

// Events are the events put on the default bus so far (the functions'
// lifecycle events and Step Functions' status changes), oldest first, each
// as EventBridge delivers it to a target (JSON).
func (s *Stack) Events() [][]byte { return s.bus.Events() }

func (s *Stack) listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("localstack: listen on %s: %w", addr, err)
	}
	// Closed with the stack, served or not.
	go func() { <-s.closed; _ = ln.Close() }()
	return ln, nil
}

func (s *Stack) serve(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.logger.Error("http server stopped", "error", err)
		}
	}()
}

// functionConfig is the configuration the functions read: every function
// gets the template's global variables, so any one of them tells it.
func functionConfig(functions []lambdalocal.Function) (config.Config, error) {
	for _, f := range functions {
		if f.Name == "PreviewWorkerFunction" {
			cfg, err := config.FromEnv(func(k string) string { return f.Environment[k] })
			if err != nil {
				return config.Config{}, fmt.Errorf("localstack: the worker's environment: %w", err)
			}
			return cfg, cfg.RequireTables()
		}
	}
	return config.Config{}, errors.New("localstack: template.yaml has no PreviewWorkerFunction")
}

// WaitIdle waits until no asynchronous invocation (a preview job, a
// destination record) is queued or running.
func (s *Stack) WaitIdle() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	_ = s.Lambda.WaitAsync(ctx)
}

// CrashWorkers kills the runtime of every preview worker invocation in
// flight, as Lambda's execution environment dies under an invocation (out
// of memory, a crash): the worker records nothing, and Lambda's
// asynchronous retry (then the OnFailure destination) takes over. It
// returns how many invocations it ended.
func (s *Stack) CrashWorkers() int {
	return s.Lambda.Crash("PreviewWorkerFunction")
}

// Token signs an admin token (or one with the given roles) for a tenant.
func (s *Stack) Token(tenant, email string, roles []string, ttl time.Duration) (string, error) {
	return s.Issuer.Sign(map[string]any{
		s.Config.TenantClaim: tenant, s.Config.RolesClaim: roles,
		"sub": "local-" + strings.SplitN(email, "@", 2)[0], "email": email,
	}, ttl)
}

// Close stops the servers and every process the stack started.
func (s *Stack) Close() {
	select {
	case <-s.closed:
		return
	default:
		close(s.closed)
	}
	for _, srv := range s.servers {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(ctx)
		cancel()
	}
	if s.sfnAPI != nil {
		_ = s.sfnAPI.Close()
	}
	if s.Runner != nil {
		_ = s.Runner.Close()
	}
	if s.Lambda != nil {
		_ = s.Lambda.Close()
	}
	if s.Fake != nil {
		s.Fake.Close()
	}
	for _, front := range []*iamlocal.Server{s.dynamoFront, s.secretsFront} {
		if front != nil {
			_ = front.Close()
		}
	}
	s.moto.Stop()
	s.dynamo.Stop()
	if s.tmpDir != "" {
		_ = os.RemoveAll(s.tmpDir)
	}
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

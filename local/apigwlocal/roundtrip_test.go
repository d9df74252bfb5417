package apigwlocal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"dirsync/internal/auth"
	"dirsync/internal/domain"
	"dirsync/internal/httpapi"
	"dirsync/internal/httpapi/lambdahttp"
	"dirsync/local/apigwlocal"
	"dirsync/local/sfnlocal"
)

// fakeSyncs holds one sync's progress counter, of tenant acme.
type fakeSyncs struct{}

func (fakeSyncs) GetProgress(_ context.Context, tenant, id string) (*domain.Progress, error) {
	if tenant != "acme" || id != "s1" {
		return nil, domain.Errorf(domain.ENotFound, "sync %s not found", id)
	}
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return &domain.Progress{Status: domain.SyncApplying, Total: 200, Processed: 50, Succeeded: 49, Failed: 1, Percent: 25, StartedAt: &started}, nil
}

func (fakeSyncs) GetSync(_ context.Context, _, id string) (*domain.Sync, error) {
	return nil, domain.Errorf(domain.ENotFound, "sync %s not found", id)
}

func (fakeSyncs) ListSyncs(context.Context, string, domain.Page) ([]*domain.Sync, string, error) {
	return nil, "", errors.New("not in this test")
}

func (fakeSyncs) ListChanges(context.Context, string, string, domain.ChangeFilter, domain.Page) ([]domain.Change, string, error) {
	return nil, "", errors.New("not in this test")
}

// fakeDirectory keeps users in memory, per tenant.
type fakeDirectory struct {
	mu    sync.Mutex
	users map[string]*domain.User // by tenant + "/" + id
	next  int
}

func (d *fakeDirectory) CreateUser(_ context.Context, tenant string, nu domain.NewUser) (*domain.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.next++
	u := &domain.User{PlatformUser: domain.PlatformUser{
		ID: fmt.Sprintf("u%d", d.next), Email: nu.Email, Status: domain.StatusActive, Source: domain.SourceManual,
		Attributes: nu.Attributes, Revision: 1,
	}}
	if d.users == nil {
		d.users = map[string]*domain.User{}
	}
	d.users[tenant+"/"+u.ID] = u
	return u, nil
}

func (d *fakeDirectory) GetUser(_ context.Context, tenant, id string) (*domain.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if u, ok := d.users[tenant+"/"+id]; ok {
		return u, nil
	}
	return nil, domain.Errorf(domain.ENotFound, "user %s not found", id)
}

func (d *fakeDirectory) ListUsers(context.Context, string, domain.UserFilter, domain.Page) ([]domain.User, string, error) {
	return nil, "", errors.New("not in this test")
}

func (d *fakeDirectory) UpdateUser(context.Context, string, string, domain.UserPatch) (*domain.User, error) {
	return nil, errors.New("not in this test")
}

func (d *fakeDirectory) ListGroups(context.Context, string, domain.Page) ([]domain.Group, string, error) {
	return nil, "", errors.New("not in this test")
}

func (d *fakeDirectory) ListGroupMembers(context.Context, string, string, domain.Page) ([]domain.User, string, error) {
	return nil, "", errors.New("not in this test")
}

// lambdaHandlers are the progress and directory functions exactly as
// functions/progress and functions/directory build them: the real httpapi
// handler behind lambdahttp.
func lambdaHandlers(t *testing.T) (progress, directory func(context.Context, []byte) ([]byte, error)) {
	opts := httpapi.Options{ClaimNames: auth.DefaultClaimNames(), Logger: slog.New(slog.DiscardHandler)}
	names := auth.DefaultClaimNames()
	progressAPI, err := httpapi.New(httpapi.Deps{Syncs: fakeSyncs{}}, opts, httpapi.ProgressFunction)
	if err != nil {
		t.Fatal(err)
	}
	directoryAPI, err := httpapi.New(httpapi.Deps{Directory: &fakeDirectory{}}, opts, httpapi.DirectoryFunction)
	if err != nil {
		t.Fatal(err)
	}
	progress = apigwlocal.EventHandler(lambdahttp.Handler(progressAPI, names))
	directory = apigwlocal.EventHandler(lambdahttp.Handler(directoryAPI, names))
	return progress, directory
}

type apiError struct {
	Error struct{ Code, Message string } `json:"error"`
}

// TestRoundTripThroughLambdaHTTP: the gateway's events are what
// lambdahttp (and so every API Lambda) expects: path parameters, the
// authorizer's flattened claims (tenant, "[admin]" roles), API Gateway's
// request id, JSON bodies both ways, and the function's status, headers
// and error shape back to the client.
func TestRoundTripThroughLambdaHTTP(t *testing.T) {
	progress, directory := lambdaHandlers(t)
	srv := newGateway(t, apigwlocal.Functions{"ProgressFunction": progress, "DirectoryFunction": directory}, nil)
	li := newIssuer(t, testIssuer, testAudience, testKey)
	acme := sign(t, li, map[string]any{"tenant_id": "acme", "sub": "s-ada", "email": "ada@acme.test", "roles": []string{"user", "admin"}})
	other := sign(t, li, map[string]any{"tenant_id": "other", "roles": []string{"admin"}})
	user := sign(t, li, map[string]any{"tenant_id": "acme", "roles": []string{"user"}})
	noTenant := sign(t, li, map[string]any{"roles": []string{"admin"}})

	t.Run("progress", func(t *testing.T) {
		got := do(t, srv, "GET", "/v1/syncs/s1/progress", nil, append(bearer(acme), "Origin", consoleURL)...)
		if got.status != http.StatusOK {
			t.Fatalf("%d %s", got.status, got.body)
		}
		var p map[string]any
		if err := json.Unmarshal([]byte(got.body), &p); err != nil {
			t.Fatal(err)
		}
		if p["status"] != "APPLYING" || p["processed"] != 50.0 || p["percent"] != 25.0 || p["startedAt"] != "2026-01-02T03:04:05Z" {
			t.Errorf("progress %v", p)
		}
		if got.header.Get("Content-Type") != "application/json" {
			t.Errorf("Content-Type %q", got.header.Get("Content-Type"))
		}
		if id := got.header.Get("X-Request-Id"); id == "" || id != got.header.Get("Apigw-Requestid") {
			t.Errorf("X-Request-Id %q, apigw-requestid %q: the handler did not get API Gateway's request id", id, got.header.Get("Apigw-Requestid"))
		}
		if got.header.Get("Access-Control-Allow-Origin") != consoleURL {
			t.Errorf("no CORS on the function's response: %v", got.header)
		}
	})

	for _, tc := range []struct {
		name, token, path string
		status            int
		code              string
	}{
		{"another tenant's sync is not found", other, "/v1/syncs/s1/progress", 404, domain.ENotFound},
		{"a missing sync is not found", acme, "/v1/syncs/nope/progress", 404, domain.ENotFound},
		{"the admin role is required", user, "/v1/syncs/s1/progress", 403, domain.EForbidden},
		{"a token without tenant is the handler's 401", noTenant, "/v1/syncs/s1/progress", 401, domain.EUnauthorized},
		{"a bad id is the handler's 400", acme, "/v1/syncs/bad%20id/progress", 400, domain.EInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := do(t, srv, "GET", tc.path, nil, bearer(tc.token)...)
			var e apiError
			if err := json.Unmarshal([]byte(got.body), &e); err != nil || got.status != tc.status || e.Error.Code != tc.code {
				t.Fatalf("%d %s, want %d %s", got.status, got.body, tc.status, tc.code)
			}
		})
	}

	t.Run("create and read a user", func(t *testing.T) {
		body := `{"email":"jürgen@acme.test","displayName":"Jürgen"}`
		got := do(t, srv, "POST", "/v1/users", strings.NewReader(body), append(bearer(acme), "Content-Type", "application/json")...)
		if got.status != http.StatusCreated {
			t.Fatalf("%d %s", got.status, got.body)
		}
		var u struct{ ID, Email, DisplayName string }
		if err := json.Unmarshal([]byte(got.body), &u); err != nil || u.ID == "" || u.Email != "jürgen@acme.test" || u.DisplayName != "Jürgen" {
			t.Fatalf("created %s (%v)", got.body, err)
		}
		if got.header.Get("Etag") != `"1"` {
			t.Errorf("ETag %q", got.header.Get("Etag"))
		}
		read := do(t, srv, "GET", "/v1/users/"+u.ID, nil, bearer(acme)...)
		if read.status != http.StatusOK || !strings.Contains(read.body, `"jürgen@acme.test"`) {
			t.Errorf("read back %d %s", read.status, read.body)
		}
		if got := do(t, srv, "GET", "/v1/users/"+u.ID, nil, bearer(other)...); got.status != http.StatusNotFound {
			t.Errorf("another tenant reads the user: %d %s", got.status, got.body)
		}
	})

	t.Run("a form post arrives base64 and is refused by the handler", func(t *testing.T) {
		got := do(t, srv, "POST", "/v1/users", strings.NewReader("email=a%40b.test"), append(bearer(acme), "Content-Type", "application/x-www-form-urlencoded")...)
		var e apiError
		if err := json.Unmarshal([]byte(got.body), &e); err != nil || got.status/100 != 4 || e.Error.Code == "" {
			t.Errorf("%d %s", got.status, got.body)
		}
	})
}

// TestRoundTripThroughLambdaInvokeAPI: the same functions reached the way
// the local stack will reach them: LambdaInvoker calling the Lambda Invoke
// API (sfnlocal's endpoint) with the real AWS SDK client. A function error
// reported by Lambda is API Gateway's 500.
func TestRoundTripThroughLambdaInvokeAPI(t *testing.T) {
	invoke := sfnlocal.NewInvokeServer(slog.New(slog.DiscardHandler))
	url, err := invoke.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = invoke.Close() })
	progress, _ := lambdaHandlers(t)
	invoke.Register(sfnlocal.LocalARN("ProgressFunction"), progress)
	invoke.Register(sfnlocal.LocalARN("DirectoryFunction"), func(context.Context, []byte) ([]byte, error) {
		return nil, errors.New("the directory table is gone")
	})
	client := lambda.New(lambda.Options{
		Region:           sfnlocal.LocalRegion,
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider("local", "local", ""),
		RetryMaxAttempts: 1,
	})
	srv := newGateway(t, apigwlocal.LambdaInvoker(client, sfnlocal.LocalARN), nil)
	token := adminToken(t)

	got := do(t, srv, "GET", "/v1/syncs/s1/progress", nil, bearer(token)...)
	if got.status != http.StatusOK || !strings.Contains(got.body, `"status":"APPLYING"`) {
		t.Fatalf("%d %s", got.status, got.body)
	}
	if got.header.Get("X-Request-Id") != got.header.Get("Apigw-Requestid") {
		t.Errorf("X-Request-Id %q, apigw-requestid %q", got.header.Get("X-Request-Id"), got.header.Get("Apigw-Requestid"))
	}
	got = do(t, srv, "GET", "/v1/users/u1", nil, bearer(token)...)
	wantGatewayAnswer(t, got, http.StatusInternalServerError, "Internal Server Error")
	if strings.Contains(got.body, "table") {
		t.Errorf("the 500 leaks the function error: %s", got.body)
	}
	// A function the Lambda service does not have: 500 too.
	got = do(t, srv, "GET", "/v1/connection", nil, bearer(token)...)
	wantGatewayAnswer(t, got, http.StatusInternalServerError, "Internal Server Error")
}

// TestLambdaInvokerErrors: LambdaInvoker reports a function error as a
// *FunctionError with Lambda's errorType and errorMessage.
func TestLambdaInvokerErrors(t *testing.T) {
	invoke := sfnlocal.NewInvokeServer(slog.New(slog.DiscardHandler))
	url, err := invoke.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = invoke.Close() })
	invoke.Register(sfnlocal.LocalARN("Failing"), func(context.Context, []byte) ([]byte, error) {
		return nil, &domain.Error{Code: "internal", Message: "disk full"}
	})
	client := lambda.New(lambda.Options{
		Region: sfnlocal.LocalRegion, BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
	_, err = apigwlocal.LambdaInvoker(client, sfnlocal.LocalARN).Invoke(context.Background(), "Failing", []byte(`{}`))
	fe, ok := errors.AsType[*apigwlocal.FunctionError](err)
	if !ok || fe.Type != "Error" || !strings.Contains(fe.Message, "disk full") {
		t.Fatalf("error %v (%T), want a FunctionError of type Error", err, err)
	}
}

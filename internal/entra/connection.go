package entra

import (
	"context"
	"errors"
	"fmt"
	"time"

	"dirsync/internal/domain"
)

// ConfigFor builds a reader configuration for a stored connection: its
// directory, application and cloud, the client secret from the secret store,
// and whatever base settings (transport, overrides, retry) the caller has.
func ConfigFor(conn *domain.Connection, secret string, base Config) Config {
	c := base
	c.DirectoryTenantID = conn.DirectoryTenantID
	c.ClientID = conn.ClientID
	c.ClientSecret = secret
	c.Cloud = Cloud(conn.Cloud)
	return c
}

// Checks converts Test's outcome into the domain's connection checks.
func Checks(in []Check) []domain.ConnectionCheck {
	out := make([]domain.ConnectionCheck, len(in))
	for i, c := range in {
		out[i] = domain.ConnectionCheck{Name: c.Name, OK: c.OK, Message: c.Message}
	}
	return out
}

// SyncError turns a failed read into the reason recorded on the sync: a
// code the console can act on and the reader's explanation, which names
// the cause and never carries a secret.
func SyncError(err error) domain.SyncError {
	code := domain.SyncErrSourceRead
	switch {
	case errors.Is(err, ErrBadCredentials), errors.Is(err, ErrTenantNotFound), errors.Is(err, ErrTokenExpired):
		code = domain.SyncErrCredentials
	case errors.Is(err, ErrPermissionDenied):
		code = domain.SyncErrPermission
	case errors.Is(err, ErrSourceIncomplete):
		code = domain.SyncErrSourceIncomplete
	case errors.Is(err, ErrScopeGroupNotFound):
		// The admin's options name a group that is gone: theirs to fix.
		code = domain.SyncErrOptions
	}
	return domain.SyncError{Code: code, Message: err.Error()}
}

// SecretGetter reads a tenant's client secret.
type SecretGetter interface {
	GetSecret(ctx context.Context, tenant string) (string, error)
}

// Tester tests stored connections: it reads the secret, then runs Test.
type Tester struct {
	Secrets SecretGetter
	// Configure builds the reader configuration of a connection, usually
	// ConfigFor with the function's base settings.
	Configure func(conn *domain.Connection, secret string) Config
}

// Test runs the connection checks for a stored connection. A reader that
// cannot even be configured is reported as a failed token check.
func (t *Tester) Test(ctx context.Context, conn *domain.Connection) ([]domain.ConnectionCheck, error) {
	secret, err := t.Secrets.GetSecret(ctx, conn.TenantID)
	if err != nil {
		if domain.ErrorCode(err) == domain.ENotFound {
			return []domain.ConnectionCheck{{Name: CheckToken, Message: "no client secret is stored: PUT /v1/connection with clientSecret"}}, nil
		}
		return nil, err
	}
	r, err := NewReader(t.Configure(conn, secret))
	if err != nil {
		return []domain.ConnectionCheck{{Name: CheckToken, Message: err.Error()}}, nil
	}
	return Checks(r.Test(ctx)), nil
}

// interactiveRetry bounds the retries of a request an admin is waiting on:
// a few quick tries within seconds, not a preview's two minutes.
var interactiveRetry = RetryPolicy{
	MaxAttempts:    3,
	BaseDelay:      200 * time.Millisecond,
	MaxDelay:       2 * time.Second,
	MaxWait:        3 * time.Second,
	AttemptTimeout: 8 * time.Second,
}

// Groups searches and names the groups of a stored connection's directory,
// for an admin choosing scope groups. It reads the secret as Tester does,
// and answers in domain errors (see RequestError).
type Groups struct {
	Secrets SecretGetter
	// Configure builds the reader configuration of a connection, usually
	// ConfigFor with the function's base settings. A zero Retry becomes a
	// short interactive one.
	Configure func(conn *domain.Connection, secret string) Config
}

// SearchGroups finds the groups whose name starts with prefix (see
// Reader.SearchGroups).
func (g *Groups) SearchGroups(ctx context.Context, conn *domain.Connection, prefix string) ([]domain.DirectoryGroup, error) {
	r, err := g.reader(ctx, conn)
	if err != nil {
		return nil, err
	}
	found, err := r.SearchGroups(ctx, prefix)
	if err != nil {
		return nil, RequestError(err)
	}
	return found, nil
}

// GroupNames names the given group ids (see Reader.GroupNames).
func (g *Groups) GroupNames(ctx context.Context, conn *domain.Connection, ids []string) (map[string]string, error) {
	r, err := g.reader(ctx, conn)
	if err != nil {
		return nil, err
	}
	names, err := r.GroupNames(ctx, ids)
	if err != nil {
		return nil, RequestError(err)
	}
	return names, nil
}

func (g *Groups) reader(ctx context.Context, conn *domain.Connection) (*Reader, error) {
	secret, err := g.Secrets.GetSecret(ctx, conn.TenantID)
	if err != nil {
		if domain.ErrorCode(err) == domain.ENotFound {
			return nil, domain.Errorf(domain.EUnprocessable, "no client secret is stored: PUT /v1/connection with clientSecret")
		}
		return nil, fmt.Errorf("entra: read the client secret: %w", err)
	}
	c := g.Configure(conn, secret)
	if c.Retry == (RetryPolicy{}) {
		c.Retry = interactiveRetry
	}
	r, err := NewReader(c)
	if err != nil {
		return nil, domain.Errorf(domain.EUnprocessable, "%s", err.Error())
	}
	return r, nil
}

// RequestError turns the failure of a Graph request an admin is waiting on
// into the error the API answers: what the connection test says of bad
// credentials, an unknown directory or a missing permission (unprocessable:
// the admin's to fix); unavailable for throttling, outages, malformed
// answers and a request out of time (worth a retry); anything else as it
// is (internal).
func RequestError(err error) error {
	message := err.Error()
	var re *readError
	if errors.As(err, &re) {
		message = re.Message
	}
	switch {
	case errors.Is(err, ErrBadCredentials), errors.Is(err, ErrTenantNotFound),
		errors.Is(err, ErrTokenExpired), errors.Is(err, ErrPermissionDenied):
		return domain.Errorf(domain.EUnprocessable, "%s", message)
	case errors.Is(err, ErrThrottled), errors.Is(err, ErrUnavailable), errors.Is(err, ErrMalformedResponse):
		return domain.Errorf(domain.EUnavailable, "%s; try again in a moment", message)
	case errors.Is(err, context.DeadlineExceeded):
		return domain.Errorf(domain.EUnavailable, "Microsoft Graph did not answer in time; try again in a moment")
	}
	return err
}

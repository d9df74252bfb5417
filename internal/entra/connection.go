package entra

import (
	"context"
	"errors"

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

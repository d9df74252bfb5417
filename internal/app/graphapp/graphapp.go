// Package graphapp wires what only the two Graph-facing functions
// (connection, previewworker) use: the client secrets in Secrets Manager
// and the Entra ID reader (msgraph-sdk-go). It is apart from internal/app
// so that no other function links either.
package graphapp

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"dirsync/internal/app"
	"dirsync/internal/domain"
	"dirsync/internal/entra"
	"dirsync/internal/secrets"
)

// Secrets returns the Secrets Manager secret store.
func Secrets(env *app.Env) *secrets.SecretsManager {
	return &secrets.SecretsManager{Client: secretsmanager.NewFromConfig(env.AWS), Prefix: env.Config.SecretPrefix}
}

// EntraConfig is how a connection reaches Entra ID: its cloud's endpoints,
// or GRAPH_ENDPOINT / AZURE_AUTHORITY_HOST when set.
func EntraConfig() func(conn *domain.Connection, secret string) entra.Config {
	base := entra.ConfigFromEnv(entra.Config{}, os.Getenv)
	return func(conn *domain.Connection, secret string) entra.Config { return entra.ConfigFor(conn, secret, base) }
}

// Tester tries a stored connection against Entra ID.
func Tester(env *app.Env) *entra.Tester {
	return &entra.Tester{Secrets: Secrets(env), Configure: EntraConfig()}
}

// Groups searches and names the groups of a stored connection's directory.
func Groups(env *app.Env) *entra.Groups {
	return &entra.Groups{Secrets: Secrets(env), Configure: EntraConfig()}
}

// Readers builds the Entra reader of a sync's pinned connection, with the
// secret version it pinned. A connection the reader refuses (a missing id
// or secret, a bad endpoint) is invalid: the preview fails with that
// reason rather than being retried.
func Readers(env *app.Env) func(ctx context.Context, conn *domain.Connection) (*entra.Reader, error) {
	store, configure := Secrets(env), EntraConfig()
	return func(ctx context.Context, conn *domain.Connection) (*entra.Reader, error) {
		secret, err := store.GetSecretVersion(ctx, conn.TenantID, conn.SecretVersion)
		if err != nil {
			return nil, err
		}
		r, err := entra.NewReader(configure(conn, secret))
		if err != nil {
			return nil, domain.Errorf(domain.EInvalid, "%s", err.Error())
		}
		return r, nil
	}
}

// ReadError is the preview worker's classifier of the reader's failures:
// the error recorded on the sync.
func ReadError(err error) domain.SyncError { return entra.SyncError(err) }

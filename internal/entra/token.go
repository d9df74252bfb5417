package entra

import (
	"context"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// tokenSource is the credential the Graph client authenticates with. It
// delegates to an azidentity credential and can swap it for a fresh one
// (with an empty token cache) when Graph rejects a token the cache still
// considers valid, e.g. after the token was revoked.
type tokenSource struct {
	newCredential func() (azcore.TokenCredential, error)
	scopes        []string

	mu         sync.Mutex
	credential azcore.TokenCredential
}

func newTokenSource(scopes []string, newCredential func() (azcore.TokenCredential, error)) (*tokenSource, error) {
	cred, err := newCredential()
	if err != nil {
		return nil, err
	}
	return &tokenSource{newCredential: newCredential, scopes: scopes, credential: cred}, nil
}

func (s *tokenSource) current() azcore.TokenCredential {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.credential
}

// GetToken implements azcore.TokenCredential.
func (s *tokenSource) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return s.current().GetToken(ctx, opts)
}

// requestOptions are the options of the Graph token; CAE matches what the
// kiota authentication provider asks for, so both share one cache entry.
func (s *tokenSource) requestOptions() policy.TokenRequestOptions {
	return policy.TokenRequestOptions{Scopes: s.scopes, EnableCAE: true}
}

// replace returns a Graph token other than rejected. When the cached token
// is the rejected one, the credential is replaced so the next token comes
// from the token endpoint; concurrent callers rejecting the same token
// replace it only once.
func (s *tokenSource) replace(ctx context.Context, rejected string) (string, error) {
	opts := s.requestOptions()
	s.mu.Lock()
	cred := s.credential
	cached, err := cred.GetToken(ctx, opts)
	if err == nil && cached.Token == rejected {
		fresh, newErr := s.newCredential()
		if newErr != nil {
			s.mu.Unlock()
			return "", newErr
		}
		s.credential, cred = fresh, fresh
	}
	s.mu.Unlock()
	tok, err := cred.GetToken(ctx, opts)
	if err != nil {
		return "", err
	}
	return tok.Token, nil
}

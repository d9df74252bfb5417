package localstack

import (
	"context"
	"fmt"
	"time"

	"dirsync/internal/domain"
)

// DemoSecret is the client secret of the demo Entra apps (the fake's, not
// a real one).
const DemoSecret = "demo~client~secret~not~real~0000"

// seedDemo gives both demo platform tenants a connection to a demo Entra
// directory served by the fake, and acme a few pre-existing users so its
// first preview shows links, updates, deactivations and skips.
func (s *Stack) seedDemo(ctx context.Context, users int) error {
	now := time.Now().UTC()
	acme := DemoEntraTenant(DemoAcmeDirectory, DemoAcmeClientID, DemoSecret, "contoso.onmicrosoft.com", 42, users)
	globex := DemoEntraTenant(DemoGlobexDirectory, DemoGlobexClientID, DemoSecret, "fabrikam.onmicrosoft.com", 7, max(users/4, 20))
	s.Fake.AddTenant(acme)
	s.Fake.AddTenant(globex)

	for _, d := range []struct {
		tenant, directory, client string
		opts                      domain.Options
	}{
		{DemoTenantAcme, DemoAcmeDirectory, DemoAcmeClientID, domain.Options{DeactivateMissing: true}},
		{DemoTenantGlobex, DemoGlobexDirectory, DemoGlobexClientID, domain.Options{}},
	} {
		version, err := s.Secrets.PutSecret(ctx, d.tenant, DemoSecret)
		if err != nil {
			return err
		}
		conn := &domain.Connection{
			TenantID: d.tenant, DirectoryTenantID: d.directory, ClientID: d.client, Cloud: domain.CloudGlobal,
			SecretHint: DemoSecret[len(DemoSecret)-4:], SecretSetAt: now, SecretVersion: version, Options: d.opts, UpdatedAt: now,
		}
		if err := s.Store.PutConnection(ctx, conn, true); err != nil {
			return fmt.Errorf("localstack: demo connection %s: %w", d.tenant, err)
		}
	}
	if err := s.Store.SeedUsers(ctx, DemoTenantAcme, DemoPlatformUsers(acme, "acme.example")); err != nil {
		return fmt.Errorf("localstack: demo users: %w", err)
	}
	return nil
}

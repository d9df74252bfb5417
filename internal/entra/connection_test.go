package entra

import (
	"errors"
	"fmt"
	"testing"

	"dirsync/internal/domain"
)

func TestSyncError(t *testing.T) {
	tests := []struct {
		err  error
		code string
	}{
		{fmt.Errorf("entra: token: wrong client secret: %w", ErrBadCredentials), domain.SyncErrCredentials},
		{fmt.Errorf("entra: token: %w", ErrTenantNotFound), domain.SyncErrCredentials},
		{fmt.Errorf("entra: users page 1: needs User.Read.All: %w", ErrPermissionDenied), domain.SyncErrPermission},
		{fmt.Errorf("entra: users page 2: %w", ErrUnavailable), domain.SyncErrSourceRead},
		{fmt.Errorf("entra: users page 2: %w", ErrThrottled), domain.SyncErrSourceRead},
		{errors.New("something else"), domain.SyncErrSourceRead},
	}
	for _, tt := range tests {
		got := SyncError(tt.err)
		if got.Code != tt.code || got.Message != tt.err.Error() {
			t.Errorf("SyncError(%v) = %+v, want code %s", tt.err, got, tt.code)
		}
	}
}

func TestConfigFor(t *testing.T) {
	conn := &domain.Connection{DirectoryTenantID: "dir", ClientID: "app", Cloud: domain.CloudUSGov}
	c := ConfigFor(conn, "s3cret", Config{GraphEndpoint: "https://graph.example", PageSize: 50})
	if c.DirectoryTenantID != "dir" || c.ClientID != "app" || c.ClientSecret != "s3cret" || c.Cloud != CloudUSGov ||
		c.GraphEndpoint != "https://graph.example" || c.PageSize != 50 {
		t.Fatalf("ConfigFor = %+v", c)
	}
}

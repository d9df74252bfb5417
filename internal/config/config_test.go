package config

import (
	"testing"
	"time"
)

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		check   func(Config) bool
		wantErr bool
	}{
		{"defaults", map[string]string{}, func(c Config) bool {
			return c.TenantClaim == "tenant_id" && c.RolesClaim == "roles" && c.AdminRole == "admin" &&
				c.PreviewTTL == 24*time.Hour && c.UserBatchSize == 100 && c.PreviewLock == 3*time.Minute && c.CancelDrain == 16*time.Minute
		}, false},
		{"overrides", map[string]string{"PREVIEW_TTL": "90m", "TENANT_CLAIM": "org", "APPLY_BATCH_SIZE": "250"}, func(c Config) bool {
			return c.PreviewTTL == 90*time.Minute && c.TenantClaim == "org" && c.UserBatchSize == 250
		}, false},
		{"bad ttl", map[string]string{"PREVIEW_TTL": "tomorrow"}, nil, true},
		{"negative ttl", map[string]string{"PREVIEW_TTL": "-1h"}, nil, true},
		{"bad batch size", map[string]string{"APPLY_BATCH_SIZE": "0"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromEnv(func(k string) string { return tt.env[k] })
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && !tt.check(c) {
				t.Fatalf("config = %+v", c)
			}
		})
	}
}

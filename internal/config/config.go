// Package config reads the service's settings from the environment, the
// same way in every Lambda and in the local stack.
package config

import (
	"dirsync/internal/domain"
	"fmt"
	"strconv"
	"time"
)

// Config holds every setting; each function uses the part it needs.
type Config struct {
	DirectoryTable string        // DIRECTORY_TABLE
	SyncTable      string        // SYNC_TABLE
	TenantClaim    string        // TENANT_CLAIM (default tenant_id)
	RolesClaim     string        // ROLES_CLAIM (default roles)
	AdminRole      string        // ADMIN_ROLE (default admin)
	PreviewTTL     time.Duration // PREVIEW_TTL (default 24h)
	// PreviewRetention keeps a plan's items this long after it expires
	// (PREVIEW_RETENTION, default 720h), so history stays inspectable.
	PreviewRetention time.Duration
	// PreviewLock is the preview worker's lease on the tenant's lock
	// (PREVIEW_LOCK, default 3m): the worker renews it while it runs, so it
	// bounds how long a crashed or never-started worker's sync stays
	// PREVIEWING before it is failed as worker_lost.
	PreviewLock time.Duration
	// UndoWindow is how long after a sync finished it can be undone
	// (UNDO_WINDOW, default 168h: 7 days).
	UndoWindow    time.Duration
	UserBatchSize int // APPLY_BATCH_SIZE (default 100)
	// ApplyMaxConcurrency is how many batches run at once
	// (APPLY_MAX_CONCURRENCY, default 10).
	ApplyMaxConcurrency int
	// CancelDrain is how long a cancelled apply keeps the tenant's lock,
	// so batches already running finish before another sync can start
	// (CANCEL_DRAIN, default 16m: longer than any Lambda's 15 minutes).
	CancelDrain        time.Duration
	ApplyStateMachine  string // APPLY_STATE_MACHINE (its ARN)
	SecretPrefix       string // SECRET_PREFIX (default directory-sync)
	PreviewWorkerName  string // PREVIEW_WORKER_FUNCTION
	GraphEndpoint      string // GRAPH_ENDPOINT
	AzureAuthorityHost string // AZURE_AUTHORITY_HOST
	// EventBus is the EventBridge bus lifecycle events go to
	// (EVENT_BUS_NAME, default "default").
	EventBus string
}

// FromEnv reads the configuration with getenv (os.Getenv in production).
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		DirectoryTable:     getenv("DIRECTORY_TABLE"),
		SyncTable:          getenv("SYNC_TABLE"),
		TenantClaim:        or(getenv("TENANT_CLAIM"), "tenant_id"),
		RolesClaim:         or(getenv("ROLES_CLAIM"), "roles"),
		AdminRole:          or(getenv("ADMIN_ROLE"), "admin"),
		SecretPrefix:       or(getenv("SECRET_PREFIX"), "directory-sync"),
		PreviewWorkerName:  getenv("PREVIEW_WORKER_FUNCTION"),
		GraphEndpoint:      getenv("GRAPH_ENDPOINT"),
		AzureAuthorityHost: getenv("AZURE_AUTHORITY_HOST"),
		EventBus:           or(getenv("EVENT_BUS_NAME"), "default"),
	}
	var err error
	if c.PreviewTTL, err = duration(getenv, "PREVIEW_TTL", 24*time.Hour); err != nil {
		return c, err
	}
	if c.PreviewRetention, err = duration(getenv, "PREVIEW_RETENTION", 30*24*time.Hour); err != nil {
		return c, err
	}
	if c.PreviewLock, err = duration(getenv, "PREVIEW_LOCK", 3*time.Minute); err != nil {
		return c, err
	}
	if c.UndoWindow, err = duration(getenv, "UNDO_WINDOW", domain.DefaultUndoWindow); err != nil {
		return c, err
	}
	if c.CancelDrain, err = duration(getenv, "CANCEL_DRAIN", 16*time.Minute); err != nil {
		return c, err
	}
	c.ApplyStateMachine = getenv("APPLY_STATE_MACHINE")
	c.ApplyMaxConcurrency = 10
	if v := getenv("APPLY_MAX_CONCURRENCY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return c, fmt.Errorf("config: APPLY_MAX_CONCURRENCY=%q: want an integer 1..1000", v)
		}
		c.ApplyMaxConcurrency = n
	}
	c.UserBatchSize = 100
	if v := getenv("APPLY_BATCH_SIZE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return c, fmt.Errorf("config: APPLY_BATCH_SIZE=%q: want an integer 1..1000", v)
		}
		c.UserBatchSize = n
	}
	return c, nil
}

// RequireTables reports a missing table name.
func (c Config) RequireTables() error {
	if c.DirectoryTable == "" || c.SyncTable == "" {
		return fmt.Errorf("config: DIRECTORY_TABLE and SYNC_TABLE must be set")
	}
	return nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func duration(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("config: %s=%q: want a positive Go duration such as 24h", name, v)
	}
	return d, nil
}

package domain

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestChooseRead(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	opts := Options{Mapping: []Mapping{{Attribute: "title", Source: "jobTitle"}}}
	basis := MirrorBasis("dir-1", UserProperties(opts.EffectiveMapping()))
	fresh := &SourceMirror{Basis: basis, FullReadAt: now.Add(-time.Hour), DeltaLinks: DeltaLinks{Users: "u", Groups: "g"}}
	with := func(edit func(*SourceMirror)) *SourceMirror {
		m := *fresh
		edit(&m)
		return &m
	}
	tests := []struct {
		name   string
		req    ReadRequest
		kind   ReadKind
		reason string
	}{
		{"a fresh mirror", ReadRequest{Mirror: fresh, DirectoryTenantID: "dir-1", Options: opts, Now: now}, ReadDelta, ""},
		{"the directory id in another case", ReadRequest{Mirror: fresh, DirectoryTenantID: "DIR-1", Options: opts, Now: now}, ReadDelta, ""},
		{"another scope", ReadRequest{Mirror: fresh, DirectoryTenantID: "dir-1", Options: Options{Mapping: opts.Mapping, Scope: Scope{Groups: []string{"g"}}}, Now: now}, ReadDelta, ""},
		{"asked for", ReadRequest{Mirror: fresh, DirectoryTenantID: "dir-1", Options: opts, Now: now, FullRead: true}, ReadFull, ReadReasonRequested},
		{"no mirror", ReadRequest{DirectoryTenantID: "dir-1", Options: opts, Now: now}, ReadFull, ReadReasonNoMirror},
		{"no users deltaLink", ReadRequest{Mirror: with(func(m *SourceMirror) { m.DeltaLinks.Users = "" }), DirectoryTenantID: "dir-1", Options: opts, Now: now}, ReadFull, ReadReasonNoMirror},
		{"another directory", ReadRequest{Mirror: fresh, DirectoryTenantID: "dir-2", Options: opts, Now: now}, ReadFull, ReadReasonBasisChanged},
		{"another mapped property", ReadRequest{Mirror: fresh, DirectoryTenantID: "dir-1", Options: Options{}, Now: now}, ReadFull, ReadReasonBasisChanged},
		{"reconcile due by default", ReadRequest{Mirror: with(func(m *SourceMirror) { m.FullReadAt = now.Add(-DefaultReconcileEvery) }), DirectoryTenantID: "dir-1", Options: opts, Now: now}, ReadFull, ReadReasonReconcile},
		{"reconcile not yet due", ReadRequest{Mirror: with(func(m *SourceMirror) { m.FullReadAt = now.Add(-DefaultReconcileEvery + time.Minute) }), DirectoryTenantID: "dir-1", Options: opts, Now: now}, ReadDelta, ""},
		{"reconcile due by the setting", ReadRequest{Mirror: fresh, DirectoryTenantID: "dir-1", Options: opts, Now: now, ReconcileEvery: 30 * time.Minute}, ReadFull, ReadReasonReconcile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, reason := ChooseRead(tt.req)
			if kind != tt.kind || reason != tt.reason {
				t.Fatalf("ChooseRead = %s, %q; want %s, %q", kind, reason, tt.kind, tt.reason)
			}
		})
	}
}

func TestFallbackReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("entra: read users delta page 1: %w", ErrDeltaExpired), ReadReasonDeltaExpired},
		{fmt.Errorf("entra: %w", ErrMirrorDrift), ReadReasonDrift},
		{fmt.Errorf("entra: read changes: %w: no deltaLinks", ErrNoMirror), ReadReasonNoMirror},
		{errors.New("entra: read users delta page 2: HTTP 500"), ""},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := FallbackReason(tt.err); got != tt.want {
			t.Errorf("FallbackReason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

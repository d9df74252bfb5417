package domain

import (
	"errors"
	"time"
)

// SourceMirror is what the service keeps of an Entra tenant between two
// reads, so that a re-sync can read only what changed (Graph delta) and
// plan from the mirror brought up to date.
type SourceMirror struct {
	// Snapshot is the tenant as last read.
	Snapshot Snapshot
	// FullReadAt is when the last full read of the tenant started; a
	// periodic full read reconciles whatever the deltas missed.
	FullReadAt time.Time
	// Basis names what shaped the read (directory, properties selected,
	// scope): a mirror read on another basis cannot be brought up to date
	// by a delta and is read again in full.
	Basis string
}

// ErrNoMirror: no usable mirror of the tenant is kept (never read, expired,
// or not whole); the next preview reads the tenant in full.
var ErrNoMirror = errors.New("no mirror of the source tenant")

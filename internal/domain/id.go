package domain

import (
	"crypto/rand"
	"crypto/sha256"
	"strconv"
	"time"
)

// NewID returns an opaque id matching [A-Za-z0-9_-]{1,64}: a millisecond
// timestamp in 9 base-32 characters (so ids sort by creation time) followed by
// 16 random characters.
func NewID(now time.Time) string {
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	var b [25]byte
	ms := uint64(now.UnixMilli())
	for i := 8; i >= 0; i-- {
		b[i] = alphabet[ms&31]
		ms >>= 5
	}
	var r [16]byte
	_, _ = rand.Read(r[:])
	for i := 0; i < 16; i++ {
		b[9+i] = alphabet[r[i]&31]
	}
	return string(b[:])
}

// DerivedID is the id the add at seq of sync syncID creates: derived from
// the sync and the change, so a retried batch finds the user (or group) it
// created before instead of creating a second one, and an undo finds what
// the sync created. It starts with the sync's time prefix.
func DerivedID(syncID string, seq int) string {
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	sum := sha256.Sum256([]byte(syncID + "#" + strconv.Itoa(seq)))
	var b [25]byte
	copy(b[:9], syncID[:min(9, len(syncID))])
	for i := 9; i < 25; i++ {
		b[i] = alphabet[sum[i]&31]
	}
	return string(b[:])
}

package domain

import (
	"crypto/rand"
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

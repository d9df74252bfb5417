package plan

import (
	"encoding/binary"
	"math/bits"
	"strings"
	"unicode/utf8"

	"dirsync/internal/domain"
)

// Join keys. Each key maker packs a string into a small fixed-size value
// when it can (compared in place, no pointer to chase, nothing for the
// collector to scan) and hands it back as a plain string otherwise. A given
// string always takes the same path, so packed and plain keys never need
// to meet.

// keyKind says whether an element has a key, and in which form.
type keyKind uint8

const (
	noKey     keyKind = iota // the element takes no part in the join
	packedKey                // the packed value is the key
	stringKey                // the string is the key
)

// objectKey is an Entra object id in canonical form (8-4-4-4-12 lowercase
// hex digits), packed into its 128 bits.
type objectKey [2]uint64

// hexDigit maps a lowercase hex digit to its value, and every other byte
// to 0xff.
var hexDigit = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c - 'a' + 10)
	}
	return t
}()

// idKey packs an Entra object id; ids in any other form (not expected from
// Graph, but possible in a directory) stay strings.
func idKey(id string) (objectKey, string, keyKind) {
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		return objectKey{}, id, stringKey
	}
	var k objectKey
	var seen byte // ORs every digit value: above 15 means a non-digit
	word := func(w int, s string) {
		for i := 0; i < len(s); i++ {
			v := hexDigit[s[i]]
			seen |= v
			k[w] = k[w]<<4 | uint64(v&0xf)
		}
	}
	word(0, id[0:8])
	word(0, id[9:13])
	word(0, id[14:18])
	word(1, id[19:23])
	word(1, id[24:36])
	if seen > 0xf {
		return objectKey{}, id, stringKey
	}
	return k, "", packedKey
}

// hash spreads an object id over partitions. Object ids are random, but a
// directory's own ids need not be, so the bits are mixed rather than used
// as they are.
func (k objectKey) hash() uint64 {
	h := (k[0] ^ bits.RotateLeft64(k[1], 29)) * 0x9e3779b97f4a7c15
	return h ^ h>>32
}

// inlineKeyMax is the longest string a textKey holds packed: most emails
// and platform ids fit.
const inlineKeyMax = 39

// textKey is a short string packed with its length in the last byte, so
// "a" and "a\x00" stay distinct.
type textKey [inlineKeyMax + 1]byte

func (k textKey) hash() uint64 {
	return mixWords(k[0:8], k[8:16], k[16:24], k[24:32], k[32:40])
}

// exactText packs s as it is.
func exactText(s string) (textKey, string, keyKind) {
	var k textKey
	if len(s) > inlineKeyMax {
		return k, s, stringKey
	}
	copy(k[:], s)
	k[inlineKeyMax] = byte(len(s))
	return k, "", packedKey
}

// platformIDMax is the longest platform id a platformKey holds packed; the
// store's ids are 25 characters.
const platformIDMax = 31

// platformKey is a platform id packed with its length in the last byte.
type platformKey [platformIDMax + 1]byte

func (k platformKey) hash() uint64 {
	return mixWords(k[0:8], k[8:16], k[16:24], k[24:32])
}

// platformIDKey packs a platform user id.
func platformIDKey(id string) (platformKey, string, keyKind) {
	var k platformKey
	if len(id) > platformIDMax {
		return k, id, stringKey
	}
	copy(k[:], id)
	k[platformIDMax] = byte(len(id))
	return k, "", packedKey
}

// mixWords hashes 8-byte words for spreading keys over partitions (not
// for tables: Go's maps hash keys themselves).
func mixWords(words ...[]byte) uint64 {
	var h uint64
	for _, w := range words {
		h = (h ^ binary.LittleEndian.Uint64(w)) * 0x9e3779b97f4a7c15
		h ^= h >> 29
	}
	return h
}

// emailText packs the normalised form of an email (domain.NormalizeEmail).
// ASCII is lowered while packing, so the common case allocates nothing; an
// empty email has no key.
func emailText(email string) (textKey, string, keyKind) {
	s := strings.TrimSpace(email)
	if s == "" {
		return textKey{}, "", noKey
	}
	if len(s) <= inlineKeyMax {
		var k textKey
		if lowerASCIIInto(k[:], s) {
			k[inlineKeyMax] = byte(len(s))
			return k, "", packedKey
		}
	}
	return exactText(domain.NormalizeEmail(s))
}

// lowerASCIIInto writes s lower-cased into dst and reports whether s was
// ASCII (otherwise dst is incomplete and domain.NormalizeEmail decides).
func lowerASCIIInto(dst []byte, s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst[i] = c
	}
	return true
}

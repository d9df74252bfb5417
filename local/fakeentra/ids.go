package fakeentra

import "math/rand/v2"

// appendGUID appends hi and lo formatted as a lower-case GUID.
func appendGUID(b []byte, hi, lo uint64) []byte {
	const hex = "0123456789abcdef"
	var raw [16]byte
	for i := range 8 {
		raw[i] = byte(hi >> (56 - 8*i))
		raw[8+i] = byte(lo >> (56 - 8*i))
	}
	for i, c := range raw {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[c>>4], hex[c&15])
	}
	return b
}

// newGUID returns a random GUID for request and trace ids.
func newGUID() string {
	return string(appendGUID(make([]byte, 0, 36), rand.Uint64(), rand.Uint64()))
}

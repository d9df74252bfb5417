// Package canonjson re-encodes JSON documents in one canonical form, so
// that documents equal as JSON values are equal as bytes: Step Functions
// compares execution inputs that way (a repeated StartExecution with an
// equal input is the same execution).
package canonjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Encode returns doc with object keys sorted, no insignificant space and
// numbers exactly as written. doc must hold exactly one JSON value.
func Encode(doc []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonjson: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("canonjson: trailing data after the JSON value")
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("canonjson: %w", err)
	}
	return out, nil
}

// Equal reports whether two documents hold the same JSON value.
func Equal(a, b []byte) (bool, error) {
	ca, err := Encode(a)
	if err != nil {
		return false, err
	}
	cb, err := Encode(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ca, cb), nil
}

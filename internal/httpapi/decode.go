package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"dirsync/internal/domain"
)

// MaxBodyBytes is the largest request body accepted (64 KiB).
const MaxBodyBytes = 64 << 10

// readBody reads a request body of at most MaxBodyBytes. A body that holds
// anything but whitespace must be declared as JSON.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, domain.Errorf(domain.ETooLarge, "request body is %d bytes; the limit is %d (64 KiB)", r.ContentLength, MaxBodyBytes)
	}
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, domain.Errorf(domain.ETooLarge, "request body exceeds %d bytes (64 KiB)", MaxBodyBytes)
	case err != nil:
		return nil, domain.Errorf(domain.EInvalid, "request body could not be read")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	if !isJSONContentType(r.Header.Get("Content-Type")) {
		return nil, domain.Errorf(domain.EInvalid, "Content-Type: a request body must be sent as application/json")
	}
	return b, nil
}

// isJSONContentType accepts application/json and application/*+json (e.g.
// merge-patch+json), with parameters such as charset.
func isJSONContentType(v string) bool {
	mt, _, err := mime.ParseMediaType(v)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// decodeBody reads a required JSON body into dst (a pointer to a struct).
func decodeBody(w http.ResponseWriter, r *http.Request, dst any) error {
	b, err := readBody(w, r)
	if err != nil {
		return err
	}
	if b == nil {
		return domain.Errorf(domain.EInvalid, "body: a JSON object is required")
	}
	return DecodeStrict(b, dst)
}

// decodeOptionalBody accepts an absent body, or a JSON object valid for dst
// (routes without parameters take nil: only "{}" is then accepted).
func decodeOptionalBody(w http.ResponseWriter, r *http.Request, dst any) error {
	b, err := readBody(w, r)
	if err != nil || b == nil {
		return err
	}
	if dst == nil {
		dst = &struct{}{}
	}
	return DecodeStrict(b, dst)
}

// DecodeStrict decodes data into dst, a pointer to a struct, refusing what
// encoding/json would let through: unknown or differently-cased fields,
// duplicate fields, values of the wrong type (including null for fields
// that are not pointers, slices or maps), and anything after the value.
// Every error is a domain.EInvalid whose message names the offending field
// by its path, e.g. "options.deactivationThreshold.percent: must be a number".
func DecodeStrict(data []byte, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("httpapi: DecodeStrict needs a non-nil pointer, got %T", dst)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := checkValue(dec, rv.Type().Elem(), ""); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return domain.Errorf(domain.EInvalid, "body: unexpected data after the JSON value")
	}
	// The check above proved the shape; encoding/json now only fills dst.
	strict := json.NewDecoder(bytes.NewReader(data))
	strict.DisallowUnknownFields()
	if err := strict.Decode(dst); err != nil {
		return domain.Errorf(domain.EInvalid, "body: %s", err.Error())
	}
	return nil
}

// maxNameInMessage bounds how much of a caller's field name is echoed.
const maxNameInMessage = 64

func joinPath(path, name string) string {
	if len(name) > maxNameInMessage {
		name = name[:maxNameInMessage] + "…"
	}
	if path == "" {
		return name
	}
	return path + "." + name
}

func displayPath(path string) string {
	if path == "" {
		return "body"
	}
	return path
}

func syntaxError(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return domain.Errorf(domain.EInvalid, "body: unexpected end of JSON")
	case errors.As(err, &se):
		return domain.Errorf(domain.EInvalid, "body: malformed JSON at byte %d: %s", se.Offset, se.Error())
	}
	return domain.Errorf(domain.EInvalid, "body: malformed JSON")
}

// checkValue reads one JSON value from dec and checks it against t.
func checkValue(dec *json.Decoder, t reflect.Type, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return syntaxError(err)
	}
	return checkToken(dec, tok, t, path)
}

// checkToken checks the value starting with tok against t, consuming the
// rest of the value from dec when tok opens an object or array.
func checkToken(dec *json.Decoder, tok json.Token, t reflect.Type, path string) error {
	if tok == nil {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			return nil
		}
		return domain.Errorf(domain.EInvalid, "%s: must be %s, not null", displayPath(path), describe(t))
	}
	switch t.Kind() {
	case reflect.Pointer:
		return checkToken(dec, tok, t.Elem(), path)
	case reflect.Interface:
		return skipValue(dec, tok)
	case reflect.Struct:
		if d, ok := tok.(json.Delim); !ok || d != '{' {
			return wrongType(t, path)
		}
		fields := structFields(t)
		seen := make(map[string]bool, len(fields))
		return checkObject(dec, path, func(name, fieldPath string) error {
			ft, ok := fields[name]
			if !ok {
				return domain.Errorf(domain.EInvalid, "%s: unknown field", fieldPath)
			}
			if seen[name] {
				return domain.Errorf(domain.EInvalid, "%s: given more than once", fieldPath)
			}
			seen[name] = true
			return checkValue(dec, ft, fieldPath)
		})
	case reflect.Map:
		if d, ok := tok.(json.Delim); !ok || d != '{' || t.Key().Kind() != reflect.String {
			return wrongType(t, path)
		}
		seen := map[string]bool{}
		return checkObject(dec, path, func(name, fieldPath string) error {
			if seen[name] {
				return domain.Errorf(domain.EInvalid, "%s: given more than once", fieldPath)
			}
			seen[name] = true
			return checkValue(dec, t.Elem(), fieldPath)
		})
	case reflect.Slice:
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return wrongType(t, path)
		}
		for i := 0; dec.More(); i++ {
			if err := checkValue(dec, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // the closing ]
			return syntaxError(err)
		}
		return nil
	case reflect.String:
		if _, ok := tok.(string); !ok {
			return wrongType(t, path)
		}
		return nil
	case reflect.Bool:
		if _, ok := tok.(bool); !ok {
			return wrongType(t, path)
		}
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := tok.(json.Number)
		if !ok {
			return wrongType(t, path)
		}
		v, err := strconv.ParseInt(string(n), 10, 64)
		switch {
		case err == nil && !reflect.Zero(t).OverflowInt(v):
			return nil
		case err == nil || isRangeErr(err):
			return domain.Errorf(domain.EInvalid, "%s: is out of range", displayPath(path))
		}
		return domain.Errorf(domain.EInvalid, "%s: must be an integer", displayPath(path))
	case reflect.Float32, reflect.Float64:
		n, ok := tok.(json.Number)
		if !ok {
			return wrongType(t, path)
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || math.IsInf(f, 0) || reflect.Zero(t).OverflowFloat(f) {
			return domain.Errorf(domain.EInvalid, "%s: is out of range", displayPath(path))
		}
		return nil
	}
	return fmt.Errorf("httpapi: DecodeStrict cannot check %s at %s", t, displayPath(path))
}

func isRangeErr(err error) bool {
	var ne *strconv.NumError
	return errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange)
}

// checkObject walks the members of an object whose '{' was read, calling
// member for each key with the value still to be read.
func checkObject(dec *json.Decoder, path string, member func(name, fieldPath string) error) error {
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntaxError(err)
		}
		name, ok := tok.(string)
		if !ok {
			return domain.Errorf(domain.EInvalid, "%s: malformed object", displayPath(path))
		}
		if err := member(name, joinPath(path, name)); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing }
		return syntaxError(err)
	}
	return nil
}

// wrongType reports a value of the wrong JSON type; the first problem
// found is the one reported, so the rest of the body is not read.
func wrongType(t reflect.Type, path string) error {
	return domain.Errorf(domain.EInvalid, "%s: must be %s", displayPath(path), describe(t))
}

// skipValue consumes the rest of a value whose first token was tok.
func skipValue(dec *json.Decoder, tok json.Token) error {
	d, ok := tok.(json.Delim)
	if !ok || (d != '{' && d != '[') {
		return nil
	}
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return syntaxError(err)
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

// describe names the JSON type t expects, for messages.
func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return describe(t.Elem())
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a value"
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// structFields maps the JSON names of t's exported fields to their types.
// Names match exactly: encoding/json's case-insensitive matching would let
// "ClientSecret" through where the contract says "clientSecret".
func structFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := make(map[string]reflect.Type, t.NumField())
	addStructFields(t, m)
	fieldCache.Store(t, m)
	return m
}

func addStructFields(t reflect.Type, m map[string]reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			addStructFields(f.Type, m) // embedded fields are promoted, as encoding/json does
			continue
		}
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
}

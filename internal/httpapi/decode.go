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
	"unicode/utf16"
	"unicode/utf8"

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
// that are not pointers, slices or maps), text that decoding would alter
// (bytes that are not UTF-8 and \u escapes of lone UTF-16 surrogates, which
// encoding/json silently turns into U+FFFD), and anything after the value.
// Every error is a domain.EInvalid whose message names the offending field
// by its path, e.g. "options.deactivationThreshold.percent: must be a number".
func DecodeStrict(data []byte, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("httpapi: DecodeStrict needs a non-nil pointer, got %T", dst)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	w := &walker{dec: dec, data: data}
	if err := w.checkValue(rv.Type().Elem(), ""); err != nil {
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

// maxDepth is encoding/json's own nesting limit; the walk stops there too
// rather than recursing on.
const maxDepth = 10000

// walker checks a body token by token. It keeps the body itself because the
// decoder hands strings back already decoded, with whatever it could not
// decode replaced: only the raw text shows what would be altered.
type walker struct {
	dec   *json.Decoder
	data  []byte
	depth int
}

// checkValue reads one JSON value and checks it against t.
func (w *walker) checkValue(t reflect.Type, path string) error {
	tok, err := w.stringToken(path, false)
	if err != nil {
		return err
	}
	return w.checkToken(tok, t, path)
}

// stringToken reads the next token and, when it is a string (a value at
// path, or a key of the object at path), checks its raw text.
func (w *walker) stringToken(path string, key bool) (json.Token, error) {
	start := w.dec.InputOffset()
	tok, err := w.dec.Token()
	if err != nil {
		return nil, syntaxError(err)
	}
	if _, ok := tok.(string); !ok {
		return tok, nil
	}
	// Only whitespace, ':' or ',' come before the opening quote.
	raw := w.data[start:w.dec.InputOffset()]
	open := bytes.IndexByte(raw, '"')
	at, lone := alteredText(raw[open:])
	if at < 0 {
		return tok, nil
	}
	var what string
	switch {
	case key && lone:
		what = `an object key has a \u escape of a lone UTF-16 surrogate`
	case key:
		what = "an object key is not valid UTF-8"
	case lone:
		what = `has a \u escape of a lone UTF-16 surrogate`
	default:
		what = "is not valid UTF-8"
	}
	msg := fmt.Sprintf("%s: %s (at byte offset %d of the body)", displayPath(path), what, start+int64(open)+int64(at))
	if lone {
		msg += "; a character above U+FFFF is escaped as a high and low surrogate pair"
	}
	return nil, domain.Errorf(domain.EInvalid, "%s", msg)
}

// alteredText finds, in a JSON string literal lit (quotes included, syntax
// already checked), what encoding/json would decode to U+FFFD: a byte
// sequence that is not UTF-8, or a \u escape of a UTF-16 surrogate that is
// not a high one followed by a low one. It returns the offset in lit (-1
// when there is none) and whether it is a lone surrogate.
func alteredText(lit []byte) (at int, lone bool) {
	body := lit[1 : len(lit)-1]
	for i := 0; i < len(body); {
		switch c := body[i]; {
		case c == '\\' && body[i+1] == 'u':
			r := hex4(body[i+2 : i+6])
			if !utf16.IsSurrogate(r) {
				i += 6
				continue
			}
			if next := body[i+6:]; len(next) >= 6 && next[0] == '\\' && next[1] == 'u' &&
				utf16.DecodeRune(r, hex4(next[2:6])) != utf8.RuneError {
				i += 12
				continue
			}
			return i + 1, true
		case c == '\\':
			i += 2
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && size == 1 {
				return i + 1, false
			}
			i += size
		}
	}
	return -1, false
}

// hex4 reads the four hex digits of a \u escape the decoder accepted.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// checkToken checks the value starting with tok against t, consuming the
// rest of the value when tok opens an object or array.
func (w *walker) checkToken(tok json.Token, t reflect.Type, path string) error {
	if tok == nil {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			return nil
		}
		return domain.Errorf(domain.EInvalid, "%s: must be %s, not null", displayPath(path), describe(t))
	}
	switch t.Kind() {
	case reflect.Pointer:
		return w.checkToken(tok, t.Elem(), path)
	case reflect.Interface:
		// Any JSON fits, but its strings are checked like the others.
		switch tok {
		case json.Delim('{'):
			return w.checkObject(path, func(_, fieldPath string) error { return w.checkValue(t, fieldPath) })
		case json.Delim('['):
			return w.checkElements(t, path)
		}
		return nil
	case reflect.Struct:
		if d, ok := tok.(json.Delim); !ok || d != '{' {
			return wrongType(t, path)
		}
		fields := structFields(t)
		seen := make(map[string]bool, len(fields))
		return w.checkObject(path, func(name, fieldPath string) error {
			ft, ok := fields[name]
			if !ok {
				return domain.Errorf(domain.EInvalid, "%s: unknown field", fieldPath)
			}
			if seen[name] {
				return domain.Errorf(domain.EInvalid, "%s: given more than once", fieldPath)
			}
			seen[name] = true
			return w.checkValue(ft, fieldPath)
		})
	case reflect.Map:
		if d, ok := tok.(json.Delim); !ok || d != '{' || t.Key().Kind() != reflect.String {
			return wrongType(t, path)
		}
		seen := map[string]bool{}
		return w.checkObject(path, func(name, fieldPath string) error {
			if seen[name] {
				return domain.Errorf(domain.EInvalid, "%s: given more than once", fieldPath)
			}
			seen[name] = true
			return w.checkValue(t.Elem(), fieldPath)
		})
	case reflect.Slice:
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return wrongType(t, path)
		}
		return w.checkElements(t.Elem(), path)
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
func (w *walker) checkObject(path string, member func(name, fieldPath string) error) error {
	if err := w.enter(path); err != nil {
		return err
	}
	defer w.leave()
	for w.dec.More() {
		tok, err := w.stringToken(path, true)
		if err != nil {
			return err
		}
		name, ok := tok.(string)
		if !ok {
			return domain.Errorf(domain.EInvalid, "%s: malformed object", displayPath(path))
		}
		if err := member(name, joinPath(path, name)); err != nil {
			return err
		}
	}
	if _, err := w.dec.Token(); err != nil { // the closing }
		return syntaxError(err)
	}
	return nil
}

// checkElements checks each element of an array whose '[' was read
// against elem.
func (w *walker) checkElements(elem reflect.Type, path string) error {
	if err := w.enter(path); err != nil {
		return err
	}
	defer w.leave()
	for i := 0; w.dec.More(); i++ {
		if err := w.checkValue(elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	if _, err := w.dec.Token(); err != nil { // the closing ]
		return syntaxError(err)
	}
	return nil
}

func (w *walker) enter(path string) error {
	if w.depth++; w.depth > maxDepth {
		return domain.Errorf(domain.EInvalid, "%s: nested more than %d levels deep", displayPath(path), maxDepth)
	}
	return nil
}

func (w *walker) leave() { w.depth-- }

// wrongType reports a value of the wrong JSON type; the first problem
// found is the one reported, so the rest of the body is not read.
func wrongType(t reflect.Type, path string) error {
	return domain.Errorf(domain.EInvalid, "%s: must be %s", displayPath(path), describe(t))
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

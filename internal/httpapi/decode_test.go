package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"dirsync/internal/auth"
	"dirsync/internal/domain"
)

func TestDecodeStrict(t *testing.T) {
	type inner struct {
		N int     `json:"n"`
		F float64 `json:"f"`
	}
	type target struct {
		S    string            `json:"s"`
		Tags []string          `json:"tags"`
		P    *string           `json:"p"`
		B    bool              `json:"b"`
		I8   int8              `json:"i8"`
		List []inner           `json:"list"`
		M    map[string]string `json:"m"`
		In   *inner            `json:"in"`
		Any  any               `json:"any"`
	}
	// nested is a body nested levels deep; its own object is level 1.
	nested := func(levels int) string {
		return `{"any":` + strings.Repeat("[", levels-1) + strings.Repeat("]", levels-1) + `}`
	}
	tests := []struct {
		name    string
		in      string
		wantErr string // "" = decodes
		check   func(t *testing.T, v target)
	}{
		{"everything", `{"s":"x","p":"y","b":true,"i8":-8,"list":[{"n":1,"f":1.5}],"m":{"k":"v"},"in":{"n":2},"any":{"deep":[1,{"a":null}]}}`, "", func(t *testing.T, v target) {
			if v.S != "x" || *v.P != "y" || !v.B || v.I8 != -8 || v.List[0].F != 1.5 || v.M["k"] != "v" || v.In.N != 2 {
				t.Fatalf("decoded %+v", v)
			}
		}},
		{"nulls where allowed", `{"p":null,"list":null,"m":null,"in":null,"any":null}`, "", func(t *testing.T, v target) {
			if v.P != nil || v.List != nil || v.M != nil || v.In != nil {
				t.Fatalf("decoded %+v", v)
			}
		}},
		{"whitespace around", " \n\t{} \n", "", nil},
		{"escaped key matches", `{"\u0073":"x"}`, "", func(t *testing.T, v target) {
			if v.S != "x" {
				t.Fatalf("decoded %+v", v)
			}
		}},
		{"null for a bool", `{"b":null}`, "b: must be a boolean, not null", nil},
		{"string for a bool", `{"b":"true"}`, "b: must be a boolean", nil},
		{"overflow int8", `{"i8":300}`, "i8: is out of range", nil},
		{"overflow int", `{"list":[{"n":99999999999999999999}]}`, "list[0].n: is out of range", nil},
		{"exponent for an int", `{"list":[{"n":1e2}]}`, "list[0].n: must be an integer", nil},
		{"float overflow", `{"in":{"f":1e400}}`, "in.f: is out of range", nil},
		{"object for a string", `{"s":{}}`, "s: must be a string", nil},
		{"array for a map", `{"m":[]}`, "m: must be an object", nil},
		{"object for an array", `{"list":{}}`, "list: must be an array", nil},
		{"wrong type deep in a list", `{"list":[{"n":1},{"n":"2"}]}`, "list[1].n: must be an integer", nil},
		{"unknown deep", `{"in":{"n":1,"x":2}}`, "in.x: unknown field", nil},
		{"duplicate map key", `{"m":{"a":"1","a":"2"}}`, "m.a: given more than once", nil},
		{"duplicate after escaping", `{"s":"1","\u0073":"2"}`, "s: given more than once", nil},
		{"long unknown name is cut", `{"` + strings.Repeat("z", 500) + `":1}`, strings.Repeat("z", maxNameInMessage) + "…: unknown field", nil},
		{"number at top", `1`, "body: must be an object", nil},
		{"null at top", `null`, "body: must be an object, not null", nil},
		{"string at top", `"x"`, "body: must be an object", nil},
		{"two objects", `{}{}`, "unexpected data after the JSON value", nil},
		{"unclosed", `{"s":"x"`, "unexpected end of JSON", nil},
		{"unclosed array", `{"list":[`, "unexpected end of JSON", nil},
		{"unclosed any", `{"any":[[[`, "unexpected end of JSON", nil},
		{"bad literal", `{"b":tru}`, "malformed JSON", nil},
		{"trailing comma", `{"s":"x",}`, "malformed JSON", nil},
		{"single quotes", `{'s':'x'}`, "malformed JSON", nil},
		{"empty", ``, "unexpected end of JSON", nil},
		// The walk stops where encoding/json's nesting limit is.
		{"nested to the limit", nested(maxDepth), "", nil},
		{"nested past the limit", nested(maxDepth + 1), "nested more than 10000 levels deep", nil},
		// encoding/json would turn these into U+FFFD; the caller's text is
		// refused instead of being stored altered.
		{"invalid byte", "{\"s\":\"a\xffb\"}", "s: is not valid UTF-8 (at byte offset 7 of the body)", nil},
		{"invalid byte in a pointer", "{\"p\":\"\xc3\"}", "p: is not valid UTF-8", nil},
		{"overlong encoding", "{\"s\":\"\xc0\xaf\"}", "s: is not valid UTF-8", nil},
		{"truncated sequence", "{\"s\":\"\xe2\x82\"}", "s: is not valid UTF-8", nil},
		{"UTF-8 encoded surrogate", "{\"s\":\"\xed\xa0\x80\"}", "s: is not valid UTF-8", nil},
		{"invalid byte in a list", "{\"tags\":[\"ok\",\"\x80\"]}", "tags[1]: is not valid UTF-8", nil},
		{"invalid byte in a map value", "{\"m\":{\"k\":\"\xfe\"}}", "m.k: is not valid UTF-8", nil},
		{"invalid byte in a map key", "{\"m\":{\"a\xffb\":\"v\"}}", "m: an object key is not valid UTF-8", nil},
		{"invalid byte in a top-level key", "{\"\xff\":1}", "body: an object key is not valid UTF-8", nil},
		{"invalid byte deep in any", "{\"any\":{\"deep\":[1,\"\xff\"]}}", "any.deep[1]: is not valid UTF-8", nil},
		{"invalid byte in a key in any", "{\"any\":[{\"\xff\":1}]}", "any[0]: an object key is not valid UTF-8", nil},
		{"lone high surrogate", `{"s":"\ud800"}`, "s: has a \\u escape of a lone UTF-16 surrogate (at byte offset 6 of the body)", nil},
		{"lone low surrogate", `{"s":"x\uDC00"}`, "s: has a \\u escape of a lone UTF-16 surrogate (at byte offset 7 of the body)", nil},
		{"high surrogate then a letter", `{"s":"\ud83dA"}`, "s: has a \\u escape of a lone UTF-16 surrogate", nil},
		{"high surrogate then another escape", `{"s":"\ud83d\u0041"}`, "s: has a \\u escape of a lone UTF-16 surrogate", nil},
		{"two high surrogates", `{"s":"\ud83d\ud83d\ude00"}`, "s: has a \\u escape of a lone UTF-16 surrogate (at byte offset 6 ", nil},
		{"surrogate pair then a lone one", `{"s":"\ud83d\ude00\ud800"}`, "s: has a \\u escape of a lone UTF-16 surrogate (at byte offset 18 ", nil},
		{"lone surrogate in a list", `{"tags":["a","b","\udfff"]}`, "tags[2]: has a \\u escape of a lone UTF-16 surrogate", nil},
		{"lone surrogate in a map key", `{"m":{"\ud800":"v"}}`, "m: an object key has a \\u escape of a lone UTF-16 surrogate", nil},
		{"lone surrogate in any", `{"any":["\ud800"]}`, "any[0]: has a \\u escape of a lone UTF-16 surrogate", nil},
		{"surrogate pair", `{"s":"\ud83d\ude00"}`, "", func(t *testing.T, v target) {
			if v.S != "\U0001F600" {
				t.Fatalf("decoded %q", v.S)
			}
		}},
		{"escaped U+FFFD", `{"s":"\ufffd\uFFFD"}`, "", func(t *testing.T, v target) {
			if v.S != "\uFFFD\uFFFD" {
				t.Fatalf("decoded %q", v.S)
			}
		}},
		{"literal U+FFFD and other UTF-8", "{\"s\":\"\xef\xbf\xbd é 😀\",\"tags\":[\"日本\"]}", "", func(t *testing.T, v target) {
			if v.S != "\uFFFD é 😀" || v.Tags[0] != "日本" {
				t.Fatalf("decoded %+v", v)
			}
		}},
		{"escaped backslash before u", `{"s":"\\ud800"}`, "", func(t *testing.T, v target) {
			if v.S != `\ud800` {
				t.Fatalf("decoded %q", v.S)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v target
			err := DecodeStrict([]byte(tt.in), &v)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("error: %v", err)
				}
				if tt.check != nil {
					tt.check(t, v)
				}
				return
			}
			if domain.ErrorCode(err) != domain.EInvalid || !strings.Contains(domain.ErrorMessage(err), tt.wantErr) {
				t.Fatalf("error = %v, want bad_request containing %q", err, tt.wantErr)
			}
		})
	}
	if err := DecodeStrict([]byte(`{}`), target{}); err == nil || domain.ErrorCode(err) != domain.EInternal {
		t.Fatalf("non-pointer target: %v", err)
	}
}

// TestDecodeRequestBodiesRefuseAlteredText names, by JSON path, the field of
// a real request body holding text encoding/json would silently alter.
func TestDecodeRequestBodiesRefuseAlteredText(t *testing.T) {
	const conn = `{"directoryTenantId":"11111111-2222-3333-4444-555555555555","clientId":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",`
	tests := []struct {
		name    string
		body    string
		decode  func([]byte) error
		wantErr string
	}{
		{"invalid byte in the secret", conn + "\"clientSecret\":\"s3cr3t-\xff-Value~0123456789\"}", decodeAs[connectionRequest],
			"clientSecret: is not valid UTF-8"},
		{"lone surrogate in the secret", conn + `"clientSecret":"s3cr3t-\udbff-Value~0123456789"}`, decodeAs[connectionRequest],
			"clientSecret: has a \\u escape of a lone UTF-16 surrogate"},
		{"lone surrogate in a scope group", conn + `"options":{"scope":{"groups":["g1","\ud800"]}}}`, decodeAs[connectionRequest],
			"options.scope.groups[1]: has a \\u escape of a lone UTF-16 surrogate"},
		{"invalid byte in a scope group", conn + "\"options\":{\"scope\":{\"groups\":[\"g1\",\"\xc0\"]}}}", decodeAs[connectionRequest],
			"options.scope.groups[1]: is not valid UTF-8"},
		{"invalid byte in an attribute key", "{\"email\":\"a@b.c\",\"attributes\":{\"dept\xff\":\"x\"}}", decodeAs[createUserRequest],
			"attributes: an object key is not valid UTF-8"},
		{"lone surrogate in an attribute value", `{"attributes":{"department":"R&D \udc00"}}`, decodeAs[patchUserRequest],
			"attributes.department: has a \\u escape of a lone UTF-16 surrogate"},
		{"invalid byte in an unknown field's key", "{\"email\":\"a@b.c\",\"\xffx\":1}", decodeAs[createUserRequest],
			"body: an object key is not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.decode([]byte(tt.body))
			msg := domain.ErrorMessage(err)
			if domain.ErrorCode(err) != domain.EInvalid || !strings.Contains(msg, tt.wantErr) {
				t.Fatalf("error = %v, want bad_request containing %q", err, tt.wantErr)
			}
			if strings.Contains(msg, "Value~") || strings.ContainsRune(msg, utf8.RuneError) {
				t.Fatalf("message %q echoes the caller's text", msg)
			}
		})
	}
}

func decodeAs[T any](data []byte) error {
	var v T
	return DecodeStrict(data, &v)
}

// TestDecodeBody covers what the body reader refuses before decoding.
func TestDecodeBody(t *testing.T) {
	big := `{"email":"` + strings.Repeat("a", MaxBodyBytes) + `"}`
	tests := []struct {
		name        string
		body        string
		contentType string
		unsized     bool // sent without a Content-Length
		code        string
		wantErr     string // "" = decodes
	}{
		{"valid", `{"email":"a@b.c"}`, "application/json", false, "", ""},
		{"JSON with a charset", `{"email":"a@b.c"}`, "application/json; charset=utf-8", false, "", ""},
		{"merge patch", `{"email":"a@b.c"}`, "application/merge-patch+json", false, "", ""},
		{"over 64 KiB", big, "application/json", false, domain.ETooLarge, "64 KiB"},
		{"over 64 KiB without a length", big, "application/json", true, domain.ETooLarge, "64 KiB"},
		{"no body", "", "application/json", false, domain.EInvalid, "body: a JSON object is required"},
		{"blank body", " \n ", "application/json", false, domain.EInvalid, "body: a JSON object is required"},
		{"not declared JSON", `{"email":"a@b.c"}`, "text/plain", false, domain.EInvalid, "Content-Type"},
		{"unknown field", `{"email":"a@b.c","admin":true}`, "application/json", false, domain.EInvalid, "admin: unknown field"},
		{"wrong type", `{"email":1}`, "application/json", false, domain.EInvalid, "email: must be a string"},
		{"trailing data", `{"email":"a@b.c"} {}`, "application/json", false, domain.EInvalid, "unexpected data after the JSON value"},
		{"invalid UTF-8", "{\"email\":\"a\xff@b.c\"}", "application/json", false, domain.EInvalid, "email: is not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/v1/users", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.contentType)
			if tt.unsized {
				req.ContentLength = -1
			}
			var v createUserRequest
			err := decodeBody(httptest.NewRecorder(), req, &v)
			if tt.wantErr == "" {
				if err != nil || v.Email != "a@b.c" {
					t.Fatalf("decoded %+v, error %v", v, err)
				}
				return
			}
			if domain.ErrorCode(err) != tt.code || !strings.Contains(domain.ErrorMessage(err), tt.wantErr) {
				t.Fatalf("error = %v, want %s containing %q", err, tt.code, tt.wantErr)
			}
		})
	}
}

// TestPutConnectionRefusesAlteredSecret sends a secret with a byte that is
// not UTF-8: it is refused 400 naming clientSecret, and never reaches the
// secret store (which would have stored it with U+FFFD in its place).
func TestPutConnectionRefusesAlteredSecret(t *testing.T) {
	h := mustNew(t, Deps{Connections: emptyConnections{}, Secrets: panickingSecrets{}, Tester: fakeTester{}, EntraGroups: newFakeEntraGroups()}, Options{Logger: slog.New(slog.DiscardHandler)}, ConnectionFunction)
	for name, secret := range map[string]string{"invalid byte": "s3cr3t-\xff-Value~0123456789", "lone surrogate": `s3cr3t-\ud800-Value~0123456789`} {
		t.Run(name, func(t *testing.T) {
			body := `{"directoryTenantId":"11111111-2222-3333-4444-555555555555","clientId":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee","clientSecret":"` + secret + `"}`
			req := newRequest(http.MethodPut, "/v1/connection", body)
			req = req.WithContext(auth.NewContext(req.Context(), acmeAdmin))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var got errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if rec.Code != http.StatusBadRequest || got.Error.Code != domain.EInvalid || !strings.HasPrefix(got.Error.Message, "clientSecret: ") {
				t.Fatalf("got %d %+v, want 400 bad_request naming clientSecret", rec.Code, got.Error)
			}
		})
	}
}

func TestParseQuery(t *testing.T) {
	tests := []struct {
		raw       string
		allowed   []string
		wantLimit int
		wantErr   string
	}{
		{"", pagingParams, DefaultLimit, ""},
		{"limit=1", pagingParams, 1, ""},
		{"limit=100&cursor=abc_-D", pagingParams, 100, ""},
		{"limit=+5", pagingParams, 0, "limit:"},
		{"limit=05", pagingParams, 5, ""},
		{"limit=-1", pagingParams, 0, "limit:"},
		{"limit=99999999999999999999", pagingParams, 0, "limit:"},
		{"cursor=" + strings.Repeat("a", maxCursorLen+1), pagingParams, 0, "cursor: malformed"},
		{"cursor=a%2Bb", pagingParams, 0, "cursor: malformed"},
		{"cursor=", pagingParams, DefaultLimit, ""},
		{"LIMIT=5", pagingParams, 0, `"LIMIT": unknown`},
		{"a=1&b=2", pagingParams, 0, `"a": unknown`}, // the first in name order
		{"q", withPaging("q"), DefaultLimit, ""},
		{"q=a&q=b", withPaging("q"), 0, "given more than once"},
		{"%", pagingParams, 0, "query string: malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			q, err := parseQuery(tt.raw, tt.allowed...)
			var p struct{ Limit int }
			if err == nil {
				pg, perr := q.page()
				err, p.Limit = perr, pg.Limit
			}
			if tt.wantErr != "" {
				if domain.ErrorCode(err) != domain.EInvalid || !strings.Contains(domain.ErrorMessage(err), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || p.Limit != tt.wantLimit {
				t.Fatalf("limit %d, err %v; want %d", p.Limit, err, tt.wantLimit)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	for _, ok := range []string{"a", "A-z_09", strings.Repeat("x", 64)} {
		if !ValidID(ok) {
			t.Errorf("ValidID(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", strings.Repeat("x", 65), "a.b", "a/b", "a b", "é", "a#b", "a\x00"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

func TestIsGUID(t *testing.T) {
	for _, ok := range []string{"00000000-0000-0000-0000-000000000000", "ABCDEF01-2345-6789-abcd-ef0123456789"} {
		if !isGUID(ok) {
			t.Errorf("isGUID(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "{00000000-0000-0000-0000-000000000000}", "00000000000000000000000000000000", "0000000g-0000-0000-0000-000000000000", "00000000-0000-0000-0000-00000000000"} {
		if isGUID(bad) {
			t.Errorf("isGUID(%q) = true", bad)
		}
	}
}

// FuzzDecodeStrict checks the strict decoder against encoding/json: it
// never panics, refuses only with bad_request, refuses everything that is
// not valid JSON, and what it accepts encoding/json decodes to the same.
func FuzzDecodeStrict(f *testing.F) {
	seeds := []string{
		validConnection,
		`{"directoryTenantId":"x","options":{"scope":{"groups":["a","b"]},"deactivationThreshold":{"percent":20.5,"count":3},"mapping":[{"attribute":"a","source":"b"}]}}`,
		`{"options":{"deactivationThreshold":{"percent":"20"}}}`,
		`{"clientSecret":null,"cloud":"usgov"}`,
		`{"email":"a@b.c","attributes":{"x":"y","x":"z"}}`,
		`{"options":{"includeGuests":true,"deactivateMissing":false}} x`,
		`{"Options":{}}`,
		`[{}]`, `{"a":`, `"\ud800"`, `{"\u0000":1}`, `{"options":{"deactivationThreshold":{"count":-0}}}`,
		`{"options":{"deactivationThreshold":{"count":1e3}}}`, ``, `{}`, `null`,
		"{\"clientSecret\":\"a\xffb\"}", `{"clientSecret":"\ud800"}`, `{"clientSecret":"\ud83d\ude00\ufffd"}`,
		"{\"clientSecret\":\"\xef\xbf\xbd\"}", `{"options":{"scope":{"groups":["a","\udc00"]}}}`,
		"{\"attributes\":{\"\xff\":\"v\"}}", `{"attributes":{"k":"\\ud800"}}`, `{"email":"\ud800\u0041"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkStrict[connectionRequest](t, data)
		checkStrict[patchUserRequest](t, data)
		checkStrict[createUserRequest](t, data)
	})
}

func checkStrict[T any](t *testing.T, data []byte) {
	var strict T
	err := DecodeStrict(data, &strict)
	if err != nil {
		if domain.ErrorCode(err) != domain.EInvalid {
			t.Fatalf("%q: error %v is not bad_request", data, err)
		}
		return
	}
	if !json.Valid(data) {
		t.Fatalf("%q: accepted invalid JSON", data)
	}
	// Nothing accepted was altered: every U+FFFD decoded was in the body,
	// as UTF-8 or as the escape \ufffd.
	if !utf8.Valid(data) {
		t.Fatalf("%q: accepted a body that is not UTF-8", data)
	}
	if got, sent := countReplacements(reflect.ValueOf(strict)), literalReplacements(data); got > sent {
		t.Fatalf("%q: decoded %d U+FFFD, the body holds %d", data, got, sent)
	}
	var loose T
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&loose); err != nil {
		t.Fatalf("%q: accepted, but encoding/json refuses: %v", data, err)
	}
	if !reflect.DeepEqual(strict, loose) {
		t.Fatalf("%q: decoded %+v, encoding/json %+v", data, strict, loose)
	}
}

// countReplacements counts U+FFFD in the strings (and map keys) of v.
func countReplacements(v reflect.Value) int {
	switch v.Kind() {
	case reflect.String:
		return strings.Count(v.String(), "\uFFFD")
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return 0
		}
		return countReplacements(v.Elem())
	case reflect.Struct:
		n := 0
		for i := range v.NumField() {
			n += countReplacements(v.Field(i))
		}
		return n
	case reflect.Slice, reflect.Array:
		n := 0
		for i := range v.Len() {
			n += countReplacements(v.Index(i))
		}
		return n
	case reflect.Map:
		n := 0
		for it := v.MapRange(); it.Next(); {
			n += countReplacements(it.Key()) + countReplacements(it.Value())
		}
		return n
	}
	return 0
}

// literalReplacements counts the U+FFFD a valid JSON text holds on
// purpose: encoded as UTF-8, or escaped as \ufffd.
func literalReplacements(data []byte) int {
	n := 0
	for i := 0; i < len(data); {
		if data[i] == '\\' {
			if i+6 <= len(data) && data[i+1] == 'u' && strings.EqualFold(string(data[i+2:i+6]), "fffd") {
				n++
				i += 6
			} else {
				i += 2
			}
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 3 {
			n++
		}
		i += size
	}
	return n
}

// FuzzQuery checks query parsing: no panics, refusals are bad_request, and
// an accepted page is within bounds.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{"", "limit=10", "limit=0", "limit=101", "cursor=abc&limit=5", "q=%zz", "status=active&q=x",
		"limit=1&limit=2", "a;b", "kind=add&objectType=user", "cursor=" + strings.Repeat("A", 3000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseQuery(raw, withPaging("status", "q", "kind")...)
		if err != nil {
			if domain.ErrorCode(err) != domain.EInvalid {
				t.Fatalf("%q: %v", raw, err)
			}
			return
		}
		p, err := q.page()
		if err == nil && (p.Limit < 1 || p.Limit > MaxLimit || len(p.Cursor) > maxCursorLen) {
			t.Fatalf("%q: page %+v out of bounds", raw, p)
		}
		if err != nil && domain.ErrorCode(err) != domain.EInvalid {
			t.Fatalf("%q: %v", raw, err)
		}
		kind, err := q.enum("kind", changeKinds...)
		if err == nil && kind != "" && !slices.Contains(changeKinds, kind) {
			t.Fatalf("%q: kind %q accepted", raw, kind)
		}
		if text, err := q.text("q"); err == nil && len(text) > maxQueryText {
			t.Fatalf("%q: q of %d bytes accepted", raw, len(text))
		}
	})
}

// BenchmarkDecodeStrict compares the strict decoder with plain
// encoding/json on a full connection body.
func BenchmarkDecodeStrict(b *testing.B) {
	body := []byte(`{"directoryTenantId":"11111111-2222-3333-4444-555555555555","clientId":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",` +
		`"clientSecret":"s3cr3t-Value~0123456789abcdefWXYZ","cloud":"global","options":{"scope":{"groups":` +
		`["aaaaaaaa-0000-0000-0000-000000000001","aaaaaaaa-0000-0000-0000-000000000002"]},"includeGuests":false,` +
		`"deactivateMissing":true,"deactivationThreshold":{"percent":20,"count":500},"mapping":[` +
		`{"attribute":"displayName","source":"displayName"},{"attribute":"jobTitle","source":"jobTitle"},` +
		`{"attribute":"department","source":"department"},{"attribute":"manager","source":"manager"}]}}`)
	b.Run("strict", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var req connectionRequest
			if err := DecodeStrict(body, &req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var req connectionRequest
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// emptyConnections is a connection store holding none and no sync; its
// other methods belong to a nil interface and panic.
type emptyConnections struct{ ConnectionStore }

func (emptyConnections) GetConnection(context.Context, string) (*domain.Connection, error) {
	return nil, domain.Errorf(domain.ENotFound, "no connection")
}

func (emptyConnections) EnsureIdle(context.Context, string) error { return nil }

// panickingSecrets stands for a secret store that must not be reached
// (the handler answers its panic 500).
type panickingSecrets struct{ SecretStore }

package httpapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"dirsync/internal/domain"
)

func TestDecodeStrict(t *testing.T) {
	type inner struct {
		N int     `json:"n"`
		F float64 `json:"f"`
	}
	type target struct {
		S    string            `json:"s"`
		P    *string           `json:"p"`
		B    bool              `json:"b"`
		I8   int8              `json:"i8"`
		List []inner           `json:"list"`
		M    map[string]string `json:"m"`
		In   *inner            `json:"in"`
		Any  any               `json:"any"`
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

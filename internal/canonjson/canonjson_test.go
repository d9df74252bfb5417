package canonjson

import "testing"

func TestEncodeAndEqual(t *testing.T) {
	tests := []struct {
		a, b  string
		equal bool
		bad   bool
	}{
		{`{"b":1,"a":[1,2]}`, `{ "a": [1, 2], "b": 1 }`, true, false},
		{`{"n":1.0}`, `{"n":1}`, false, false}, // numbers as written
		{`{"a":"x"}`, `{"a":"y"}`, false, false},
		{`[1]`, `[1] `, true, false},
		{`{"a":1} {"b":2}`, `{}`, false, true},
		{`{"a":`, `{}`, false, true},
		{``, `{}`, false, true},
	}
	for _, tt := range tests {
		got, err := Equal([]byte(tt.a), []byte(tt.b))
		if (err != nil) != tt.bad {
			t.Errorf("Equal(%q, %q) error %v, want error %v", tt.a, tt.b, err, tt.bad)
			continue
		}
		if got != tt.equal {
			t.Errorf("Equal(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.equal)
		}
	}
	if out, _ := Encode([]byte(`{"z": {"y": 2, "x": 1}, "a": null}`)); string(out) != `{"a":null,"z":{"x":1,"y":2}}` {
		t.Errorf("Encode = %s", out)
	}
}

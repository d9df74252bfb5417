package entra

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckNextLink(t *testing.T) {
	r, err := NewReader(Config{DirectoryTenantID: "t", ClientID: "c", ClientSecret: "s", GraphEndpoint: "https://graph.example"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		link string
		ok   bool
	}{
		{"https://graph.example/v1.0/users?$skiptoken=abc", true},
		{"https://GRAPH.Example/v1.0/users?$skiptoken=abc", true},
		{"https://graph.example:443/v1.0/users?$skiptoken=abc", true},
		{"https://graph.example@evil/v1.0/users?$skiptoken=abc", false},
		{"https://graph.example.evil/v1.0/users?$skiptoken=abc", false},
		{"https://graph.example%2f@evil/v1.0/users", false},
		{"https://user:pass@graph.example/v1.0/users", false},
		{"https://graph.example:8443/v1.0/users", false},
		{"http://graph.example/v1.0/users", false},
		{"/v1.0/users?$skiptoken=abc", false},
		{"//graph.example/v1.0/users", false},
		{"graph.example/v1.0/users", false},
		{"https:graph.example/v1.0/users", false},
		{"https://evil/?next=https://graph.example/v1.0/users", false},
		{"https://graph.example\\@evil/v1.0/users", false},
		{"https://[::1/v1.0/users", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.link, func(t *testing.T) {
			err := r.checkNextLink(tc.link, map[string]struct{}{})
			if tc.ok != (err == nil) {
				t.Fatalf("checkNextLink(%q) = %v, want ok %v", tc.link, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrMalformedResponse) {
				t.Errorf("error %v does not wrap ErrMalformedResponse", err)
			}
		})
	}

	t.Run("a link seen anywhere earlier is a loop", func(t *testing.T) {
		seen := map[string]struct{}{}
		links := []string{"https://graph.example/v1.0/users?a", "https://graph.example/v1.0/users?b", "https://graph.example/v1.0/users?c"}
		for _, l := range links {
			if err := r.checkNextLink(l, seen); err != nil {
				t.Fatalf("first sight of %s: %v", l, err)
			}
		}
		err := r.checkNextLink(links[0], seen)
		if !errors.Is(err, ErrMalformedResponse) || !strings.Contains(err.Error(), "already followed") {
			t.Errorf("A, B, C, then A again = %v, want a loop refused", err)
		}
	})
}

func TestCountShortfall(t *testing.T) {
	tests := []struct {
		read, counted int
		tolerance     int
		want          string // "" when complete
	}{
		{read: 0, counted: 0, tolerance: 5},
		{read: 995, counted: 1000, tolerance: 5},
		{read: 994, counted: 1000, tolerance: 5, want: "read 994 of the 1,000 users Graph counts"},
		{read: 1000, counted: 2000, tolerance: 10, want: "read 1,000 of the 2,000 users Graph counts"},
		{read: 1990, counted: 2000, tolerance: 10},
		{read: 3000, counted: 2000, tolerance: 10},
		{read: 995_000, counted: 1_000_000, tolerance: 5000},
		{read: 994_999, counted: 1_000_000, tolerance: 5000, want: "read 994,999 of the 1,000,000 users Graph counts"},
		{read: 0, counted: 6, tolerance: 5, want: "read 0 of the 6 users Graph counts"},
	}
	for _, tc := range tests {
		if got := countTolerance(tc.counted); got != tc.tolerance {
			t.Errorf("countTolerance(%d) = %d, want %d", tc.counted, got, tc.tolerance)
		}
		err := checkComplete("users", tc.read, tc.counted)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("read %d of %d: %v, want complete", tc.read, tc.counted, err)
		case tc.want != "" && (!errors.Is(err, ErrSourceIncomplete) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("read %d of %d: %v, want ErrSourceIncomplete saying %q", tc.read, tc.counted, err, tc.want)
		}
	}
}

func TestParseCount(t *testing.T) {
	tests := []struct {
		body string
		want int
		ok   bool
	}{
		{"2500", 2500, true},
		{"0", 0, true},
		{"\ufeff42", 42, true}, // OData services may send a byte-order mark
		{" 7\r\n", 7, true},
		{"", 0, false},
		{"-1", 0, false},
		{"4.5", 0, false},
		{"1e3", 0, false},
		{`{"value":3}`, 0, false},
		{"99999999999999999999", 0, false},
	}
	for _, tc := range tests {
		got, err := parseCount([]byte(tc.body))
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("parseCount(%q) = %d, %v; want %d ok %v", tc.body, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrMalformedResponse) {
			t.Errorf("parseCount(%q) error %v does not wrap ErrMalformedResponse", tc.body, err)
		}
	}
}

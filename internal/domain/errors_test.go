package domain

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorCodeAndMessage(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		code    string
		message string
	}{
		{"nil", nil, "", ""},
		{"application error", Errorf(ENotFound, "sync %q not found", "s1"), ENotFound, `sync "s1" not found`},
		{"wrapped application error", fmt.Errorf("store: get: %w", Errorf(EConflict, "busy")), EConflict, "busy"},
		{"internal error hides its detail", errors.New("dynamo: secret table arn:aws:..."), EInternal, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode = %q, want %q", got, tt.code)
			}
			if got := ErrorMessage(tt.err); got != tt.message {
				t.Errorf("ErrorMessage = %q, want %q", got, tt.message)
			}
		})
	}
}

func TestUserProperties(t *testing.T) {
	got := UserProperties([]Mapping{{"a", "mail"}, {"b", "mail"}, {"c", "city"}})
	if fmt.Sprint(got) != "[mail city]" {
		t.Fatalf("UserProperties = %v, want [mail city] (once each, in mapping order)", got)
	}
}

func TestValidateMapping(t *testing.T) {
	tests := []struct {
		name    string
		mapping []Mapping
		wantErr bool
	}{
		{"default", DefaultMapping(), false},
		{"custom", []Mapping{{"title", "jobTitle"}, {"site", "officeLocation"}}, false},
		{"empty attribute", []Mapping{{"", "jobTitle"}}, true},
		{"email reserved", []Mapping{{"Email", "mail"}}, true},
		{"duplicate attribute", []Mapping{{"t", "jobTitle"}, {"t", "department"}}, true},
		{"unknown property", []Mapping{{"t", "favouriteColour"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ValidateMapping(tt.mapping); (err != nil) != tt.wantErr {
				t.Fatalf("ValidateMapping err = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

package eventslocal

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"dirsync/internal/samtemplate"
	"dirsync/local/dynamolocal"
)

func TestMatches(t *testing.T) {
	pattern := map[string]any{
		"source":      []any{"aws.states"},
		"detail-type": []any{"Step Functions Execution Status Change"},
		"detail":      map[string]any{"status": []any{"FAILED", "TIMED_OUT", "ABORTED"}, "stateMachineArn": []any{"arn:sm"}},
	}
	event := func(status, machine string) map[string]any {
		return map[string]any{
			"source": "aws.states", "detail-type": "Step Functions Execution Status Change",
			"resources": []any{"arn:exec"},
			"detail":    map[string]any{"status": status, "stateMachineArn": machine},
		}
	}
	tests := []struct {
		name    string
		pattern map[string]any
		event   map[string]any
		want    bool
	}{
		{"failed", pattern, event("FAILED", "arn:sm"), true},
		{"aborted", pattern, event("ABORTED", "arn:sm"), true},
		{"succeeded", pattern, event("SUCCEEDED", "arn:sm"), false},
		{"another machine", pattern, event("FAILED", "arn:other"), false},
		{"field missing", pattern, map[string]any{"source": "aws.states"}, false},
		{"detail not an object", pattern, map[string]any{"source": "aws.states", "detail-type": "Step Functions Execution Status Change", "detail": "FAILED"}, false},
		{"a list in the event matches any element", map[string]any{"resources": []any{"arn:exec"}}, event("FAILED", "arn:sm"), true},
		{"numbers", map[string]any{"n": []any{3}}, map[string]any{"n": 3.0}, true},
		{"a string is not a number", map[string]any{"n": []any{"3"}}, map[string]any{"n": 3.0}, false},
		{"empty pattern matches all", map[string]any{}, event("SUCCEEDED", "x"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Matches(tt.pattern, tt.event); got != tt.want {
				t.Fatalf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCheckPatternRefusesFilters(t *testing.T) {
	for _, p := range []map[string]any{
		{"source": []any{map[string]any{"prefix": "aws."}}},
		{"source": "aws.states"},
		{"detail": map[string]any{"n": []any{map[string]any{"numeric": []any{">", 1}}}}},
	} {
		if err := checkPattern(p); !errors.Is(err, ErrUnsupportedPattern) {
			t.Errorf("checkPattern(%v) = %v, want ErrUnsupportedPattern", p, err)
		}
	}
}

// The template's one rule: finalize hears of the apply machine's failed,
// timed-out and aborted executions, and of nothing else.
func TestRulesFromTheTemplate(t *testing.T) {
	root, err := dynamolocal.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	d, err := samtemplate.Transform(context.Background(), filepath.Join(root, "template.yaml"), samtemplate.TransformOptions{
		Parameters: map[string]string{"JwtIssuer": "https://issuer/", "JwtAudience": "aud", "CorsAllowedOrigins": "https://console"},
		Region:     "us-east-1", AccountID: "000000000000", StackName: "local", Names: samtemplate.LogicalIDNames,
	})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := RulesFromTemplate(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 1 || len(rules[0].Targets) != 1 {
		t.Fatalf("rules %+v, want one with one target", rules)
	}
	machine, err := d.Str(map[string]any{"Ref": "ApplyStateMachine"})
	if err != nil {
		t.Fatal(err)
	}
	finalize, err := d.Str(map[string]any{"Fn::GetAtt": []any{"FinalizeFunction", "Arn"}})
	if err != nil {
		t.Fatal(err)
	}
	if rules[0].Targets[0] != finalize {
		t.Errorf("target %s, want %s", rules[0].Targets[0], finalize)
	}
	var delivered []string
	bus, err := New(rules, "000000000000", "us-east-1", func(target string, event []byte) error {
		var e struct {
			DetailType string `json:"detail-type"`
		}
		if err := json.Unmarshal(event, &e); err != nil {
			return err
		}
		delivered = append(delivered, target+" "+e.DetailType)
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, status := range []string{"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT", "RUNNING"} {
		for _, sm := range []string{machine, machine + "-other"} {
			if _, err := bus.Put(Event{Source: "aws.states", DetailType: "Step Functions Execution Status Change",
				Resources: []string{"arn:exec"}, Detail: map[string]any{"status": status, "stateMachineArn": sm}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(delivered) != 3 {
		t.Fatalf("delivered %v, want FAILED, ABORTED and TIMED_OUT of the apply machine only", delivered)
	}
}

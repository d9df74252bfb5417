package awscalls

import (
	"reflect"
	"strings"
	"sync"
	"testing"
)

const fixture = "dirsync/internal/samtemplate/awscalls/testdata/fixture"

var (
	fixtureOnce sync.Once
	fixtureAll  map[string]*Function
	fixtureErr  error
)

// analyzeFixture analyses testdata/fixture, whose function receives the
// route GET /read only.
func analyzeFixture(t *testing.T) *Function {
	t.Helper()
	fixtureOnce.Do(func() {
		fixtureAll, fixtureErr = Analyze("../../..", map[string][]string{fixture: {"GET /read"}}, "./internal/samtemplate/awscalls/testdata/fixture")
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	f := fixtureAll[fixture]
	if f == nil {
		t.Fatalf("no result for %s: %v", fixture, fixtureAll)
	}
	return f
}

func calls(f *Function) []string {
	var out []string
	for _, c := range f.Calls {
		out = append(out, c.String())
	}
	return out
}

func TestAnalyzeFollowsRoutesFieldsAndEnvironment(t *testing.T) {
	f := analyzeFixture(t)
	tests := []struct {
		name string
		got  any
		want any
	}{
		{
			// GET /read is the only route kept; sort.Slice's callback (code
			// outside the module calling back) reaches read too.
			name: "calls with GET /read only",
			got:  calls(f),
			want: []string{"dynamodb:GetItem on ${TABLE}"},
		},
		{
			// Every route: the transaction's items with their tables (the
			// computed name keeps its literal suffix, the or() default is a
			// second value), but never StartExecution: Deps.Machines is
			// never set, whatever the handler calls through it.
			name: "actions with every route",
			got:  f.AllRoutes,
			want: []string{"dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"},
		},
		{
			name: "routes left out",
			got:  f.PrunedRoutes,
			want: []string{"POST /start", "POST /write"},
		},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if len(f.CHAActions) <= len(f.AllRoutes) || !strings.Contains(strings.Join(f.CHAActions, " "), "states:StartExecution") {
		t.Errorf("CHA actions %v: class hierarchy alone should also reach StartExecution (the measure of what VTA saves)", f.CHAActions)
	}
}

func TestAnalyzeTracesTransactionItems(t *testing.T) {
	all, err := Analyze("../../..", nil, "./internal/samtemplate/awscalls/testdata/fixture")
	if err != nil {
		t.Fatal(err)
	}
	got := calls(all[fixture])
	want := []string{
		"dynamodb:DeleteItem on ${OTHER}-archive",
		"dynamodb:DeleteItem on fallback-archive",
		"dynamodb:GetItem on ${TABLE}",
		"dynamodb:PutItem on ${OTHER}",
		"dynamodb:PutItem on fallback",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("calls = %v\nwant %v", got, want)
	}
}

func TestValueResolve(t *testing.T) {
	v := Value{{Env: "PREFIX"}, {Lit: "/"}, {Hole: true}, {Lit: "/secret"}}
	tests := []struct {
		env    map[string]string
		want   string
		wantOK bool
	}{
		{map[string]string{"PREFIX": "p"}, "p/\x00/secret", true},
		{map[string]string{}, "", false},
	}
	for _, tt := range tests {
		got, ok := v.Resolve(tt.env, "\x00")
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Resolve(%v) = %q, %v; want %q, %v", tt.env, got, ok, tt.want, tt.wantOK)
		}
	}
	if v.String() != "${PREFIX}/*/secret" || v.AllHole() || !(Value{{Hole: true}}).AllHole() {
		t.Errorf("String/AllHole wrong for %v", v)
	}
}

package httpapi

import (
	"slices"
	"testing"

	"dirsync/internal/samtemplate"
)

// The routing table and template.yaml's HttpApi events say the same: every
// route goes to the same function in both, and no function of the table is
// missing from the template. (internal/samtemplate's IAM test holds each
// function's policies to what the code behind these routes calls.)
func TestRoutesMatchTheTemplate(t *testing.T) {
	tpl, err := samtemplate.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inTemplate := map[string]string{}
	for _, r := range tpl.Routes() {
		inTemplate[r.Pattern()] = r.Function
	}
	inTable := map[string]string{}
	for _, r := range Routes {
		if _, dup := inTable[r.Pattern]; dup {
			t.Errorf("route %s is in the table twice", r.Pattern)
		}
		inTable[r.Pattern] = string(r.Function)
		if !slices.Contains(Functions, r.Function) {
			t.Errorf("route %s goes to %s, which is not in Functions", r.Pattern, r.Function)
		}
		if fn, ok := inTemplate[r.Pattern]; !ok {
			t.Errorf("route %s (%s) is not an HttpApi event of template.yaml", r.Pattern, r.Function)
		} else if fn != string(r.Function) {
			t.Errorf("route %s: the table says %s, template.yaml %s", r.Pattern, r.Function, fn)
		}
	}
	for pattern, fn := range inTemplate {
		if _, ok := inTable[pattern]; !ok {
			t.Errorf("template.yaml routes %s to %s; the table does not have it", pattern, fn)
		}
	}
}

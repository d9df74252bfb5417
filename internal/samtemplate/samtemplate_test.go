package samtemplate

import (
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseIntrinsics(t *testing.T) {
	raw := []byte(`
Parameters:
  Issuer: {Type: String}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Env: !Ref Issuer
      Arn: !GetAtt Table.Arn
      Url: !Sub "https://${Api}.example"
      Joined: !Join [",", [a, b]]
`)
	tpl, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p := tpl.Resources["Fn"].Properties
	tests := []struct {
		key  string
		want any
	}{
		{"Env", map[string]any{"Ref": "Issuer"}},
		{"Arn", map[string]any{"Fn::GetAtt": []any{"Table", "Arn"}}},
		{"Url", map[string]any{"Fn::Sub": "https://${Api}.example"}},
		{"Joined", map[string]any{"Fn::Join": []any{",", []any{"a", "b"}}}},
	}
	for _, tt := range tests {
		if got := p[tt.key]; !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.key, got, tt.want)
		}
	}
	if _, ok := tpl.Parameters["Issuer"]; !ok {
		t.Error("parameter Issuer missing")
	}
}

func TestRepositoryTemplateTables(t *testing.T) {
	tpl, err := Load(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tables, err := tpl.Tables()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Table{}
	for _, tb := range tables {
		got[tb.LogicalID] = tb
	}
	for _, name := range []string{"DirectoryTable", "SyncTable"} {
		tb, ok := got[name]
		if !ok {
			t.Fatalf("template.yaml lacks %s", name)
		}
		if tb.HashKey != "pk" || tb.RangeKey != "sk" || tb.KeyTypes["pk"] != "S" || tb.KeyTypes["sk"] != "S" {
			t.Errorf("%s keys = %+v, want pk/sk strings", name, tb)
		}
	}
	if got["SyncTable"].TTLAttribute != "ttl" {
		t.Errorf("SyncTable TTL attribute = %q, want ttl", got["SyncTable"].TTLAttribute)
	}
}

func TestRepositoryTemplateFunctions(t *testing.T) {
	tpl, err := Load(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fns := tpl.Functions()
	if len(fns) == 0 {
		t.Fatal("no functions in template.yaml")
	}
	seen := map[string]string{}
	for _, f := range fns {
		if f.BuildMethod != "makefile" {
			t.Errorf("%s: BuildMethod = %q, want makefile", f.LogicalID, f.BuildMethod)
		}
		for _, r := range f.Routes {
			if other, dup := seen[r.Pattern()]; dup {
				t.Errorf("route %s served by both %s and %s", r.Pattern(), other, f.LogicalID)
			}
			seen[r.Pattern()] = f.LogicalID
			if r.Method == "" || len(r.Path) < 2 || r.Path[0] != '/' {
				t.Errorf("%s: malformed route %+v", f.LogicalID, r)
			}
		}
	}
	if seen["GET /v1/syncs/{id}/progress"] != "ProgressFunction" {
		t.Errorf("progress route = %q, want ProgressFunction", seen["GET /v1/syncs/{id}/progress"])
	}
}

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

package samtemplate

import (
	"fmt"
	"strings"
)

// Table is what the local stack needs to create an AWS::DynamoDB::Table.
type Table struct {
	LogicalID    string
	HashKey      string
	RangeKey     string
	KeyTypes     map[string]string // attribute name -> S | N | B
	TTLAttribute string
}

// Tables returns the template's DynamoDB tables.
func (t *Template) Tables() ([]Table, error) {
	var out []Table
	for _, r := range t.OfType("AWS::DynamoDB::Table") {
		tb := Table{LogicalID: r.LogicalID, KeyTypes: map[string]string{}}
		defs, _ := r.Properties["AttributeDefinitions"].([]any)
		for _, d := range defs {
			dm, _ := d.(map[string]any)
			tb.KeyTypes[Str(dm, "AttributeName")] = Str(dm, "AttributeType")
		}
		keys, _ := r.Properties["KeySchema"].([]any)
		for _, k := range keys {
			km, _ := k.(map[string]any)
			switch strings.ToUpper(Str(km, "KeyType")) {
			case "HASH":
				tb.HashKey = Str(km, "AttributeName")
			case "RANGE":
				tb.RangeKey = Str(km, "AttributeName")
			}
		}
		if tb.HashKey == "" {
			return nil, fmt.Errorf("samtemplate: table %s has no HASH key", r.LogicalID)
		}
		if v, _ := Get(r.Properties, "TimeToLiveSpecification", "Enabled").(bool); v {
			tb.TTLAttribute = Str(r.Properties, "TimeToLiveSpecification", "AttributeName")
		}
		out = append(out, tb)
	}
	return out, nil
}

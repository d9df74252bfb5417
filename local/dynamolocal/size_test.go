package dynamolocal

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestItemSize(t *testing.T) {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
	tests := []struct {
		name string
		item map[string]types.AttributeValue
		want int
	}{
		{"empty", nil, 0},
		{"string", map[string]types.AttributeValue{"pk": s("T#acme")}, 2 + 6},
		{"numbers by significant digits", map[string]types.AttributeValue{"a": n("123"), "b": n("1000"), "c": n("-12.5")}, (1 + 3) + (1 + 2) + (1 + 3)},
		{"binary", map[string]types.AttributeValue{"b": &types.AttributeValueMemberB{Value: make([]byte, 16)}}, 1 + 16},
		{"bool, null, list and map", map[string]types.AttributeValue{
			"b": &types.AttributeValueMemberBOOL{Value: true}, "z": &types.AttributeValueMemberNULL{Value: true},
			"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{s("ab")}},
			"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": s("v")}},
		}, (1 + 1) + (1 + 1) + (1 + 3 + 1 + 2) + (1 + 3 + 1 + 1 + 1)},
		{"sets", map[string]types.AttributeValue{
			"ss": &types.AttributeValueMemberSS{Value: []string{"ab", "c"}}, "ns": &types.AttributeValueMemberNS{Value: []string{"7", "1234"}},
		}, (2 + 3 + 3) + (2 + 3 + 2 + 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ItemSize(tt.item); got != tt.want {
				t.Fatalf("ItemSize = %d, want %d", got, tt.want)
			}
		})
	}
}

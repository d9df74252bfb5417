package fakeentra

import (
	"reflect"
	"testing"
)

func TestChurn(t *testing.T) {
	spec := Spec{Seed: 7, Users: 3000}
	base := Generate(spec)
	a, b := Generate(spec), Generate(spec)
	resA, resB := Churn(a, 0.01, 1), Churn(b, 0.01, 1)
	if !reflect.DeepEqual(resA, resB) || !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed churned differently")
	}
	want := ChurnResult{Updated: 18, Disabled: 3, SoftDeleted: 3, Added: 3, LeftGroup: 3}
	if resA != want {
		t.Fatalf("churn %+v, want %+v", resA, want)
	}
	if len(a.Users) != len(base.Users) || len(a.DeletedUsers) != 3 {
		t.Fatalf("%d users and %d deleted, want %d and 3", len(a.Users), len(a.DeletedUsers), len(base.Users))
	}
	changed := 0
	for i := range base.Users {
		if i < len(a.Users) && !reflect.DeepEqual(base.Users[i], a.Users[i]) {
			changed++
		}
	}
	if changed == 0 {
		t.Fatal("no user changed")
	}
	c := Generate(spec)
	if Churn(c, 0.01, 2); reflect.DeepEqual(a, c) {
		t.Fatal("another seed churned the same way")
	}
}

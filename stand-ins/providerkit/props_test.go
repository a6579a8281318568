package providerkit

import (
	"math"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func TestPlainAndSecrets(t *testing.T) {
	str := resource.NewStringProperty
	nested := resource.NewObjectProperty(resource.PropertyMap{
		"a": resource.MakeSecret(str("x")),
		"b": resource.NewArrayProperty([]resource.PropertyValue{resource.MakeSecret(resource.MakeSecret(str("y")))}),
	})
	want := resource.NewObjectProperty(resource.PropertyMap{
		"a": str("x"), "b": resource.NewArrayProperty([]resource.PropertyValue{str("y")}),
	})
	if got := Plain(resource.MakeSecret(nested)); !got.DeepEquals(want) {
		t.Errorf("Plain = %v, want %v", got, want)
	}
	if v, secret := Unsecret(resource.MakeSecret(resource.MakeSecret(str("x")))); !secret || !v.DeepEquals(str("x")) {
		t.Errorf("Unsecret = %v, %v", v, secret)
	}
	if v, secret := Unsecret(str("x")); secret || !v.DeepEquals(str("x")) {
		t.Errorf("Unsecret of a plain value = %v, %v", v, secret)
	}
	if !SecretIf(str("x"), true).IsSecret() || SecretIf(str("x"), false).IsSecret() {
		t.Error("SecretIf")
	}
	if v := SecretIf(resource.MakeSecret(str("x")), true); !v.SecretValue().Element.IsString() {
		t.Errorf("SecretIf wrapped a secret again: %v", v)
	}
}

func TestPresentAndUnknown(t *testing.T) {
	m := resource.PropertyMap{
		"null":        resource.NewNullProperty(),
		"secretNull":  resource.MakeSecret(resource.NewNullProperty()),
		"secret":      resource.MakeSecret(resource.NewStringProperty("x")),
		"unknownList": resource.NewArrayProperty([]resource.PropertyValue{resource.MakeComputed(resource.NewStringProperty(""))}),
	}
	for _, k := range []resource.PropertyKey{"missing", "null", "secretNull"} {
		if _, ok := Present(m, k); ok {
			t.Errorf("%s is present", k)
		}
	}
	if v, ok := Present(m, "secret"); !ok || !v.IsSecret() {
		t.Errorf("Present(secret) = %v, %v: want the secret as it is", v, ok)
	}
	if !Unknown(m["unknownList"]) || Unknown(m["secret"]) {
		t.Error("Unknown")
	}
}

func TestReaders(t *testing.T) {
	num := resource.NewNumberProperty
	if n, err := AsInt(resource.MakeSecret(num(40))); err != nil || n != 40 {
		t.Errorf("AsInt(40) = %v, %v", n, err)
	}
	for _, bad := range []resource.PropertyValue{
		num(1.5), num(math.NaN()), num(math.Inf(1)), num(1 << 54), resource.NewStringProperty("40"),
	} {
		if _, err := AsInt(bad); err == nil {
			t.Errorf("AsInt(%v) accepted", bad)
		}
	}
	if b, err := AsBool(resource.NewBoolProperty(true)); err != nil || !b {
		t.Errorf("AsBool = %v, %v", b, err)
	}
	if _, err := AsBool(num(1)); err == nil {
		t.Error("AsBool(1) accepted")
	}
	if s, err := AsString(resource.MakeSecret(resource.NewStringProperty("x"))); err != nil || s != "x" {
		t.Errorf("AsString = %q, %v", s, err)
	}
	if _, err := AsString(num(1)); err == nil {
		t.Error("AsString(1) accepted")
	}
	if !Ignored("keepers", []string{"length", "keepers"}) || Ignored("keepers", []string{"keepers.x"}) {
		t.Error("Ignored")
	}
}

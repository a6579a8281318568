package providerkit

import (
	"fmt"
	"math"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Plain returns v without secret markers, at any depth, so that two values compare by content: a
// change of secretness alone is no change of the resource.
func Plain(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return Plain(v.SecretValue().Element)
	case v.IsArray():
		in := v.ArrayValue()
		out := make([]resource.PropertyValue, len(in))
		for i, e := range in {
			out[i] = Plain(e)
		}
		return resource.NewArrayProperty(out)
	case v.IsObject():
		out := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			out[k] = Plain(e)
		}
		return resource.NewObjectProperty(out)
	}
	return v
}

// Unsecret strips the outer secret markers of v and tells whether there were any.
func Unsecret(v resource.PropertyValue) (resource.PropertyValue, bool) {
	secret := false
	for v.IsSecret() {
		secret = true
		v = v.SecretValue().Element
	}
	return v, secret
}

// SecretIf wraps v as a secret when secret is true.
func SecretIf(v resource.PropertyValue, secret bool) resource.PropertyValue {
	if secret && !v.IsSecret() {
		return resource.MakeSecret(v)
	}
	return v
}

// Present tells whether m holds a non-null value for k, and returns it as it is (a secret stays one).
func Present(m resource.PropertyMap, k resource.PropertyKey) (resource.PropertyValue, bool) {
	v, ok := m[k]
	if !ok || v.IsNull() {
		return resource.PropertyValue{}, false
	}
	if inner, _ := Unsecret(v); inner.IsNull() {
		return resource.PropertyValue{}, false
	}
	return v, true
}

// Unknown tells whether v is, or holds, a value not known yet (a preview's unknown).
func Unknown(v resource.PropertyValue) bool { return v.ContainsUnknowns() }

// AsInt reads a known whole number.
func AsInt(v resource.PropertyValue) (int64, error) {
	v, _ = Unsecret(v)
	if !v.IsNumber() {
		return 0, fmt.Errorf("must be a number, not %s", v.TypeString())
	}
	f := v.NumberValue()
	if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("must be a whole number, not %v", f)
	}
	return int64(f), nil
}

// AsBool reads a known boolean.
func AsBool(v resource.PropertyValue) (bool, error) {
	v, _ = Unsecret(v)
	if !v.IsBool() {
		return false, fmt.Errorf("must be a boolean, not %s", v.TypeString())
	}
	return v.BoolValue(), nil
}

// AsString reads a known string.
func AsString(v resource.PropertyValue) (string, error) {
	v, _ = Unsecret(v)
	if !v.IsString() {
		return "", fmt.Errorf("must be a string, not %s", v.TypeString())
	}
	return v.StringValue(), nil
}

// Ignored tells whether key itself is named in an ignoreChanges list. The engine has already put the
// old values in place of ignored paths in the new inputs; a nested path (keepers.x) is handled that way.
func Ignored(key resource.PropertyKey, ignoreChanges []string) bool {
	for _, p := range ignoreChanges {
		if p == string(key) {
			return true
		}
	}
	return false
}

package main

import (
	"fmt"
	"math"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// plain returns v without secret markers, at any depth, so that two values compare by content: a
// change of secretness alone is no change of the resource.
func plain(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsArray():
		in := v.ArrayValue()
		out := make([]resource.PropertyValue, len(in))
		for i, e := range in {
			out[i] = plain(e)
		}
		return resource.NewArrayProperty(out)
	case v.IsObject():
		out := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			out[k] = plain(e)
		}
		return resource.NewObjectProperty(out)
	}
	return v
}

// unsecret strips the outer secret markers of v and tells whether there were any.
func unsecret(v resource.PropertyValue) (resource.PropertyValue, bool) {
	secret := false
	for v.IsSecret() {
		secret = true
		v = v.SecretValue().Element
	}
	return v, secret
}

// secretIf wraps v as a secret when secret is true.
func secretIf(v resource.PropertyValue, secret bool) resource.PropertyValue {
	if secret && !v.IsSecret() {
		return resource.MakeSecret(v)
	}
	return v
}

// present tells whether m holds a non-null value for k.
func present(m resource.PropertyMap, k resource.PropertyKey) (resource.PropertyValue, bool) {
	v, ok := m[k]
	if !ok || v.IsNull() {
		return resource.PropertyValue{}, false
	}
	if inner, _ := unsecret(v); inner.IsNull() {
		return resource.PropertyValue{}, false
	}
	return v, true
}

// unknown tells whether v is, or holds, a value not known yet (a preview's unknown).
func unknown(v resource.PropertyValue) bool { return v.ContainsUnknowns() }

// asInt reads a known whole number.
func asInt(v resource.PropertyValue) (int64, error) {
	v, _ = unsecret(v)
	if !v.IsNumber() {
		return 0, fmt.Errorf("must be a number, not %s", v.TypeString())
	}
	f := v.NumberValue()
	if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("must be a whole number, not %v", f)
	}
	return int64(f), nil
}

// asBool reads a known boolean.
func asBool(v resource.PropertyValue) (bool, error) {
	v, _ = unsecret(v)
	if !v.IsBool() {
		return false, fmt.Errorf("must be a boolean, not %s", v.TypeString())
	}
	return v.BoolValue(), nil
}

// asString reads a known string.
func asString(v resource.PropertyValue) (string, error) {
	v, _ = unsecret(v)
	if !v.IsString() {
		return "", fmt.Errorf("must be a string, not %s", v.TypeString())
	}
	return v.StringValue(), nil
}

// ignored tells whether key itself is named in an ignoreChanges list. The engine has already put the
// old values in place of ignored paths in the new inputs; a nested path (keepers.x) is handled that way.
func ignored(key resource.PropertyKey, ignoreChanges []string) bool {
	for _, p := range ignoreChanges {
		if p == string(key) {
			return true
		}
	}
	return false
}

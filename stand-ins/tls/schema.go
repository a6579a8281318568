package main

import (
	"fmt"
	"regexp"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"

	"dso-registry/engine/providerkit"
)

// kind is the type of an input property.
type kind int

const (
	kString kind = iota
	kInt
	kBool
	kStringList
	kSubject
)

// field describes one input property of a resource.
type field struct {
	key      resource.PropertyKey
	kind     kind
	required bool
	// def is filled in by Check when the program gives no value (upstream's Default).
	def *resource.PropertyValue
	// secret inputs are secret in the outputs too (upstream Sensitive).
	secret bool
	// update: a change is made in place; every other input forces a replacement (RequiresReplace).
	update bool
	// pemState: replaced only while the state holds a PEM (upstream requireReplaceIfStateContainsPEMString).
	pemState bool
	// validate checks a known value, secret markers removed.
	validate func(resource.PropertyValue) error
}

// unsupported are inputs of @pulumi/tls 5.6.1 this stand-in does not implement: write-only keys.
var unsupported = map[resource.PropertyKey]bool{
	"privateKeyPemWo": true, "privateKeyPemWoVersion": true,
	"caPrivateKeyPemWo": true, "caPrivateKeyPemWoVersion": true,
}

func defaultOf(v resource.PropertyValue) *resource.PropertyValue { return &v }

// Subject fields: the Pulumi names of upstream's subject block (common_cert.go, createSubjectDistinguishedNames).
var subjectStrings = []resource.PropertyKey{
	"commonName", "country", "emailAddress", "locality", "organization",
	"organizationalUnit", "postalCode", "province", "serialNumber",
}

const subjectStreet resource.PropertyKey = "streetAddresses"

// checkInputs validates news against fields and returns them with defaults filled in. Secret markers are
// kept; unknown values (preview) pass unchecked.
func checkInputs(typ string, fields []field, news resource.PropertyMap) (resource.PropertyMap, []plugin.CheckFailure) {
	var failures []plugin.CheckFailure
	fail := func(k resource.PropertyKey, format string, args ...any) {
		failures = append(failures, plugin.CheckFailure{Property: k, Reason: fmt.Sprintf(format, args...)})
	}
	byKey := map[resource.PropertyKey]field{}
	for _, f := range fields {
		byKey[f.key] = f
	}
	for _, k := range news.StableKeys() {
		if _, ok := byKey[k]; ok {
			continue
		}
		if unsupported[k] {
			if _, given := providerkit.Present(news, k); given {
				fail(k, "%s: %q (write-only key) is not implemented by this stand-in provider", typ, k)
			}
			continue
		}
		fail(k, "%s has no input property %q", typ, k)
	}

	out := resource.PropertyMap{}
	for _, f := range fields {
		v, ok := providerkit.Present(news, f.key)
		if !ok {
			switch {
			case f.required:
				fail(f.key, "missing required property '%s'", f.key)
			case f.def != nil:
				out[f.key] = *f.def
			}
			continue
		}
		if f.kind == kSubject {
			v = dropNullSubjectFields(v)
		}
		out[f.key] = v
		if providerkit.Unknown(v) && !(f.kind == kStringList || f.kind == kSubject) {
			continue
		}
		if err := checkKind(f.kind, v); err != nil {
			fail(f.key, "%s %v", f.key, err)
			continue
		}
		if f.validate != nil && !providerkit.Unknown(v) {
			inner, _ := providerkit.Unsecret(v)
			if err := f.validate(providerkit.Plain(inner)); err != nil {
				fail(f.key, "%s %v", f.key, err)
			}
		}
	}
	return out, failures
}

// checkKind checks the known parts of v against k.
func checkKind(k kind, v resource.PropertyValue) error {
	if providerkit.Unknown(v) && (v.IsComputed() || v.IsOutput()) {
		return nil
	}
	var err error
	switch k {
	case kString:
		_, err = providerkit.AsString(v)
	case kInt:
		_, err = providerkit.AsInt(v)
	case kBool:
		_, err = providerkit.AsBool(v)
	case kStringList:
		return checkStringList(v)
	case kSubject:
		inner, _ := providerkit.Unsecret(v)
		if !inner.IsObject() {
			return fmt.Errorf("must be an object, not %s", inner.TypeString())
		}
		allowed := map[resource.PropertyKey]bool{subjectStreet: true}
		for _, s := range subjectStrings {
			allowed[s] = true
		}
		for sk, sv := range inner.ObjectValue() {
			switch {
			case !allowed[sk]:
				return fmt.Errorf("has no field %q", sk)
			case providerkit.Unknown(sv) && (sv.IsComputed() || sv.IsOutput()):
			case sk == subjectStreet:
				if e := checkStringList(sv); e != nil {
					return fmt.Errorf("%s %v", sk, e)
				}
			default:
				if _, e := providerkit.AsString(sv); e != nil {
					return fmt.Errorf("%s %v", sk, e)
				}
			}
		}
	}
	return err
}

func checkStringList(v resource.PropertyValue) error {
	inner, _ := providerkit.Unsecret(v)
	if !inner.IsArray() {
		return fmt.Errorf("must be a list of strings, not %s", inner.TypeString())
	}
	for i, e := range inner.ArrayValue() {
		if providerkit.Unknown(e) {
			continue
		}
		if _, err := providerkit.AsString(e); err != nil {
			return fmt.Errorf("[%d] %v", i, err)
		}
	}
	return nil
}

func dropNullSubjectFields(v resource.PropertyValue) resource.PropertyValue {
	inner, secret := providerkit.Unsecret(v)
	if !inner.IsObject() {
		return v
	}
	out := resource.PropertyMap{}
	for k, e := range inner.ObjectValue() {
		if _, ok := providerkit.Present(resource.PropertyMap{k: e}, k); ok {
			out[k] = e
		}
	}
	return providerkit.SecretIf(resource.NewObjectProperty(out), secret)
}

// pemPattern is upstream's test of a PEM string (internal/provider/common.go).
var pemPattern = regexp.MustCompile(`^-----BEGIN [[:alpha:] ]+-----\n(.|\s)+\n-----END [[:alpha:] ]+-----\n?$`)

// diffInputs compares new (checked) inputs with the old state, field by field.
func diffInputs(fields []field, olds, news resource.PropertyMap, ignoreChanges []string) map[string]plugin.PropertyDiff {
	detailed := map[string]plugin.PropertyDiff{}
	for _, f := range fields {
		if providerkit.Ignored(f.key, ignoreChanges) {
			continue
		}
		o, hasOld := providerkit.Present(olds, f.key)
		n, hasNew := providerkit.Present(news, f.key)
		if !hasOld && !hasNew {
			continue
		}
		if hasOld && hasNew && !providerkit.Unknown(n) && providerkit.Plain(o).DeepEquals(providerkit.Plain(n)) {
			continue
		}
		var k plugin.DiffKind
		switch {
		case !hasOld:
			k = plugin.DiffAdd
		case !hasNew:
			k = plugin.DiffDelete
		default:
			k = plugin.DiffUpdate
		}
		replace := !f.update
		if f.pemState && hasOld && hasNew {
			// Upstream replaces only when the old value is a PEM (old states held a hash instead).
			s, err := providerkit.AsString(o)
			replace = err == nil && pemPattern.MatchString(s)
		}
		if replace {
			k = k.AsReplace()
		}
		detailed[string(f.key)] = plugin.PropertyDiff{Kind: k}
	}
	return detailed
}

// diffResult turns a detailed diff into the engine's answer.
func diffResult(detailed map[string]plugin.PropertyDiff) plugin.DiffResult {
	if len(detailed) == 0 {
		return plugin.DiffResult{Changes: plugin.DiffNone}
	}
	var replaces []resource.PropertyKey
	for k, d := range detailed {
		if d.Kind.IsReplace() {
			replaces = append(replaces, resource.PropertyKey(k))
		}
	}
	return plugin.DiffResult{Changes: plugin.DiffSome, ReplaceKeys: replaces, DetailedDiff: detailed}
}

// oldState is what a diff compares with: the state (it holds every input, defaults included), or the
// old inputs where the state has no value.
func oldState(fields []field, oldInputs, oldOutputs resource.PropertyMap) resource.PropertyMap {
	olds := resource.PropertyMap{}
	for _, f := range fields {
		if v, ok := providerkit.Present(oldOutputs, f.key); ok {
			olds[f.key] = v
		} else if v, ok := providerkit.Present(oldInputs, f.key); ok {
			olds[f.key] = v
		}
	}
	return olds
}

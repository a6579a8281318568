package main

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"golang.org/x/crypto/bcrypt"
)

func num(f float64) resource.PropertyValue                   { return resource.NewNumberProperty(f) }
func str(s string) resource.PropertyValue                    { return resource.NewStringProperty(s) }
func boolean(b bool) resource.PropertyValue                  { return resource.NewBoolProperty(b) }
func secret(v resource.PropertyValue) resource.PropertyValue { return resource.MakeSecret(v) }
func unknownValue() resource.PropertyValue {
	return resource.MakeComputed(resource.NewStringProperty(""))
}
func obj(m resource.PropertyMap) resource.PropertyValue { return resource.NewObjectProperty(m) }

// The bridge's Check for a Plugin Framework provider returns the inputs as given (pkg/pf/tfbridge/
// provider_check.go): the stored inputs hold no Terraform default. The plan fills them in.
func TestCheckStoresOnlyGivenInputs(t *testing.T) {
	in := resource.PropertyMap{"length": num(40), "special": boolean(false)}
	out, failures := checkPassword(in)
	if len(failures) != 0 {
		t.Fatalf("unexpected failures: %v", failures)
	}
	if !out.DeepEquals(in) {
		t.Fatalf("checked inputs\n got %v\nwant %v", out, in)
	}
}

func TestPlanFillsUpstreamDefaults(t *testing.T) {
	out := passwordDefaults(resource.PropertyMap{"length": num(40), "special": boolean(false)})
	want := resource.PropertyMap{
		"length": num(40), "special": boolean(false), "upper": boolean(true), "lower": boolean(true),
		"numeric": boolean(true), "number": boolean(true),
		"minUpper": num(0), "minLower": num(0), "minNumeric": num(0), "minSpecial": num(0),
	}
	if !out.DeepEquals(want) {
		t.Fatalf("planned inputs\n got %v\nwant %v", out, want)
	}
}

func TestPlanKeepsNumberAndNumericEqual(t *testing.T) {
	cases := []struct {
		name string
		in   resource.PropertyMap
		want bool
	}{
		{"numeric only", resource.PropertyMap{"length": num(8), "numeric": boolean(false)}, false},
		{"deprecated number only", resource.PropertyMap{"length": num(8), "number": boolean(false)}, false},
		{"both agree", resource.PropertyMap{"length": num(8), "number": boolean(false), "numeric": boolean(false)}, false},
		{"neither", resource.PropertyMap{"length": num(8)}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, failures := checkPassword(c.in); len(failures) != 0 {
				t.Fatalf("unexpected failures: %v", failures)
			}
			out := passwordDefaults(c.in)
			for _, k := range []resource.PropertyKey{"number", "numeric"} {
				if !out[k].DeepEquals(boolean(c.want)) {
					t.Errorf("%s = %v, want %v", k, out[k], c.want)
				}
			}
		})
	}
}

func TestCheckFailures(t *testing.T) {
	cases := []struct {
		name     string
		in       resource.PropertyMap
		property resource.PropertyKey
		reason   string
	}{
		{"length missing", resource.PropertyMap{"special": boolean(false)}, "length", "missing required property"},
		{"length zero", resource.PropertyMap{"length": num(0)}, "length", "at least 1"},
		{"length fractional", resource.PropertyMap{"length": num(2.5)}, "length", "whole number"},
		{"length a string", resource.PropertyMap{"length": str("40")}, "length", "must be a number"},
		{"minimums exceed length", resource.PropertyMap{"length": num(3), "minUpper": num(2), "minNumeric": num(2)}, "length", "at least minUpper"},
		{"negative minimum", resource.PropertyMap{"length": num(3), "minLower": num(-1)}, "minLower", "negative"},
		{"number and numeric disagree", resource.PropertyMap{"length": num(3), "number": boolean(true), "numeric": boolean(false)}, "number", "different values"},
		{"no character class", resource.PropertyMap{
			"length": num(3), "special": boolean(false), "upper": boolean(false), "lower": boolean(false), "numeric": boolean(false),
		}, "numeric", "at least one of"},
		{"unknown property", resource.PropertyMap{"length": num(3), "lenght": num(4)}, "lenght", "no input property"},
		{"keepers not a map", resource.PropertyMap{"length": num(3), "keepers": str("x")}, "keepers", "map of strings"},
		{"keepers value an array", resource.PropertyMap{"length": num(3), "keepers": obj(resource.PropertyMap{"a": resource.NewArrayProperty(nil)})}, "keepers", "must be a string"},
		{"special not a boolean", resource.PropertyMap{"length": num(3), "special": str("no")}, "special", "must be a boolean"},
		{"overrideSpecial not a string", resource.PropertyMap{"length": num(3), "overrideSpecial": num(1)}, "overrideSpecial", "must be a string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, failures := checkPassword(c.in)
			for _, f := range failures {
				if f.Property == c.property && strings.Contains(f.Reason, c.reason) {
					return
				}
			}
			t.Fatalf("want a failure on %q containing %q, got %v", c.property, c.reason, failures)
		})
	}
}

func TestCheckLeavesUnknownsAlone(t *testing.T) {
	in := resource.PropertyMap{
		"length":  unknownValue(),
		"keepers": obj(resource.PropertyMap{"username": str("ci"), "rotation": unknownValue()}),
		"special": unknownValue(),
	}
	out, failures := checkPassword(in)
	if len(failures) != 0 {
		t.Fatalf("unknowns must not fail Check: %v", failures)
	}
	if !out["length"].IsComputed() || !out["special"].IsComputed() {
		t.Fatalf("unknown inputs must stay unknown: %v", out)
	}
	if !out["keepers"].ObjectValue()["rotation"].IsComputed() {
		t.Fatalf("unknown keeper must stay unknown: %v", out["keepers"])
	}
}

func TestPlanKeepsSecretsAndNormalizesKeepers(t *testing.T) {
	in := resource.PropertyMap{
		"length": secret(num(12)),
		"keepers": obj(resource.PropertyMap{
			"username": secret(str("ci")), "gone": resource.NewNullProperty(), "n": num(3), "b": boolean(true),
		}),
	}
	checked, failures := checkPassword(in)
	if len(failures) != 0 {
		t.Fatalf("unexpected failures: %v", failures)
	}
	if !checked.DeepEquals(in) {
		t.Errorf("Check must return the keepers as given: %v", checked)
	}
	out := passwordDefaults(checked)
	if !out["length"].IsSecret() {
		t.Errorf("a secret input must stay secret, got %v", out["length"])
	}
	keepers := out["keepers"].ObjectValue()
	if !keepers["username"].IsSecret() {
		t.Errorf("a secret keeper must stay secret, got %v", keepers["username"])
	}
	if _, ok := keepers["gone"]; ok {
		t.Errorf("a null keeper must be dropped: %v", keepers)
	}
	if !keepers["n"].DeepEquals(str("3")) || !keepers["b"].DeepEquals(str("true")) {
		t.Errorf("keepers must be strings: %v", keepers)
	}

	out = passwordDefaults(resource.PropertyMap{"length": num(3), "keepers": obj(resource.PropertyMap{"x": resource.NewNullProperty()})})
	if _, ok := out["keepers"]; ok {
		t.Errorf("keepers with only null values must be dropped: %v", out)
	}
}

// created returns the state Create makes for inputs, as the old state of a diff.
func created(t *testing.T, in resource.PropertyMap) resource.PropertyMap {
	t.Helper()
	checked, failures := checkPassword(in)
	if len(failures) != 0 {
		t.Fatalf("check: %v", failures)
	}
	p, err := readParams(passwordDefaults(checked))
	if err != nil {
		t.Fatal(err)
	}
	result, err := generatePassword(p)
	if err != nil {
		t.Fatal(err)
	}
	out := passwordDefaults(checked)
	out[pResult] = secret(str(result))
	out[pBcryptHash] = secret(str("$2a$10$notcheckedhere"))
	return bridgeState(out)
}

func TestDiffRules(t *testing.T) {
	base := resource.PropertyMap{
		"length": num(40), "special": boolean(false),
		"keepers": obj(resource.PropertyMap{"username": str("ci"), "rotation": str("2024-01")}),
	}
	with := func(changes resource.PropertyMap, drop ...resource.PropertyKey) resource.PropertyMap {
		m := base.Copy()
		for k, v := range changes {
			m[k] = v
		}
		for _, k := range drop {
			delete(m, k)
		}
		return m
	}
	cases := []struct {
		name    string
		old     resource.PropertyMap
		new     resource.PropertyMap
		ignore  []string
		changes plugin.DiffChanges
		want    map[string]plugin.DiffKind
	}{
		{"no change", base, base, nil, plugin.DiffNone, nil},
		{"only secretness changes", base, with(resource.PropertyMap{"length": secret(num(40))}), nil, plugin.DiffNone, nil},
		{"defaults written out are no change", base, with(resource.PropertyMap{"upper": boolean(true), "minLower": num(0)}), nil, plugin.DiffNone, nil},
		{"number renamed numeric", with(resource.PropertyMap{"number": boolean(false)}), with(resource.PropertyMap{"numeric": boolean(false)}), nil, plugin.DiffNone, nil},
		{"keeper changes", base, with(resource.PropertyMap{"keepers": obj(resource.PropertyMap{"username": str("ci"), "rotation": str("2024-02")})}),
			nil, plugin.DiffSome, map[string]plugin.DiffKind{"keepers": plugin.DiffUpdateReplace}},
		{"keeper with a null value added", base, with(resource.PropertyMap{"keepers": obj(resource.PropertyMap{
			"username": str("ci"), "rotation": str("2024-01"), "later": resource.NewNullProperty(),
		})}), nil, plugin.DiffNone, nil},
		{"keepers removed", base, with(nil, "keepers"), nil, plugin.DiffSome, map[string]plugin.DiffKind{"keepers": plugin.DiffDeleteReplace}},
		{"keepers added", with(nil, "keepers"), base, nil, plugin.DiffSome, map[string]plugin.DiffKind{"keepers": plugin.DiffAddReplace}},
		{"keeper not known yet", base, with(resource.PropertyMap{"keepers": obj(resource.PropertyMap{"username": str("ci"), "rotation": unknownValue()})}),
			nil, plugin.DiffSome, map[string]plugin.DiffKind{"keepers": plugin.DiffUpdateReplace}},
		{"length changes", base, with(resource.PropertyMap{"length": num(41)}), nil, plugin.DiffSome, map[string]plugin.DiffKind{"length": plugin.DiffUpdateReplace}},
		{"length not known yet", base, with(resource.PropertyMap{"length": unknownValue()}), nil, plugin.DiffSome, map[string]plugin.DiffKind{"length": plugin.DiffUpdateReplace}},
		{"special back to its default", base, with(nil, "special"), nil, plugin.DiffSome, map[string]plugin.DiffKind{"special": plugin.DiffUpdateReplace}},
		{"minimum set", base, with(resource.PropertyMap{"minNumeric": num(2)}), nil, plugin.DiffSome, map[string]plugin.DiffKind{"minNumeric": plugin.DiffUpdateReplace}},
		{"numeric off", base, with(resource.PropertyMap{"numeric": boolean(false)}), nil, plugin.DiffSome,
			map[string]plugin.DiffKind{"numeric": plugin.DiffUpdateReplace, "number": plugin.DiffUpdateReplace}},
		{"overrideSpecial set", base, with(resource.PropertyMap{"overrideSpecial": str("_")}), nil, plugin.DiffSome,
			map[string]plugin.DiffKind{"overrideSpecial": plugin.DiffAddReplace}},
		{"overrideSpecial unset to empty", base, with(resource.PropertyMap{"overrideSpecial": str("")}), nil, plugin.DiffSome,
			map[string]plugin.DiffKind{"overrideSpecial": plugin.DiffAddReplace}},
		{"overrideSpecial empty to unset updates", with(resource.PropertyMap{"overrideSpecial": str("")}), base, nil, plugin.DiffSome,
			map[string]plugin.DiffKind{"overrideSpecial": plugin.DiffDelete}},
		{"overrideSpecial not known yet updates", base, with(resource.PropertyMap{"overrideSpecial": unknownValue()}), nil, plugin.DiffSome,
			map[string]plugin.DiffKind{"overrideSpecial": plugin.DiffUpdate}},
		{"ignored change", base, with(resource.PropertyMap{"length": num(41)}), []string{"length"}, plugin.DiffNone, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			olds := created(t, c.old)
			news, failures := checkPassword(c.new)
			if len(failures) != 0 {
				t.Fatalf("check: %v", failures)
			}
			d := planDiff(nil, olds, news, c.ignore)
			if d.Changes != c.changes {
				t.Fatalf("changes = %v, want %v (detail %v)", d.Changes, c.changes, d.DetailedDiff)
			}
			if len(d.DetailedDiff) != len(c.want) {
				t.Fatalf("detailed diff = %v, want %v", d.DetailedDiff, c.want)
			}
			wantReplace := false
			for k, kind := range c.want {
				got, ok := d.DetailedDiff[k]
				if !ok || got.Kind != kind {
					t.Errorf("%s: got %v, want %v", k, got.Kind, kind)
				}
				wantReplace = wantReplace || kind.IsReplace()
			}
			if d.Replace() != wantReplace {
				t.Errorf("Replace() = %v, want %v (replace keys %v)", d.Replace(), wantReplace, d.ReplaceKeys)
			}
			for _, k := range d.ReplaceKeys {
				if !c.want[string(k)].IsReplace() {
					t.Errorf("replace key %s is not a replacement", k)
				}
			}
		})
	}
}

func TestGeneratedPasswordsObeyTheirSettings(t *testing.T) {
	cases := []struct {
		name string
		p    passwordParams
	}{
		{"program's setting", passwordParams{length: 40, upper: true, lower: true, numeric: true}},
		{"upstream defaults", passwordParams{length: 16, special: true, upper: true, lower: true, numeric: true}},
		{"minimums", passwordParams{length: 12, special: true, upper: true, lower: true, numeric: true, minUpper: 3, minLower: 3, minNumeric: 3, minSpecial: 3}},
		{"digits only", passwordParams{length: 30, numeric: true}},
		{"override special", passwordParams{length: 30, special: true, overrideSpecial: "_~", minSpecial: 5}},
		{"minimum of a class that is off", passwordParams{length: 10, lower: true, minNumeric: 4}},
		{"length one", passwordParams{length: 1, upper: true}},
		{"multibyte override", passwordParams{length: 20, special: true, lower: true, overrideSpecial: "€ß", minSpecial: 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			special := defaultSpecial
			if c.p.overrideSpecial != "" {
				special = c.p.overrideSpecial
			}
			allowed := ""
			if c.p.upper || c.p.minUpper > 0 {
				allowed += upperChars
			}
			if c.p.lower || c.p.minLower > 0 {
				allowed += lowerChars
			}
			if c.p.numeric || c.p.minNumeric > 0 {
				allowed += numericChars
			}
			if c.p.special || c.p.minSpecial > 0 {
				allowed += special
			}
			seen := map[string]bool{}
			for i := 0; i < 200; i++ {
				pw, err := generatePassword(c.p)
				if err != nil {
					t.Fatal(err)
				}
				seen[pw] = true
				if n := utf8.RuneCountInString(pw); int64(n) != c.p.length {
					t.Fatalf("%q has %d characters, want %d", pw, n, c.p.length)
				}
				counts := map[string]int64{}
				for _, r := range pw {
					if !strings.ContainsRune(allowed, r) {
						t.Fatalf("%q holds %q, outside %q", pw, r, allowed)
					}
					for _, set := range []string{upperChars, lowerChars, numericChars, special} {
						if strings.ContainsRune(set, r) {
							counts[set]++
						}
					}
				}
				for set, min := range map[string]int64{upperChars: c.p.minUpper, lowerChars: c.p.minLower, numericChars: c.p.minNumeric, special: c.p.minSpecial} {
					if counts[set] < min {
						t.Fatalf("%q has %d of %q, want at least %d", pw, counts[set], set, min)
					}
				}
			}
			if c.p.length >= 8 && len(seen) < 190 {
				t.Fatalf("only %d distinct passwords out of 200", len(seen))
			}
		})
	}
}

func TestGenerateRefusesImpossibleSettings(t *testing.T) {
	if _, err := generatePassword(passwordParams{length: 5}); err == nil {
		t.Error("an empty character set must fail")
	}
	if _, err := generatePassword(passwordParams{length: 2, upper: true, minUpper: 3}); err == nil {
		t.Error("minimums longer than the password must fail")
	}
}

func TestBcryptHashMatchesAndTruncatesAt72Bytes(t *testing.T) {
	for _, pw := range []string{"short", strings.Repeat("a", 72) + "tail-ignored"} {
		h, err := bcryptHash(pw)
		if err != nil {
			t.Fatal(err)
		}
		cost, err := bcrypt.Cost([]byte(h))
		if err != nil || cost != bcrypt.DefaultCost {
			t.Fatalf("cost = %d (%v), want %d", cost, err, bcrypt.DefaultCost)
		}
		b := []byte(pw)
		if len(b) > 72 {
			b = b[:72]
		}
		if err := bcrypt.CompareHashAndPassword([]byte(h), b); err != nil {
			t.Fatalf("hash of %q does not match: %v", pw, err)
		}
		if bcrypt.CompareHashAndPassword([]byte(h), []byte("other")) == nil {
			t.Fatal("hash matches another password")
		}
	}
}

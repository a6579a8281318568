package main

// RandomPassword, after upstream hashicorp/terraform-provider-random:
//   - schema, defaults, replacement rules: internal/provider/resource_password.go (passwordSchemaV3)
//   - keepers replacement: internal/planmodifiers/map/mapplanmodifiers.go (RequiresReplaceIfValuesNotNull)
//   - number/numeric kept equal: internal/planmodifiers/bool/boolplanmodifiers.go
//   - overrideSpecial "" -> null updates in place: internal/planmodifiers/string/stringplanmodifier.go
//   - at least one class true: internal/validators/boolvalidator.go (AtLeastOneOfTrue)
//   - generation: internal/random/string.go (CreateString)
//   - bcrypt of the first 72 bytes, default cost, id "none", import: internal/provider/resource_password.go
// Pulumi property names (camelCase) and secret outputs (result, bcryptHash) are those of pulumi/pulumi-random's
// schema (provider/cmd/pulumi-resource-random/schema.json).

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"golang.org/x/crypto/bcrypt"

	"dso-registry/engine/providerkit"
)

const passwordType = "random:index/randomPassword:RandomPassword"

// Input properties of RandomPassword. Every one of them is ForceNew upstream.
const (
	pKeepers         resource.PropertyKey = "keepers"
	pLength          resource.PropertyKey = "length"
	pSpecial         resource.PropertyKey = "special"
	pUpper           resource.PropertyKey = "upper"
	pLower           resource.PropertyKey = "lower"
	pNumeric         resource.PropertyKey = "numeric"
	pNumber          resource.PropertyKey = "number" // deprecated alias of numeric
	pMinUpper        resource.PropertyKey = "minUpper"
	pMinLower        resource.PropertyKey = "minLower"
	pMinNumeric      resource.PropertyKey = "minNumeric"
	pMinSpecial      resource.PropertyKey = "minSpecial"
	pOverrideSpecial resource.PropertyKey = "overrideSpecial"

	// Outputs only.
	pResult     resource.PropertyKey = "result"
	pBcryptHash resource.PropertyKey = "bcryptHash"
	// pMeta is the Terraform bridge's record of the state's schema version, in every state it writes.
	pMeta resource.PropertyKey = "__meta"
)

var passwordInputs = []resource.PropertyKey{
	pKeepers, pLength, pLower, pMinLower, pMinNumeric, pMinSpecial, pMinUpper,
	pNumber, pNumeric, pOverrideSpecial, pSpecial, pUpper,
}

var (
	classFlags = []resource.PropertyKey{pSpecial, pUpper, pLower}
	minimums   = []resource.PropertyKey{pMinUpper, pMinLower, pMinNumeric, pMinSpecial}
)

// Character sets of internal/random/string.go.
const (
	numericChars   = "0123456789"
	lowerChars     = "abcdefghijklmnopqrstuvwxyz"
	upperChars     = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	defaultSpecial = "!@#$%&*()-_=+[]{}<>:?"
)

// checkPassword validates the program's inputs and returns them as given: the bridge's Check for a
// Plugin Framework provider (pulumi-terraform-bridge pkg/pf/tfbridge/provider_check.go) copies the inputs,
// applies the Pulumi-level defaults of the resource's SchemaInfo (RandomPassword has none), validates
// through the provider's ValidateResourceConfig and returns the copy: no Terraform default is filled in and
// keepers are not normalized, so the stored inputs hold only what the program set. The defaults and the
// keepers' normal form are the plan's: passwordDefaults gives them where the provider plans (Create,
// Update, Diff). Values keep their secretness; unknown values (preview) pass unchecked, and so do the rules
// that need them.
func checkPassword(news resource.PropertyMap) (resource.PropertyMap, []plugin.CheckFailure) {
	given := resource.PropertyMap{}
	for _, k := range passwordInputs {
		if v, ok := providerkit.Present(news, k); ok {
			given[k] = v
		}
	}
	_, failures := validatePassword(news)
	return given, failures
}

// passwordDefaults returns the inputs with upstream's schema defaults filled in, as the provider plans
// them into the state: special, upper, lower true; numeric and number each the other's value, else true;
// min* 0; keepers normalized (null values dropped, an empty map null).
func passwordDefaults(in resource.PropertyMap) resource.PropertyMap {
	out, _ := validatePassword(in)
	return out
}

// validatePassword checks the inputs and returns them with the defaults filled in.
func validatePassword(news resource.PropertyMap) (resource.PropertyMap, []plugin.CheckFailure) {
	var failures []plugin.CheckFailure
	fail := func(k resource.PropertyKey, format string, args ...any) {
		failures = append(failures, plugin.CheckFailure{Property: k, Reason: fmt.Sprintf(format, args...)})
	}
	known := map[resource.PropertyKey]bool{}
	for _, k := range passwordInputs {
		known[k] = true
	}
	for _, k := range news.StableKeys() {
		if !known[k] {
			fail(k, "RandomPassword has no input property %q", k)
		}
	}

	out := resource.PropertyMap{}
	for _, k := range passwordInputs {
		if v, ok := providerkit.Present(news, k); ok {
			out[k] = v
		}
	}

	ints := map[resource.PropertyKey]int64{}
	bools := map[resource.PropertyKey]bool{}
	isKnown := func(k resource.PropertyKey) bool { v, ok := out[k]; return ok && !providerkit.Unknown(v) }

	// length: required, at least 1.
	if v, ok := out[pLength]; !ok {
		fail(pLength, "missing required property 'length'")
	} else if !providerkit.Unknown(v) {
		if n, err := providerkit.AsInt(v); err != nil {
			fail(pLength, "length %v", err)
		} else if n < 1 {
			fail(pLength, "length must be at least 1, not %d", n)
		} else {
			ints[pLength] = n
		}
	}

	// Booleans defaulting to true.
	for _, k := range classFlags {
		if _, ok := out[k]; !ok {
			out[k] = resource.NewBoolProperty(true)
		}
		if isKnown(k) {
			if b, err := providerkit.AsBool(out[k]); err != nil {
				fail(k, "%s %v", k, err)
			} else {
				bools[k] = b
			}
		}
	}

	// numeric and its deprecated alias number: equal when both are given; each defaults to the other,
	// both to true.
	for _, k := range []resource.PropertyKey{pNumeric, pNumber} {
		if isKnown(k) {
			if _, err := providerkit.AsBool(out[k]); err != nil {
				fail(k, "%s %v", k, err)
				delete(out, k)
			}
		}
	}
	numeric, hasNumeric := out[pNumeric]
	number, hasNumber := out[pNumber]
	switch {
	case hasNumeric && hasNumber:
		if !providerkit.Unknown(numeric) && !providerkit.Unknown(number) && !providerkit.Plain(numeric).DeepEquals(providerkit.Plain(number)) {
			fail(pNumber, "number and numeric are both set, to different values (number is deprecated: use numeric)")
		}
	case hasNumeric:
		out[pNumber] = numeric
	case hasNumber:
		out[pNumeric] = number
	default:
		out[pNumeric] = resource.NewBoolProperty(true)
		out[pNumber] = resource.NewBoolProperty(true)
	}
	if isKnown(pNumeric) {
		if b, err := providerkit.AsBool(out[pNumeric]); err == nil {
			bools[pNumeric] = b
		}
	}

	// Minimums default to 0 and are never negative.
	for _, k := range minimums {
		if _, ok := out[k]; !ok {
			out[k] = resource.NewNumberProperty(0)
		}
		if isKnown(k) {
			if n, err := providerkit.AsInt(out[k]); err != nil {
				fail(k, "%s %v", k, err)
			} else if n < 0 {
				fail(k, "%s must not be negative, not %d", k, n)
			} else {
				ints[k] = n
			}
		}
	}

	if isKnown(pOverrideSpecial) {
		if _, err := providerkit.AsString(out[pOverrideSpecial]); err != nil {
			fail(pOverrideSpecial, "overrideSpecial %v", err)
		}
	}

	// keepers: checked when known as a whole, even if some of its values are not known yet.
	if v, ok := out[pKeepers]; ok && (!providerkit.Unknown(v) || isObject(v)) {
		keepers, err := normalizeKeepers(v)
		if err != nil {
			fail(pKeepers, "keepers %v", err)
		} else if keepers.IsNull() {
			delete(out, pKeepers)
		} else {
			out[pKeepers] = keepers
		}
	}

	// length >= the sum of the minimums (int64validator.AtLeastSumOf upstream).
	if _, ok := ints[pLength]; ok {
		sum, all := int64(0), true
		for _, k := range minimums {
			n, ok := ints[k]
			all = all && ok
			sum += n
		}
		if all && ints[pLength] < sum {
			fail(pLength, "length (%d) must be at least minUpper + minLower + minNumeric + minSpecial (%d)", ints[pLength], sum)
		}
	}

	// At least one character class must be on.
	if len(bools) == 4 && !bools[pSpecial] && !bools[pUpper] && !bools[pLower] && !bools[pNumeric] {
		fail(pNumeric, "at least one of special, upper, lower and numeric must be true")
	}

	return out, failures
}

// normalizeKeepers turns keepers into a map of strings: keys with null values are dropped (upstream never
// replaces for them), a map left empty becomes null, numbers and booleans become strings as the bridge
// would make them. Secret or unknown values are kept as they are.
func normalizeKeepers(v resource.PropertyValue) (resource.PropertyValue, error) {
	obj, secret := providerkit.Unsecret(v)
	if !obj.IsObject() {
		return v, fmt.Errorf("must be a map of strings, not %s", obj.TypeString())
	}
	out := resource.PropertyMap{}
	for k, e := range obj.ObjectValue() {
		inner, s := providerkit.Unsecret(e)
		switch {
		case inner.IsNull():
			continue
		case providerkit.Unknown(inner), inner.IsString():
			out[k] = e
		case inner.IsNumber():
			out[k] = providerkit.SecretIf(resource.NewStringProperty(strconv.FormatFloat(inner.NumberValue(), 'f', -1, 64)), s)
		case inner.IsBool():
			out[k] = providerkit.SecretIf(resource.NewStringProperty(strconv.FormatBool(inner.BoolValue())), s)
		default:
			return v, fmt.Errorf("value %q must be a string, not %s", k, inner.TypeString())
		}
	}
	if len(out) == 0 {
		return resource.NewNullProperty(), nil
	}
	return providerkit.SecretIf(resource.NewObjectProperty(out), secret), nil
}

// diffPassword compares the new (checked) inputs with the old state. Every input forces a replacement,
// but for overrideSpecial going from "" to unset, and an overrideSpecial not known yet, which upstream
// plans as an update (RequiresReplaceUnlessEmptyStringToNull).
func diffPassword(olds, news resource.PropertyMap, ignoreChanges []string) plugin.DiffResult {
	detailed := map[string]plugin.PropertyDiff{}
	var replaces []resource.PropertyKey
	for _, k := range passwordInputs {
		if providerkit.Ignored(k, ignoreChanges) {
			continue
		}
		o, hasOld := providerkit.Present(olds, k)
		n, hasNew := providerkit.Present(news, k)
		if k == pKeepers {
			o, hasOld = keepersForDiff(o, hasOld)
			n, hasNew = keepersForDiff(n, hasNew)
		}
		if !hasOld && !hasNew {
			continue
		}
		if hasOld && hasNew && !providerkit.Unknown(n) && providerkit.Plain(o).DeepEquals(providerkit.Plain(n)) {
			continue
		}
		var kind plugin.DiffKind
		switch {
		case !hasOld:
			kind = plugin.DiffAddReplace
		case !hasNew:
			kind = plugin.DiffDeleteReplace
		default:
			kind = plugin.DiffUpdateReplace
		}
		if k == pOverrideSpecial {
			if !hasNew && providerkit.Plain(o).DeepEquals(resource.NewStringProperty("")) {
				kind = plugin.DiffDelete
			} else if hasNew && providerkit.Unknown(n) {
				kind = plugin.DiffUpdate
			}
		}
		detailed[string(k)] = plugin.PropertyDiff{Kind: kind, InputDiff: false}
		if kind.IsReplace() {
			replaces = append(replaces, k)
		}
	}
	if len(detailed) == 0 {
		return plugin.DiffResult{Changes: plugin.DiffNone}
	}
	return plugin.DiffResult{Changes: plugin.DiffSome, ReplaceKeys: replaces, DetailedDiff: detailed}
}

func isObject(v resource.PropertyValue) bool {
	inner, _ := providerkit.Unsecret(v)
	return inner.IsObject()
}

func keepersForDiff(v resource.PropertyValue, has bool) (resource.PropertyValue, bool) {
	if !has || !isObject(v) {
		return v, has
	}
	n, err := normalizeKeepers(v)
	if err != nil {
		return v, has
	}
	return n, !n.IsNull()
}

// passwordParams are the generation settings read from checked, known inputs.
type passwordParams struct {
	length                                     int64
	special, upper, lower, numeric             bool
	minUpper, minLower, minNumeric, minSpecial int64
	overrideSpecial                            string
}

func readParams(in resource.PropertyMap) (passwordParams, error) {
	var p passwordParams
	var err error
	getInt := func(k resource.PropertyKey) int64 {
		v, ok := providerkit.Present(in, k)
		if !ok || err != nil {
			return 0
		}
		n, e := providerkit.AsInt(v)
		if e != nil {
			err = fmt.Errorf("%s %w", k, e)
		}
		return n
	}
	getBool := func(k resource.PropertyKey) bool {
		v, ok := providerkit.Present(in, k)
		if !ok || err != nil {
			return true
		}
		b, e := providerkit.AsBool(v)
		if e != nil {
			err = fmt.Errorf("%s %w", k, e)
		}
		return b
	}
	p.length = getInt(pLength)
	p.special, p.upper, p.lower, p.numeric = getBool(pSpecial), getBool(pUpper), getBool(pLower), getBool(pNumeric)
	p.minUpper, p.minLower, p.minNumeric, p.minSpecial = getInt(pMinUpper), getInt(pMinLower), getInt(pMinNumeric), getInt(pMinSpecial)
	if v, ok := providerkit.Present(in, pOverrideSpecial); ok && err == nil {
		p.overrideSpecial, err = providerkit.AsString(v)
	}
	return p, err
}

// generatePassword follows internal/random/string.go: each minimum is drawn from its own set (whether or
// not that class is on, as upstream does), the rest from the union of the classes that are on, and the
// whole is shuffled. A non-empty overrideSpecial replaces the special set.
func generatePassword(p passwordParams) (string, error) {
	special := defaultSpecial
	if p.overrideSpecial != "" {
		special = p.overrideSpecial
	}
	all := ""
	if p.upper {
		all += upperChars
	}
	if p.lower {
		all += lowerChars
	}
	if p.numeric {
		all += numericChars
	}
	if p.special {
		all += special
	}
	if all == "" {
		return "", errors.New("the character set specified is empty")
	}
	rest := p.length - p.minUpper - p.minLower - p.minNumeric - p.minSpecial
	if p.length < 1 || rest < 0 {
		return "", fmt.Errorf("length %d cannot hold the minimums", p.length)
	}
	var out []rune
	for _, part := range []struct {
		set string
		n   int64
	}{{numericChars, p.minNumeric}, {lowerChars, p.minLower}, {upperChars, p.minUpper}, {special, p.minSpecial}, {all, rest}} {
		rs, err := randomRunes(part.set, part.n)
		if err != nil {
			return "", err
		}
		out = append(out, rs...)
	}
	if err := shuffle(out); err != nil {
		return "", err
	}
	return string(out), nil
}

func randomRunes(set string, n int64) ([]rune, error) {
	runes := []rune(set)
	if len(runes) == 0 {
		if n > 0 {
			return nil, errors.New("empty character set")
		}
		return nil, nil
	}
	out := make([]rune, 0, n)
	size := big.NewInt(int64(len(runes)))
	for i := int64(0); i < n; i++ {
		idx, err := rand.Int(rand.Reader, size)
		if err != nil {
			return nil, err
		}
		out = append(out, runes[idx.Int64()])
	}
	return out, nil
}

// shuffle puts rs in a uniformly random order (Fisher-Yates with crypto/rand).
func shuffle(rs []rune) error {
	for i := len(rs) - 1; i > 0; i-- {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return err
		}
		rs[i], rs[j.Int64()] = rs[j.Int64()], rs[i]
	}
	return nil
}

// bcryptHash hashes the first 72 bytes of s (bcrypt's limit) at bcrypt's default cost, as upstream does.
func bcryptHash(s string) (string, error) {
	b := []byte(s)
	if len(b) > 72 {
		b = b[:72]
	}
	h, err := bcrypt.GenerateFromPassword(b, bcrypt.DefaultCost)
	return string(h), err
}

// importedPassword is the state upstream's ImportState makes from an imported password: the id is the
// password, every class on, no minimums.
func importedPassword(result string) (resource.PropertyMap, resource.PropertyMap, error) {
	hash, err := bcryptHash(result)
	if err != nil {
		return nil, nil, err
	}
	inputs := resource.PropertyMap{
		pLength:     resource.NewNumberProperty(float64(len(result))),
		pSpecial:    resource.NewBoolProperty(true),
		pUpper:      resource.NewBoolProperty(true),
		pLower:      resource.NewBoolProperty(true),
		pNumber:     resource.NewBoolProperty(true),
		pNumeric:    resource.NewBoolProperty(true),
		pMinSpecial: resource.NewNumberProperty(0),
		pMinUpper:   resource.NewNumberProperty(0),
		pMinLower:   resource.NewNumberProperty(0),
		pMinNumeric: resource.NewNumberProperty(0),
	}
	outputs := inputs.Copy()
	outputs[pResult] = resource.MakeSecret(resource.NewStringProperty(result))
	outputs[pBcryptHash] = resource.MakeSecret(resource.NewStringProperty(hash))
	return inputs, bridgeState(outputs), nil
}

// passwordSchemaMeta is the bridge's `__meta` for random_password: its schema version 3
// (terraform-provider-random's resource_password.go, SchemaVersion 3). The bridge reads a state without it as
// version 0 and runs the V0→V3 upgrade, which hashes the password anew with a new salt: a stack written
// without it and then refreshed by the real provider would plan new users files and a restart.
var passwordSchemaMeta = resource.NewStringProperty(`{"schema_version":"3"}`)

// Keys of the bridge's own in every state it writes (pulumi-terraform-bridge pkg/reservedkeys/keys.go), and
// the Terraform id, which the bridge keeps among the outputs too.
const (
	pRawStateDelta resource.PropertyKey = "__pulumi_raw_state_delta"
	pID            resource.PropertyKey = "id"
)

// passwordID is upstream's id for every password.
const passwordID = "none"

// bridgeState gives a known state what the bridge adds to every state a Plugin Framework provider returns
// (pkg/pf/tfbridge provider_create.go, provider_read.go, provider_update.go): the Terraform `id`
// attribute, the `__meta` schema record and the raw state delta (insertRawStateDelta, computed by
// pkg/tfbridge/rawstate.go RawStateComputeDelta). The delta says how to rebuild Terraform's raw state from
// the outputs; for random_password it is an object delta whose only entries are the attributes the
// outputs cannot give back: a null attribute (keepers or override_special unset; the bridge's decoder
// leaves null attributes out of the outputs) is recorded as a `replace` with a raw null, which the bridge
// marks secret as it does every replace; keepers, a map, as a map delta with no element deltas (its values
// are strings). Every other attribute of random_password is a string, number or bool whose camelCase name
// maps back to its snake_case one, so it needs no entry. A state with unknowns gets no delta, as upstream.
func bridgeState(outputs resource.PropertyMap) resource.PropertyMap {
	out := outputs.Copy()
	out[pID] = resource.NewStringProperty(passwordID)
	out[pMeta] = passwordSchemaMeta
	if resource.NewObjectProperty(out).ContainsUnknowns() {
		delete(out, pRawStateDelta)
		return out
	}
	nullAttribute := func() resource.PropertyValue {
		return resource.MakeSecret(resource.NewObjectProperty(resource.PropertyMap{
			"replace": resource.NewObjectProperty(resource.PropertyMap{"raw": resource.NewNullProperty()}),
		}))
	}
	deltas := resource.PropertyMap{}
	if _, ok := providerkit.Present(out, pKeepers); ok {
		deltas[pKeepers] = resource.NewObjectProperty(resource.PropertyMap{"map": resource.NewObjectProperty(resource.PropertyMap{})})
	} else {
		deltas[pKeepers] = nullAttribute()
	}
	if _, ok := providerkit.Present(out, pOverrideSpecial); !ok {
		deltas[pOverrideSpecial] = nullAttribute()
	}
	out[pRawStateDelta] = resource.NewObjectProperty(resource.PropertyMap{
		"obj": resource.NewObjectProperty(resource.PropertyMap{"ps": resource.NewObjectProperty(deltas)}),
	})
	return out
}

// sortedKeys is for stable messages.
func sortedKeys(m map[string]plugin.PropertyDiff) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

package providerkit

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

// A recording of a real provider's answers (testdata/real-provider.json in a provider's module): property
// maps as JSON, a secret as {"secret": value}, an unknown as {"unknown": true}, and each value the provider
// generates (a key, a certificate, a password, a time) replaced by a marker in angle brackets that says
// what it was. Decode turns a recorded map into the properties a provider is given; Mismatches compares a
// provider's answer with the recorded one, a marker standing for any value of its shape.

// ReadRecording reads a recording file into v.
func ReadRecording(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Decode turns a recorded property map into properties. `subst` gives the value of a marker string where
// the recording holds one as an input (a PEM another resource made); a marker without one stays a string.
func Decode(recorded map[string]any, subst func(path, marker string) (resource.PropertyValue, bool)) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range recorded {
		out[resource.PropertyKey(k)] = decodeValue(k, v, subst)
	}
	return out
}

func decodeValue(path string, v any, subst func(path, marker string) (resource.PropertyValue, bool)) resource.PropertyValue {
	switch v := v.(type) {
	case nil:
		return resource.NewNullProperty()
	case bool:
		return resource.NewBoolProperty(v)
	case float64:
		return resource.NewNumberProperty(v)
	case string:
		if isMarker(v) && subst != nil {
			if s, ok := subst(path, v); ok {
				return s
			}
		}
		return resource.NewStringProperty(v)
	case []any:
		arr := make([]resource.PropertyValue, len(v))
		for i, e := range v {
			arr[i] = decodeValue(fmt.Sprintf("%s[%d]", path, i), e, subst)
		}
		return resource.NewArrayProperty(arr)
	case map[string]any:
		if inner, ok := single(v, "secret"); ok {
			return resource.MakeSecret(decodeValue(path, inner, subst))
		}
		if inner, ok := single(v, "unknown"); ok && inner == true {
			return resource.MakeComputed(resource.NewStringProperty(""))
		}
		obj := resource.PropertyMap{}
		for k, e := range v {
			obj[resource.PropertyKey(k)] = decodeValue(path+"."+k, e, subst)
		}
		return resource.NewObjectProperty(obj)
	}
	panic(fmt.Sprintf("recording: %s has a value of type %T", path, v))
}

func single(m map[string]any, key string) (any, bool) {
	v, ok := m[key]
	return v, ok && len(m) == 1
}

func isMarker(s string) bool { return strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">") }

// Mismatches lists where got differs from the recorded want, field by field ("path: want …, got …"),
// sorted. Keys missing on either side count; secretness and unknowns count; a marker matches a value of
// the shape it names.
func Mismatches(want map[string]any, got resource.PropertyMap) []string {
	var out []string
	compareMap("", want, got, &out)
	sort.Strings(out)
	return out
}

func compareMap(path string, want map[string]any, got resource.PropertyMap, out *[]string) {
	for k, w := range want {
		g, ok := got[resource.PropertyKey(k)]
		if !ok {
			*out = append(*out, fmt.Sprintf("%s: want %s, got nothing", join(path, k), show(w)))
			continue
		}
		compareValue(join(path, k), w, g, out)
	}
	for k, g := range got {
		if _, ok := want[string(k)]; !ok {
			*out = append(*out, fmt.Sprintf("%s: want nothing, got %v", join(path, string(k)), g))
		}
	}
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func compareValue(path string, want any, got resource.PropertyValue, out *[]string) {
	mismatch := func() { *out = append(*out, fmt.Sprintf("%s: want %s, got %v", path, show(want), got)) }
	if m, ok := want.(map[string]any); ok {
		if inner, ok := single(m, "secret"); ok {
			if !got.IsSecret() {
				mismatch()
				return
			}
			compareValue(path, inner, got.SecretValue().Element, out)
			return
		}
		if inner, ok := single(m, "unknown"); ok && inner == true {
			if !got.IsComputed() && !(got.IsOutput() && !got.OutputValue().Known) {
				mismatch()
			}
			return
		}
	}
	if got.IsSecret() || got.IsComputed() || got.IsOutput() {
		mismatch()
		return
	}
	switch w := want.(type) {
	case nil:
		if !got.IsNull() {
			mismatch()
		}
	case bool:
		if !got.IsBool() || got.BoolValue() != w {
			mismatch()
		}
	case float64:
		if !got.IsNumber() || got.NumberValue() != w {
			mismatch()
		}
	case string:
		if !got.IsString() {
			mismatch()
		} else if isMarker(w) {
			if err := matchMarker(w, got.StringValue()); err != nil {
				*out = append(*out, fmt.Sprintf("%s: %v", path, err))
			}
		} else if got.StringValue() != w {
			mismatch()
		}
	case []any:
		if !got.IsArray() || len(got.ArrayValue()) != len(w) {
			mismatch()
			return
		}
		for i, e := range w {
			compareValue(fmt.Sprintf("%s[%d]", path, i), e, got.ArrayValue()[i], out)
		}
	case map[string]any:
		if !got.IsObject() {
			mismatch()
			return
		}
		compareMap(path, w, got.ObjectValue(), out)
	default:
		mismatch()
	}
}

var (
	pemMarker      = regexp.MustCompile(`^<pem ([A-Z ]+), ends with newline>$`)
	lengthMarker   = regexp.MustCompile(`^<(generated|hex) string of length (\d+)>$`)
	opensshMarker  = regexp.MustCompile(`^<openssh public key ([a-z0-9-]+), ends with newline>$`)
	markerPatterns = map[string]*regexp.Regexp{
		"<bcrypt hash $2a$10$>":                 regexp.MustCompile(`^\$2a\$10\$[./A-Za-z0-9]{53}$`),
		"<decimal serial number>":               regexp.MustCompile(`^[1-9][0-9]*$`),
		"<md5 fingerprint aa:bb:..>":            regexp.MustCompile(`^([0-9a-f]{2}:){15}[0-9a-f]{2}$`),
		"<sha256 fingerprint SHA256:...>":       regexp.MustCompile(`^SHA256:[A-Za-z0-9+/]{43}$`),
		"<rfc3339 time, fractional seconds, Z>": regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$`),
	}
	hexPattern = regexp.MustCompile(`^[0-9a-f]*$`)
)

// matchMarker tells whether s has the shape the marker names.
func matchMarker(marker, s string) error {
	if re, ok := markerPatterns[marker]; ok {
		if !re.MatchString(s) {
			return fmt.Errorf("want %s, got %q", marker, s)
		}
		return nil
	}
	if m := pemMarker.FindStringSubmatch(marker); m != nil {
		begin, end := "-----BEGIN "+m[1]+"-----\n", "-----END "+m[1]+"-----\n"
		if !strings.HasPrefix(s, begin) || !strings.HasSuffix(s, end) {
			return fmt.Errorf("want %s, got %.40q…", marker, s)
		}
		return nil
	}
	if m := opensshMarker.FindStringSubmatch(marker); m != nil {
		if !strings.HasPrefix(s, m[1]+" ") || !strings.HasSuffix(s, "\n") {
			return fmt.Errorf("want %s, got %q", marker, s)
		}
		return nil
	}
	if m := lengthMarker.FindStringSubmatch(marker); m != nil {
		n, _ := strconv.Atoi(m[2])
		if len(s) != n || (m[1] == "hex" && !hexPattern.MatchString(s)) {
			return fmt.Errorf("want %s, got %q", marker, s)
		}
		return nil
	}
	return fmt.Errorf("unknown marker %s", marker)
}

// RecordedCase is one resource of a recording: what the real provider returned for the program's own
// inputs, as the engine stores it.
type RecordedCase struct {
	Type    string         `json:"type"`
	News    map[string]any `json:"news"`
	Checked map[string]any `json:"checked"`
	Preview map[string]any `json:"preview"`
	ID      string         `json:"id"`
	Outputs map[string]any `json:"outputs"`
	Diff    string         `json:"diff"`
	Read    map[string]any `json:"read"`
}

// Inputs gives the value of a marker among a case's recorded inputs (a PEM another case made), from the
// states made so far.
type Inputs func(caseName, path, marker string, made map[string]resource.PropertyMap) (resource.PropertyValue, bool)

// AgreesWithRecording makes p answer the recorded calls (Check; Create in a preview; Create; Diff of the
// state against the same inputs; Read) for each case of the recording at file, in order (every case when
// order is empty), and reports each answer that differs from the recording, field by field.
func AgreesWithRecording(t *testing.T, p plugin.Provider, file string, order []string, inputs Inputs) {
	t.Helper()
	var recording struct {
		Cases map[string]RecordedCase `json:"cases"`
	}
	if err := ReadRecording(file, &recording); err != nil {
		t.Fatal(err)
	}
	if len(order) == 0 {
		for name := range recording.Cases {
			order = append(order, name)
		}
		sort.Strings(order)
	}
	if len(order) != len(recording.Cases) {
		t.Fatalf("the order names %d cases, the recording holds %d", len(order), len(recording.Cases))
	}
	made := map[string]resource.PropertyMap{}
	for _, name := range order {
		c, ok := recording.Cases[name]
		if !ok {
			t.Fatalf("the recording has no case %q", name)
		}
		t.Run(name, func(t *testing.T) {
			ctx, typ := context.Background(), tokens.Type(c.Type)
			urn := resource.NewURN("test", "dso-registry", "", typ, name)
			report := func(call string, mismatches []string) {
				for _, m := range mismatches {
					t.Errorf("%s: %s", call, m)
				}
			}
			var subst func(path, marker string) (resource.PropertyValue, bool)
			if inputs != nil {
				subst = func(path, marker string) (resource.PropertyValue, bool) { return inputs(name, path, marker, made) }
			}
			check, err := p.Check(ctx, plugin.CheckRequest{URN: urn, Type: typ, News: Decode(c.News, subst)})
			if err != nil || len(check.Failures) != 0 {
				t.Fatalf("check: %v %v", err, check.Failures)
			}
			report("check", Mismatches(c.Checked, check.Properties))

			preview, err := p.Create(ctx, plugin.CreateRequest{URN: urn, Type: typ, Properties: check.Properties, Preview: true})
			if err != nil {
				t.Fatal(err)
			}
			report("create (preview)", Mismatches(c.Preview, preview.Properties))

			created, err := p.Create(ctx, plugin.CreateRequest{URN: urn, Type: typ, Properties: check.Properties})
			if err != nil {
				t.Fatal(err)
			}
			made[name] = created.Properties
			report("create's id", Mismatches(map[string]any{"id": c.ID}, resource.PropertyMap{"id": resource.NewStringProperty(string(created.ID))}))
			report("create", Mismatches(c.Outputs, created.Properties))

			diff, err := p.Diff(ctx, plugin.DiffRequest{
				URN: urn, Type: typ, ID: created.ID, OldInputs: check.Properties, OldOutputs: created.Properties, NewInputs: check.Properties,
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]plugin.DiffChanges{"DIFF_NONE": plugin.DiffNone, "DIFF_SOME": plugin.DiffSome}[c.Diff]; diff.Changes != want {
				t.Errorf("diff: %v, want %s", diff.Changes, c.Diff)
			}

			read, err := p.Read(ctx, plugin.ReadRequest{URN: urn, Type: typ, ID: created.ID, Inputs: check.Properties, State: created.Properties})
			if err != nil {
				t.Fatal(err)
			}
			report("read", Mismatches(c.Read, read.Outputs))
		})
	}
}

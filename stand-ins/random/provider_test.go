package main

import (
	"context"
	"strings"
	"testing"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

var testURN = resource.NewURN("test", "dso-registry", "", passwordType, "pw")

func testProvider() *randomProvider { return newProvider(semver.MustParse("4.21.2")) }

func TestCreatePreviewGeneratesNothing(t *testing.T) {
	checked, _ := checkPassword(resource.PropertyMap{"length": num(40), "special": boolean(false)})
	resp, err := testProvider().Create(context.Background(), plugin.CreateRequest{
		URN: testURN, Name: "pw", Type: passwordType, Properties: checked, Preview: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []resource.PropertyKey{pResult, pBcryptHash} {
		if !resp.Properties[k].IsComputed() {
			t.Errorf("%s in a preview = %v, want unknown", k, resp.Properties[k])
		}
	}
	if resp.ID != "" {
		t.Errorf("a preview has no id, got %q", resp.ID)
	}
	if !resp.Properties["length"].DeepEquals(num(40)) {
		t.Errorf("inputs must pass through: %v", resp.Properties)
	}
}

func TestCreateMakesSecretPasswordAndHash(t *testing.T) {
	in := resource.PropertyMap{"length": num(40), "special": boolean(false), "keepers": obj(resource.PropertyMap{"username": secret(str("ci"))})}
	checked, _ := checkPassword(in)
	resp, err := testProvider().Create(context.Background(), plugin.CreateRequest{
		URN: testURN, Name: "pw", Type: passwordType, Properties: checked,
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.ID != "none" {
		t.Errorf("id = %q, want upstream's \"none\"", resp.ID)
	}
	result, hash := resp.Properties[pResult], resp.Properties[pBcryptHash]
	if !result.IsSecret() || !hash.IsSecret() {
		t.Fatalf("result and bcryptHash must be secret: %v %v", result, hash)
	}
	pw := result.SecretValue().Element.StringValue()
	if len(pw) != 40 || strings.ContainsAny(pw, defaultSpecial) {
		t.Fatalf("password %q breaks length 40 / special false", pw)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(hash.SecretValue().Element.StringValue()), []byte(pw)); err != nil {
		t.Fatalf("bcryptHash is not the hash of result: %v", err)
	}
	if !resp.Properties["keepers"].ObjectValue()["username"].IsSecret() {
		t.Errorf("a secret input must stay secret in the outputs")
	}
	if !resp.Properties["upper"].DeepEquals(boolean(true)) {
		t.Errorf("outputs must hold the defaults: %v", resp.Properties)
	}
	// The bridge's schema record: without it the real provider would upgrade the state from version 0 and
	// hash the password anew.
	if meta := resp.Properties["__meta"]; !meta.IsString() || meta.StringValue() != `{"schema_version":"3"}` {
		t.Errorf("__meta = %v, want the bridge's {\"schema_version\":\"3\"}", meta)
	}
}

func TestCreateRefusesUnknownInputs(t *testing.T) {
	_, err := testProvider().Create(context.Background(), plugin.CreateRequest{
		URN: testURN, Name: "pw", Type: passwordType, Properties: resource.PropertyMap{"length": unknownValue()},
	})
	if err == nil {
		t.Fatal("Create outside a preview must refuse unknown inputs")
	}
}

func TestOtherTypesAreRefused(t *testing.T) {
	_, err := testProvider().Check(context.Background(), plugin.CheckRequest{Type: tokens.Type("random:index/randomString:RandomString")})
	if err == nil {
		t.Fatal("a type this stand-in does not implement must be refused")
	}
}

func TestReadReturnsStateOrImports(t *testing.T) {
	p := testProvider()
	state := created(t, resource.PropertyMap{"length": num(10)})
	resp, err := p.Read(context.Background(), plugin.ReadRequest{URN: testURN, Type: passwordType, ID: "none", State: state, Inputs: resource.PropertyMap{"length": num(10)}})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Outputs.DeepEquals(state) || resp.ID != "none" {
		t.Fatalf("Read must return the stored state, got %v", resp.Outputs)
	}

	resp, err = p.Read(context.Background(), plugin.ReadRequest{URN: testURN, Type: passwordType, ID: "s3cret-Imported"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.ID != "none" || !resp.Outputs[pResult].DeepEquals(secret(str("s3cret-Imported"))) || !resp.Outputs["length"].DeepEquals(num(15)) {
		t.Fatalf("import: %v %v", resp.ID, resp.Outputs)
	}
	h := resp.Outputs[pBcryptHash].SecretValue().Element.StringValue()
	if bcrypt.CompareHashAndPassword([]byte(h), []byte("s3cret-Imported")) != nil {
		t.Fatal("import: bcryptHash does not match")
	}
}

func TestUpdateKeepsThePasswordAndRefusesReplacements(t *testing.T) {
	p := testProvider()
	olds := created(t, resource.PropertyMap{"length": num(10), "overrideSpecial": str("")})
	news, _ := checkPassword(resource.PropertyMap{"length": num(10)})
	resp, err := p.Update(context.Background(), plugin.UpdateRequest{URN: testURN, Type: passwordType, OldOutputs: olds, NewInputs: news})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Properties[pResult].DeepEquals(olds[pResult]) {
		t.Fatal("an update must keep the password")
	}
	if _, ok := resp.Properties[pOverrideSpecial]; ok {
		t.Fatal("the update must drop overrideSpecial")
	}

	news, _ = checkPassword(resource.PropertyMap{"length": num(11)})
	if _, err := p.Update(context.Background(), plugin.UpdateRequest{URN: testURN, Type: passwordType, OldOutputs: olds, NewInputs: news}); err == nil {
		t.Fatal("an update of a change that needs a replacement must fail")
	}
}

// TestSecretsOverTheWire goes through the gRPC server the binary serves, so marshalling is included.
func TestSecretsOverTheWire(t *testing.T) {
	srv := plugin.NewProviderServer(testProvider())
	ctx := context.Background()
	opts := plugin.MarshalOptions{KeepSecrets: true, KeepUnknowns: true}

	news, err := plugin.MarshalProperties(resource.PropertyMap{
		"length": num(20), "keepers": obj(resource.PropertyMap{"token": secret(str("t"))}),
	}, opts)
	if err != nil {
		t.Fatal(err)
	}
	checked, err := srv.Check(ctx, &pulumirpc.CheckRequest{Urn: string(testURN), Name: "pw", Type: passwordType, News: news})
	if err != nil || len(checked.Failures) != 0 {
		t.Fatalf("check: %v %v", err, checked.GetFailures())
	}
	created, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: string(testURN), Name: "pw", Type: passwordType, Properties: checked.Inputs})
	if err != nil {
		t.Fatal(err)
	}
	isSecret := func(v *structpb.Value) bool {
		sig := v.GetStructValue().GetFields()["4dabf18193072939515e22adb298388d"]
		return sig.GetStringValue() == "1b47061264138c4ac30d75fd1eb44270"
	}
	fields := created.Properties.GetFields()
	for _, k := range []string{"result", "bcryptHash"} {
		if !isSecret(fields[k]) {
			t.Errorf("%s must travel as a secret, got %v", k, fields[k])
		}
	}
	if !isSecret(fields["keepers"].GetStructValue().GetFields()["token"]) {
		t.Errorf("a secret keeper must travel as a secret, got %v", fields["keepers"])
	}

	preview, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: string(testURN), Name: "pw", Type: passwordType, Properties: checked.Inputs, Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := preview.Properties.GetFields()["result"].GetStringValue(); got != plugin.UnknownStringValue {
		t.Errorf("result in a preview must travel as unknown, got %q", got)
	}

	diff, err := srv.Diff(ctx, &pulumirpc.DiffRequest{
		Urn: string(testURN), Name: "pw", Type: passwordType, Id: created.Id,
		Olds: created.Properties, OldInputs: checked.Inputs, News: checked.Inputs,
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("same inputs over the wire: changes = %v, want DIFF_NONE", diff.Changes)
	}

	info, err := srv.GetPluginInfo(ctx, &emptypb.Empty{})
	if err != nil || info.Version != "4.21.2" {
		t.Errorf("plugin info = %v, %v", info, err)
	}
	cfg, err := srv.Configure(ctx, &pulumirpc.ConfigureRequest{AcceptSecrets: true, AcceptResources: true})
	if err != nil || !cfg.AcceptSecrets || !cfg.SupportsPreview || !cfg.AcceptResources {
		t.Errorf("configure = %v, %v", cfg, err)
	}
}

// The bridge's own keys in every state a Plugin Framework provider returns (pkg/pf/tfbridge
// provider_create.go, provider_read.go, provider_update.go): the Terraform id among the outputs, __meta,
// and the raw state delta (pkg/tfbridge/rawstate.go), whose entries for random_password are the null
// attributes (a secret `replace` with a raw null) and the keepers map.
func TestStatesCarryTheBridgesKeys(t *testing.T) {
	nullAttribute := secret(obj(resource.PropertyMap{"replace": obj(resource.PropertyMap{"raw": resource.NewNullProperty()})}))
	delta := func(ps resource.PropertyMap) resource.PropertyValue {
		return obj(resource.PropertyMap{"obj": obj(resource.PropertyMap{"ps": obj(ps)})})
	}
	cases := []struct {
		name  string
		in    resource.PropertyMap
		delta resource.PropertyValue
	}{
		{"no keepers", resource.PropertyMap{"length": num(48), "special": boolean(false)},
			delta(resource.PropertyMap{"keepers": nullAttribute, "overrideSpecial": nullAttribute})},
		{"keepers", resource.PropertyMap{"length": num(40), "special": boolean(false), "keepers": obj(resource.PropertyMap{"username": secret(str("ci"))})},
			delta(resource.PropertyMap{"keepers": obj(resource.PropertyMap{"map": obj(resource.PropertyMap{})}), "overrideSpecial": nullAttribute})},
		{"overrideSpecial set", resource.PropertyMap{"length": num(8), "overrideSpecial": str("_")},
			delta(resource.PropertyMap{"keepers": nullAttribute})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := testProvider()
			checked, _ := checkPassword(c.in)
			resp, err := p.Create(context.Background(), plugin.CreateRequest{URN: testURN, Name: "pw", Type: passwordType, Properties: checked})
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Properties["id"]; !got.DeepEquals(str("none")) {
				t.Errorf("id output = %v, want \"none\"", got)
			}
			if got := resp.Properties["__pulumi_raw_state_delta"]; !got.DeepEquals(c.delta) {
				t.Errorf("raw state delta\n got %v\nwant %v", got, c.delta)
			}
			// A state written before these keys gets them from a refresh, as the bridge's Read writes them.
			old := resp.Properties.Copy()
			for _, k := range []resource.PropertyKey{"id", "__meta", "__pulumi_raw_state_delta"} {
				delete(old, k)
			}
			read, err := p.Read(context.Background(), plugin.ReadRequest{URN: testURN, Type: passwordType, ID: "none", State: old, Inputs: checked})
			if err != nil {
				t.Fatal(err)
			}
			if !read.Outputs.DeepEquals(resp.Properties) {
				t.Errorf("refreshed state\n got %v\nwant %v", read.Outputs, resp.Properties)
			}
		})
	}

	// A preview's outputs are the plan as it is: the id unknown, no delta or __meta.
	checked, _ := checkPassword(resource.PropertyMap{"length": num(40)})
	resp, err := testProvider().Create(context.Background(), plugin.CreateRequest{URN: testURN, Name: "pw", Type: passwordType, Properties: checked, Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Properties["id"].IsComputed() || resp.Properties.HasValue("__meta") || resp.Properties.HasValue("__pulumi_raw_state_delta") {
		t.Errorf("preview outputs: %v", resp.Properties)
	}
}

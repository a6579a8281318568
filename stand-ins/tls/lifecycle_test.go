package main

import (
	"context"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

func diff(t *testing.T, typ tokens.Type, old made, news resource.PropertyMap, ignore []string) plugin.DiffResult {
	t.Helper()
	checked, failures := check(t, typ, news)
	if len(failures) != 0 {
		t.Fatalf("check: %v", failures)
	}
	d, err := testProvider().Diff(context.Background(), plugin.DiffRequest{
		URN: urnOf(typ), Type: typ, ID: old.id, OldInputs: old.inputs, OldOutputs: old.outputs, NewInputs: checked, IgnoreChanges: ignore,
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func with(m resource.PropertyMap, changes resource.PropertyMap, drop ...resource.PropertyKey) resource.PropertyMap {
	out := m.Copy()
	for k, v := range changes {
		out[k] = v
	}
	for _, k := range drop {
		delete(out, k)
	}
	return out
}

func TestDiffRules(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	setNow(t, start)

	keyIn := ecdsaP256
	key := create(t, privateKeyType, keyIn)
	keyPem := out(t, key.outputs, pPrivateKeyPem)
	otherKey := newKey(t, ecdsaP256)

	// A CA valid 100 hours with a 10 hour renewal window: due from hour 90.
	caIn := resource.PropertyMap{
		"privateKeyPem": secret(str(keyPem)), "isCaCertificate": boolean(true),
		"subject":             obj(resource.PropertyMap{"commonName": str("ca"), "organization": str("o")}),
		"validityPeriodHours": num(100), "earlyRenewalHours": num(10), "allowedUses": strs("cert_signing"),
	}
	ca := create(t, selfSignedCertType, caIn)
	csrIn := resource.PropertyMap{"privateKeyPem": secret(str(otherKey)), "dnsNames": strs("a.example")}
	csr := create(t, certRequestType, csrIn)
	leafIn := resource.PropertyMap{
		"certRequestPem": str(out(t, csr.outputs, pCertRequestPem)), "caPrivateKeyPem": secret(str(keyPem)),
		"caCertPem": str(out(t, ca.outputs, pCertPem)), "validityPeriodHours": num(50), "earlyRenewalHours": num(5),
		"allowedUses": strs("server_auth"),
	}
	leaf := create(t, locallySignedCertType, leafIn)

	hours := func(h int) time.Time { return start.Add(time.Duration(h) * time.Hour) }
	cases := []struct {
		name    string
		typ     tokens.Type
		old     made
		new     resource.PropertyMap
		at      time.Time
		ignore  []string
		changes plugin.DiffChanges
		want    map[string]plugin.DiffKind
	}{
		{"key: no change", privateKeyType, key, keyIn, start, nil, plugin.DiffNone, nil},
		{"key: defaults written out", privateKeyType, key, with(keyIn, resource.PropertyMap{"rsaBits": num(2048)}), start, nil, plugin.DiffNone, nil},
		{"key: curve", privateKeyType, key, with(keyIn, resource.PropertyMap{"ecdsaCurve": str("P384")}), start, nil, plugin.DiffSome,
			map[string]plugin.DiffKind{"ecdsaCurve": plugin.DiffUpdateReplace}},
		{"key: curve back to default", privateKeyType, key, with(keyIn, nil, "ecdsaCurve"), start, nil, plugin.DiffSome,
			map[string]plugin.DiffKind{"ecdsaCurve": plugin.DiffUpdateReplace}},
		{"key: algorithm", privateKeyType, key, with(keyIn, resource.PropertyMap{"algorithm": str("ED25519")}), start, nil, plugin.DiffSome,
			map[string]plugin.DiffKind{"algorithm": plugin.DiffUpdateReplace}},
		{"key: rsaBits, even unused", privateKeyType, key, with(keyIn, resource.PropertyMap{"rsaBits": num(4096)}), start, nil, plugin.DiffSome,
			map[string]plugin.DiffKind{"rsaBits": plugin.DiffUpdateReplace}},

		{"ca: no change", selfSignedCertType, ca, caIn, start, nil, plugin.DiffNone, nil},
		{"ca: key secret or not", selfSignedCertType, ca, with(caIn, resource.PropertyMap{"privateKeyPem": str(keyPem)}), start, nil, plugin.DiffNone, nil},
		{"ca: early renewal hours update in place", selfSignedCertType, ca, with(caIn, resource.PropertyMap{"earlyRenewalHours": num(20)}), start, nil,
			plugin.DiffSome, map[string]plugin.DiffKind{"earlyRenewalHours": plugin.DiffUpdate}},
		{"ca: early renewal hours not known yet", selfSignedCertType, ca, with(caIn, resource.PropertyMap{"earlyRenewalHours": unknownValue()}), start, nil,
			plugin.DiffSome, map[string]plugin.DiffKind{"earlyRenewalHours": plugin.DiffUpdate}},
		{"ca: early renewal hours removed", selfSignedCertType, ca, with(caIn, nil, "earlyRenewalHours"), start, nil,
			plugin.DiffSome, map[string]plugin.DiffKind{"earlyRenewalHours": plugin.DiffUpdate}},
		{"ca: validity period", selfSignedCertType, ca, with(caIn, resource.PropertyMap{"validityPeriodHours": num(200)}), start, nil,
			plugin.DiffSome, map[string]plugin.DiffKind{"validityPeriodHours": plugin.DiffUpdateReplace}},
		{"ca: allowed uses", selfSignedCertType, ca, with(caIn, resource.PropertyMap{"allowedUses": strs("cert_signing", "crl_signing")}), start, nil,
			plugin.DiffSome, map[string]plugin.DiffKind{"allowedUses": plugin.DiffUpdateReplace}},
		{"ca: subject", selfSignedCertType, ca, with(caIn, resource.PropertyMap{"subject": obj(resource.PropertyMap{"commonName": str("ca2"), "organization": str("o")})}), start, nil,
			plugin.DiffSome, map[string]plugin.DiffKind{"subject": plugin.DiffUpdateReplace}},
		{"ca: dns names added", selfSignedCertType, ca, with(caIn, resource.PropertyMap{"dnsNames": strs("ca.example")}), start, nil,
			plugin.DiffSome, map[string]plugin.DiffKind{"dnsNames": plugin.DiffAddReplace}},
		{"ca: no longer a CA", selfSignedCertType, ca, with(caIn, nil, "isCaCertificate"), start, nil,
			plugin.DiffSome, map[string]plugin.DiffKind{"isCaCertificate": plugin.DiffUpdateReplace}},
		{"ca: subject key id", selfSignedCertType, ca, with(caIn, resource.PropertyMap{"setSubjectKeyId": boolean(true)}), start, nil,
			plugin.DiffSome, map[string]plugin.DiffKind{"setSubjectKeyId": plugin.DiffUpdateReplace}},
		{"ca: another key", selfSignedCertType, ca, with(caIn, resource.PropertyMap{"privateKeyPem": secret(str(otherKey))}), start, nil,
			plugin.DiffSome, map[string]plugin.DiffKind{"privateKeyPem": plugin.DiffUpdateReplace}},
		{"ca: key not known yet (key replaced)", selfSignedCertType, ca, with(caIn, resource.PropertyMap{"privateKeyPem": unknownValue()}), start, nil,
			plugin.DiffSome, map[string]plugin.DiffKind{"privateKeyPem": plugin.DiffUpdateReplace}},
		{"ca: ignored change", selfSignedCertType, ca, with(caIn, resource.PropertyMap{"validityPeriodHours": num(200)}), start, []string{"validityPeriodHours"},
			plugin.DiffNone, nil},
		{"ca: before the renewal window", selfSignedCertType, ca, caIn, hours(89), nil, plugin.DiffNone, nil},
		{"ca: renewal window opens", selfSignedCertType, ca, caIn, hours(90), nil, plugin.DiffSome,
			map[string]plugin.DiffKind{"readyForRenewal": plugin.DiffUpdateReplace}},
		{"ca: expired", selfSignedCertType, ca, caIn, hours(200), nil, plugin.DiffSome,
			map[string]plugin.DiffKind{"readyForRenewal": plugin.DiffUpdateReplace}},
		{"ca: a wider window makes it due now", selfSignedCertType, ca, with(caIn, resource.PropertyMap{"earlyRenewalHours": num(30)}), hours(75), nil,
			plugin.DiffSome, map[string]plugin.DiffKind{"earlyRenewalHours": plugin.DiffUpdate, "readyForRenewal": plugin.DiffUpdateReplace}},
		{"ca: a narrower window postpones it", selfSignedCertType, ca, with(caIn, resource.PropertyMap{"earlyRenewalHours": num(5)}), hours(92), nil,
			plugin.DiffSome, map[string]plugin.DiffKind{"earlyRenewalHours": plugin.DiffUpdate}},

		{"csr: no change", certRequestType, csr, csrIn, start, nil, plugin.DiffNone, nil},
		{"csr: dns names", certRequestType, csr, with(csrIn, resource.PropertyMap{"dnsNames": strs("a.example", "b.example")}), start, nil,
			plugin.DiffSome, map[string]plugin.DiffKind{"dnsNames": plugin.DiffUpdateReplace}},
		{"csr: subject added", certRequestType, csr, with(csrIn, resource.PropertyMap{"subject": obj(resource.PropertyMap{"commonName": str("a.example")})}), start, nil,
			plugin.DiffSome, map[string]plugin.DiffKind{"subject": plugin.DiffAddReplace}},
		{"csr: a subject of null fields is still a subject", certRequestType, csr, with(csrIn, resource.PropertyMap{"subject": obj(resource.PropertyMap{"commonName": resource.NewNullProperty()})}), start, nil,
			plugin.DiffSome, map[string]plugin.DiffKind{"subject": plugin.DiffAddReplace}},

		{"leaf: no change", locallySignedCertType, leaf, leafIn, start, nil, plugin.DiffNone, nil},
		{"leaf: CA certificate renewed", locallySignedCertType, leaf, with(leafIn, resource.PropertyMap{"caCertPem": unknownValue()}), start, nil,
			plugin.DiffSome, map[string]plugin.DiffKind{"caCertPem": plugin.DiffUpdateReplace}},
		{"leaf: new CSR", locallySignedCertType, leaf, with(leafIn, resource.PropertyMap{"certRequestPem": unknownValue()}), start, nil,
			plugin.DiffSome, map[string]plugin.DiffKind{"certRequestPem": plugin.DiffUpdateReplace}},
		{"leaf: CA key", locallySignedCertType, leaf, with(leafIn, resource.PropertyMap{"caPrivateKeyPem": secret(str(otherKey))}), start, nil,
			plugin.DiffSome, map[string]plugin.DiffKind{"caPrivateKeyPem": plugin.DiffUpdateReplace}},
		{"leaf: max path length", locallySignedCertType, leaf, with(leafIn, resource.PropertyMap{"maxPathLength": num(0)}), start, nil,
			plugin.DiffSome, map[string]plugin.DiffKind{"maxPathLength": plugin.DiffAddReplace}},
		{"leaf: early renewal", locallySignedCertType, leaf, with(leafIn, resource.PropertyMap{"earlyRenewalHours": num(6)}), start, nil,
			plugin.DiffSome, map[string]plugin.DiffKind{"earlyRenewalHours": plugin.DiffUpdate}},
		{"leaf: due", locallySignedCertType, leaf, leafIn, hours(45), nil, plugin.DiffSome,
			map[string]plugin.DiffKind{"readyForRenewal": plugin.DiffUpdateReplace}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			setNow(t, c.at)
			d := diff(t, c.typ, c.old, c.new, c.ignore)
			if d.Changes != c.changes {
				t.Fatalf("changes = %v, want %v (detail %v)", d.Changes, c.changes, d.DetailedDiff)
			}
			if len(d.DetailedDiff) != len(c.want) {
				t.Fatalf("detailed diff = %v, want %v", d.DetailedDiff, c.want)
			}
			wantReplace := false
			for k, kind := range c.want {
				if got, ok := d.DetailedDiff[k]; !ok || got.Kind != kind {
					t.Errorf("%s: got %v (present %v), want %v", k, got.Kind, ok, kind)
				}
				wantReplace = wantReplace || kind.IsReplace()
			}
			if d.Replace() != wantReplace {
				t.Errorf("Replace() = %v, want %v", d.Replace(), wantReplace)
			}
			for _, k := range d.ReplaceKeys {
				if !c.want[string(k)].IsReplace() {
					t.Errorf("replace key %s is not a replacement", k)
				}
			}
		})
	}
}

func TestDiffKeepsOldStateWithoutPEM(t *testing.T) {
	// Upstream replaces for a new key only while the state holds a PEM (requireReplaceIfStateContainsPEMString).
	key := newKey(t, ecdsaP256)
	old := create(t, certRequestType, resource.PropertyMap{"privateKeyPem": str(key)})
	old.outputs[pPrivateKeyPem] = secret(str("3b2c6a0e5d1f"))
	old.inputs[pPrivateKeyPem] = secret(str("3b2c6a0e5d1f"))
	d := diff(t, certRequestType, old, resource.PropertyMap{"privateKeyPem": str(key)}, nil)
	if d.Replace() || d.DetailedDiff["privateKeyPem"].Kind != plugin.DiffUpdate {
		t.Fatalf("diff = %v", d.DetailedDiff)
	}
}

func TestPreviewCreatesNothing(t *testing.T) {
	p := testProvider()
	key := newKey(t, ecdsaP256)
	cases := []struct {
		typ       tokens.Type
		in        resource.PropertyMap
		computed  []resource.PropertyKey
		readiness resource.PropertyValue
	}{
		{privateKeyType, ecdsaP256, resources[privateKeyType].computed, resource.PropertyValue{}},
		{selfSignedCertType, resource.PropertyMap{"privateKeyPem": unknownValue(), "validityPeriodHours": num(10), "allowedUses": strs()},
			resources[selfSignedCertType].computed, boolean(false)},
		{selfSignedCertType, resource.PropertyMap{"privateKeyPem": str(key), "validityPeriodHours": num(0), "allowedUses": strs()},
			resources[selfSignedCertType].computed, boolean(true)},
		{selfSignedCertType, resource.PropertyMap{"privateKeyPem": str(key), "validityPeriodHours": num(10), "earlyRenewalHours": num(10), "allowedUses": strs()},
			resources[selfSignedCertType].computed, boolean(true)},
		{locallySignedCertType, resource.PropertyMap{
			"certRequestPem": unknownValue(), "caPrivateKeyPem": unknownValue(), "caCertPem": unknownValue(),
			"validityPeriodHours": num(10), "earlyRenewalHours": unknownValue(), "allowedUses": strs(),
		}, resources[locallySignedCertType].computed, unknownValue()},
		{certRequestType, resource.PropertyMap{"privateKeyPem": unknownValue()}, resources[certRequestType].computed, resource.PropertyValue{}},
	}
	for _, c := range cases {
		t.Run(string(c.typ), func(t *testing.T) {
			checked, failures := check(t, c.typ, c.in)
			if len(failures) != 0 {
				t.Fatal(failures)
			}
			resp, err := p.Create(context.Background(), plugin.CreateRequest{URN: urnOf(c.typ), Type: c.typ, Properties: checked, Preview: true})
			if err != nil {
				t.Fatal(err)
			}
			if resp.ID != "" {
				t.Errorf("a preview has no id, got %q", resp.ID)
			}
			for _, k := range c.computed {
				if !resp.Properties[k].IsComputed() {
					t.Errorf("%s = %v, want unknown in a preview", k, resp.Properties[k])
				}
			}
			if c.readiness.V != nil {
				got := resp.Properties[pReadyForRenewal]
				if got.IsComputed() != c.readiness.IsComputed() || (!got.IsComputed() && !got.DeepEquals(c.readiness)) {
					t.Errorf("readyForRenewal = %v, want %v", got, c.readiness)
				}
			}
		})
	}

	if _, err := p.Create(context.Background(), plugin.CreateRequest{
		URN: urnOf(certRequestType), Type: certRequestType, Properties: resource.PropertyMap{"privateKeyPem": unknownValue()},
	}); err == nil {
		t.Error("Create outside a preview must refuse unknown inputs")
	}
}

func TestReadyForRenewalAtCreation(t *testing.T) {
	key := newKey(t, ecdsaP256)
	for _, c := range []struct {
		validity, early float64
		want            bool
	}{{10, 0, false}, {10, 9, false}, {10, 10, true}, {10, 11, true}, {0, 0, true}} {
		m := create(t, selfSignedCertType, resource.PropertyMap{
			"privateKeyPem": str(key), "validityPeriodHours": num(c.validity), "earlyRenewalHours": num(c.early), "allowedUses": strs(),
		})
		if !m.outputs[pReadyForRenewal].DeepEquals(boolean(c.want)) {
			t.Errorf("validity %v early %v: readyForRenewal = %v, want %v", c.validity, c.early, m.outputs[pReadyForRenewal], c.want)
		}
	}
}

func TestReadMarksCertificatesDueForRenewal(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	setNow(t, start)
	key := newKey(t, ecdsaP256)
	m := create(t, selfSignedCertType, resource.PropertyMap{
		"privateKeyPem": str(key), "validityPeriodHours": num(100), "earlyRenewalHours": num(10), "allowedUses": strs(),
	})
	p := testProvider()
	for _, c := range []struct {
		at   time.Time
		want bool
	}{{start.Add(89 * time.Hour), false}, {start.Add(90 * time.Hour), true}} {
		setNow(t, c.at)
		resp, err := p.Read(context.Background(), plugin.ReadRequest{URN: urnOf(selfSignedCertType), Type: selfSignedCertType, ID: m.id, Inputs: m.inputs, State: m.outputs})
		if err != nil {
			t.Fatal(err)
		}
		if !resp.Outputs[pReadyForRenewal].DeepEquals(boolean(c.want)) || resp.ID != m.id || !resp.Inputs.DeepEquals(m.inputs) {
			t.Errorf("at %v: readyForRenewal = %v, want %v", c.at, resp.Outputs[pReadyForRenewal], c.want)
		}
		if !resp.Outputs[pCertPem].DeepEquals(m.outputs[pCertPem]) {
			t.Error("Read must keep the certificate")
		}
	}
	if _, err := p.Read(context.Background(), plugin.ReadRequest{URN: urnOf(privateKeyType), Type: privateKeyType, ID: "x"}); err == nil {
		t.Error("import must be refused")
	}
}

func TestUpdateChangesOnlyEarlyRenewalHours(t *testing.T) {
	key := newKey(t, ecdsaP256)
	in := resource.PropertyMap{"privateKeyPem": secret(str(key)), "validityPeriodHours": num(100), "earlyRenewalHours": num(10), "allowedUses": strs()}
	m := create(t, selfSignedCertType, in)
	p := testProvider()
	news, _ := check(t, selfSignedCertType, with(in, resource.PropertyMap{"earlyRenewalHours": num(20)}))
	resp, err := p.Update(context.Background(), plugin.UpdateRequest{
		URN: urnOf(selfSignedCertType), Type: selfSignedCertType, ID: m.id, OldInputs: m.inputs, OldOutputs: m.outputs, NewInputs: news,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []resource.PropertyKey{pCertPem, pValidityStartTime, pValidityEndTime, pKeyAlgorithm} {
		if !resp.Properties[k].DeepEquals(m.outputs[k]) {
			t.Errorf("an update must keep %s", k)
		}
	}
	if !resp.Properties[pEarlyRenewalHours].DeepEquals(num(20)) || !resp.Properties[pReadyForRenewal].DeepEquals(boolean(false)) {
		t.Errorf("update: %v", resp.Properties)
	}
	if !resp.Properties[pPrivateKeyPem].IsSecret() {
		t.Error("privateKeyPem must stay secret")
	}

	news, _ = check(t, selfSignedCertType, with(in, resource.PropertyMap{"validityPeriodHours": num(200)}))
	if _, err := p.Update(context.Background(), plugin.UpdateRequest{
		URN: urnOf(selfSignedCertType), Type: selfSignedCertType, ID: m.id, OldInputs: m.inputs, OldOutputs: m.outputs, NewInputs: news,
	}); err == nil {
		t.Error("an update of a change that needs a replacement must fail")
	}
}

func isSecretValue(v *structpb.Value) bool {
	return v.GetStructValue().GetFields()["4dabf18193072939515e22adb298388d"].GetStringValue() == "1b47061264138c4ac30d75fd1eb44270"
}

// TestSecretsOverTheWire goes through the gRPC server the binary serves, so marshalling is included.
func TestSecretsOverTheWire(t *testing.T) {
	srv := plugin.NewProviderServer(testProvider())
	ctx := context.Background()
	run := func(typ tokens.Type, in resource.PropertyMap) *pulumirpc.CreateResponse {
		t.Helper()
		news, err := plugin.MarshalProperties(in, plugin.MarshalOptions{KeepSecrets: true, KeepUnknowns: true})
		if err != nil {
			t.Fatal(err)
		}
		urn := string(urnOf(typ))
		checked, err := srv.Check(ctx, &pulumirpc.CheckRequest{Urn: urn, Name: "r", Type: string(typ), News: news})
		if err != nil || len(checked.Failures) != 0 {
			t.Fatalf("check: %v %v", err, checked.GetFailures())
		}
		created, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: urn, Name: "r", Type: string(typ), Properties: checked.Inputs})
		if err != nil {
			t.Fatal(err)
		}
		d, err := srv.Diff(ctx, &pulumirpc.DiffRequest{Urn: urn, Name: "r", Type: string(typ), Id: created.Id, Olds: created.Properties, OldInputs: checked.Inputs, News: checked.Inputs})
		if err != nil || d.Changes != pulumirpc.DiffResponse_DIFF_NONE {
			t.Errorf("same inputs over the wire: %v %v", d.GetChanges(), err)
		}
		return created
	}
	key := run(privateKeyType, ecdsaP256)
	for _, k := range []string{"privateKeyPem", "privateKeyOpenssh", "privateKeyPemPkcs8"} {
		if !isSecretValue(key.Properties.Fields[k]) {
			t.Errorf("%s must travel as a secret", k)
		}
	}
	if isSecretValue(key.Properties.Fields["publicKeyPem"]) {
		t.Error("publicKeyPem is not secret")
	}
	pemText := key.Properties.Fields["privateKeyPem"].GetStructValue().GetFields()["value"].GetStringValue()
	// Given as a plain string, the key is still secret in the certificate's outputs.
	cert := run(selfSignedCertType, resource.PropertyMap{"privateKeyPem": str(pemText), "validityPeriodHours": num(1), "allowedUses": strs()})
	if !isSecretValue(cert.Properties.Fields["privateKeyPem"]) {
		t.Error("a certificate's privateKeyPem must travel as a secret")
	}
	if isSecretValue(cert.Properties.Fields["certPem"]) {
		t.Error("certPem is not secret")
	}

	info, err := srv.GetPluginInfo(ctx, &emptypb.Empty{})
	if err != nil || info.Version != "5.6.1" {
		t.Errorf("plugin info = %v, %v", info, err)
	}
	cfg, err := srv.Configure(ctx, &pulumirpc.ConfigureRequest{AcceptSecrets: true, AcceptResources: true})
	if err != nil || !cfg.AcceptSecrets || !cfg.SupportsPreview || !cfg.AcceptResources {
		t.Errorf("configure = %v, %v", cfg, err)
	}
}

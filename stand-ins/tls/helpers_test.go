package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"dso-registry/engine/providerkit"
)

func num(f float64) resource.PropertyValue                   { return resource.NewNumberProperty(f) }
func str(s string) resource.PropertyValue                    { return resource.NewStringProperty(s) }
func boolean(b bool) resource.PropertyValue                  { return resource.NewBoolProperty(b) }
func secret(v resource.PropertyValue) resource.PropertyValue { return resource.MakeSecret(v) }
func obj(m resource.PropertyMap) resource.PropertyValue      { return resource.NewObjectProperty(m) }
func unknownValue() resource.PropertyValue                   { return resource.MakeComputed(str("")) }
func strs(ss ...string) resource.PropertyValue {
	out := make([]resource.PropertyValue, len(ss))
	for i, s := range ss {
		out[i] = str(s)
	}
	return resource.NewArrayProperty(out)
}

func testProvider() *tlsProvider { return newProvider(semver.MustParse("5.6.1")) }

func urnOf(t tokens.Type) resource.URN { return resource.NewURN("test", "dso-registry", "", t, "r") }

// setNow moves the provider's clock for one test.
func setNow(t *testing.T, at time.Time) {
	t.Helper()
	old := now
	now = func() time.Time { return at }
	t.Cleanup(func() { now = old })
}

// made is a created resource: its checked inputs, its state and its id.
type made struct {
	inputs  resource.PropertyMap
	outputs resource.PropertyMap
	id      resource.ID
}

// create runs Check then Create, as the engine does.
func create(t *testing.T, typ tokens.Type, in resource.PropertyMap) made {
	t.Helper()
	p := testProvider()
	checked, err := p.Check(context.Background(), plugin.CheckRequest{URN: urnOf(typ), Type: typ, News: in})
	if err != nil {
		t.Fatal(err)
	}
	if len(checked.Failures) != 0 {
		t.Fatalf("check %s: %v", typ, checked.Failures)
	}
	resp, err := p.Create(context.Background(), plugin.CreateRequest{URN: urnOf(typ), Type: typ, Properties: checked.Properties})
	if err != nil {
		t.Fatalf("create %s: %v", typ, err)
	}
	return made{inputs: checked.Properties, outputs: resp.Properties, id: resp.ID}
}

// out reads a known string output, through any secret marker.
func out(t *testing.T, m resource.PropertyMap, k resource.PropertyKey) string {
	t.Helper()
	v, ok := m[k]
	if !ok {
		t.Fatalf("no output %s in %v", k, m)
	}
	s, err := providerkit.AsString(v)
	if err != nil {
		t.Fatalf("output %s: %v", k, err)
	}
	return s
}

func parseCert(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	b, rest := pem.Decode([]byte(s))
	if b == nil || b.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("not one PEM certificate: %q", s)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newKey(t *testing.T, in resource.PropertyMap) string {
	t.Helper()
	return out(t, create(t, privateKeyType, in).outputs, pPrivateKeyPem)
}

var ecdsaP256 = resource.PropertyMap{"algorithm": str("ECDSA"), "ecdsaCurve": str("P256")}

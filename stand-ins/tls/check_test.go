package main

import (
	"context"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

func check(t *testing.T, typ tokens.Type, in resource.PropertyMap) (resource.PropertyMap, []plugin.CheckFailure) {
	t.Helper()
	resp, err := testProvider().Check(context.Background(), plugin.CheckRequest{URN: urnOf(typ), Type: typ, News: in})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Properties, resp.Failures
}

// The bridge's Check for a Plugin Framework provider returns the inputs as given, Sensitive ones made
// secret (pkg/pf/tfbridge/provider_check.go, MarkSchemaSecrets); the schema's defaults are the plan's and
// so the state's, not the stored inputs'.
func TestCheckReturnsGivenInputsAndTheStateHoldsTheDefaults(t *testing.T) {
	key := newKey(t, ecdsaP256)
	cases := []struct {
		typ     tokens.Type
		in      resource.PropertyMap
		checked resource.PropertyMap
		state   resource.PropertyMap
	}{
		{privateKeyType, resource.PropertyMap{"algorithm": str("ED25519")},
			resource.PropertyMap{"algorithm": str("ED25519")},
			resource.PropertyMap{"algorithm": str("ED25519"), "rsaBits": num(2048), "ecdsaCurve": str("P224")}},
		{selfSignedCertType, resource.PropertyMap{"privateKeyPem": secret(str(key)), "validityPeriodHours": num(24), "allowedUses": strs("cert_signing")},
			resource.PropertyMap{"privateKeyPem": secret(str(key)), "validityPeriodHours": num(24), "allowedUses": strs("cert_signing")},
			resource.PropertyMap{
				"privateKeyPem": secret(str(key)), "validityPeriodHours": num(24), "allowedUses": strs("cert_signing"),
				"earlyRenewalHours": num(0), "isCaCertificate": boolean(false), "setSubjectKeyId": boolean(false), "setAuthorityKeyId": boolean(false),
			}},
		{certRequestType, resource.PropertyMap{"privateKeyPem": str(key)}, resource.PropertyMap{"privateKeyPem": secret(str(key))},
			resource.PropertyMap{"privateKeyPem": secret(str(key))}},
	}
	for _, c := range cases {
		t.Run(string(c.typ), func(t *testing.T) {
			got, failures := check(t, c.typ, c.in)
			if len(failures) != 0 {
				t.Fatalf("unexpected failures: %v", failures)
			}
			if !got.DeepEquals(c.checked) {
				t.Fatalf("checked inputs\n got %v\nwant %v", got, c.checked)
			}
			state := create(t, c.typ, got).outputs
			for k, want := range c.state {
				if !state[k].DeepEquals(want) {
					t.Errorf("state's %s = %v, want %v", k, state[k], want)
				}
			}
		})
	}
}

func TestCheckFailures(t *testing.T) {
	key := newKey(t, ecdsaP256)
	csr := out(t, create(t, certRequestType, resource.PropertyMap{"privateKeyPem": str(key)}).outputs, pCertRequestPem)
	cert := func(changes resource.PropertyMap) resource.PropertyMap {
		m := resource.PropertyMap{"privateKeyPem": str(key), "validityPeriodHours": num(24), "allowedUses": strs("server_auth")}
		for k, v := range changes {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name     string
		typ      tokens.Type
		in       resource.PropertyMap
		property resource.PropertyKey
		reason   string
	}{
		{"algorithm missing", privateKeyType, resource.PropertyMap{}, "algorithm", "missing required"},
		{"algorithm unknown", privateKeyType, resource.PropertyMap{"algorithm": str("DSA")}, "algorithm", "one of RSA, ECDSA, ED25519"},
		{"curve unknown", privateKeyType, resource.PropertyMap{"algorithm": str("ECDSA"), "ecdsaCurve": str("P257")}, "ecdsaCurve", "one of"},
		{"rsa too small", privateKeyType, resource.PropertyMap{"algorithm": str("RSA"), "rsaBits": num(512)}, "rsaBits", "at least 1024"},
		{"rsaBits fractional", privateKeyType, resource.PropertyMap{"algorithm": str("RSA"), "rsaBits": num(2048.5)}, "rsaBits", "whole number"},
		{"unknown property", privateKeyType, resource.PropertyMap{"algorithm": str("RSA"), "bits": num(1)}, "bits", "no input property"},
		{"key missing", selfSignedCertType, resource.PropertyMap{"validityPeriodHours": num(1), "allowedUses": strs()}, "privateKeyPem", "missing required"},
		{"write-only key", selfSignedCertType, cert(resource.PropertyMap{"privateKeyPemWo": str(key)}), "privateKeyPemWo", "not implemented"},
		{"key not PEM", selfSignedCertType, cert(resource.PropertyMap{"privateKeyPem": str("nope")}), "privateKeyPem", "not PEM"},
		{"key is a CSR", selfSignedCertType, cert(resource.PropertyMap{"privateKeyPem": str(csr)}), "privateKeyPem", "CERTIFICATE REQUEST"},
		{"validity missing", selfSignedCertType, resource.PropertyMap{"privateKeyPem": str(key), "allowedUses": strs()}, "validityPeriodHours", "missing required"},
		{"uses missing", selfSignedCertType, resource.PropertyMap{"privateKeyPem": str(key), "validityPeriodHours": num(1)}, "allowedUses", "missing required"},
		{"negative validity", selfSignedCertType, cert(resource.PropertyMap{"validityPeriodHours": num(-1)}), "validityPeriodHours", "at least 0"},
		{"negative early renewal", selfSignedCertType, cert(resource.PropertyMap{"earlyRenewalHours": num(-1)}), "earlyRenewalHours", "at least 0"},
		{"max path below -1", selfSignedCertType, cert(resource.PropertyMap{"maxPathLength": num(-2)}), "maxPathLength", "at least -1"},
		{"camelCase use", selfSignedCertType, cert(resource.PropertyMap{"allowedUses": strs("certSigning")}), "allowedUses", "not a key usage"},
		{"bad IP", selfSignedCertType, cert(resource.PropertyMap{"ipAddresses": strs("10.0.0.300")}), "ipAddresses", "not an IP address"},
		{"empty URI", selfSignedCertType, cert(resource.PropertyMap{"uris": strs("")}), "uris", "must not be empty"},
		{"dnsNames not strings", selfSignedCertType, cert(resource.PropertyMap{"dnsNames": resource.NewArrayProperty([]resource.PropertyValue{num(1)})}), "dnsNames", "must be a string"},
		{"subject field unknown", selfSignedCertType, cert(resource.PropertyMap{"subject": obj(resource.PropertyMap{"cn": str("x")})}), "subject", "no field"},
		{"subject field not a string", certRequestType, resource.PropertyMap{"privateKeyPem": str(key), "subject": obj(resource.PropertyMap{"commonName": num(1)})}, "subject", "must be a string"},
		{"self-signed field on a locally signed cert", locallySignedCertType, resource.PropertyMap{
			"certRequestPem": str(csr), "caPrivateKeyPem": str(key), "caCertPem": str("x"), "validityPeriodHours": num(1),
			"allowedUses": strs(), "setAuthorityKeyId": boolean(true),
		}, "setAuthorityKeyId", "no input property"},
		{"CA cert not PEM", locallySignedCertType, resource.PropertyMap{
			"certRequestPem": str(csr), "caPrivateKeyPem": str(key), "caCertPem": str("x"), "validityPeriodHours": num(1), "allowedUses": strs(),
		}, "caCertPem", "not PEM"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, failures := check(t, c.typ, c.in)
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
	got, failures := check(t, locallySignedCertType, resource.PropertyMap{
		"certRequestPem": unknownValue(), "caPrivateKeyPem": secret(unknownValue()), "caCertPem": unknownValue(),
		"validityPeriodHours": num(24), "earlyRenewalHours": unknownValue(),
		"allowedUses": resource.NewArrayProperty([]resource.PropertyValue{str("server_auth"), unknownValue()}),
	})
	if len(failures) != 0 {
		t.Fatalf("unknowns must not fail Check: %v", failures)
	}
	if !got["certRequestPem"].IsComputed() || !got["earlyRenewalHours"].IsComputed() {
		t.Fatalf("unknown inputs must stay unknown: %v", got)
	}
}

func TestOtherTypesAreRefused(t *testing.T) {
	_, err := testProvider().Check(context.Background(), plugin.CheckRequest{Type: "tls:index/getCertificate:getCertificate"})
	if err == nil {
		t.Fatal("a type this stand-in does not implement must be refused")
	}
}

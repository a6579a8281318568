package main

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"dso-registry/engine/providerkit"
)

// The check that catches the next drift from the real provider: testdata/real-provider.json holds what
// pulumi-tls, built from its public sources (commits in the file's builtFrom, with the upstream it could
// get), returned for the program's own chain (a CA key and certificate, a server key, request and
// certificate); ours answers the same calls on the same inputs, compared field by field. The PEMs one
// resource gives another are ours, made by the earlier cases.
func TestAgreesWithTheRecordedRealProvider(t *testing.T) {
	from := map[string]map[string][2]string{
		"ca-cert":    {"privateKeyPem": {"ca-key", "privateKeyPem"}},
		"server-csr": {"privateKeyPem": {"server-key", "privateKeyPem"}},
		"server-cert": {
			"certRequestPem":  {"server-csr", "certRequestPem"},
			"caPrivateKeyPem": {"ca-key", "privateKeyPem"},
			"caCertPem":       {"ca-cert", "certPem"},
		},
	}
	inputs := func(name, path, _ string, made map[string]resource.PropertyMap) (resource.PropertyValue, bool) {
		source, ok := from[name][path]
		if !ok {
			return resource.PropertyValue{}, false
		}
		v, ok := made[source[0]][resource.PropertyKey(source[1])]
		if !ok {
			t.Fatalf("%s.%s: case %s made no %s", name, path, source[0], source[1])
		}
		inner, _ := providerkit.Unsecret(v)
		return inner, true
	}
	order := []string{"ca-key", "server-key", "ca-cert", "server-csr", "server-cert"}
	providerkit.AgreesWithRecording(t, testProvider(), "testdata/real-provider.json", order, inputs)
}

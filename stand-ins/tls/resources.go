package main

// The four resources of @pulumi/tls the program uses, after upstream hashicorp/terraform-provider-tls:
//   - PrivateKey:        internal/provider/resource_private_key.go, common_key.go, types.go
//   - SelfSignedCert:    internal/provider/resource_self_signed_cert.go, common_cert.go
//   - CertRequest:       internal/provider/resource_cert_request.go, common_cert.go
//   - LocallySignedCert: internal/provider/resource_locally_signed_cert.go, common_cert.go
//   - readyForRenewal:   common_cert.go (modifyPlanIfCertificateReadyForRenewal,
//     modifyStateIfCertificateReadyForRenewal), attribute_plan_modifier_bool/default_value.go
// Every input is RequiresReplace there except early_renewal_hours. Pulumi property names and secrets are
// those of pulumi/pulumi-tls's schema (provider/cmd/pulumi-resource-tls/schema.json).

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"dso-registry/engine/providerkit"
)

const (
	privateKeyType        tokens.Type = "tls:index/privateKey:PrivateKey"
	selfSignedCertType    tokens.Type = "tls:index/selfSignedCert:SelfSignedCert"
	certRequestType       tokens.Type = "tls:index/certRequest:CertRequest"
	locallySignedCertType tokens.Type = "tls:index/locallySignedCert:LocallySignedCert"
)

// Property names shared by several resources.
const (
	pAlgorithm           resource.PropertyKey = "algorithm"
	pRSABits             resource.PropertyKey = "rsaBits"
	pECDSACurve          resource.PropertyKey = "ecdsaCurve"
	pPrivateKeyPem       resource.PropertyKey = "privateKeyPem"
	pPrivateKeyOpenssh   resource.PropertyKey = "privateKeyOpenssh"
	pPrivateKeyPkcs8     resource.PropertyKey = "privateKeyPemPkcs8"
	pPublicKeyPem        resource.PropertyKey = "publicKeyPem"
	pPublicKeyOpenssh    resource.PropertyKey = "publicKeyOpenssh"
	pFingerprintMD5      resource.PropertyKey = "publicKeyFingerprintMd5"
	pFingerprintSHA256   resource.PropertyKey = "publicKeyFingerprintSha256"
	pSubject             resource.PropertyKey = "subject"
	pDNSNames            resource.PropertyKey = "dnsNames"
	pIPAddresses         resource.PropertyKey = "ipAddresses"
	pURIs                resource.PropertyKey = "uris"
	pKeyAlgorithm        resource.PropertyKey = "keyAlgorithm"
	pCertRequestPem      resource.PropertyKey = "certRequestPem"
	pCertPem             resource.PropertyKey = "certPem"
	pCACertPem           resource.PropertyKey = "caCertPem"
	pCAPrivateKeyPem     resource.PropertyKey = "caPrivateKeyPem"
	pCAKeyAlgorithm      resource.PropertyKey = "caKeyAlgorithm"
	pValidityPeriodHours resource.PropertyKey = "validityPeriodHours"
	pEarlyRenewalHours   resource.PropertyKey = "earlyRenewalHours"
	pAllowedUses         resource.PropertyKey = "allowedUses"
	pIsCACertificate     resource.PropertyKey = "isCaCertificate"
	pMaxPathLength       resource.PropertyKey = "maxPathLength"
	pSetSubjectKeyID     resource.PropertyKey = "setSubjectKeyId"
	pSetAuthorityKeyID   resource.PropertyKey = "setAuthorityKeyId"
	pReadyForRenewal     resource.PropertyKey = "readyForRenewal"
	pValidityStartTime   resource.PropertyKey = "validityStartTime"
	pValidityEndTime     resource.PropertyKey = "validityEndTime"
)

// tlsResource is one resource type: its inputs, the outputs it makes and how it makes them.
type tlsResource struct {
	token  tokens.Type
	fields []field
	// computed are the outputs Create adds to the inputs; unknown in a preview.
	computed []resource.PropertyKey
	// secretComputed are those of them that are secret.
	secretComputed []resource.PropertyKey
	// renewable: a certificate, with readyForRenewal and the early renewal replacement.
	renewable bool
	// crossCheck checks rules between known inputs.
	crossCheck func(resource.PropertyMap) []plugin.CheckFailure
	// create makes the computed outputs from known inputs and returns the id.
	create func(resource.PropertyMap) (string, resource.PropertyMap, error)
	// schemaVersion is upstream's schema version where it is not 0: the bridge records it in `__meta`.
	schemaVersion int
}

func oneOf(values ...string) func(resource.PropertyValue) error {
	return func(v resource.PropertyValue) error {
		for _, s := range values {
			if v.IsString() && v.StringValue() == s {
				return nil
			}
		}
		return fmt.Errorf("must be one of %s, not %v", strings.Join(values, ", "), v)
	}
}

func atLeast(n int64) func(resource.PropertyValue) error {
	return func(v resource.PropertyValue) error {
		if i, err := providerkit.AsInt(v); err == nil && i < n {
			return fmt.Errorf("must be at least %d, not %d", n, i)
		}
		return nil
	}
}

func eachString(check func(string) error) func(resource.PropertyValue) error {
	return func(v resource.PropertyValue) error {
		for i, e := range v.ArrayValue() {
			if err := check(e.StringValue()); err != nil {
				return fmt.Errorf("[%d] %q %v", i, e.StringValue(), err)
			}
		}
		return nil
	}
}

func pemOf(types ...string) func(resource.PropertyValue) error {
	return func(v resource.PropertyValue) error {
		_, err := decodePEM(v.StringValue(), types...)
		return err
	}
}

func allowedUse(s string) error {
	if _, ok := keyUsages[s]; ok {
		return nil
	}
	if _, ok := extKeyUsages[s]; ok {
		return nil
	}
	return fmt.Errorf("is not a key usage; accepted: %s", strings.Join(supportedUses(), ", "))
}

func ipAddress(s string) error {
	if s == "" || net.ParseIP(s) == nil {
		return fmt.Errorf("is not an IP address")
	}
	return nil
}

func uri(s string) error {
	if s == "" {
		return fmt.Errorf("must not be empty")
	}
	_, err := url.Parse(s)
	return err
}

func supportedUses() []string {
	var out []string
	for k := range keyUsages {
		out = append(out, k)
	}
	for k := range extKeyUsages {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var privateKeyPEMTypes = []string{"RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY"}

// Fields shared by the certificate resources.
var (
	subjectField = field{key: pSubject, kind: kSubject}
	dnsField     = field{key: pDNSNames, kind: kStringList}
	ipField      = field{key: pIPAddresses, kind: kStringList, validate: eachString(ipAddress)}
	urisField    = field{key: pURIs, kind: kStringList, validate: eachString(uri)}
	keyPemField  = field{key: pPrivateKeyPem, kind: kString, required: true, secret: true, pemState: true,
		validate: pemOf(privateKeyPEMTypes...)}
	validityField = field{key: pValidityPeriodHours, kind: kInt, required: true, validate: atLeast(0)}
	usesField     = field{key: pAllowedUses, kind: kStringList, required: true, validate: eachString(allowedUse)}
	earlyField    = field{key: pEarlyRenewalHours, kind: kInt, def: defaultOf(resource.NewNumberProperty(0)),
		update: true, validate: atLeast(0)}
	isCAField           = field{key: pIsCACertificate, kind: kBool, def: defaultOf(resource.NewBoolProperty(false))}
	maxPathField        = field{key: pMaxPathLength, kind: kInt, validate: atLeast(-1)}
	subjectKeyIDField   = field{key: pSetSubjectKeyID, kind: kBool, def: defaultOf(resource.NewBoolProperty(false))}
	authorityKeyIDField = field{key: pSetAuthorityKeyID, kind: kBool, def: defaultOf(resource.NewBoolProperty(false))}
)

var certOutputs = []resource.PropertyKey{pCertPem, pValidityStartTime, pValidityEndTime}

var resources = map[tokens.Type]*tlsResource{
	privateKeyType: {
		token: privateKeyType,
		fields: []field{
			{key: pAlgorithm, kind: kString, required: true, validate: oneOf("RSA", "ECDSA", "ED25519")},
			{key: pRSABits, kind: kInt, def: defaultOf(resource.NewNumberProperty(2048))},
			{key: pECDSACurve, kind: kString, def: defaultOf(resource.NewStringProperty("P224")),
				validate: oneOf("P224", "P256", "P384", "P521")},
		},
		computed: []resource.PropertyKey{
			pPrivateKeyPem, pPrivateKeyOpenssh, pPrivateKeyPkcs8,
			pPublicKeyPem, pPublicKeyOpenssh, pFingerprintMD5, pFingerprintSHA256,
		},
		secretComputed: []resource.PropertyKey{pPrivateKeyPem, pPrivateKeyOpenssh, pPrivateKeyPkcs8},
		crossCheck:     checkRSABits,
		create:         createPrivateKey,
		// resource_private_key.go: Version 1 (the state upgrader from 0 rewrites the PEMs).
		schemaVersion: 1,
	},
	selfSignedCertType: {
		token: selfSignedCertType,
		fields: []field{
			keyPemField, validityField, usesField, dnsField, ipField, urisField, earlyField,
			isCAField, maxPathField, subjectKeyIDField, authorityKeyIDField, subjectField,
		},
		computed:  append([]resource.PropertyKey{pKeyAlgorithm}, certOutputs...),
		renewable: true,
		create:    createSelfSignedCert,
	},
	certRequestType: {
		token:    certRequestType,
		fields:   []field{keyPemField, dnsField, ipField, urisField, subjectField},
		computed: []resource.PropertyKey{pCertRequestPem, pKeyAlgorithm},
		create:   createCertRequest,
	},
	locallySignedCertType: {
		token: locallySignedCertType,
		fields: []field{
			{key: pCACertPem, kind: kString, required: true, pemState: true, validate: pemOf("CERTIFICATE")},
			{key: pCAPrivateKeyPem, kind: kString, required: true, secret: true, pemState: true,
				validate: pemOf(privateKeyPEMTypes...)},
			{key: pCertRequestPem, kind: kString, required: true, pemState: true, validate: pemOf("CERTIFICATE REQUEST")},
			validityField, usesField, isCAField, maxPathField, earlyField, subjectKeyIDField,
		},
		computed:  append([]resource.PropertyKey{pCAKeyAlgorithm}, certOutputs...),
		renewable: true,
		create:    createLocallySignedCert,
	},
}

// checkRSABits: Go's crypto/rsa refuses keys under 1024 bits, so upstream would fail at creation.
func checkRSABits(in resource.PropertyMap) []plugin.CheckFailure {
	alg, ok1 := providerkit.Present(in, pAlgorithm)
	bits, ok2 := providerkit.Present(in, pRSABits)
	if !ok1 || !ok2 || providerkit.Unknown(alg) || providerkit.Unknown(bits) {
		return nil
	}
	if a, _ := providerkit.AsString(alg); a != "RSA" {
		return nil
	}
	if n, err := providerkit.AsInt(bits); err == nil && n < 1024 {
		return []plugin.CheckFailure{{Property: pRSABits, Reason: fmt.Sprintf("rsaBits must be at least 1024, not %d", n)}}
	}
	return nil
}

// check validates the program's inputs and returns them as given: the bridge's Check for a Plugin
// Framework provider (pulumi-terraform-bridge pkg/pf/tfbridge/provider_check.go) validates through the
// provider's ValidateResourceConfig and returns the inputs with no Terraform default filled in, so the
// stored inputs hold only what the program set (no rsaBits 2048, setSubjectKeyId or isCaCertificate
// false); the schema's Sensitive inputs come back secret (the bridge's MarkSchemaSecrets). The defaults
// are the plan's and the state's: planned gives them where the provider plans.
func (r *tlsResource) check(news resource.PropertyMap) (resource.PropertyMap, []plugin.CheckFailure) {
	out, failures := checkInputs(string(r.token), r.fields, news)
	if r.crossCheck != nil && len(failures) == 0 {
		failures = append(failures, r.crossCheck(out)...)
	}
	given := resource.PropertyMap{}
	for _, f := range r.fields {
		if v, ok := providerkit.Present(news, f.key); ok {
			given[f.key] = providerkit.SecretIf(v, f.secret)
		}
	}
	return given, failures
}

// planned is the inputs as upstream plans them into the state: the schema's defaults filled in, a
// subject's null fields left out.
func (r *tlsResource) planned(in resource.PropertyMap) resource.PropertyMap {
	out, _ := checkInputs(string(r.token), r.fields, in)
	return out
}

// outputs are the inputs with the computed values added, and secret inputs kept secret.
func (r *tlsResource) outputs(inputs, computed resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for _, f := range r.fields {
		if v, ok := providerkit.Present(inputs, f.key); ok {
			out[f.key] = providerkit.SecretIf(v, f.secret)
		}
	}
	for k, v := range computed {
		out[k] = v
	}
	for _, k := range r.secretComputed {
		if v, ok := out[k]; ok && !providerkit.Unknown(v) {
			out[k] = providerkit.SecretIf(v, true)
		}
	}
	return out
}

// Keys the bridge writes in every state beside the provider's attributes (pulumi-terraform-bridge
// pkg/reservedkeys/keys.go), and the Terraform id, which it keeps among the outputs too.
const (
	pID            resource.PropertyKey = "id"
	pMeta          resource.PropertyKey = "__meta"
	pRawStateDelta resource.PropertyKey = "__pulumi_raw_state_delta"
)

// bridgeState gives a known state what the bridge adds to every state a Plugin Framework provider returns
// (pkg/pf/tfbridge provider_create.go, provider_read.go, provider_update.go): the `id` output, `__meta` for
// a resource whose schema version is not 0, and the raw state delta (pkg/tfbridge/rawstate.go), which
// says how to rebuild Terraform's raw state from the outputs. Its entries, for these resources: a null
// attribute (the bridge's decoder leaves it out of the outputs) is a `replace` with Terraform's raw value,
// which the bridge marks secret; a list of strings is an `arr` delta with no element deltas; the subject
// block (flattened from a list of at most one) is a `plu` delta around an object delta with the same
// rules, and street_address renamed (its Pulumi name streetAddresses does not map back to it). Every
// other attribute is a string, number or bool whose name maps back, so it needs no entry. A state with
// unknowns gets no delta, as upstream. Checked against a recording of the real provider's states
// (testdata/real-provider.json, TestAgreesWithTheRecordedRealProvider).
func (r *tlsResource) bridgeState(id resource.ID, outputs resource.PropertyMap) resource.PropertyMap {
	out := outputs.Copy()
	out[pID] = resource.NewStringProperty(string(id))
	if r.schemaVersion != 0 {
		out[pMeta] = resource.NewStringProperty(fmt.Sprintf(`{"schema_version":"%d"}`, r.schemaVersion))
	}
	if resource.NewObjectProperty(out).ContainsUnknowns() {
		delete(out, pRawStateDelta)
		return out
	}
	deltas := resource.PropertyMap{}
	for _, f := range r.fields {
		v, present := providerkit.Present(out, f.key)
		switch {
		case !present && f.kind == kSubject:
			// An absent block is an empty list in Terraform's state, not null (read from the bridge's
			// rule; the program always sets a subject, so the recording holds no such state).
			deltas[f.key] = replaceDelta(resource.NewArrayProperty(nil))
		case !present:
			deltas[f.key] = replaceDelta(resource.NewNullProperty())
		case f.kind == kStringList:
			deltas[f.key] = listDelta()
		case f.kind == kSubject:
			deltas[f.key] = subjectDelta(v)
		}
	}
	out[pRawStateDelta] = objectDelta(deltas, nil)
	return out
}

func replaceDelta(raw resource.PropertyValue) resource.PropertyValue {
	return resource.MakeSecret(resource.NewObjectProperty(resource.PropertyMap{
		"replace": resource.NewObjectProperty(resource.PropertyMap{"raw": raw}),
	}))
}

func listDelta() resource.PropertyValue {
	return resource.NewObjectProperty(resource.PropertyMap{"arr": resource.NewObjectProperty(resource.PropertyMap{})})
}

func objectDelta(ps resource.PropertyMap, renamed resource.PropertyMap) resource.PropertyValue {
	obj := resource.PropertyMap{}
	if len(ps) > 0 {
		obj["ps"] = resource.NewObjectProperty(ps)
	}
	if len(renamed) > 0 {
		obj["renamed"] = resource.NewObjectProperty(renamed)
	}
	return resource.NewObjectProperty(resource.PropertyMap{"obj": resource.NewObjectProperty(obj)})
}

func subjectDelta(v resource.PropertyValue) resource.PropertyValue {
	inner, _ := providerkit.Unsecret(v)
	given := resource.PropertyMap{}
	if inner.IsObject() {
		given = inner.ObjectValue()
	}
	ps := resource.PropertyMap{}
	for _, k := range append(append([]resource.PropertyKey{}, subjectStrings...), subjectStreet) {
		_, present := providerkit.Present(given, k)
		switch {
		case !present:
			ps[k] = replaceDelta(resource.NewNullProperty())
		case k == subjectStreet:
			ps[k] = listDelta()
		}
	}
	renamed := resource.PropertyMap{subjectStreet: resource.NewStringProperty("street_address")}
	return resource.NewObjectProperty(resource.PropertyMap{
		"plu": resource.NewObjectProperty(resource.PropertyMap{"i": objectDelta(ps, renamed)}),
	})
}

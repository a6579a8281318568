package main

// Certificates after upstream internal/provider/common_cert.go (createCertificate, key usage names,
// subject key id, subject names, readiness for renewal), resource_self_signed_cert.go,
// resource_locally_signed_cert.go and resource_cert_request.go.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"reflect"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"dso-registry/engine/providerkit"
)

// now is the clock; tests move it.
var now = time.Now

var keyUsages = map[string]x509.KeyUsage{
	"digital_signature":  x509.KeyUsageDigitalSignature,
	"content_commitment": x509.KeyUsageContentCommitment,
	"key_encipherment":   x509.KeyUsageKeyEncipherment,
	"data_encipherment":  x509.KeyUsageDataEncipherment,
	"key_agreement":      x509.KeyUsageKeyAgreement,
	"cert_signing":       x509.KeyUsageCertSign,
	"crl_signing":        x509.KeyUsageCRLSign,
	"encipher_only":      x509.KeyUsageEncipherOnly,
	"decipher_only":      x509.KeyUsageDecipherOnly,
}

var extKeyUsages = map[string]x509.ExtKeyUsage{
	"any_extended":                      x509.ExtKeyUsageAny,
	"server_auth":                       x509.ExtKeyUsageServerAuth,
	"client_auth":                       x509.ExtKeyUsageClientAuth,
	"code_signing":                      x509.ExtKeyUsageCodeSigning,
	"email_protection":                  x509.ExtKeyUsageEmailProtection,
	"ipsec_end_system":                  x509.ExtKeyUsageIPSECEndSystem,
	"ipsec_tunnel":                      x509.ExtKeyUsageIPSECTunnel,
	"ipsec_user":                        x509.ExtKeyUsageIPSECUser,
	"timestamping":                      x509.ExtKeyUsageTimeStamping,
	"ocsp_signing":                      x509.ExtKeyUsageOCSPSigning,
	"microsoft_server_gated_crypto":     x509.ExtKeyUsageMicrosoftServerGatedCrypto,
	"netscape_server_gated_crypto":      x509.ExtKeyUsageNetscapeServerGatedCrypto,
	"microsoft_commercial_code_signing": x509.ExtKeyUsageMicrosoftCommercialCodeSigning,
	"microsoft_kernel_code_signing":     x509.ExtKeyUsageMicrosoftKernelCodeSigning,
}

var emailAddressOID = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}

// subjectName builds the distinguished name from the subject input: each given field, even empty, is
// set, as upstream does.
func subjectName(in resource.PropertyMap) pkix.Name {
	var name pkix.Name
	v, ok := providerkit.Present(in, pSubject)
	if !ok {
		return name
	}
	inner, _ := providerkit.Unsecret(v)
	if !inner.IsObject() {
		return name
	}
	s := inner.ObjectValue()
	get := func(k resource.PropertyKey) (string, bool) {
		e, ok := providerkit.Present(s, k)
		if !ok {
			return "", false
		}
		str, err := providerkit.AsString(e)
		return str, err == nil
	}
	if x, ok := get("commonName"); ok {
		name.CommonName = x
	}
	if x, ok := get("organization"); ok {
		name.Organization = []string{x}
	}
	if x, ok := get("organizationalUnit"); ok {
		name.OrganizationalUnit = []string{x}
	}
	if e, ok := providerkit.Present(s, subjectStreet); ok {
		name.StreetAddress = stringList(e)
	}
	if x, ok := get("locality"); ok {
		name.Locality = []string{x}
	}
	if x, ok := get("province"); ok {
		name.Province = []string{x}
	}
	if x, ok := get("country"); ok {
		name.Country = []string{x}
	}
	if x, ok := get("postalCode"); ok {
		name.PostalCode = []string{x}
	}
	if x, ok := get("serialNumber"); ok {
		name.SerialNumber = x
	}
	if x, ok := get("emailAddress"); ok {
		name.ExtraNames = append(name.ExtraNames, pkix.AttributeTypeAndValue{
			Type: emailAddressOID, Value: asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte(x)},
		})
	}
	return name
}

// alternativeNames reads dnsNames, ipAddresses and uris.
func alternativeNames(in resource.PropertyMap) ([]string, []net.IP, []*url.URL, error) {
	dns := stringsInput(in, pDNSNames)
	var ips []net.IP
	for _, s := range stringsInput(in, pIPAddresses) {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, nil, nil, fmt.Errorf("failed to parse %q as an IP address", s)
		}
		ips = append(ips, ip)
	}
	var uris []*url.URL
	for _, s := range stringsInput(in, pURIs) {
		u, err := url.Parse(s)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("failed to parse %q: %w", s, err)
		}
		uris = append(uris, u)
	}
	return dns, ips, uris, nil
}

// subjectKeyID is upstream's generateSubjectKeyID: SHA-1 of the public key's bytes.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	var b []byte
	var err error
	switch k := pub.(type) {
	case *rsa.PublicKey:
		b, err = asn1.Marshal(*k)
	case *ecdsa.PublicKey:
		b, err = k.Bytes()
	case ed25519.PublicKey:
		b, err = asn1.Marshal(k)
	default:
		err = fmt.Errorf("unsupported public key type %T", pub)
	}
	if err != nil {
		return nil, err
	}
	sum := sha1.Sum(b)
	return sum[:], nil
}

// issued is what createCertificate returns: the id (the serial number) and the computed outputs.
type issued struct {
	id      string
	outputs resource.PropertyMap
}

// createCertificate fills the template from the inputs (validity, serial, uses, CA, path length, key
// ids) and signs it with signer under parent.
func createCertificate(in resource.PropertyMap, template, parent *x509.Certificate, pub crypto.PublicKey,
	signer crypto.Signer, authorityKeyIDInput bool,
) (issued, error) {
	hours, err := intInput(in, pValidityPeriodHours)
	if err != nil {
		return issued{}, err
	}
	template.NotBefore = now()
	template.NotAfter = template.NotBefore.Add(time.Duration(hours) * time.Hour)
	template.SerialNumber, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return issued{}, fmt.Errorf("failed to generate serial number: %w", err)
	}
	for _, use := range stringsInput(in, pAllowedUses) {
		if u, ok := keyUsages[use]; ok {
			template.KeyUsage |= u
		}
		if u, ok := extKeyUsages[use]; ok {
			template.ExtKeyUsage = append(template.ExtKeyUsage, u)
		}
	}
	if boolInput(in, pIsCACertificate) {
		// RFC 5280 4.1.2.6: a CA's subject holds at least one name.
		if reflect.DeepEqual(template.Subject, pkix.Name{}) {
			return issued{}, errors.New("invalid certificate subject: must contain at least one distinguished name when creating a certificate authority (CA)")
		}
		template.IsCA = true
		if template.SubjectKeyId, err = subjectKeyID(pub); err != nil {
			return issued{}, fmt.Errorf("failed to generate subject key identifier: %w", err)
		}
	}
	if v, ok := providerkit.Present(in, pMaxPathLength); ok {
		if n, err := providerkit.AsInt(v); err == nil && n >= 0 {
			template.MaxPathLen = int(n)
		}
	}
	if boolInput(in, pSetSubjectKeyID) {
		if template.SubjectKeyId, err = subjectKeyID(pub); err != nil {
			return issued{}, fmt.Errorf("failed to generate subject key identifier: %w", err)
		}
	}
	if authorityKeyIDInput && boolInput(in, pSetAuthorityKeyID) {
		if len(parent.SubjectKeyId) == 0 {
			return issued{}, errors.New("invalid certificate authority: could not determine the authority key identifier (set isCaCertificate or setSubjectKeyId)")
		}
		template.AuthorityKeyId = parent.SubjectKeyId
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, pub, signer)
	if err != nil {
		return issued{}, fmt.Errorf("failed to create certificate: %w", err)
	}
	start, _ := template.NotBefore.MarshalText()
	end, _ := template.NotAfter.MarshalText()
	return issued{
		id: template.SerialNumber.String(),
		outputs: resource.PropertyMap{
			pCertPem:           resource.NewStringProperty(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))),
			pValidityStartTime: resource.NewStringProperty(string(start)),
			pValidityEndTime:   resource.NewStringProperty(string(end)),
		},
	}, nil
}

// privateKeyInput parses the private key PEM in input k and names its algorithm; what names the key in
// the error.
func privateKeyInput(in resource.PropertyMap, k resource.PropertyKey, what string) (crypto.Signer, string, error) {
	s, err := stringInput(in, k)
	if err != nil {
		return nil, "", err
	}
	key, algorithm, err := parsePrivateKey(s)
	if err != nil {
		return nil, "", fmt.Errorf("failed to parse %s PEM: %w", what, err)
	}
	return key, algorithm, nil
}

// pemInput decodes the PEM block of type typ in input k and parses its bytes; what names it in the errors.
func pemInput[T any](in resource.PropertyMap, k resource.PropertyKey, typ, what string, parse func([]byte) (T, error)) (T, error) {
	var none T
	s, err := stringInput(in, k)
	if err != nil {
		return none, err
	}
	block, err := decodePEM(s, typ)
	if err != nil {
		return none, fmt.Errorf("failed to parse %s PEM: %w", what, err)
	}
	parsed, err := parse(block.Bytes)
	if err != nil {
		return none, fmt.Errorf("failed to parse %s: %w", what, err)
	}
	return parsed, nil
}

// keyAndNames reads what a self-signed certificate and a certificate request are made from: the private
// key (privateKeyPem) and the names (subject, dnsNames, ipAddresses, uris), the names as a request.
func keyAndNames(in resource.PropertyMap) (crypto.Signer, string, *x509.CertificateRequest, error) {
	key, algorithm, err := privateKeyInput(in, pPrivateKeyPem, "private key")
	if err != nil {
		return nil, "", nil, err
	}
	dns, ips, uris, err := alternativeNames(in)
	if err != nil {
		return nil, "", nil, err
	}
	return key, algorithm, &x509.CertificateRequest{
		Subject: subjectName(in), DNSNames: dns, IPAddresses: ips, URIs: uris,
	}, nil
}

// certificateTemplate is a certificate's template with the names of a request.
func certificateTemplate(names *x509.CertificateRequest) *x509.Certificate {
	return &x509.Certificate{
		BasicConstraintsValid: true,
		Subject:               names.Subject,
		DNSNames:              names.DNSNames,
		IPAddresses:           names.IPAddresses,
		URIs:                  names.URIs,
	}
}

func createSelfSignedCert(in resource.PropertyMap) (string, resource.PropertyMap, error) {
	key, algorithm, names, err := keyAndNames(in)
	if err != nil {
		return "", nil, err
	}
	template := certificateTemplate(names)
	c, err := createCertificate(in, template, template, key.Public(), key, true)
	if err != nil {
		return "", nil, err
	}
	c.outputs[pKeyAlgorithm] = resource.NewStringProperty(algorithm)
	return c.id, c.outputs, nil
}

func createLocallySignedCert(in resource.PropertyMap) (string, resource.PropertyMap, error) {
	csr, err := pemInput(in, pCertRequestPem, "CERTIFICATE REQUEST", "certificate request", x509.ParseCertificateRequest)
	if err != nil {
		return "", nil, err
	}
	caKey, algorithm, err := privateKeyInput(in, pCAPrivateKeyPem, "CA private key")
	if err != nil {
		return "", nil, err
	}
	caCerts, err := pemInput(in, pCACertPem, "CERTIFICATE", "CA certificate", x509.ParseCertificates)
	if err != nil {
		return "", nil, err
	}
	if len(caCerts) != 1 {
		return "", nil, fmt.Errorf("caCertPem must hold exactly one certificate, not %d", len(caCerts))
	}
	c, err := createCertificate(in, certificateTemplate(csr), caCerts[0], csr.PublicKey, caKey, false)
	if err != nil {
		return "", nil, err
	}
	c.outputs[pCAKeyAlgorithm] = resource.NewStringProperty(algorithm)
	return c.id, c.outputs, nil
}

func createCertRequest(in resource.PropertyMap) (string, resource.PropertyMap, error) {
	key, algorithm, names, err := keyAndNames(in)
	if err != nil {
		return "", nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, names, key)
	if err != nil {
		return "", nil, fmt.Errorf("error creating certificate request: %w", err)
	}
	return hashForState(string(der)), resource.PropertyMap{
		pCertRequestPem: resource.NewStringProperty(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))),
		pKeyAlgorithm:   resource.NewStringProperty(algorithm),
	}, nil
}

// plannedReadyForRenewal is readyForRenewal as upstream plans it for a new or updated certificate: true
// when the validity period is 0 or the early renewal window covers all of it
// (attribute_plan_modifier_bool/default_value.go). ok is false while an input is not known.
func plannedReadyForRenewal(in resource.PropertyMap) (ready, ok bool) {
	hours, err := knownInt(in, pValidityPeriodHours)
	if err != nil {
		return false, false
	}
	if hours == 0 {
		return true, true
	}
	early, err := knownInt(in, pEarlyRenewalHours)
	if err != nil {
		return false, false
	}
	return early >= hours, true
}

// dueForRenewal tells whether now is at or past validityEndTime less earlyRenewalHours: upstream then
// plans a replacement (modifyPlanIfCertificateReadyForRenewal) and a refresh records readyForRenewal
// (modifyStateIfCertificateReadyForRenewal).
func dueForRenewal(validityEnd resource.PropertyValue, earlyHours int64) (bool, error) {
	s, err := providerkit.AsString(validityEnd)
	if err != nil {
		return false, err
	}
	end, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return false, fmt.Errorf("validityEndTime %q: %w", s, err)
	}
	return !end.Add(-time.Duration(earlyHours) * time.Hour).After(now()), nil
}

func knownInt(in resource.PropertyMap, k resource.PropertyKey) (int64, error) {
	v, ok := providerkit.Present(in, k)
	if !ok {
		return 0, fmt.Errorf("%s is not set", k)
	}
	if providerkit.Unknown(v) {
		return 0, fmt.Errorf("%s is not known", k)
	}
	return providerkit.AsInt(v)
}

package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"

	"dso-registry/engine/providerkit"
)

func TestPrivateKeys(t *testing.T) {
	cases := []struct {
		name    string
		in      resource.PropertyMap
		pemType string
		check   func(crypto.PrivateKey) bool
		openssh bool
	}{
		{"RSA default bits", resource.PropertyMap{"algorithm": str("RSA")}, "RSA PRIVATE KEY",
			func(k crypto.PrivateKey) bool { r, ok := k.(*rsa.PrivateKey); return ok && r.N.BitLen() == 2048 }, true},
		{"ECDSA default curve P224", resource.PropertyMap{"algorithm": str("ECDSA")}, "EC PRIVATE KEY",
			func(k crypto.PrivateKey) bool {
				e, ok := k.(*ecdsa.PrivateKey)
				return ok && e.Curve == elliptic.P224()
			}, false},
		{"ECDSA P256", ecdsaP256, "EC PRIVATE KEY",
			func(k crypto.PrivateKey) bool {
				e, ok := k.(*ecdsa.PrivateKey)
				return ok && e.Curve == elliptic.P256()
			}, true},
		{"ECDSA P384", resource.PropertyMap{"algorithm": str("ECDSA"), "ecdsaCurve": str("P384")}, "EC PRIVATE KEY",
			func(k crypto.PrivateKey) bool {
				e, ok := k.(*ecdsa.PrivateKey)
				return ok && e.Curve == elliptic.P384()
			}, true},
		{"ECDSA P521", resource.PropertyMap{"algorithm": str("ECDSA"), "ecdsaCurve": str("P521")}, "EC PRIVATE KEY",
			func(k crypto.PrivateKey) bool {
				e, ok := k.(*ecdsa.PrivateKey)
				return ok && e.Curve == elliptic.P521()
			}, true},
		{"ED25519", resource.PropertyMap{"algorithm": str("ED25519")}, "PRIVATE KEY",
			func(k crypto.PrivateKey) bool { _, ok := k.(ed25519.PrivateKey); return ok }, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := create(t, privateKeyType, c.in)
			for _, k := range []resource.PropertyKey{pPrivateKeyPem, pPrivateKeyPkcs8, pPrivateKeyOpenssh} {
				if !m.outputs[k].IsSecret() {
					t.Errorf("%s must be secret", k)
				}
			}
			for _, k := range []resource.PropertyKey{pPublicKeyPem, pPublicKeyOpenssh, pFingerprintMD5, pFingerprintSHA256, "rsaBits", "ecdsaCurve"} {
				if m.outputs[k].IsSecret() {
					t.Errorf("%s must not be secret", k)
				}
			}

			block, _ := pem.Decode([]byte(out(t, m.outputs, pPrivateKeyPem)))
			if block == nil || block.Type != c.pemType {
				t.Fatalf("privateKeyPem type = %v, want %s", block, c.pemType)
			}
			key, _, err := parsePrivateKey(out(t, m.outputs, pPrivateKeyPem))
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(key) {
				t.Fatalf("key %T does not match %v", key, c.in)
			}
			pkcs8, _, err := parsePrivateKey(out(t, m.outputs, pPrivateKeyPkcs8))
			if err != nil {
				t.Fatal(err)
			}
			if !key.(interface{ Equal(crypto.PrivateKey) bool }).Equal(pkcs8) {
				t.Fatal("privateKeyPemPkcs8 is another key")
			}

			pubBlock, _ := pem.Decode([]byte(out(t, m.outputs, pPublicKeyPem)))
			pub, err := x509.ParsePKIXPublicKey(pubBlock.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
				t.Fatal("publicKeyPem is not the key's public key")
			}
			sum := sha1.Sum(bytes.TrimSpace(pubBlock.Bytes))
			if string(m.id) != hex.EncodeToString(sum[:]) {
				t.Errorf("id = %s, want the SHA-1 of the public key", m.id)
			}

			if !c.openssh {
				for _, k := range []resource.PropertyKey{pPrivateKeyOpenssh, pPublicKeyOpenssh, pFingerprintMD5, pFingerprintSHA256} {
					if out(t, m.outputs, k) != "" {
						t.Errorf("%s must be empty for a key OpenSSH cannot hold", k)
					}
				}
				return
			}
			sshKey, err := ssh.ParseRawPrivateKey([]byte(out(t, m.outputs, pPrivateKeyOpenssh)))
			if err != nil {
				t.Fatalf("privateKeyOpenssh: %v", err)
			}
			if ed, ok := sshKey.(*ed25519.PrivateKey); ok {
				sshKey = *ed
			}
			if !key.(interface{ Equal(crypto.PrivateKey) bool }).Equal(sshKey) {
				t.Fatal("privateKeyOpenssh is another key")
			}
			authorized, _, _, _, err := ssh.ParseAuthorizedKey([]byte(out(t, m.outputs, pPublicKeyOpenssh)))
			if err != nil {
				t.Fatal(err)
			}
			if got := out(t, m.outputs, pFingerprintSHA256); got != ssh.FingerprintSHA256(authorized) || !strings.HasPrefix(got, "SHA256:") {
				t.Errorf("fingerprint sha256 = %q", got)
			}
			if got := out(t, m.outputs, pFingerprintMD5); got != ssh.FingerprintLegacyMD5(authorized) || strings.Count(got, ":") != 15 {
				t.Errorf("fingerprint md5 = %q", got)
			}
		})
	}
}

// chain builds the program's certificates (components/tls/registryTls.ts): a CA key and
// self-signed CA, a server key, a CSR and the server certificate signed by the CA.
func chain(t *testing.T, caKeyIn, serverKeyIn resource.PropertyMap) (ca, server made, caKey, serverKey string) {
	t.Helper()
	caKey = newKey(t, caKeyIn)
	ca = create(t, selfSignedCertType, resource.PropertyMap{
		"privateKeyPem":       secret(str(caKey)),
		"isCaCertificate":     boolean(true),
		"subject":             obj(resource.PropertyMap{"commonName": str("registry.example registry CA"), "organization": str("dso-registry")}),
		"validityPeriodHours": num(3650 * 24),
		"earlyRenewalHours":   num(30 * 24),
		"allowedUses":         strs("cert_signing", "crl_signing", "digital_signature"),
	})
	serverKey = newKey(t, serverKeyIn)
	csr := create(t, certRequestType, resource.PropertyMap{
		"privateKeyPem": secret(str(serverKey)),
		"subject":       obj(resource.PropertyMap{"commonName": str("registry.example"), "organization": str("dso-registry")}),
		"dnsNames":      strs("registry.example", "registry.internal"),
	})
	server = create(t, locallySignedCertType, resource.PropertyMap{
		"certRequestPem":      str(out(t, csr.outputs, pCertRequestPem)),
		"caPrivateKeyPem":     secret(str(caKey)),
		"caCertPem":           str(out(t, ca.outputs, pCertPem)),
		"validityPeriodHours": num(90 * 24),
		"earlyRenewalHours":   num(30 * 24),
		"allowedUses":         strs("digital_signature", "key_encipherment", "server_auth"),
	})
	return ca, server, caKey, serverKey
}

func TestCertificateChainVerifies(t *testing.T) {
	cases := []struct {
		name             string
		caKey, serverKey resource.PropertyMap
		caAlgorithm      string
	}{
		{"program: ECDSA P256 both", ecdsaP256, ecdsaP256, "ECDSA"},
		{"ED25519 CA, RSA server", resource.PropertyMap{"algorithm": str("ED25519")}, resource.PropertyMap{"algorithm": str("RSA")}, "ED25519"},
		{"RSA CA, ECDSA P384 server", resource.PropertyMap{"algorithm": str("RSA")}, resource.PropertyMap{"algorithm": str("ECDSA"), "ecdsaCurve": str("P384")}, "RSA"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := time.Now().Add(-time.Second)
			ca, server, _, serverKey := chain(t, c.caKey, c.serverKey)
			caCert := parseCert(t, out(t, ca.outputs, pCertPem))
			leaf := parseCert(t, out(t, server.outputs, pCertPem))

			roots := x509.NewCertPool()
			roots.AddCert(caCert)
			for _, name := range []string{"registry.example", "registry.internal"} {
				if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
					t.Fatalf("server certificate does not verify for %s: %v", name, err)
				}
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "other.example"}); err == nil {
				t.Fatal("server certificate verifies for a name it does not hold")
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: x509.NewCertPool(), DNSName: "registry.example"}); err == nil {
				t.Fatal("server certificate verifies without its CA")
			}

			if !caCert.IsCA || !caCert.BasicConstraintsValid || len(caCert.SubjectKeyId) == 0 {
				t.Errorf("CA: IsCA %v, SKI %x", caCert.IsCA, caCert.SubjectKeyId)
			}
			if caCert.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign|x509.KeyUsageDigitalSignature {
				t.Errorf("CA key usage = %b", caCert.KeyUsage)
			}
			if caCert.Subject.CommonName != "registry.example registry CA" || caCert.Subject.Organization[0] != "dso-registry" {
				t.Errorf("CA subject = %v", caCert.Subject)
			}
			if leaf.IsCA || leaf.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment ||
				len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
				t.Errorf("server: IsCA %v, usage %b, ext %v", leaf.IsCA, leaf.KeyUsage, leaf.ExtKeyUsage)
			}
			if leaf.Subject.CommonName != "registry.example" || !bytes.Equal(leaf.AuthorityKeyId, caCert.SubjectKeyId) {
				t.Errorf("server: subject %v, AKI %x, CA SKI %x", leaf.Subject, leaf.AuthorityKeyId, caCert.SubjectKeyId)
			}
			key, _, _ := parsePrivateKey(serverKey)
			if !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(leaf.PublicKey) {
				t.Error("server certificate is not for the server key")
			}

			if got := out(t, ca.outputs, pKeyAlgorithm); got != c.caAlgorithm {
				t.Errorf("keyAlgorithm = %s, want %s", got, c.caAlgorithm)
			}
			if got := out(t, server.outputs, pCAKeyAlgorithm); got != c.caAlgorithm {
				t.Errorf("caKeyAlgorithm = %s, want %s", got, c.caAlgorithm)
			}
			if string(ca.id) != caCert.SerialNumber.String() || string(server.id) != leaf.SerialNumber.String() {
				t.Errorf("ids %s %s are not the serial numbers", ca.id, server.id)
			}
			if !ca.outputs[pPrivateKeyPem].IsSecret() || !server.outputs[pCAPrivateKeyPem].IsSecret() {
				t.Error("private keys given to certificates must stay secret")
			}
			if ca.outputs[pCertPem].IsSecret() {
				t.Error("certPem is not secret")
			}

			for _, m := range []made{ca, server} {
				start, err := time.Parse(time.RFC3339, out(t, m.outputs, pValidityStartTime))
				if err != nil {
					t.Fatal(err)
				}
				end, err := time.Parse(time.RFC3339, out(t, m.outputs, pValidityEndTime))
				if err != nil {
					t.Fatal(err)
				}
				cert := parseCert(t, out(t, m.outputs, pCertPem))
				if start.Before(before) || start.After(time.Now()) || !start.Truncate(time.Second).Equal(cert.NotBefore) ||
					!end.Truncate(time.Second).Equal(cert.NotAfter) {
					t.Errorf("validity %v..%v, certificate %v..%v", start, end, cert.NotBefore, cert.NotAfter)
				}
				hours, _ := providerkit.AsInt(m.inputs[pValidityPeriodHours])
				if end.Sub(start) != time.Duration(hours)*time.Hour {
					t.Errorf("validity period %v, want %d hours", end.Sub(start), hours)
				}
				if !m.outputs[pReadyForRenewal].DeepEquals(boolean(false)) {
					t.Errorf("a new certificate is not ready for renewal: %v", m.outputs[pReadyForRenewal])
				}
			}
		})
	}
}

func TestSelfSignedCertOptions(t *testing.T) {
	key := newKey(t, ecdsaP256)
	base := func(changes resource.PropertyMap) resource.PropertyMap {
		m := resource.PropertyMap{"privateKeyPem": str(key), "validityPeriodHours": num(1), "allowedUses": strs("client_auth", "key_agreement")}
		for k, v := range changes {
			m[k] = v
		}
		return m
	}
	m := create(t, selfSignedCertType, base(resource.PropertyMap{
		"subject": obj(resource.PropertyMap{
			"commonName": str("cn"), "organization": str("o"), "organizationalUnit": str("ou"), "locality": str("l"),
			"province": str("st"), "country": str("DE"), "postalCode": str("12345"), "serialNumber": str("sn"),
			"streetAddresses": strs("street 1", "street 2"), "emailAddress": str("ops@example.org"),
		}),
		"dnsNames":          strs("a.example"),
		"ipAddresses":       strs("127.0.0.1", "::1"),
		"uris":              strs("spiffe://example.org/registry"),
		"setSubjectKeyId":   boolean(true),
		"setAuthorityKeyId": boolean(true),
		"isCaCertificate":   boolean(true),
		"maxPathLength":     num(2),
	}))
	c := parseCert(t, out(t, m.outputs, pCertPem))
	s := c.Subject
	if s.CommonName != "cn" || s.Organization[0] != "o" || s.OrganizationalUnit[0] != "ou" || s.Locality[0] != "l" ||
		s.Province[0] != "st" || s.Country[0] != "DE" || s.PostalCode[0] != "12345" || s.SerialNumber != "sn" ||
		strings.Join(s.StreetAddress, "|") != "street 1|street 2" {
		t.Errorf("subject = %+v", s)
	}
	email := false
	for _, n := range s.Names {
		if n.Type.Equal(emailAddressOID) && n.Value == "ops@example.org" {
			email = true
		}
	}
	if !email {
		t.Errorf("subject has no email address: %v", s.Names)
	}
	if len(c.DNSNames) != 1 || len(c.IPAddresses) != 2 || !c.IPAddresses[1].Equal(net.ParseIP("::1")) ||
		len(c.URIs) != 1 || c.URIs[0].String() != "spiffe://example.org/registry" {
		t.Errorf("alternative names: %v %v %v", c.DNSNames, c.IPAddresses, c.URIs)
	}
	if len(c.SubjectKeyId) == 0 || !bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId) || c.MaxPathLen != 2 || !c.IsCA {
		t.Errorf("SKI %x AKI %x maxPathLen %d", c.SubjectKeyId, c.AuthorityKeyId, c.MaxPathLen)
	}
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth || c.KeyUsage != x509.KeyUsageKeyAgreement {
		t.Errorf("usages %b %v", c.KeyUsage, c.ExtKeyUsage)
	}
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		t.Errorf("not self-signed: %v", err)
	}

	plain := parseCert(t, out(t, create(t, selfSignedCertType, base(nil)).outputs, pCertPem))
	if len(plain.SubjectKeyId) != 0 || len(plain.AuthorityKeyId) != 0 || plain.IsCA {
		t.Errorf("defaults: SKI %x AKI %x CA %v", plain.SubjectKeyId, plain.AuthorityKeyId, plain.IsCA)
	}

	for name, in := range map[string]resource.PropertyMap{
		"a CA without a subject":                   base(resource.PropertyMap{"isCaCertificate": boolean(true)}),
		"an authority key id without a subject id": base(resource.PropertyMap{"setAuthorityKeyId": boolean(true)}),
	} {
		checked, _ := checkInputs("t", resources[selfSignedCertType].fields, in)
		if _, _, err := resources[selfSignedCertType].create(checked); err == nil {
			t.Errorf("%s must fail", name)
		}
	}
}

func TestLocallySignedCertRefusesAMismatchedCAKey(t *testing.T) {
	ca, _, _, _ := chain(t, ecdsaP256, ecdsaP256)
	otherKey := newKey(t, ecdsaP256)
	csr := create(t, certRequestType, resource.PropertyMap{"privateKeyPem": str(otherKey), "dnsNames": strs("x.example")})
	in, failures := checkInputs("t", resources[locallySignedCertType].fields, resource.PropertyMap{
		"certRequestPem": str(out(t, csr.outputs, pCertRequestPem)), "caPrivateKeyPem": str(otherKey),
		"caCertPem": str(out(t, ca.outputs, pCertPem)), "validityPeriodHours": num(1), "allowedUses": strs("server_auth"),
	})
	if len(failures) != 0 {
		t.Fatal(failures)
	}
	if _, _, err := createLocallySignedCert(in); err == nil {
		t.Fatal("signing with a key that is not the CA's must fail")
	}
}

func TestCertRequest(t *testing.T) {
	key := newKey(t, resource.PropertyMap{"algorithm": str("ED25519")})
	m := create(t, certRequestType, resource.PropertyMap{
		"privateKeyPem": secret(str(key)), "dnsNames": strs("a.example"), "ipAddresses": strs("10.0.0.1"),
		"subject": obj(resource.PropertyMap{"commonName": str("a.example")}),
	})
	b, _ := pem.Decode([]byte(out(t, m.outputs, pCertRequestPem)))
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Fatalf("CSR signature: %v", err)
	}
	if csr.Subject.CommonName != "a.example" || csr.DNSNames[0] != "a.example" || !csr.IPAddresses[0].Equal(net.ParseIP("10.0.0.1")) {
		t.Errorf("CSR = %v %v %v", csr.Subject, csr.DNSNames, csr.IPAddresses)
	}
	if out(t, m.outputs, pKeyAlgorithm) != "ED25519" || !m.outputs[pPrivateKeyPem].IsSecret() {
		t.Errorf("keyAlgorithm %v, privateKeyPem secret %v", m.outputs[pKeyAlgorithm], m.outputs[pPrivateKeyPem].IsSecret())
	}
	if sum := sha1.Sum(bytes.TrimSpace(b.Bytes)); string(m.id) != hex.EncodeToString(sum[:]) {
		t.Errorf("id = %s, want the SHA-1 of the CSR", m.id)
	}
}

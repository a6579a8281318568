package main

// Keys after upstream internal/provider/resource_private_key.go and common_key.go: the PEM encodings
// per algorithm, PKCS#8, OpenSSH (none for P-224, which x/crypto/ssh does not support), the public key
// attributes and the id (hex SHA-1 of the public key's DER, trimmed as upstream's hashForState does).

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"

	"dso-registry/engine/providerkit"
)

// hashForState is upstream's id: the hex SHA-1 of the value with surrounding white space trimmed.
func hashForState(value string) string {
	if value == "" {
		return ""
	}
	sum := sha1.Sum([]byte(strings.TrimSpace(value)))
	return hex.EncodeToString(sum[:])
}

func generateKey(algorithm string, rsaBits int64, curve string) (crypto.Signer, error) {
	switch algorithm {
	case "RSA":
		return rsa.GenerateKey(rand.Reader, int(rsaBits))
	case "ECDSA":
		c, ok := map[string]elliptic.Curve{
			"P224": elliptic.P224(), "P256": elliptic.P256(), "P384": elliptic.P384(), "P521": elliptic.P521(),
		}[curve]
		if !ok {
			return nil, fmt.Errorf("unsupported ECDSA curve %q", curve)
		}
		return ecdsa.GenerateKey(c, rand.Reader)
	case "ED25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("unsupported key algorithm %q", algorithm)
}

func createPrivateKey(in resource.PropertyMap) (string, resource.PropertyMap, error) {
	algorithm, err := stringInput(in, pAlgorithm)
	if err != nil {
		return "", nil, err
	}
	bits, err := intInput(in, pRSABits)
	if err != nil {
		return "", nil, err
	}
	curve, err := stringInput(in, pECDSACurve)
	if err != nil {
		return "", nil, err
	}
	key, err := generateKey(algorithm, bits, curve)
	if err != nil {
		return "", nil, fmt.Errorf("generating the key: %w", err)
	}

	var block *pem.Block
	switch k := key.(type) {
	case *rsa.PrivateKey:
		block = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return "", nil, err
		}
		block = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	default:
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return "", nil, err
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", nil, err
	}
	openssh := ""
	if supportsOpenSSH(key) {
		b, err := ssh.MarshalPrivateKey(key, "")
		if err != nil {
			return "", nil, fmt.Errorf("encoding the key for OpenSSH: %w", err)
		}
		openssh = string(pem.EncodeToMemory(b))
	}

	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return "", nil, err
	}
	var pubSSH, md5, sha256 string
	if sshKey, err := ssh.NewPublicKey(key.Public()); err == nil {
		pubSSH = string(ssh.MarshalAuthorizedKey(sshKey))
		md5 = ssh.FingerprintLegacyMD5(sshKey)
		sha256 = ssh.FingerprintSHA256(sshKey)
	}
	out := resource.PropertyMap{
		pPrivateKeyPem:     resource.NewStringProperty(string(pem.EncodeToMemory(block))),
		pPrivateKeyPkcs8:   resource.NewStringProperty(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))),
		pPrivateKeyOpenssh: resource.NewStringProperty(openssh),
		pPublicKeyPem:      resource.NewStringProperty(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))),
		pPublicKeyOpenssh:  resource.NewStringProperty(pubSSH),
		pFingerprintMD5:    resource.NewStringProperty(md5),
		pFingerprintSHA256: resource.NewStringProperty(sha256),
	}
	return hashForState(string(pubDER)), out, nil
}

func supportsOpenSSH(key crypto.Signer) bool {
	if k, ok := key.(*ecdsa.PrivateKey); ok && k.Curve == elliptic.P224() {
		return false
	}
	return true
}

// decodePEM decodes the first PEM block of s and checks its type.
func decodePEM(s string, types ...string) (*pem.Block, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, fmt.Errorf("is not PEM (expected %s)", strings.Join(types, " or "))
	}
	for _, t := range types {
		if block.Type == t {
			return block, nil
		}
	}
	return nil, fmt.Errorf("is a PEM %q, expected %s", block.Type, strings.Join(types, " or "))
}

// parsePrivateKey reads a private key PEM (PKCS#1 RSA, SEC 1 EC or PKCS#8) and names its algorithm.
func parsePrivateKey(s string) (crypto.Signer, string, error) {
	block, err := decodePEM(s, privateKeyPEMTypes...)
	if err != nil {
		return nil, "", err
	}
	var key any
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, "", fmt.Errorf("failed to parse private key given PEM preamble %q: %w", block.Type, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, "RSA", nil
	case *ecdsa.PrivateKey:
		return k, "ECDSA", nil
	case ed25519.PrivateKey:
		return k, "ED25519", nil
	}
	return nil, "", fmt.Errorf("unsupported private key type %T", key)
}

func stringInput(in resource.PropertyMap, k resource.PropertyKey) (string, error) {
	v, ok := providerkit.Present(in, k)
	if !ok {
		return "", fmt.Errorf("%s is not set", k)
	}
	s, err := providerkit.AsString(v)
	if err != nil {
		return "", fmt.Errorf("%s %w", k, err)
	}
	return s, nil
}

func intInput(in resource.PropertyMap, k resource.PropertyKey) (int64, error) {
	v, ok := providerkit.Present(in, k)
	if !ok {
		return 0, fmt.Errorf("%s is not set", k)
	}
	n, err := providerkit.AsInt(v)
	if err != nil {
		return 0, fmt.Errorf("%s %w", k, err)
	}
	return n, nil
}

func boolInput(in resource.PropertyMap, k resource.PropertyKey) bool {
	v, ok := providerkit.Present(in, k)
	if !ok {
		return false
	}
	b, _ := providerkit.AsBool(v)
	return b
}

func stringsInput(in resource.PropertyMap, k resource.PropertyKey) []string {
	v, ok := providerkit.Present(in, k)
	if !ok {
		return nil
	}
	return stringList(v)
}

func stringList(v resource.PropertyValue) []string {
	inner, _ := providerkit.Unsecret(v)
	if !inner.IsArray() {
		return nil
	}
	var out []string
	for _, e := range inner.ArrayValue() {
		if s, err := providerkit.AsString(e); err == nil {
			out = append(out, s)
		}
	}
	return out
}

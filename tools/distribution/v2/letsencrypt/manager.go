// Package letsencrypt stands in for rsc.io/letsencrypt, which Distribution 2.8.3 imports for its
// `http.tls.letsencrypt` setting and which the Go module proxy no longer serves. Nothing this project
// runs uses that setting (the front terminates TLS), so every call says so instead of fetching a
// certificate.
package letsencrypt

import (
	"crypto/tls"
	"errors"
)

var errNotBuilt = errors.New("http.tls.letsencrypt is not supported by this build of the registry: terminate TLS in front of it")

// Manager has the methods the registry calls; the first one it calls fails.
type Manager struct{}

// CacheFile fails: the registry stops at startup when http.tls.letsencrypt is set.
func (*Manager) CacheFile(string) error { return errNotBuilt }

// Registered reports no account.
func (*Manager) Registered() bool { return false }

// Register fails.
func (*Manager) Register(string, func(string) bool) error { return errNotBuilt }

// SetHosts does nothing.
func (*Manager) SetHosts([]string) {}

// GetCertificate fails.
func (*Manager) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return nil, errNotBuilt
}

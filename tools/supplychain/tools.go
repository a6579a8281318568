//go:build tools

// Package tools pins the modules whose commands the build compiles: cosign (cmd/cosign), which signs
// and attests with a key generated at test time, and oras (cmd/oras), which attaches an artifact by the
// OCI referrers tag schema.
package tools

import (
	_ "github.com/sigstore/cosign/v2/cmd/cosign"
	_ "oras.land/oras/cmd/oras"
)

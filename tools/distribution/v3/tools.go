//go:build tools

// Package tools pins the module whose command the build compiles (cmd/registry): Distribution 3, the
// registry of the `registry:3` images.
package tools

import _ "github.com/distribution/distribution/v3/cmd/registry"

//go:build tools

// Package tools pins the module whose command the build compiles (cmd/registry): Distribution 2.8.3,
// the registry of the `registry:2.8.3` image the stacks deploy.
package tools

import _ "github.com/docker/distribution/cmd/registry"

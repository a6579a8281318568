//go:build tools

// Package tools pins the module whose command the build compiles: the kind CLI (the module's main
// package), which the engine tier's real cluster runs against a private Docker engine.
package tools

import (
	_ "sigs.k8s.io/kind"
)

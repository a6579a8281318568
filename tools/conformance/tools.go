//go:build tools

// Package tools pins the module whose command the build compiles: the OCI distribution-spec
// conformance suite, a program that runs the spec's pull, push, discovery and management workflows
// against one registry and writes per-test results (junit.xml, results.yaml, report.html).
package tools

import (
	_ "github.com/opencontainers/distribution-spec/conformance"
)

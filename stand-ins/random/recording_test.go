package main

import (
	"testing"

	"dso-registry/engine/providerkit"
)

// The check that catches the next drift from the real provider: testdata/real-provider.json holds what
// pulumi-random, built from its public sources (commit and upstream pin in the file's builtFrom), returned
// for the program's own inputs; ours answers the same calls on the same inputs, compared field by field.
func TestAgreesWithTheRecordedRealProvider(t *testing.T) {
	providerkit.AgreesWithRecording(t, testProvider(), "testdata/real-provider.json", nil, nil)
}

// Wrapper module: builds the OCI distribution-spec conformance suite, which the integration tests run
// against Distribution directly and through each front the program renders (docs/conformance.md).
// The module proxy serves the suite only as pseudo-versions; it refuses the commit of the v1.1.1
// release tag, so this is the newest pseudo-version it serves.
module dso-registry/tools/conformance

go 1.26.0

require github.com/opencontainers/distribution-spec/conformance v0.0.0-20260831232431-97274622c111

require (
	github.com/goccy/go-yaml v1.18.0 // indirect
	github.com/opencontainers/distribution-spec/specs-go v0.0.0-20240926185104-8376368dd8aa // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
)

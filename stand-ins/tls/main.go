// Command pulumi-resource-tls is a stand-in for the Pulumi "tls" resource provider, for the test
// tier that runs the program under the real Pulumi engine. It serves the provider gRPC protocol and
// implements PrivateKey, SelfSignedCert, CertRequest and LocallySignedCert with the semantics of the upstream
// provider (hashicorp/terraform-provider-tls, bridged as pulumi/pulumi-tls); see resources.go.
package main

import "dso-registry/engine/providerkit"

// version is stamped at build time: go build -ldflags "-X main.version=5.6.1". The engine asks for it
// (GetPluginInfo) and compares it with the version the program's SDK asks for, so a binary without
// one refuses to start.
var version string

const name = "pulumi-resource-tls"

func main() { providerkit.Main(name, version, newProvider) }

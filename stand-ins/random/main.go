// Command pulumi-resource-random is a stand-in for the Pulumi "random" resource provider, for the test
// tier that runs the program under the real Pulumi engine. It serves the provider gRPC protocol and
// implements random:index/randomPassword:RandomPassword with the semantics of the upstream provider
// (hashicorp/terraform-provider-random, bridged as pulumi/pulumi-random); see password.go.
package main

import "dso-registry/engine/providerkit"

// version is stamped at build time: go build -ldflags "-X main.version=4.21.2". The engine asks for it
// (GetPluginInfo) and compares it with the version the program's SDK asks for, so a binary without
// one refuses to start.
var version string

const name = "pulumi-resource-random"

func main() { providerkit.Main(name, version, newProvider) }

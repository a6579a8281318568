// Command pulumi-resource-kubernetes is a stand-in for the Pulumi Kubernetes provider plugin, for
// tests that run the real Pulumi engine against a real kube-apiserver. See README.md.
package main

import (
	"flag"
	"fmt"
	"os"

	"dso-registry/engine/providerkit"
)

// version is stamped at build time: -ldflags "-X main.version=4.34.2".
var version string

func main() {
	// The engine matches plugins by version: an unstamped or malformed one is refused.
	if _, err := providerkit.Version(version); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-kubernetes: %v\n", err)
		os.Exit(1)
	}

	// The engine may pass logging and tracing flags before its address.
	flags := flag.NewFlagSet("pulumi-resource-kubernetes", flag.ContinueOnError)
	flags.Bool("logtostderr", false, "log to stderr")
	flags.Int("v", 0, "log verbosity")
	flags.String("tracing", "", "tracing endpoint")
	flags.String("logflow", "", "unused")
	if err := flags.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}

	host := newEngineHost(flags.Arg(0))
	prov := newKubeProvider(version, host)
	// The engine reads the port from the first line of standard output.
	if err := providerkit.Serve(os.Stdout, nil, newServer(prov)); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-kubernetes: fatal: %v\n", err)
		os.Exit(1)
	}
}

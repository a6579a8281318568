// Command pulumi-resource-kubernetes is a stand-in for the Pulumi Kubernetes provider plugin, for
// tests that run the real Pulumi engine against a real kube-apiserver. See README.md.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// version is stamped at build time: -ldflags "-X main.version=4.34.2".
var version string

// checkVersion refuses an unstamped or malformed version: the engine matches plugins by version.
func checkVersion(v string) error {
	if v == "" {
		return fmt.Errorf(`no version; build with -ldflags "-X main.version=<version>"`)
	}
	if _, err := semver.ParseTolerant(v); err != nil {
		return fmt.Errorf("version %q is not a semantic version: %w", v, err)
	}
	return nil
}

func main() {
	if err := checkVersion(version); err != nil {
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
	srv := newServer(prov)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(s, srv)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-kubernetes: fatal: %v\n", err)
		os.Exit(1)
	}
	// The engine reads the port from the first line of standard output.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-kubernetes: fatal: %v\n", err)
		os.Exit(1)
	}
}

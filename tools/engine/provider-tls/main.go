// Command pulumi-resource-tls is a stand-in for the Pulumi "tls" resource provider, for the test
// tier that runs the program under the real Pulumi engine. It serves the provider gRPC protocol and
// implements PrivateKey, SelfSignedCert, CertRequest and LocallySignedCert with the semantics of the upstream
// provider (hashicorp/terraform-provider-tls, bridged as pulumi/pulumi-tls); see resources.go.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// version is stamped at build time: go build -ldflags "-X main.version=5.6.1". The engine asks for it
// (GetPluginInfo) and compares it with the version the program's SDK asks for, so a binary without
// one refuses to start.
var version string

const name = "pulumi-resource-tls"

func main() {
	v, err := pluginVersion(version)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
	// The engine passes logging flags (--logtostderr, -v=N, --tracing ADDR) and then its own address;
	// this provider needs neither.
	_ = engineAddress(os.Args[1:])

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, plugin.NewProviderServer(newProvider(v)))
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
	// The first line on stdout is the port: that is how the engine finds a plugin's server.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// pluginVersion parses the stamped version; an empty one is an error, not a default.
func pluginVersion(s string) (semver.Version, error) {
	if strings.TrimSpace(s) == "" {
		return semver.Version{}, fmt.Errorf(`built without a version: build with -ldflags "-X main.version=X.Y.Z"`)
	}
	v, err := semver.ParseTolerant(s)
	if err != nil {
		return semver.Version{}, fmt.Errorf("version %q is not a semantic version: %w", s, err)
	}
	return v, nil
}

// engineAddress returns the first argument that is not a flag, skipping the flags the engine passes to
// every plugin ("--tracing" takes a value).
func engineAddress(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--tracing" || a == "-tracing" {
			i++
			continue
		}
		if strings.HasPrefix(a, "-") {
			continue
		}
		return a
	}
	return ""
}

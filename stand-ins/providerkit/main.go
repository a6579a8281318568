// Package providerkit is the code our Pulumi plugin stand-ins under stand-ins/ share: the main of a
// resource provider plugin (a stamped version or no start, the gRPC server, its port on the first line
// of stdout, the engine's arguments) and helpers over the property values that providers read and
// write. Each plugin is its own module and requires this one through a replace directive.
package providerkit

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// Main is the main of a provider plugin named name (pulumi-resource-NAME) whose version is stamped at
// build time: it refuses to start without one, serves the provider newProvider makes for it and prints
// the port on the first line of stdout. The engine's arguments (logging flags, --tracing ENDPOINT, its
// own address) change nothing here; a plugin that needs the engine's address reads it with
// EngineAddress and calls Serve itself. Main returns when the server stops; a failure ends the
// process with status 1.
func Main[P plugin.Provider](name, version string, newProvider func(semver.Version) P) {
	v, err := Version(version)
	if err == nil {
		err = Serve(os.Stdout, nil, plugin.NewProviderServer(newProvider(v)))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// Version parses the version stamped at build time (-ldflags "-X main.version=X.Y.Z"). The engine asks
// for it (GetPluginInfo) and compares it with the version the program's SDK asks for, so an empty one
// is an error, not a default.
func Version(s string) (semver.Version, error) {
	if strings.TrimSpace(s) == "" {
		return semver.Version{}, fmt.Errorf(`built without a version: build with -ldflags "-X main.version=X.Y.Z"`)
	}
	v, err := semver.ParseTolerant(s)
	if err != nil {
		return semver.Version{}, fmt.Errorf("version %q stamped at build time is not a semantic version: %w", s, err)
	}
	return v, nil
}

// EngineAddress returns the engine's address among a plugin's arguments: the first one that is not a
// flag. The engine passes its own flags first (--logtostderr, -v=N, --logflow, --tracing ENDPOINT:
// pkg/resource/plugin/plugin.go buildPluginArguments); --tracing takes its value as the next argument
// and "--" ends the flags.
func EngineAddress(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if i+1 < len(args) {
				return args[i+1]
			}
			return ""
		}
		if strings.HasPrefix(a, "-") {
			if strings.TrimLeft(a, "-") == "tracing" {
				i++
			}
			continue
		}
		return a
	}
	return ""
}

// Serve serves srv as the engine's resource provider on a free loopback port, writes the port to out
// as the first line (that is how the engine finds a plugin's server) and serves until cancel is closed
// (a nil cancel: until the process ends) or the server fails.
func Serve(out io.Writer, cancel chan bool, srv pulumirpc.ResourceProviderServer) error {
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(s, srv)
			return nil
		},
	})
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(out, "%d\n", handle.Port); err != nil {
		return err
	}
	return <-handle.Done
}

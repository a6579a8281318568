// Command pulumi-resource-command is a stand-in for the Pulumi `command` provider (pulumi/pulumi-command v1.2.1)
// for tests that run the real Pulumi engine against real hosts. It serves command:remote:Command and
// command:local:Command over Pulumi's provider gRPC protocol with the upstream semantics that the dso-registry
// program relies on; each rule names the upstream file it follows.
//
// Build: go build -ldflags "-X main.version=1.2.1" -o pulumi-resource-command .
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// version is stamped at build time (-ldflags "-X main.version=1.2.1"); the engine asks for the version the
// program's SDK names, so a binary without one is refused.
var version string

func main() {
	cancel := make(chan bool)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-signals
		close(cancel)
	}()
	if err := run(os.Args[1:], os.Stdout, cancel); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-command: %v\n", err)
		os.Exit(1)
	}
}

// engineAddress returns the first argument that is not a flag. The engine passes its own flags first
// (--logtostderr, -v=N, --logflow, --tracing ENDPOINT: pkg/resource/plugin/plugin.go buildPluginArguments).
func engineAddress(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if i+1 < len(args) {
				return args[i+1]
			}
			return ""
		}
		if strings.HasPrefix(a, "-") {
			name := strings.TrimLeft(a, "-")
			if name == "tracing" {
				i++ // --tracing takes its value as the next argument
			}
			continue
		}
		return a
	}
	return ""
}

func parseVersion(v string) (semver.Version, error) {
	if v == "" {
		return semver.Version{}, errors.New(`built without a version: build with -ldflags "-X main.version=1.2.1"`)
	}
	sv, err := semver.ParseTolerant(v)
	if err != nil {
		return semver.Version{}, fmt.Errorf("version %q stamped at build time is not a semantic version: %w", v, err)
	}
	return sv, nil
}

// run serves the provider until cancel is closed or the server fails; the port goes to out as the first line.
func run(args []string, out io.Writer, cancel chan bool) error {
	v, err := parseVersion(version)
	if err != nil {
		return err
	}
	sink := &engineSink{}
	if addr := engineAddress(args); addr != "" {
		sink.setAddress(addr)
	}
	defer sink.close()
	prov := newCommandProvider(v, sink)

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, plugin.NewProviderServer(prov))
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

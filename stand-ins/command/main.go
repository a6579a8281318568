// Command pulumi-resource-command is a stand-in for the Pulumi `command` provider (pulumi/pulumi-command v1.2.1)
// for tests that run the real Pulumi engine against real hosts. It serves command:remote:Command and
// command:local:Command over Pulumi's provider gRPC protocol with the upstream semantics that the dso-registry
// program relies on; each rule names the upstream file it follows.
//
// Build: go build -ldflags "-X main.version=1.2.1" -o pulumi-resource-command .
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"

	"dso-registry/engine/providerkit"
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

// run serves the provider until cancel is closed or the server fails; the port goes to out as the first line.
func run(args []string, out io.Writer, cancel chan bool) error {
	v, err := providerkit.Version(version)
	if err != nil {
		return err
	}
	sink := &engineSink{}
	if addr := providerkit.EngineAddress(args); addr != "" {
		sink.setAddress(addr)
	}
	defer sink.close()
	return providerkit.Serve(out, cancel, plugin.NewProviderServer(newCommandProvider(v, sink)))
}

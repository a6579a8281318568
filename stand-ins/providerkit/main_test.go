package providerkit

import (
	"bufio"
	"context"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
)

func TestVersionIsRequired(t *testing.T) {
	for _, bad := range []string{"", "  "} {
		if _, err := Version(bad); err == nil || !strings.Contains(err.Error(), "without a version") {
			t.Errorf("version %q: %v, want a refusal for a missing version", bad, err)
		}
	}
	for _, bad := range []string{"one", "not-a-version"} {
		if _, err := Version(bad); err == nil || !strings.Contains(err.Error(), "not a semantic version") {
			t.Errorf("version %q: %v, want a refusal for a malformed version", bad, err)
		}
	}
	for stamped, want := range map[string]string{"4.21.2": "4.21.2", "v1.2.1": "1.2.1"} {
		if v, err := Version(stamped); err != nil || v.String() != want {
			t.Errorf("version %q: %v %v, want %s", stamped, v, err, want)
		}
	}
}

func TestEngineAddress(t *testing.T) {
	cases := map[string][]string{
		"127.0.0.1:1234": {"127.0.0.1:1234"},
		"127.0.0.1:4000": {"--logtostderr", "-v=9", "--tracing", "http://trace", "127.0.0.1:4000"},
		"127.0.0.1:1":    {"--logtostderr", "-v=9", "--logflow", "-tracing", "127.0.0.1:9", "127.0.0.1:1"},
		"127.0.0.1:2":    {"-v=3", "127.0.0.1:2", "extra"},
		"127.0.0.1:3":    {"--tracing=http://trace", "127.0.0.1:3"},
		"-odd":           {"-v=3", "--", "-odd"},
		"":               {"--logtostderr"},
	}
	for want, args := range cases {
		if got := EngineAddress(args); got != want {
			t.Errorf("EngineAddress(%v) = %q, want %q", args, got, want)
		}
	}
	for _, args := range [][]string{nil, {"--"}, {"--tracing"}} {
		if got := EngineAddress(args); got != "" {
			t.Errorf("EngineAddress(%v) = %q, want none", args, got)
		}
	}
}

type stubProvider struct {
	plugin.UnimplementedProvider
	version semver.Version
}

func (p *stubProvider) GetPluginInfo(context.Context) (plugin.PluginInfo, error) {
	return plugin.PluginInfo{Version: &p.version}, nil
}

// TestServe serves a provider as Main does, reads the port from the first line of the output as
// the engine does, asks the provider for its version over gRPC and stops the server.
func TestServe(t *testing.T) {
	pr, pw := io.Pipe()
	cancel := make(chan bool)
	done := make(chan error, 1)
	srv := plugin.NewProviderServer(&stubProvider{version: semver.MustParse("1.2.3")})
	go func() { done <- Serve(pw, cancel, srv) }()

	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(strings.TrimSuffix(line, "\n"))
	if err != nil {
		t.Fatalf("first line %q is not a port", line)
	}
	conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close() //nolint:errcheck
	info, err := pulumirpc.NewResourceProviderClient(conn).GetPluginInfo(context.Background(), &emptypb.Empty{})
	if err != nil || info.GetVersion() != "1.2.3" {
		t.Errorf("plugin info = %v, %v", info, err)
	}

	close(cancel)
	if err := <-done; err != nil {
		t.Errorf("serve after cancel: %v", err)
	}
}

func TestServeReportsAnOutputThatFails(t *testing.T) {
	pr, pw := io.Pipe()
	_ = pr.Close()
	cancel := make(chan bool)
	defer close(cancel)
	if err := Serve(pw, cancel, plugin.NewProviderServer(&stubProvider{})); err == nil {
		t.Error("a port that cannot be written must be an error")
	}
}

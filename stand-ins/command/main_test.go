package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestVersionIsRequired(t *testing.T) {
	old := version
	version = ""
	defer func() { version = old }()
	if err := run(nil, io.Discard, nil); err == nil || !strings.Contains(err.Error(), "without a version") {
		t.Errorf("run without a version: %v", err)
	}
}

// fakeEngine records Log calls.
type fakeEngine struct {
	pulumirpc.UnimplementedEngineServer
	mu   sync.Mutex
	logs []*pulumirpc.LogRequest
}

func (e *fakeEngine) Log(_ context.Context, req *pulumirpc.LogRequest) (*emptypb.Empty, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.logs = append(e.logs, req)
	return &emptypb.Empty{}, nil
}

func (e *fakeEngine) all() []*pulumirpc.LogRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*pulumirpc.LogRequest(nil), e.logs...)
}

// TestServeOverGRPC starts the provider as the engine does (engine address as the argument, port on the first line
// of stdout) and drives it through the provider server.
func TestServeOverGRPC(t *testing.T) {
	old := version
	version = "1.2.1"
	defer func() { version = old }()

	engine := &fakeEngine{}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	engineSrv := grpc.NewServer()
	pulumirpc.RegisterEngineServer(engineSrv, engine)
	go func() { _ = engineSrv.Serve(lis) }()
	defer engineSrv.Stop()

	pr, pw := io.Pipe()
	cancel := make(chan bool)
	done := make(chan error, 1)
	go func() { done <- run([]string{"--logtostderr", "-v=3", lis.Addr().String()}, pw, cancel) }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("first line %q is not a port", line)
	}
	defer func() {
		close(cancel)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("server did not stop")
		}
	}()

	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close() //nolint:errcheck
	client := pulumirpc.NewResourceProviderClient(conn)
	ctx := context.Background()

	info, err := client.GetPluginInfo(ctx, &emptypb.Empty{})
	if err != nil || info.Version != "1.2.1" {
		t.Fatalf("plugin info %v %v", info, err)
	}
	hs, err := client.Handshake(ctx, &pulumirpc.ProviderHandshakeRequest{EngineAddress: lis.Addr().String()})
	if err != nil || !hs.AcceptSecrets {
		t.Fatalf("handshake %v %v", hs, err)
	}
	cfg, err := client.Configure(ctx, &pulumirpc.ConfigureRequest{AcceptSecrets: true, AcceptResources: true})
	if err != nil || !cfg.AcceptSecrets || !cfg.SupportsPreview {
		t.Fatalf("configure %v %v", cfg, err)
	}

	marshal := func(m resource.PropertyMap) *structpb.Struct {
		s, err := plugin.MarshalProperties(m, plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	unmarshal := func(s *structpb.Struct) resource.PropertyMap {
		m, err := plugin.UnmarshalProperties(s, plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	urn := "urn:pulumi:test::dso::command:local:Command::corefile"
	news := resource.PropertyMap{
		"create":      str("cat; echo; echo visible"),
		"stdin":       secret(str("secret-body-xyz")),
		"interpreter": list(str("/bin/sh"), str("-c")),
		"logging":     str("stdoutAndStderr"),
	}
	checkResp, err := client.Check(ctx, &pulumirpc.CheckRequest{Urn: urn, Type: string(localCommandType), Name: "corefile", News: marshal(news)})
	if err != nil || len(checkResp.Failures) > 0 {
		t.Fatalf("check %v %v", checkResp, err)
	}
	checkedIn := unmarshal(checkResp.Inputs)
	if !checkedIn["stdin"].IsSecret() {
		t.Fatal("secret lost over gRPC")
	}

	preview, err := client.Create(ctx, &pulumirpc.CreateRequest{Urn: urn, Type: string(localCommandType), Name: "corefile", Properties: checkResp.Inputs, Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	if out := unmarshal(preview.Properties); !out["stdout"].IsComputed() {
		t.Errorf("preview stdout %v", out["stdout"])
	}

	created, err := client.Create(ctx, &pulumirpc.CreateRequest{Urn: urn, Type: string(localCommandType), Name: "corefile", Properties: checkResp.Inputs})
	if err != nil {
		t.Fatal(err)
	}
	out := unmarshal(created.Properties)
	if out["stdout"].StringValue() != "secret-body-xyz\nvisible" || !out["stdin"].IsSecret() {
		t.Errorf("outputs %v", out)
	}
	var lines []string
	for _, l := range engine.all() {
		if l.Urn != urn || !l.Ephemeral || l.Severity != pulumirpc.LogSeverity_INFO {
			t.Errorf("log %v", l)
		}
		lines = append(lines, l.Message)
	}
	if strings.Join(lines, "|") != redacted+"|visible" {
		t.Errorf("engine log %q", lines)
	}

	diff, err := client.Diff(ctx, &pulumirpc.DiffRequest{
		Urn: urn, Type: string(localCommandType), Name: "corefile", Id: created.Id,
		Olds: created.Properties, OldInputs: checkResp.Inputs,
		News: marshal(resource.PropertyMap{"create": str("true"), "triggers": list(str("b")), "stdin": secret(str("secret-body-xyz"))}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(diff.Replaces) == 0 {
		t.Errorf("diff %v", diff)
	}
}

package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
)

// serve runs the provider's gRPC server on a loopback port, as the engine would start it.
func serve(t *testing.T) pulumirpc.ResourceProviderClient {
	t.Helper()
	prov := newKubeProvider("4.34.2", &engineHost{quiet: true})
	cancel := make(chan bool)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(s, newServer(prov))
			return nil
		},
	})
	require.NoError(t, err)
	conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(handle.Port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = conn.Close()
		close(cancel)
		<-handle.Done
		_ = prov.Close()
	})
	return pulumirpc.NewResourceProviderClient(conn)
}

func TestServeOverGRPC(t *testing.T) {
	noAmbientCluster(t)
	client := serve(t)
	ctx := context.Background()
	dir := t.TempDir()

	hs, err := client.Handshake(ctx, &pulumirpc.ProviderHandshakeRequest{})
	require.NoError(t, err)
	assert.True(t, hs.AcceptSecrets)
	assert.True(t, hs.AcceptResources)
	assert.True(t, hs.SupportsAutonamingConfiguration)

	info, err := client.GetPluginInfo(ctx, &emptypb.Empty{})
	require.NoError(t, err)
	assert.Equal(t, "4.34.2", info.Version)

	// Older engines send configuration as "kubernetes:config:<key>" variables.
	conf, err := client.Configure(ctx, &pulumirpc.ConfigureRequest{
		Variables: map[string]string{
			"kubernetes:config:renderYamlToDirectory": dir,
			"kubernetes:config:namespace":             "dso",
		},
		AcceptSecrets: true, AcceptResources: true,
	})
	require.NoError(t, err)
	assert.True(t, conf.AcceptSecrets)
	assert.True(t, conf.SupportsPreview)
	assert.True(t, conf.AcceptResources)

	opts := plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true}
	news, err := plugin.MarshalProperties(pm(obj{"apiVersion": "v1", "kind": "ConfigMap", "data": obj{"k": "v"}}), opts)
	require.NoError(t, err)
	urn := string(urnOf("kubernetes:core/v1:ConfigMap", "settings"))
	checked, err := client.Check(ctx, &pulumirpc.CheckRequest{Urn: urn, News: news, RandomSeed: []byte("seed")})
	require.NoError(t, err)
	checkedPM, err := plugin.UnmarshalProperties(checked.Inputs, opts)
	require.NoError(t, err)
	name := checkedPM["metadata"].ObjectValue()["name"].StringValue()
	assert.Regexp(t, `^settings-[0-9a-f]{8}$`, name)
	assert.Equal(t, "dso", checkedPM["metadata"].ObjectValue()["namespace"].StringValue())

	created, err := client.Create(ctx, &pulumirpc.CreateRequest{Urn: urn, Properties: checked.Inputs})
	require.NoError(t, err)
	assert.Equal(t, "dso/"+name, created.Id)
	_, err = os.Stat(filepath.Join(dir, "1-manifest", "v1-configmap-dso-"+name+".yaml"))
	assert.NoError(t, err)

	same, err := client.Diff(ctx, &pulumirpc.DiffRequest{Urn: urn, Id: created.Id, Olds: created.Properties, News: checked.Inputs})
	require.NoError(t, err)
	assert.Equal(t, pulumirpc.DiffResponse_DIFF_NONE, same.Changes)
	assert.True(t, same.HasDetailedDiff)
}

func TestConfigureWithArgsOverGRPC(t *testing.T) {
	noAmbientCluster(t)
	client := serve(t)
	ctx := context.Background()
	args, err := plugin.MarshalProperties(pm(obj{"deleteUnreachable": true}), plugin.MarshalOptions{})
	require.NoError(t, err)
	_, err = client.Configure(ctx, &pulumirpc.ConfigureRequest{Args: args, AcceptSecrets: true})
	require.NoError(t, err)
	live := cm("ca", obj{"a": "1"})
	state, err := plugin.MarshalProperties(stateFor(live, live), plugin.MarshalOptions{KeepSecrets: true})
	require.NoError(t, err)
	read, err := client.Read(ctx, &pulumirpc.ReadRequest{
		Urn: string(urnOf("kubernetes:core/v1:ConfigMap", "ca")), Id: "dso/ca", Properties: state,
	})
	require.NoError(t, err)
	assert.Empty(t, read.Id)
	assert.Nil(t, read.Properties, "an unreachable cluster with deleteUnreachable drops the resource")
}

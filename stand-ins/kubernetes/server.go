package main

// The gRPC server: the SDK's provider server around kubeProvider, with Diff answered directly so
// that the response carries the detailed diff (HasDetailedDiff, *_REPLACE kinds, empty Stables) as
// pulumi-kubernetes' own server sends it (provider.go Diff).

import (
	"context"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

type server struct {
	pulumirpc.ResourceProviderServer
	p *kubeProvider
}

func newServer(p *kubeProvider) *server {
	return &server{ResourceProviderServer: plugin.NewProviderServer(p), p: p}
}

func (s *server) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	urn := resource.URN(req.GetUrn())
	opts := plugin.MarshalOptions{Label: fmt.Sprintf("Diff(%s)", urn), KeepUnknowns: true, KeepSecrets: true, KeepResources: true}
	olds, err := plugin.UnmarshalProperties(req.GetOlds(), opts)
	if err != nil {
		return nil, err
	}
	news, err := plugin.UnmarshalProperties(req.GetNews(), opts)
	if err != nil {
		return nil, fmt.Errorf("diff failed because malformed resource inputs: %w", err)
	}
	return s.p.diffResponse(urn, olds, news, req.GetIgnoreChanges())
}

package providerkit

import (
	"context"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

// Unconfigured is the part of a provider that has no configuration of its own (random, tls): any
// provider configuration is accepted, unused and never a diff. Embed it and implement the resources.
type Unconfigured struct {
	plugin.UnimplementedProvider
	// Version is what GetPluginInfo answers: the stamped version the engine compares with the SDK's.
	Version semver.Version
}

func (p *Unconfigured) Close() error { return nil }

func (p *Unconfigured) SignalCancellation(context.Context) error { return nil }

func (p *Unconfigured) GetPluginInfo(context.Context) (plugin.PluginInfo, error) {
	v := p.Version
	return plugin.PluginInfo{Version: &v}, nil
}

// Handshake accepts outputs: the provider server unwraps them to plain, secret or unknown values
// before they reach the provider.
func (p *Unconfigured) Handshake(
	context.Context, plugin.ProviderHandshakeRequest,
) (*plugin.ProviderHandshakeResponse, error) {
	return &plugin.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true, AcceptOutputs: true}, nil
}

func (p *Unconfigured) CheckConfig(_ context.Context, req plugin.CheckConfigRequest) (plugin.CheckConfigResponse, error) {
	return plugin.CheckConfigResponse{Properties: req.News}, nil
}

func (p *Unconfigured) DiffConfig(context.Context, plugin.DiffConfigRequest) (plugin.DiffConfigResponse, error) {
	return plugin.DiffResult{Changes: plugin.DiffNone}, nil
}

func (p *Unconfigured) Configure(context.Context, plugin.ConfigureRequest) (plugin.ConfigureResponse, error) {
	return plugin.ConfigureResponse{}, nil
}

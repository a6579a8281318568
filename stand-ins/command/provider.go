package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

// commandProvider serves command:remote:Command and command:local:Command with the semantics of pulumi-command
// v1.2.1 (its Create/Update/Delete live in provider/pkg/provider/{remote,local}/commandController.go).
type commandProvider struct {
	plugin.UnimplementedProvider
	version semver.Version
	sink    diagSink
	// runners are swappable for tests; they default to runRemote and runLocal.
	remote, local runner
}

type runner func(ctx context.Context, log resourceLog, in *commandInputs, cmd string, prevStdout, prevStderr string) (string, string, error)

func newCommandProvider(version semver.Version, sink diagSink) *commandProvider {
	return &commandProvider{version: version, sink: sink, remote: runRemote, local: runLocal}
}

var _ plugin.Provider = (*commandProvider)(nil)

func (p *commandProvider) Handshake(_ context.Context, req plugin.ProviderHandshakeRequest) (*plugin.ProviderHandshakeResponse, error) {
	if s, ok := p.sink.(*engineSink); ok && req.EngineAddress != "" {
		s.setAddress(req.EngineAddress)
	}
	return &plugin.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true}, nil
}

func (p *commandProvider) GetPluginInfo(context.Context) (plugin.PluginInfo, error) {
	v := p.version
	return plugin.PluginInfo{Version: &v}, nil
}

func (p *commandProvider) SignalCancellation(context.Context) error { return nil }

// The provider has no configuration (upstream's infer.Options has no Config): every provider input is accepted as is.
func (p *commandProvider) CheckConfig(_ context.Context, req plugin.CheckConfigRequest) (plugin.CheckConfigResponse, error) {
	return plugin.CheckConfigResponse{Properties: req.News}, nil
}

func (p *commandProvider) DiffConfig(_ context.Context, req plugin.DiffConfigRequest) (plugin.DiffConfigResponse, error) {
	olds, news := req.OldInputs.Copy(), req.NewInputs.Copy()
	delete(olds, "version")
	delete(news, "version")
	if d := olds.Diff(news); d != nil && d.AnyChanges() {
		return plugin.DiffConfigResponse{Changes: plugin.DiffSome}, nil
	}
	return plugin.DiffConfigResponse{Changes: plugin.DiffNone}, nil
}

// Configure succeeds; the provider server answers AcceptSecrets (from Handshake, else its default true) and
// SupportsPreview true.
func (p *commandProvider) Configure(context.Context, plugin.ConfigureRequest) (plugin.ConfigureResponse, error) {
	return plugin.ConfigureResponse{}, nil
}

func (p *commandProvider) Check(_ context.Context, req plugin.CheckRequest) (plugin.CheckResponse, error) {
	kind, err := kindOf(req.Type)
	if err != nil {
		return plugin.CheckResponse{}, err
	}
	props, failures := checkInputs(kind, req.News)
	return plugin.CheckResponse{Properties: props, Failures: failures}, nil
}

func (p *commandProvider) Diff(_ context.Context, req plugin.DiffRequest) (plugin.DiffResponse, error) {
	if _, err := kindOf(req.Type); err != nil {
		return plugin.DiffResult{}, err
	}
	return diffInputs(req), nil
}

func (p *commandProvider) runnerFor(kind resourceKind) runner {
	if kind == kindLocal {
		return p.local
	}
	return p.remote
}

func (p *commandProvider) logFor(urn resource.URN, inputs resource.PropertyMap) resourceLog {
	return resourceLog{sink: p.sink, urn: urn, red: newRedactor(inputs)}
}

// maskErr keeps secrets out of error messages that did not come from the command itself (dial errors and such).
func maskErr(err error, log resourceLog) error {
	if err == nil {
		return nil
	}
	var ce *commandError
	if errors.As(err, &ce) {
		return err
	}
	if masked := log.red.mask(err.Error()); masked != err.Error() {
		return &commandError{msg: masked, err: err}
	}
	return err
}

func unknownOutput() resource.PropertyValue {
	return resource.MakeComputed(resource.NewStringProperty(""))
}

// Create runs `create` (remote/commandController.go and local/commandController.go Create):
//   - the ID is the resource name plus 8 random hex digits (resource.NewUniqueHex(name, 8, 0));
//   - the outputs are the inputs plus stdout and stderr;
//   - in a preview nothing runs and stdout/stderr are unknown (infer marks outputs that mirror no input computed);
//   - without `create` nothing runs and stdout/stderr are empty;
//   - when the command fails the error is returned with no state (infer returns an empty CreateResponse on a
//     plain error), so nothing is recorded and the next `up` creates again.
func (p *commandProvider) Create(ctx context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	kind, err := kindOf(req.Type)
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	id, err := resource.NewUniqueHex(req.Name, 8, 0)
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	outs := req.Properties.Copy()
	if req.Preview {
		outs["stdout"], outs["stderr"] = unknownOutput(), unknownOutput()
		return plugin.CreateResponse{ID: resource.ID(id), Properties: outs}, nil
	}
	in, err := decodeInputs(kind, req.Properties)
	if err != nil {
		return plugin.CreateResponse{}, fmt.Errorf("invalid inputs: %w", err)
	}
	stdout, stderr := "", ""
	if in.create != nil {
		log := p.logFor(req.URN, req.Properties)
		stdout, stderr, err = p.runnerFor(kind)(ctx, log, in, *in.create, "", "")
		if err != nil {
			return plugin.CreateResponse{}, maskErr(err, log)
		}
	}
	outs["stdout"], outs["stderr"] = resource.NewStringProperty(stdout), resource.NewStringProperty(stderr)
	return plugin.CreateResponse{ID: resource.ID(id), Properties: outs}, nil
}

// Update runs `update`, or `create` when there is no `update` (commandController.go Update), with the new inputs
// (new connection, environment, stdin) and the previous stdout/stderr as PULUMI_COMMAND_STDOUT/STDERR:
//   - in a preview nothing runs; stdout/stderr become unknown when an input is unknown or differs from the state
//     (infer markComputed, comparing the new inputs with the old state), else keep their old values;
//   - with neither script nothing runs and stdout/stderr keep their old values;
//   - when the command fails the error is returned with no new state (the engine keeps the old one).
func (p *commandProvider) Update(ctx context.Context, req plugin.UpdateRequest) (plugin.UpdateResponse, error) {
	kind, err := kindOf(req.Type)
	if err != nil {
		return plugin.UpdateResponse{}, err
	}
	prevStdout, prevStderr := previousOutput(req.OldOutputs)
	outs := req.NewInputs.Copy()
	outs["stdout"], outs["stderr"] = resource.NewStringProperty(prevStdout), resource.NewStringProperty(prevStderr)
	if req.Preview {
		if inputsChangedSinceState(kind, req.OldOutputs, req.NewInputs) {
			outs["stdout"], outs["stderr"] = unknownOutput(), unknownOutput()
		}
		return plugin.UpdateResponse{Properties: outs}, nil
	}
	in, err := decodeInputs(kind, req.NewInputs)
	if err != nil {
		return plugin.UpdateResponse{}, fmt.Errorf("invalid inputs: %w", err)
	}
	cmd := in.create
	if in.update != nil {
		cmd = in.update
	}
	if cmd == nil {
		return plugin.UpdateResponse{Properties: outs}, nil
	}
	log := p.logFor(req.URN, req.NewInputs)
	stdout, stderr, err := p.runnerFor(kind)(ctx, log, in, *cmd, prevStdout, prevStderr)
	if err != nil {
		return plugin.UpdateResponse{}, maskErr(err, log)
	}
	outs["stdout"], outs["stderr"] = resource.NewStringProperty(stdout), resource.NewStringProperty(stderr)
	return plugin.UpdateResponse{Properties: outs}, nil
}

// inputsChangedSinceState is infer's markComputed test for an update: some input is unknown, or some input present
// in the old state now has another value.
func inputsChangedSinceState(kind resourceKind, state, news resource.PropertyMap) bool {
	for name := range inputProps(kind) {
		k := resource.PropertyKey(name)
		nv, hasNew := news[k]
		if hasNew && nv.ContainsUnknowns() {
			return true
		}
		ov, hasOld := state[k]
		if hasOld && (!hasNew || !ov.DeepEquals(nv)) {
			return true
		}
	}
	return false
}

// Delete runs the `delete` of the stored state, with the stored connection, environment and stdin and the stored
// stdout/stderr as PULUMI_COMMAND_STDOUT/STDERR (commandController.go Delete works on the state); without a
// `delete` nothing runs. A failure fails the delete and the resource stays in the state.
func (p *commandProvider) Delete(ctx context.Context, req plugin.DeleteRequest) (plugin.DeleteResponse, error) {
	kind, err := kindOf(req.Type)
	if err != nil {
		return plugin.DeleteResponse{}, err
	}
	state := req.Outputs
	in, err := decodeInputs(kind, state)
	if err != nil {
		return plugin.DeleteResponse{}, fmt.Errorf("invalid state: %w", err)
	}
	if in.delete == nil {
		return plugin.DeleteResponse{}, nil
	}
	prevStdout, prevStderr := previousOutput(state)
	log := p.logFor(req.URN, state)
	if _, _, err := p.runnerFor(kind)(ctx, log, in, *in.delete, prevStdout, prevStderr); err != nil {
		return plugin.DeleteResponse{}, maskErr(err, log)
	}
	return plugin.DeleteResponse{}, nil
}

// Read (refresh, import) returns what it is given: upstream implements no Read, and infer's default returns the
// state and inputs unchanged.
func (p *commandProvider) Read(_ context.Context, req plugin.ReadRequest) (plugin.ReadResponse, error) {
	if _, err := kindOf(req.Type); err != nil {
		return plugin.ReadResponse{}, err
	}
	return plugin.ReadResponse{ReadResult: plugin.ReadResult{ID: req.ID, Inputs: req.Inputs, Outputs: req.State}}, nil
}

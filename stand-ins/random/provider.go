package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"dso-registry/engine/providerkit"
)

// randomProvider implements plugin.Provider; plugin.NewProviderServer turns it into the gRPC server and
// takes care of marshalling, secrets and unknowns. It has no configuration of its own.
type randomProvider struct {
	providerkit.Unconfigured
}

func newProvider(v semver.Version) *randomProvider {
	return &randomProvider{Unconfigured: providerkit.Unconfigured{Version: v}}
}

func checkType(t tokens.Type) error {
	if t != passwordType {
		return fmt.Errorf("%s: unknown resource type %q (this stand-in implements only %s)", name, t, passwordType)
	}
	return nil
}

func (p *randomProvider) Check(_ context.Context, req plugin.CheckRequest) (plugin.CheckResponse, error) {
	if err := checkType(req.Type); err != nil {
		return plugin.CheckResponse{}, err
	}
	props, failures := checkPassword(req.News)
	return plugin.CheckResponse{Properties: props, Failures: failures}, nil
}

func (p *randomProvider) Diff(_ context.Context, req plugin.DiffRequest) (plugin.DiffResponse, error) {
	if err := checkType(req.Type); err != nil {
		return plugin.DiffResult{}, err
	}
	return planDiff(req.OldInputs, req.OldOutputs, req.NewInputs, req.IgnoreChanges), nil
}

// planDiff is upstream's plan compared with the prior state: the new inputs with the schema's defaults
// filled in (an input left out and its default stored are the same value), against the state with its
// defaults (a state of the bridge always holds them; one written before may not).
func planDiff(oldInputs, oldOutputs, newInputs resource.PropertyMap, ignoreChanges []string) plugin.DiffResult {
	return diffPassword(passwordDefaults(oldState(oldInputs, oldOutputs)), passwordDefaults(newInputs), ignoreChanges)
}

// oldState is what a diff compares with: the state (which holds every input, defaults included), or the
// old inputs where the state has no value for one.
func oldState(oldInputs, oldOutputs resource.PropertyMap) resource.PropertyMap {
	olds := resource.PropertyMap{}
	for _, k := range passwordInputs {
		if v, ok := providerkit.Present(oldOutputs, k); ok {
			olds[k] = v
		} else if v, ok := providerkit.Present(oldInputs, k); ok {
			olds[k] = v
		}
	}
	return olds
}

func (p *randomProvider) Create(_ context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	if err := checkType(req.Type); err != nil {
		return plugin.CreateResponse{}, err
	}
	outputs := passwordDefaults(req.Properties)
	if req.Preview {
		// Nothing is generated in a preview: the password and its hash are not known yet.
		outputs[pResult] = resource.MakeComputed(resource.NewStringProperty(""))
		outputs[pBcryptHash] = resource.MakeComputed(resource.NewStringProperty(""))
		// The bridge's preview is the planned state as it is: the id not known yet, none of its own keys.
		outputs[pID] = resource.MakeComputed(resource.NewStringProperty(""))
		return plugin.CreateResponse{Properties: outputs, Status: resource.StatusOK}, nil
	}
	if req.Properties.ContainsUnknowns() {
		return plugin.CreateResponse{}, fmt.Errorf("%s: cannot create %s with inputs that are not known", name, req.URN)
	}
	params, err := readParams(outputs)
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	result, err := generatePassword(params)
	if err != nil {
		return plugin.CreateResponse{}, fmt.Errorf("generating the password of %s: %w", req.URN, err)
	}
	hash, err := bcryptHash(result)
	if err != nil {
		return plugin.CreateResponse{}, fmt.Errorf("hashing the password of %s: %w", req.URN, err)
	}
	outputs[pResult] = resource.MakeSecret(resource.NewStringProperty(result))
	outputs[pBcryptHash] = resource.MakeSecret(resource.NewStringProperty(hash))
	return plugin.CreateResponse{ID: passwordID, Properties: bridgeState(outputs), Status: resource.StatusOK}, nil
}

// Read returns the stored state: there is nothing outside it to read. Given no state (an import), it
// builds one from the id, which is then the password, as upstream's ImportState does.
func (p *randomProvider) Read(_ context.Context, req plugin.ReadRequest) (plugin.ReadResponse, error) {
	if err := checkType(req.Type); err != nil {
		return plugin.ReadResponse{}, err
	}
	if len(req.State) == 0 {
		if req.ID == "" {
			return plugin.ReadResponse{}, fmt.Errorf("%s: import needs the password as the id", name)
		}
		inputs, outputs, err := importedPassword(string(req.ID))
		if err != nil {
			return plugin.ReadResponse{}, err
		}
		return plugin.ReadResponse{
			ReadResult: plugin.ReadResult{ID: "none", Inputs: inputs, Outputs: outputs},
			Status:     resource.StatusOK,
		}, nil
	}
	// Upstream's Read keeps the state as it is; the bridge then writes its own keys again (id, __meta, the
	// raw state delta), so a state without them gets them from a refresh.
	return plugin.ReadResponse{
		ReadResult: plugin.ReadResult{ID: req.ID, Inputs: req.Inputs, Outputs: bridgeState(req.State)},
		Status:     resource.StatusOK,
	}, nil
}

// Update only ever carries the changes Diff does not replace for (overrideSpecial "" -> unset): the
// password stays, the inputs are those given.
func (p *randomProvider) Update(_ context.Context, req plugin.UpdateRequest) (plugin.UpdateResponse, error) {
	if err := checkType(req.Type); err != nil {
		return plugin.UpdateResponse{}, err
	}
	if !req.Preview {
		if d := planDiff(req.OldInputs, req.OldOutputs, req.NewInputs, req.IgnoreChanges); d.Replace() {
			return plugin.UpdateResponse{}, fmt.Errorf("%s: %s cannot be updated in place (changed: %s); it must be replaced",
				name, req.URN, strings.Join(sortedKeys(d.DetailedDiff), ", "))
		}
	}
	outputs := req.OldOutputs.Copy()
	news := passwordDefaults(req.NewInputs)
	for _, k := range passwordInputs {
		if v, ok := providerkit.Present(news, k); ok {
			outputs[k] = v
		} else {
			delete(outputs, k)
		}
	}
	// The bridge writes its own keys in every state, so an update gives them to a state without them.
	return plugin.UpdateResponse{Properties: bridgeState(outputs), Status: resource.StatusOK}, nil
}

func (p *randomProvider) Delete(context.Context, plugin.DeleteRequest) (plugin.DeleteResponse, error) {
	return plugin.DeleteResponse{Status: resource.StatusOK}, nil
}

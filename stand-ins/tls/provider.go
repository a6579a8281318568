package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"dso-registry/engine/providerkit"
)

// tlsProvider implements plugin.Provider; plugin.NewProviderServer turns it into the gRPC server and
// takes care of marshalling, secrets and unknowns. It has no configuration of its own.
type tlsProvider struct {
	providerkit.Unconfigured
}

func newProvider(v semver.Version) *tlsProvider {
	return &tlsProvider{Unconfigured: providerkit.Unconfigured{Version: v}}
}

func lookup(t tokens.Type) (*tlsResource, error) {
	r, ok := resources[t]
	if !ok {
		var known []string
		for k := range resources {
			known = append(known, string(k))
		}
		sort.Strings(known)
		return nil, fmt.Errorf("%s: unknown resource type %q (this stand-in implements %s)", name, t, strings.Join(known, ", "))
	}
	return r, nil
}

func (p *tlsProvider) Check(_ context.Context, req plugin.CheckRequest) (plugin.CheckResponse, error) {
	r, err := lookup(req.Type)
	if err != nil {
		return plugin.CheckResponse{}, err
	}
	props, failures := r.check(req.News)
	return plugin.CheckResponse{Properties: props, Failures: failures}, nil
}

func (p *tlsProvider) Diff(_ context.Context, req plugin.DiffRequest) (plugin.DiffResponse, error) {
	r, err := lookup(req.Type)
	if err != nil {
		return plugin.DiffResult{}, err
	}
	return r.diff(req.OldInputs, req.OldOutputs, req.NewInputs, req.IgnoreChanges)
}

// diff compares inputs field by field and, for a certificate, plans a replacement once it is due for
// renewal, reckoned with the new earlyRenewalHours (upstream modifyPlanIfCertificateReadyForRenewal).
func (r *tlsResource) diff(oldInputs, oldOutputs, newInputs resource.PropertyMap, ignoreChanges []string) (plugin.DiffResult, error) {
	// Upstream's plan against the prior state: both with the schema's defaults, so an input left out and
	// its default stored are the same value.
	newInputs = r.planned(newInputs)
	detailed := diffInputs(r.fields, r.planned(oldState(r.fields, oldInputs, oldOutputs)), newInputs, ignoreChanges)
	if r.renewable {
		due, err := r.due(oldOutputs, newInputs)
		if err != nil {
			return plugin.DiffResult{}, err
		}
		if due {
			detailed[string(pReadyForRenewal)] = plugin.PropertyDiff{Kind: plugin.DiffUpdateReplace}
		}
	}
	return diffResult(detailed), nil
}

// due tells whether the certificate in state is due for renewal with the early renewal hours of inputs
// (or of the state while the new value is not known).
func (r *tlsResource) due(state, inputs resource.PropertyMap) (bool, error) {
	end, ok := providerkit.Present(state, pValidityEndTime)
	if !ok || providerkit.Unknown(end) {
		return false, nil
	}
	early, err := knownInt(inputs, pEarlyRenewalHours)
	if err != nil {
		if early, err = knownInt(state, pEarlyRenewalHours); err != nil {
			early = 0
		}
	}
	return dueForRenewal(end, early)
}

func (p *tlsProvider) Create(_ context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	r, err := lookup(req.Type)
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	props := r.planned(req.Properties)
	computed := resource.PropertyMap{}
	if req.Preview {
		// Nothing is generated in a preview: everything the provider makes is not known yet.
		for _, k := range r.computed {
			computed[k] = resource.MakeComputed(resource.NewStringProperty(""))
		}
		if r.renewable {
			computed[pReadyForRenewal] = resource.MakeComputed(resource.NewStringProperty(""))
			if ready, ok := plannedReadyForRenewal(props); ok {
				computed[pReadyForRenewal] = resource.NewBoolProperty(ready)
			}
		}
		// The bridge's preview is the planned state: the id not known yet, and an optional computed
		// attribute left out (max_path_length) not known either; none of the bridge's own keys.
		computed[pID] = resource.MakeComputed(resource.NewStringProperty(""))
		for _, f := range r.fields {
			if _, given := providerkit.Present(props, f.key); f.key == pMaxPathLength && !given {
				computed[pMaxPathLength] = resource.MakeComputed(resource.NewStringProperty(""))
			}
		}
		return plugin.CreateResponse{Properties: r.outputs(props, computed), Status: resource.StatusOK}, nil
	}
	if props.ContainsUnknowns() {
		return plugin.CreateResponse{}, fmt.Errorf("%s: cannot create %s with inputs that are not known", name, req.URN)
	}
	id, computed, err := r.create(props)
	if err != nil {
		return plugin.CreateResponse{}, fmt.Errorf("creating %s: %w", req.URN, err)
	}
	if r.renewable {
		ready, _ := plannedReadyForRenewal(props)
		computed[pReadyForRenewal] = resource.NewBoolProperty(ready)
	}
	return plugin.CreateResponse{ID: resource.ID(id), Properties: r.bridgeState(resource.ID(id), r.outputs(props, computed)), Status: resource.StatusOK}, nil
}

// Read returns the stored state; a certificate due for renewal is marked readyForRenewal, as upstream's
// refresh does. Import is not supported (upstream has none for these resources).
func (p *tlsProvider) Read(_ context.Context, req plugin.ReadRequest) (plugin.ReadResponse, error) {
	r, err := lookup(req.Type)
	if err != nil {
		return plugin.ReadResponse{}, err
	}
	if len(req.State) == 0 {
		return plugin.ReadResponse{}, fmt.Errorf("%s: %s cannot be imported", name, req.Type)
	}
	state := req.State.Copy()
	if r.renewable {
		due, err := r.due(state, state)
		if err != nil {
			return plugin.ReadResponse{}, err
		}
		if due {
			state[pReadyForRenewal] = resource.NewBoolProperty(true)
		}
	}
	return plugin.ReadResponse{
		// The bridge writes its own keys again after the provider's read, so a state without them gets them.
		ReadResult: plugin.ReadResult{ID: req.ID, Inputs: req.Inputs, Outputs: r.bridgeState(req.ID, state)},
		Status:     resource.StatusOK,
	}, nil
}

// Update makes the changes Diff does not replace for (earlyRenewalHours): the certificate stays, the
// inputs are those given, readyForRenewal is planned again.
func (p *tlsProvider) Update(_ context.Context, req plugin.UpdateRequest) (plugin.UpdateResponse, error) {
	r, err := lookup(req.Type)
	if err != nil {
		return plugin.UpdateResponse{}, err
	}
	if !req.Preview {
		d, err := r.diff(req.OldInputs, req.OldOutputs, req.NewInputs, req.IgnoreChanges)
		if err != nil {
			return plugin.UpdateResponse{}, err
		}
		if d.Replace() {
			var keys []string
			for _, k := range d.ReplaceKeys {
				keys = append(keys, string(k))
			}
			sort.Strings(keys)
			return plugin.UpdateResponse{}, fmt.Errorf("%s: %s cannot be updated in place (%s); it must be replaced",
				name, req.URN, strings.Join(keys, ", "))
		}
	}
	news := r.planned(req.NewInputs)
	computed := resource.PropertyMap{}
	for _, k := range r.computed {
		if v, ok := req.OldOutputs[k]; ok {
			computed[k] = v
		}
	}
	if r.renewable {
		computed[pReadyForRenewal] = resource.MakeComputed(resource.NewStringProperty(""))
		if ready, ok := plannedReadyForRenewal(news); ok {
			computed[pReadyForRenewal] = resource.NewBoolProperty(ready)
		}
	}
	outputs := r.outputs(news, computed)
	if !req.Preview {
		outputs = r.bridgeState(req.ID, outputs)
	}
	return plugin.UpdateResponse{Properties: outputs, Status: resource.StatusOK}, nil
}

func (p *tlsProvider) Delete(context.Context, plugin.DeleteRequest) (plugin.DeleteResponse, error) {
	return plugin.DeleteResponse{Status: resource.StatusOK}, nil
}

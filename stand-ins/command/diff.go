package main

import (
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

// diffInputs decides between no change, an update in place and a replacement.
//
// Upstream (pulumi-command v1.2.1) has no Diff of its own: pulumi-go-provider v1.3.0 infer/resource.go `diff`
// compares the old inputs with the new ones (dropping "version" and "__"-prefixed keys, and taking ignored paths
// from the old state), and because both Command types implement Update, only properties tagged replaceOnChanges
// replace: `triggers` (common/inputs.go). Every other change, the delete script and the connection included, is an
// update, which runs `update` or else `create` again.
//
// Upstream marks a replacement only when the key `triggers` as a whole is added or removed; a changed element
// ("triggers[0]") is replaced by the engine because the SDKs register replaceOnChanges ["triggers[*]"]. This
// stand-in replaces on any change under `triggers`, which is what the engine ends up doing in both cases.
func diffInputs(req plugin.DiffRequest) plugin.DiffResult {
	kind, _ := kindOf(req.Type)
	olds := req.OldInputs
	if len(olds) == 0 {
		// Old engines send no old inputs: rebuild them from the state, as infer does.
		olds = resource.PropertyMap{}
		for name := range inputProps(kind) {
			if v, ok := req.OldOutputs[resource.PropertyKey(name)]; ok {
				olds[resource.PropertyKey(name)] = v
			}
		}
	}
	news := req.NewInputs.Copy()
	for _, ignored := range req.IgnoreChanges {
		path, err := resource.ParsePropertyPath(ignored)
		if err != nil {
			continue
		}
		if v, ok := path.Get(resource.NewObjectProperty(req.OldOutputs)); ok {
			path.Set(resource.NewObjectProperty(news), v)
		}
	}
	for k := range news {
		if k == "version" || strings.HasPrefix(string(k), "__") {
			delete(news, k)
		}
	}

	objDiff := olds.Diff(news)
	if objDiff == nil || !objDiff.AnyChanges() {
		return plugin.DiffResult{Changes: plugin.DiffNone}
	}
	detailed := plugin.NewDetailedDiffFromObjectDiff(objDiff, false)
	changed := map[resource.PropertyKey]bool{}
	replaced := map[resource.PropertyKey]bool{}
	for path, d := range detailed {
		head := topLevelKey(path)
		changed[head] = true
		if head == "triggers" {
			d.Kind = d.Kind.AsReplace()
			detailed[path] = d
			replaced[head] = true
		}
	}
	return plugin.DiffResult{
		Changes:      plugin.DiffSome,
		ChangedKeys:  sortedKeys(changed),
		ReplaceKeys:  sortedKeys(replaced),
		DetailedDiff: detailed,
	}
}

func topLevelKey(path string) resource.PropertyKey {
	if p, err := resource.ParsePropertyPath(path); err == nil && len(p) > 0 {
		if s, ok := p[0].(string); ok {
			return resource.PropertyKey(s)
		}
	}
	return resource.PropertyKey(path)
}

func sortedKeys(m map[resource.PropertyKey]bool) []resource.PropertyKey {
	out := make([]resource.PropertyKey, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

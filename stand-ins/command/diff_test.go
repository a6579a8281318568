package main

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

func str(s string) resource.PropertyValue { return resource.NewStringProperty(s) }

func secret(v resource.PropertyValue) resource.PropertyValue { return resource.MakeSecret(v) }

func list(vs ...resource.PropertyValue) resource.PropertyValue { return resource.NewArrayProperty(vs) }

func obj(m resource.PropertyMap) resource.PropertyValue { return resource.NewObjectProperty(m) }

func unknown() resource.PropertyValue { return resource.MakeComputed(str("")) }

// remoteInputs is a checked set of remote inputs, as the engine stores them.
func remoteInputs() resource.PropertyMap {
	return resource.PropertyMap{
		"create":                 str("place"),
		"delete":                 str("remove"),
		"stdin":                  secret(str("body")),
		"triggers":               list(str("/etc/a")),
		"logging":                str("none"),
		"addPreviousOutputInEnv": resource.NewBoolProperty(false),
		"connection": secret(obj(resource.PropertyMap{
			"host": str("10.0.0.1"), "port": resource.NewNumberProperty(22), "user": str("root"),
			"privateKey": secret(str("KEY")), "hostKey": str("ssh-ed25519 AAAA"),
			"dialErrorLimit": resource.NewNumberProperty(10), "perDialTimeout": resource.NewNumberProperty(15),
		})),
	}
}

type mutation func(m resource.PropertyMap)

func set(key string, v resource.PropertyValue) mutation {
	return func(m resource.PropertyMap) { m[resource.PropertyKey(key)] = v }
}

func del(key string) mutation {
	return func(m resource.PropertyMap) { delete(m, resource.PropertyKey(key)) }
}

func setConn(key string, v resource.PropertyValue) mutation {
	return func(m resource.PropertyMap) {
		c := m["connection"].SecretValue().Element.ObjectValue().Copy()
		c[resource.PropertyKey(key)] = v
		m["connection"] = secret(obj(c))
	}
}

func TestDiffRules(t *testing.T) {
	cases := []struct {
		name     string
		typ      tokens.Type
		change   []mutation
		ignore   []string
		noOld    bool // the engine sent no old inputs: they come from the state
		changes  plugin.DiffChanges
		replaces []resource.PropertyKey
		changed  []resource.PropertyKey
	}{
		{name: "no change", changes: plugin.DiffNone},
		{name: "version key is not an input", change: []mutation{set("version", str("1.2.1"))}, changes: plugin.DiffNone},
		{name: "internal keys are not inputs", change: []mutation{set("__defaults", list())}, changes: plugin.DiffNone},
		{name: "create script changes: update", change: []mutation{set("create", str("place2"))},
			changes: plugin.DiffSome, changed: []resource.PropertyKey{"create"}},
		{name: "update script added: update", change: []mutation{set("update", str("refresh"))},
			changes: plugin.DiffSome, changed: []resource.PropertyKey{"update"}},
		{name: "delete script alone: update", change: []mutation{set("delete", str("remove2"))},
			changes: plugin.DiffSome, changed: []resource.PropertyKey{"delete"}},
		{name: "delete script removed: update", change: []mutation{del("delete")},
			changes: plugin.DiffSome, changed: []resource.PropertyKey{"delete"}},
		{name: "secret stdin changes: update", change: []mutation{set("stdin", secret(str("body2")))},
			changes: plugin.DiffSome, changed: []resource.PropertyKey{"stdin"}},
		{name: "secret stdin same value: none", change: []mutation{set("stdin", secret(str("body")))},
			changes: plugin.DiffNone},
		{name: "logging changes: update", change: []mutation{set("logging", str("stdoutAndStderr"))},
			changes: plugin.DiffSome, changed: []resource.PropertyKey{"logging"}},
		{name: "addPreviousOutputInEnv changes: update", change: []mutation{set("addPreviousOutputInEnv", resource.NewBoolProperty(true))},
			changes: plugin.DiffSome, changed: []resource.PropertyKey{"addPreviousOutputInEnv"}},
		{name: "environment added: update", change: []mutation{set("environment", obj(resource.PropertyMap{"A": str("1")}))},
			changes: plugin.DiffSome, changed: []resource.PropertyKey{"environment"}},
		{name: "connection host alone: update", change: []mutation{setConn("host", str("10.0.0.2"))},
			changes: plugin.DiffSome, changed: []resource.PropertyKey{"connection"}},
		{name: "connection key alone: update", change: []mutation{setConn("privateKey", secret(str("KEY2")))},
			changes: plugin.DiffSome, changed: []resource.PropertyKey{"connection"}},
		{name: "host key pin changes: update", change: []mutation{setConn("hostKey", str("ssh-ed25519 BBBB"))},
			changes: plugin.DiffSome, changed: []resource.PropertyKey{"connection"}},
		{name: "trigger element changes: replace", change: []mutation{set("triggers", list(str("/etc/b")))},
			changes: plugin.DiffSome, replaces: []resource.PropertyKey{"triggers"}, changed: []resource.PropertyKey{"triggers"}},
		{name: "trigger appended: replace", change: []mutation{set("triggers", list(str("/etc/a"), str("ctx")))},
			changes: plugin.DiffSome, replaces: []resource.PropertyKey{"triggers"}, changed: []resource.PropertyKey{"triggers"}},
		{name: "triggers removed: replace", change: []mutation{del("triggers")},
			changes: plugin.DiffSome, replaces: []resource.PropertyKey{"triggers"}, changed: []resource.PropertyKey{"triggers"}},
		{name: "trigger and script change: replace", change: []mutation{set("triggers", list(str("/etc/b"))), set("create", str("x"))},
			changes: plugin.DiffSome, replaces: []resource.PropertyKey{"triggers"}, changed: []resource.PropertyKey{"create", "triggers"}},
		{name: "unknown trigger in preview: replace", change: []mutation{set("triggers", list(unknown()))},
			changes: plugin.DiffSome, replaces: []resource.PropertyKey{"triggers"}, changed: []resource.PropertyKey{"triggers"}},
		{name: "unknown stdin in preview: update", change: []mutation{set("stdin", unknown())},
			changes: plugin.DiffSome, changed: []resource.PropertyKey{"stdin"}},
		{name: "ignored change: none", change: []mutation{set("create", str("place2"))}, ignore: []string{"create"},
			changes: plugin.DiffNone},
		{name: "old inputs rebuilt from state", noOld: true, changes: plugin.DiffNone},
		{name: "old inputs rebuilt from state, script changes", noOld: true, change: []mutation{set("create", str("x"))},
			changes: plugin.DiffSome, changed: []resource.PropertyKey{"create"}},
		{name: "local: triggers replace", typ: localCommandType, change: []mutation{set("triggers", list(str("ctx2")))},
			changes: plugin.DiffSome, replaces: []resource.PropertyKey{"triggers"}, changed: []resource.PropertyKey{"triggers"}},
		{name: "local: interpreter changes: update", typ: localCommandType, change: []mutation{set("interpreter", list(str("/bin/bash"), str("-c")))},
			changes: plugin.DiffSome, changed: []resource.PropertyKey{"interpreter"}},
		{name: "local: dir changes: update", typ: localCommandType, change: []mutation{set("dir", str("/tmp"))},
			changes: plugin.DiffSome, changed: []resource.PropertyKey{"dir"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			typ := tc.typ
			if typ == "" {
				typ = remoteCommandType
			}
			olds := remoteInputs()
			if typ == localCommandType {
				delete(olds, "connection")
				olds["interpreter"] = list(str("/bin/sh"), str("-c"))
			}
			news := olds.Copy()
			for _, m := range tc.change {
				m(news)
			}
			state := olds.Copy()
			state["stdout"], state["stderr"] = str("changed /etc/a"), str("")
			req := plugin.DiffRequest{Type: typ, OldInputs: olds, OldOutputs: state, NewInputs: news, IgnoreChanges: tc.ignore}
			if tc.noOld {
				req.OldInputs = nil
			}
			got := diffInputs(req)
			if got.Changes != tc.changes {
				t.Fatalf("changes: got %v, want %v (detailed %v)", got.Changes, tc.changes, got.DetailedDiff)
			}
			if !sameKeys(got.ReplaceKeys, tc.replaces) {
				t.Errorf("replace keys: got %v, want %v", got.ReplaceKeys, tc.replaces)
			}
			if !sameKeys(got.ChangedKeys, tc.changed) {
				t.Errorf("changed keys: got %v, want %v", got.ChangedKeys, tc.changed)
			}
			for path, d := range got.DetailedDiff {
				if d.Kind.IsReplace() != (topLevelKey(path) == "triggers") {
					t.Errorf("detailed diff %s: kind %v", path, d.Kind)
				}
			}
		})
	}
}

func sameKeys(a, b []resource.PropertyKey) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

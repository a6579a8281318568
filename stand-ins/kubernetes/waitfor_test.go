package main

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func certificate(generation int64, conditions ...map[string]any) *unstructured.Unstructured {
	items := make([]any, len(conditions))
	for i, c := range conditions {
		items[i] = c
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
		"metadata": map[string]any{"name": "ca", "namespace": "dso", "generation": generation},
		"status":   map[string]any{"conditions": items},
	}}
	return obj
}

func TestParseWaitFor(t *testing.T) {
	conditions, unsupported, err := parseWaitFor(
		`["condition=Ready", "condition=Issuing=false", "jsonpath={.status.phase}=Running", "jsonpath={.status.revision}", "jsonpath={.items[?(@.x)]}"]`)
	if err != nil {
		t.Fatal(err)
	}
	want := []waitCondition{
		{conditionType: "Ready", status: "True"},
		{conditionType: "Issuing", status: "false"},
		{path: ".status.phase", value: "Running"},
		{path: ".status.revision"},
	}
	if len(conditions) != len(want) {
		t.Fatalf("conditions: %+v", conditions)
	}
	for i := range want {
		if conditions[i] != want[i] {
			t.Fatalf("condition %d: %+v, want %+v", i, conditions[i], want[i])
		}
	}
	if len(unsupported) != 1 || unsupported[0] != "jsonpath={.items[?(@.x)]}" {
		t.Fatalf("unsupported: %v", unsupported)
	}
	for _, bad := range []string{"ready", "condition=", "[not json"} {
		if _, _, err := parseWaitFor(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestConditionsHold(t *testing.T) {
	ready := []waitCondition{{conditionType: "Ready", status: "True"}}
	cases := []struct {
		name string
		obj  *unstructured.Unstructured
		want bool
	}{
		{"no status yet", certificate(1), false},
		{"ready", certificate(1, map[string]any{"type": "Ready", "status": "True", "observedGeneration": int64(1)}), true},
		{"ready, case folded", certificate(1, map[string]any{"type": "ready", "status": "true"}), true},
		{"not ready", certificate(1, map[string]any{"type": "Ready", "status": "False", "observedGeneration": int64(1)}), false},
		{"ready for an older generation", certificate(2, map[string]any{"type": "Ready", "status": "True", "observedGeneration": int64(1)}), false},
		{"another condition only", certificate(1, map[string]any{"type": "Issuing", "status": "True"}), false},
	}
	for _, c := range cases {
		if got, _ := conditionsHold(c.obj, ready); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestJSONPathHolds(t *testing.T) {
	issued := []waitCondition{{conditionType: "Ready", status: "True"}, {path: ".status.revision"}}
	readyCondition := map[string]any{"type": "Ready", "status": "True", "observedGeneration": int64(1)}
	taken := certificate(1, readyCondition)
	if got, why := conditionsHold(taken, issued); got || why != "waiting for jsonpath={.status.revision}" {
		t.Errorf("ready without a revision (a Secret taken over, not issued yet): %v %q", got, why)
	}
	revised := certificate(1, readyCondition)
	revised.Object["status"].(map[string]any)["revision"] = int64(1)
	if got, why := conditionsHold(revised, issued); !got {
		t.Errorf("ready and issued: %q", why)
	}
	if got, _ := conditionsHold(revised, []waitCondition{{path: ".status.revision", value: "2"}}); got {
		t.Error("revision 1 is not 2")
	}
	if got, _ := conditionsHold(revised, []waitCondition{{path: ".status.revision", value: "1"}}); !got {
		t.Error("revision 1 is 1")
	}
	behind := certificate(2, readyCondition)
	behind.Object["status"].(map[string]any)["revision"] = int64(1)
	behind.Object["status"].(map[string]any)["observedGeneration"] = int64(1)
	if got, _ := conditionsHold(behind, []waitCondition{{path: ".status.revision"}}); got {
		t.Error("a status of an older generation")
	}
}

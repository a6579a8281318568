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
	conditions, unsupported, err := parseWaitFor(`["condition=Ready", "condition=Issuing=false", "jsonpath={.status.phase}=Running"]`)
	if err != nil {
		t.Fatal(err)
	}
	if len(conditions) != 2 || conditions[0] != (waitCondition{"Ready", "True"}) || conditions[1] != (waitCondition{"Issuing", "false"}) {
		t.Fatalf("conditions: %+v", conditions)
	}
	if len(unsupported) != 1 {
		t.Fatalf("unsupported: %v", unsupported)
	}
	for _, bad := range []string{"ready", "condition=", "[not json"} {
		if _, _, err := parseWaitFor(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestConditionsHold(t *testing.T) {
	ready := []waitCondition{{"Ready", "True"}}
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

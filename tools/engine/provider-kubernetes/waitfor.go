package main

// The `pulumi.com/waitFor` annotation (upstream: await/condition, the annotation's documentation): the
// object is ready when every listed condition holds. The forms are kubectl wait's: `condition=Type`
// (status True), `condition=Type=Value` (the status compared case-insensitively), or a JSON list of
// such strings. Upstream also takes `jsonpath=` expressions; the stand-in does not evaluate them and
// says so. A condition that names the generation it observed counts only for the current generation.

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// waitCondition is one `condition=Type[=Value]` of the annotation.
type waitCondition struct {
	conditionType string
	status        string
}

func (w waitCondition) String() string { return "condition=" + w.conditionType + "=" + w.status }

// parseWaitFor reads the annotation's value; unsupported lists the expressions the stand-in cannot
// evaluate (jsonpath).
func parseWaitFor(value string) (conditions []waitCondition, unsupported []string, err error) {
	exprs := []string{value}
	if strings.HasPrefix(strings.TrimSpace(value), "[") {
		exprs = nil
		if err := json.Unmarshal([]byte(value), &exprs); err != nil {
			return nil, nil, fmt.Errorf("pulumi.com/waitFor: %q is neither an expression nor a JSON list of them: %w", value, err)
		}
	}
	for _, expr := range exprs {
		expr = strings.TrimSpace(expr)
		switch {
		case strings.HasPrefix(expr, "condition="):
			parts := strings.SplitN(strings.TrimPrefix(expr, "condition="), "=", 2)
			if parts[0] == "" {
				return nil, nil, fmt.Errorf("pulumi.com/waitFor: %q names no condition", expr)
			}
			status := "True"
			if len(parts) == 2 {
				status = parts[1]
			}
			conditions = append(conditions, waitCondition{conditionType: parts[0], status: status})
		case strings.HasPrefix(expr, "jsonpath="):
			unsupported = append(unsupported, expr)
		default:
			return nil, nil, fmt.Errorf("pulumi.com/waitFor: %q is not condition=... or jsonpath=...", expr)
		}
	}
	return conditions, unsupported, nil
}

// conditionsHold reports whether every condition holds on obj, and the first one that does not.
func conditionsHold(obj *unstructured.Unstructured, conditions []waitCondition) (bool, string) {
	list, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	generation := obj.GetGeneration()
	for _, want := range conditions {
		held := false
		for _, item := range list {
			c, ok := item.(map[string]any)
			if !ok || !strings.EqualFold(fmt.Sprint(c["type"]), want.conditionType) {
				continue
			}
			if observed, ok := c["observedGeneration"].(int64); ok && generation != 0 && observed != generation {
				continue
			}
			held = strings.EqualFold(fmt.Sprint(c["status"]), want.status)
		}
		if !held {
			return false, fmt.Sprintf("waiting for %s", want)
		}
	}
	return true, ""
}

// awaitWaitFor waits until the annotation's conditions hold, within the resource's timeout.
func awaitWaitFor(c awaitConfig, conditions []waitCondition) (*unstructured.Unstructured, error) {
	pending := ""
	obj, err := c.watchUntil(c.timeout, func(o *unstructured.Unstructured) bool {
		ok, why := conditionsHold(o, conditions)
		if !ok && why != pending {
			pending = why
			c.status(diag.Info, why)
		}
		return ok
	})
	if err != nil && pending != "" {
		return obj, &objectError{msg: fmt.Sprintf("%v (%s)", err, pending), object: obj}
	}
	return obj, err
}

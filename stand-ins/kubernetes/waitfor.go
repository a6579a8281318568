package main

// The `pulumi.com/waitFor` annotation (upstream: await/condition, the annotation's documentation): the
// object is ready when every listed condition holds. The forms are kubectl wait's: `condition=Type`
// (status True), `condition=Type=Value` (the status compared case-insensitively), `jsonpath={.path}`
// (the field is there) and `jsonpath={.path}=value` (its value, as text, equals value), or a JSON list of
// such strings. A condition that names the generation it observed counts only for the current generation;
// a jsonpath waits while `.status.observedGeneration` is behind `.metadata.generation` (condition/jsonpath.go).
// Upstream evaluates any RFC 9535 JSONPath; the stand-in takes dotted field paths only, and says so of any
// other expression (not waiting for it).

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// waitCondition is one `condition=Type[=Value]` of the annotation, or (path set) one `jsonpath={.path}[=value]`.
type waitCondition struct {
	conditionType string
	status        string
	path          string
	value         string
}

func (w waitCondition) String() string {
	if w.path != "" {
		if w.value != "" {
			return "jsonpath={" + w.path + "}=" + w.value
		}
		return "jsonpath={" + w.path + "}"
	}
	return "condition=" + w.conditionType + "=" + w.status
}

// dottedPath is the form of jsonpath the stand-in evaluates: `.field.field…`.
var dottedPath = regexp.MustCompile(`^\{\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\}$`)

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
			path, value, _ := strings.Cut(strings.TrimPrefix(expr, "jsonpath="), "=")
			if !dottedPath.MatchString(path) || strings.Contains(value, "=") {
				unsupported = append(unsupported, expr)
				continue
			}
			conditions = append(conditions, waitCondition{path: strings.Trim(path, "{}"), value: value})
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
		if want.path != "" {
			if !pathHolds(obj, want) {
				return false, fmt.Sprintf("waiting for %s", want)
			}
			continue
		}
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

// pathHolds: the object's generation is observed (when it says), and the field is there (with the value).
func pathHolds(obj *unstructured.Unstructured, want waitCondition) bool {
	if observed, ok, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration"); ok && observed < obj.GetGeneration() {
		return false
	}
	found, ok, _ := unstructured.NestedFieldNoCopy(obj.Object, strings.Split(strings.TrimPrefix(want.path, "."), ".")...)
	if !ok {
		return false
	}
	return want.value == "" || fmt.Sprint(found) == want.value
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

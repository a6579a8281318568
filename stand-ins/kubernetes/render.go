package main

// renderYamlToDirectory: objects are written as YAML files instead of being sent to a cluster.
// Layout and file names follow pulumi-kubernetes v4 provider/pkg/provider/provider.go (renderYaml,
// renderPathForResource): <dir>/0-crd/ for CustomResourceDefinitions, <dir>/1-manifest/ for the
// rest, each file named <apiVersion>-<kind>-<namespace>-<name>.yaml with "/" and ":" in the
// apiVersion turned into "_", the kind lower-cased and "default" for an empty namespace.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func renderPath(obj *unstructured.Unstructured, dir string) string {
	namespace := obj.GetNamespace()
	if namespace == "" {
		namespace = "default"
	}
	sanitize := strings.NewReplacer("/", "_", ":", "_")
	file := fmt.Sprintf("%s-%s-%s-%s.yaml", sanitize.Replace(obj.GetAPIVersion()), strings.ToLower(obj.GetKind()),
		namespace, obj.GetName())
	if knownGroupVersions[obj.GetAPIVersion()] && obj.GetKind() == "CustomResourceDefinition" {
		return filepath.Join(dir, "0-crd", file)
	}
	return filepath.Join(dir, "1-manifest", file)
}

func renderYaml(obj *unstructured.Unstructured, dir string) error {
	if obj.GetName() == "" {
		return fmt.Errorf("cannot render an object without a name")
	}
	jsonBytes, err := obj.MarshalJSON()
	if err != nil {
		return fmt.Errorf("failed to render YAML file: %q: %w", dir, err)
	}
	yamlBytes, err := yaml.JSONToYAML(jsonBytes)
	if err != nil {
		return fmt.Errorf("failed to render YAML file: %q: %w", dir, err)
	}
	for _, sub := range []string{"0-crd", "1-manifest"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return fmt.Errorf("failed to create directory for rendered YAML: %q: %w", filepath.Join(dir, sub), err)
		}
	}
	path := renderPath(obj, dir)
	if err := os.WriteFile(path, yamlBytes, 0o600); err != nil {
		return fmt.Errorf("failed to write YAML file: %q: %w", path, err)
	}
	return nil
}

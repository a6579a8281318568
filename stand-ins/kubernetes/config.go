package main

// Provider configuration: CheckConfig, DiffConfig and Configure. Rules follow pulumi-kubernetes v4
// provider/pkg/provider/provider.go (CheckConfig, DiffConfig, Configure) and
// provider/pkg/provider/util.go (parseKubeconfigString, getActiveClusterFromConfig).

import (
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientapi "k8s.io/client-go/tools/clientcmd/api"
)

// Environment switches of the stand-in itself (documented in README.md).
const (
	envAwaitTimeout      = "DSO_STANDIN_AWAIT_TIMEOUT"
	envSkipAwait         = "DSO_STANDIN_SKIP_AWAIT"
	envDeletePropagation = "DSO_STANDIN_DELETE_PROPAGATION"
	envPollInterval      = "DSO_STANDIN_POLL_INTERVAL"
)

// providerConfig is the parsed provider configuration.
type providerConfig struct {
	kubeconfig             string
	context                string
	cluster                string
	namespace              string
	renderYamlToDirectory  string
	alwaysRender           bool
	deleteUnreachable      bool
	skipUpdateUnreachable  bool
	serverSideApply        bool
	enablePatchForce       bool
	upsertExistingObjects  bool
	enableConfigMapMutable bool
	enableSecretMutable    bool
}

// configString reads a configuration value as the string the engine would have sent as a
// variable: secrets unwrapped, booleans and numbers printed, objects as JSON.
func configString(inputs resource.PropertyMap, key string) (string, bool) {
	v, ok := inputs[resource.PropertyKey(key)]
	if !ok {
		return "", false
	}
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	switch {
	case v.IsNull(), v.IsComputed():
		return "", false
	case v.IsString():
		return v.StringValue(), true
	case v.IsBool():
		return strconv.FormatBool(v.BoolValue()), true
	case v.IsNumber():
		return strconv.FormatFloat(v.NumberValue(), 'f', -1, 64), true
	default:
		b, err := json.Marshal(v.Mappable())
		if err != nil {
			return "", false
		}
		return string(b), true
	}
}

// boolSetting reads a boolean setting: the provider value if set, else the environment variable, else def.
func boolSetting(inputs resource.PropertyMap, key, env string, def bool) bool {
	if v, ok := configString(inputs, key); ok {
		return v == "true"
	}
	if v, ok := os.LookupEnv(env); ok {
		return v == "true"
	}
	return def
}

func parseProviderConfig(inputs resource.PropertyMap) providerConfig {
	c := providerConfig{}
	c.kubeconfig, _ = configString(inputs, "kubeconfig")
	c.context, _ = configString(inputs, "context")
	c.cluster, _ = configString(inputs, "cluster")
	c.namespace, _ = configString(inputs, "namespace")
	c.renderYamlToDirectory, _ = configString(inputs, "renderYamlToDirectory")
	if v, ok := configString(inputs, "alwaysRender"); ok {
		c.alwaysRender = v == "true"
	}
	c.deleteUnreachable = boolSetting(inputs, "deleteUnreachable", "PULUMI_K8S_DELETE_UNREACHABLE", false)
	c.skipUpdateUnreachable = boolSetting(inputs, "skipUpdateUnreachable", "PULUMI_K8S_SKIP_UPDATE_UNREACHABLE", false)
	c.serverSideApply = boolSetting(inputs, "enableServerSideApply", "PULUMI_K8S_ENABLE_SERVER_SIDE_APPLY", true)
	c.enablePatchForce = boolSetting(inputs, "enablePatchForce", "PULUMI_K8S_ENABLE_PATCH_FORCE", false)
	c.upsertExistingObjects = boolSetting(inputs, "upsertExistingObjects", "PULUMI_K8S_UPSERT_EXISTING_OBJECTS", false)
	c.enableConfigMapMutable = boolSetting(inputs, "enableConfigMapMutable", "PULUMI_K8S_ENABLE_CONFIGMAP_MUTABLE", false)
	c.enableSecretMutable = boolSetting(inputs, "enableSecretMutable", "PULUMI_K8S_ENABLE_SECRET_MUTABLE", false)
	return c
}

// parseKubeconfigString reads a kubeconfig given as a path (with ~ expanded) or as its contents.
func parseKubeconfigString(pathOrContents string) (*clientapi.Config, error) {
	if pathOrContents == "" {
		return &clientapi.Config{}, nil
	}
	home := func() string {
		if u, err := user.Current(); err == nil {
			return u.HomeDir
		}
		return os.Getenv("HOME")
	}
	if pathOrContents == "~" {
		pathOrContents = home()
	} else if strings.HasPrefix(pathOrContents, "~/") {
		pathOrContents = filepath.Join(home(), pathOrContents[2:])
	}
	contents := pathOrContents
	if _, err := os.Stat(pathOrContents); err == nil {
		b, err := os.ReadFile(pathOrContents)
		if err != nil {
			return nil, err
		}
		contents = string(b)
	}
	return clientcmd.Load([]byte(contents))
}

// clusterState is the outcome of Configure's attempt to reach the cluster.
type clusterState struct {
	clients            *clientSet
	defaultNamespace   string
	unreachable        bool
	unreachableReason  string
	restConfig         *rest.Config
	kubeconfigProvided bool
}

// connect loads the kubeconfig (provider value, else $KUBECONFIG, else ~/.kube/config), applies the
// context, cluster and namespace overrides and asks the API server for its version. An invalid
// kubeconfig or an API server that does not answer marks the cluster unreachable instead of
// failing, as upstream does, so that deleteUnreachable and render mode can work without a cluster.
func connect(c providerConfig) clusterState {
	st := clusterState{defaultNamespace: c.namespace}
	overrides := &clientcmd.ConfigOverrides{
		Context:        clientapi.Context{Cluster: c.cluster, Namespace: c.namespace},
		CurrentContext: c.context,
	}
	var kc clientcmd.ClientConfig
	if c.kubeconfig != "" {
		st.kubeconfigProvided = true
		apiConfig, err := parseKubeconfigString(c.kubeconfig)
		if err != nil {
			st.unreachable = true
			st.unreachableReason = fmt.Sprintf("failed to parse kubeconfig data in `kubernetes:config:kubeconfig`- %v", err)
			return st
		}
		kc = clientcmd.NewDefaultClientConfig(*apiConfig, overrides)
	} else {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.DefaultClientConfig = &clientcmd.DefaultClientConfig
		kc = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	}
	if ns, _, err := kc.Namespace(); err == nil {
		st.defaultNamespace = ns
	}
	config, err := kc.ClientConfig()
	if err != nil {
		st.unreachable = true
		st.unreachableReason = fmt.Sprintf("unable to load Kubernetes client configuration from kubeconfig file: %v", err)
		return st
	}
	config.QPS, config.Burst = 50, 120
	config.WarningHandler = rest.NoWarnings{}
	config.UserAgent = "pulumi-kubernetes/" + version
	if s := os.Getenv("PULUMI_K8S_CLIENT_TIMEOUT"); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			config.Timeout = time.Duration(n) * time.Second
		}
	}
	if config.Timeout == 0 {
		// Every call the stand-in makes is short (it polls instead of watching), so a bound on each
		// request keeps an unresponsive API server from hanging an operation.
		config.Timeout = 30 * time.Second
	}
	st.restConfig = config
	cs, err := newClientSet(config)
	if err != nil {
		st.unreachable = true
		st.unreachableReason = fmt.Sprintf("unable to load schema information from the API server: %v", err)
		return st
	}
	if !cs.atLeast(1, 13) {
		st.unreachable = true
		st.unreachableReason = fmt.Sprintf("minimum supported cluster version is v1.13. found v%d.%d", cs.major, cs.minor)
		return st
	}
	st.clients = cs
	return st
}

// checkConfig validates the provider configuration (provider.go CheckConfig): render mode does not
// go with an explicit cluster, context or kubeconfig (a kubeconfig equal to $KUBECONFIG is allowed),
// and alwaysRender needs render mode.
func checkConfig(news resource.PropertyMap) []plugin.CheckFailure {
	truthy := func(key string) bool {
		v, ok := news[resource.PropertyKey(key)]
		if !ok {
			return false
		}
		for v.IsSecret() {
			v = v.SecretValue().Element
		}
		return (v.IsString() && v.StringValue() != "") || (v.IsBool() && v.BoolValue())
	}
	render := truthy("renderYamlToDirectory")
	var failures []plugin.CheckFailure
	if render {
		for _, key := range []string{"cluster", "context", "kubeconfig"} {
			if !truthy(key) {
				continue
			}
			if key == "kubeconfig" {
				if env, ok := os.LookupEnv("KUBECONFIG"); ok && env != "" {
					if s, _ := configString(news, key); s == env {
						continue
					}
				}
			}
			failures = append(failures, plugin.CheckFailure{
				Property: resource.PropertyKey(key),
				Reason:   fmt.Sprintf("%q arg is not compatible with \"renderYamlToDirectory\" arg", key),
			})
		}
		if len(failures) > 0 {
			return failures
		}
	}
	if v, ok := configString(news, "alwaysRender"); ok && v == "true" && !render {
		failures = append(failures, plugin.CheckFailure{
			Property: "alwaysRender",
			Reason:   `"alwaysRender" requires "renderYamlToDirectory" to be set`,
		})
	}
	return failures
}

// diffConfig plans the effect of a configuration change (provider.go DiffConfig): an unknown
// kubeconfig, context or cluster replaces the provider; so does a new render directory, and a change
// of the active cluster through kubeconfig, context or cluster. Other changes are updates.
func diffConfig(olds, news resource.PropertyMap) (plugin.DiffResult, error) {
	diff := olds.Diff(news)
	if diff == nil {
		return plugin.DiffResult{Changes: plugin.DiffNone}, nil
	}
	var changed, replaces []resource.PropertyKey
	if diff.Updated("clusterIdentifier") {
		replaces = append(replaces, "clusterIdentifier")
	}
	sameIdentifier := diff.Same("clusterIdentifier") && news.HasValue("clusterIdentifier")
	for _, key := range []resource.PropertyKey{"kubeconfig", "context", "cluster"} {
		if news[key].IsComputed() {
			return plugin.DiffResult{
				Changes: plugin.DiffSome, ChangedKeys: []resource.PropertyKey{key},
				ReplaceKeys: append(replaces, key),
			}, nil
		}
	}
	oldCfg, err := kubeconfigOf(olds["kubeconfig"])
	if err != nil {
		return plugin.DiffResult{}, err
	}
	newCfg, err := kubeconfigOf(news["kubeconfig"])
	if err != nil {
		return plugin.DiffResult{}, err
	}
	for _, k := range diff.ChangedKeys() {
		changed = append(changed, k)
		if k == "renderYamlToDirectory" {
			replaces = append(replaces, k)
		}
	}
	oldCluster, oldFound := activeCluster(oldCfg, olds)
	newCluster, newFound := activeCluster(newCfg, news)
	if oldFound && newFound && !reflect.DeepEqual(oldCluster, newCluster) {
		for _, key := range []resource.PropertyKey{"kubeconfig", "context", "cluster"} {
			for _, c := range changed {
				if c == key {
					replaces = append(replaces, key)
				}
			}
		}
	}
	if sameIdentifier {
		replaces = nil
	}
	return plugin.DiffResult{Changes: plugin.DiffSome, ChangedKeys: changed, ReplaceKeys: replaces}, nil
}

func kubeconfigOf(v resource.PropertyValue) (*clientapi.Config, error) {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	switch {
	case v.IsNull():
		return &clientapi.Config{}, nil
	case v.IsString():
		cfg, err := parseKubeconfigString(v.StringValue())
		if err != nil {
			return nil, fmt.Errorf("failed to parse kubeconfig: %w", err)
		}
		return cfg, nil
	case v.IsObject():
		b, err := json.Marshal(v.ObjectValue().Mappable())
		if err != nil {
			return nil, fmt.Errorf("failed to unmarshal kubeconfig: %w", err)
		}
		cfg, err := parseKubeconfigString(string(b))
		if err != nil {
			return nil, fmt.Errorf("failed to parse kubeconfig: %w", err)
		}
		return cfg, nil
	}
	return nil, fmt.Errorf("unexpected kubeconfig format, type: %v", v.TypeString())
}

// activeCluster is the cluster the kubeconfig selects, after the context and cluster overrides.
func activeCluster(cfg *clientapi.Config, overrides resource.PropertyMap) (*clientapi.Cluster, bool) {
	if cfg == nil || len(cfg.Clusters) == 0 {
		return nil, false
	}
	current := cfg.CurrentContext
	if s, ok := configString(overrides, "context"); ok {
		current = s
	}
	ctx := cfg.Contexts[current]
	if ctx == nil {
		return nil, false
	}
	cluster := cfg.Clusters[ctx.Cluster]
	if s, ok := configString(overrides, "cluster"); ok {
		cluster = cfg.Clusters[s]
	}
	if cluster == nil {
		return nil, false
	}
	return cluster, true
}

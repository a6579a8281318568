/**
 * Entry point for `pulumi up` / `pulumi preview`. Reads and validates the stack's config once, then
 * builds the stack; invalid config stops here with every problem listed and nothing created. The
 * resources then wait for a check of the cluster: what the stack needs and the cluster lacks stops the
 * run with one message, before anything changes (components/cluster/gate.ts). The program imports its
 * stack wiring, config loader and gate from their own modules: they are this project's, not the package's
 * public surface (components/index.ts), which exports the components alone.
 */
// First: the modules loaded after it are compiled from Node's compile cache when it holds them.
import "./components/stack/compileCache";
import * as pulumi from "@pulumi/pulumi";
import { gateOnClusterPrerequisites } from "./components/cluster/gate";
import { ConfigError, loadDeployableConfig } from "./components/config";
import { defineStack } from "./components/stack";
import { kindGateOptions } from "./components/stack/kind";

function load() {
    try {
        return loadDeployableConfig();
    } catch (error) {
        // RunError prints the message without a stack trace: the problems are the operator's to fix.
        if (error instanceof ConfigError) throw new pulumi.RunError(error.message);
        throw error;
    }
}

/**
 * The program: the stack's outputs (defineStack's, unchanged: an output a stack has no value for is absent,
 * as in the synth) once the cluster has been checked (a refusal fails the run with its message alone).
 */
export = async () => {
    const config = load();
    for (const warning of config.warnings) pulumi.log.warn(`${warning.key}: ${warning.message}`);
    const gate = gateOnClusterPrerequisites(kindGateOptions(config));
    const outputs = defineStack(config);
    // The provider's own settings say which cluster; without them kubectl, like the provider, reads KUBECONFIG.
    await gate.check({
        kubeconfig: pulumi.runtime.getConfig("kubernetes:kubeconfig"),
        context: pulumi.runtime.getConfig("kubernetes:context"),
    });
    // The outputs are exactly what defineStack returns, as the synth's outputs.json shows them: said once.
    return outputs;
};

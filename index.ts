/**
 * Entry point for `pulumi up` / `pulumi preview`. Reads and validates the stack's config once, then
 * builds the stack; invalid config stops here with every problem listed and nothing created. The
 * resources then wait for a check of the cluster: what the stack needs and the cluster lacks stops the
 * run with one message, before anything changes (components/cluster/gate.ts). The program imports its
 * stack wiring, config loader and gate from their own modules: they are this project's, not the package's
 * public surface (components/index.ts), which exports the components alone.
 */
import * as pulumi from "@pulumi/pulumi";
import { gateOnClusterPrerequisites } from "./components/cluster/gate";
import { ConfigError, loadDeployableConfig } from "./components/config";
import { defineStack } from "./components/stack";

function load() {
    try {
        return loadDeployableConfig();
    } catch (error) {
        // RunError prints the message without a stack trace: the problems are the operator's to fix.
        if (error instanceof ConfigError) throw new pulumi.RunError(error.message);
        throw error;
    }
}

/** The program: its stack outputs once the cluster has been checked (a refusal fails the run with its message alone). */
export = async () => {
    const config = load();
    for (const warning of config.warnings) pulumi.log.warn(`${warning.key}: ${warning.message}`);
    const gate = gateOnClusterPrerequisites();
    const outputs = defineStack(config);
    // The provider's own settings say which cluster; without them kubectl, like the provider, reads KUBECONFIG.
    await gate.check({
        kubeconfig: pulumi.runtime.getConfig("kubernetes:kubeconfig"),
        context: pulumi.runtime.getConfig("kubernetes:context"),
    });
    return {
        registryUrl: outputs.registryUrl,
        imagePrefix: outputs.imagePrefix,
        /** null when the registry's certificate comes from a public CA or from the operator. */
        caCertPem: outputs.caCertPem ?? null,
        /** null unless the stack manages Jenkins's credentials (jenkins.enabled). */
        jenkinsCredentialIds: outputs.jenkinsCredentialIds ?? null,
        pushExample: outputs.pushExample,
        seedImage: outputs.seedImage,
        /** null unless registry.mode is "external-host". */
        registryHostOps: outputs.registryHostOps ?? null,
        /** The push account of a registry of our own, secret: `pulumi stack output --show-secrets pushCredentials`. null for an existing registry. */
        pushCredentials: outputs.pushCredentials ?? null,
        /** The generated pull-only account, secret; null when the stack has none. */
        pullCredentials: outputs.pullCredentials ?? null,
        /** The push accounts scoped to repository prefixes, by name, secret; absent when containerRegistry.pushAccounts is empty. */
        ...(outputs.pushAccountCredentials ? { pushAccountCredentials: outputs.pushAccountCredentials } : {}),
        /** null unless containerRegistry.rotateAfterDays rotates the generated passwords by age. */
        accountRotation: outputs.accountRotation ?? null,
    };
};

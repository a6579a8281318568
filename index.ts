/**
 * Entry point for `pulumi up` / `pulumi preview`. Reads and validates the stack's config once, then
 * builds the stack; invalid config stops here with every problem listed and nothing created.
 */
import * as pulumi from "@pulumi/pulumi";
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

const config = load();
for (const warning of config.warnings) pulumi.log.warn(`${warning.key}: ${warning.message}`);
const outputs = defineStack(config);

export const registryUrl = outputs.registryUrl;
export const imagePrefix = outputs.imagePrefix;
/** null when the registry's certificate comes from a public CA or from the operator. */
export const caCertPem = outputs.caCertPem ?? null;
export const jenkinsCredentialIds = outputs.jenkinsCredentialIds;
export const pushExample = outputs.pushExample;
export const seedImage = outputs.seedImage;
/** null unless registry.mode is "external-host". */
export const registryHostOps = outputs.registryHostOps ?? null;
/** The push account of a registry of our own, secret: `pulumi stack output --show-secrets pushCredentials`. null for an existing registry. */
export const pushCredentials = outputs.pushCredentials ?? null;
/** The generated pull-only account, secret; null when the stack has none. */
export const pullCredentials = outputs.pullCredentials ?? null;

/**
 * Loading from Pulumi config: the one place config is read. Every `dso-registry:*` key is read once,
 * validated by `parseConfig`, and the secrets the configuration needs are resolved to Outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import * as runtimeConfig from "@pulumi/pulumi/runtime/config";
import { PROJECT } from "../shared/facts";
import { type ParseResult, parseConfig } from "./parse";
import { ConfigError, type ConfigProblem, closest } from "./problems";
import { configShape } from "./schema";
import { type SecretName, type SecretState, secretNames } from "./secrets";
import type { ParsedConfig } from "./settings";

/** The validated stack configuration, with the secrets it needs resolved to Outputs by the loader. */
export interface StackConfig extends ParsedConfig {
    /** Secrets required by this configuration, each one set in the stack (`pulumi config set --secret`). */
    readonly secrets: Partial<Record<SecretName, pulumi.Output<string>>>;
    /** Settings that have no effect with the rest of the configuration, and advice: told, not refused. */
    readonly warnings: readonly ConfigProblem[];
    /** Values still holding a `REPLACE-WITH-…` placeholder (see `loadDeployableConfig`). */
    readonly placeholders: readonly ConfigProblem[];
    /**
     * The Kubernetes provider's `kubernetes:context`, when the stack sets it: the cluster Pulumi deploys
     * to, which kubectl steps of the program must use too.
     */
    readonly kubernetesContext?: string;
    /**
     * The Kubernetes provider's `kubernetes:kubeconfig` (a path or the file's text), when the stack sets it:
     * the providers the program makes for other contexts (kind.clusterNames) read the same kubeconfig.
     */
    readonly kubernetesKubeconfig?: pulumi.Output<string>;
}

/** The stack key that names the Kubernetes provider's kubeconfig context. */
export const KUBERNETES_CONTEXT_KEY = "kubernetes:context";

/** The stack key that gives the Kubernetes provider's kubeconfig. */
export const KUBERNETES_KUBECONFIG_KEY = "kubernetes:kubeconfig";

function isSecretKey(fullKey: string): boolean {
    const check = (runtimeConfig as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
    return typeof check === "function" ? check(fullKey) : false;
}

/**
 * Reads every `dso-registry:*` key once, validates it, and resolves the secrets it needs.
 * Throws ConfigError (nothing is created) when anything is wrong.
 */
export function loadStackConfig(): StackConfig {
    const config = new pulumi.Config(PROJECT);
    const all = pulumi.runtime.allConfig();
    const raw: Record<string, unknown> = {};
    const problems: ConfigProblem[] = [];
    const secretStates: Partial<Record<SecretName, SecretState>> = {};
    const plainKeys = Object.keys(configShape);

    for (const [fullKey, value] of Object.entries(all)) {
        if (!fullKey.startsWith(`${PROJECT}:`)) continue;
        const key = fullKey.slice(PROJECT.length + 1);
        if ((secretNames as string[]).includes(key)) {
            secretStates[key as SecretName] = isSecretKey(fullKey) ? "secret" : "plaintext";
            continue;
        }
        if (!plainKeys.includes(key)) {
            const suggestion = closest(key, [...plainKeys, ...secretNames]);
            problems.push({
                key: fullKey,
                message: `unknown key${suggestion ? `; did you mean "${PROJECT}:${suggestion}"?` : ""} Known keys: ${[...plainKeys, ...secretNames].join(", ")}.`,
            });
            continue;
        }
        if (isSecretKey(fullKey)) {
            problems.push({ key: fullKey, message: `holds plain settings but is stored as a secret; set it without --secret` });
            continue;
        }
        try {
            raw[key] = JSON.parse(value);
        } catch {
            raw[key] = value;
        }
    }
    let parsed: ParseResult;
    try {
        parsed = parseConfig(raw, secretStates);
    } catch (error) {
        if (error instanceof ConfigError) throw new ConfigError([...problems, ...error.problems]);
        throw error;
    }
    if (problems.length > 0) throw new ConfigError(problems);

    const secrets: Partial<Record<SecretName, pulumi.Output<string>>> = {};
    for (const name of parsed.requiredSecrets) {
        secrets[name] = config.requireSecret(name);
    }
    const kubernetesContext = all[KUBERNETES_CONTEXT_KEY] || undefined;
    // A kubeconfig given as text may hold credentials: it stays secret.
    const kubeconfig = all[KUBERNETES_KUBECONFIG_KEY];
    return {
        ...parsed.config,
        secrets,
        warnings: parsed.warnings,
        placeholders: parsed.placeholders,
        kubernetesContext,
        ...(kubeconfig ? { kubernetesKubeconfig: pulumi.secret(kubeconfig) } : {}),
    };
}

/**
 * The configuration `pulumi up` and `pulumi preview` deploy: `loadStackConfig`, refused with a
 * ConfigError while any value still holds a placeholder (a host key from the example stack file
 * would only fail at SSH time, after other changes were made). The synth loads with
 * `loadStackConfig` and warns about placeholders instead.
 */
export function loadDeployableConfig(): StackConfig {
    const config = loadStackConfig();
    if (config.placeholders.length > 0) throw new ConfigError(config.placeholders);
    return config;
}

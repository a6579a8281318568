/**
 * A stack config with the `nodes` block a test gives, for the tests of node trust from config
 * (test/unit/nodeTrust.defineStack.test.ts, nodeTrustFleet.test.ts): an in-cluster registry whose pulls
 * need an account, its pull secret in one namespace, and the SSH key as a secret.
 */
import * as pulumi from "@pulumi/pulumi";
import { parseConfig, type StackConfig } from "../../components/config";

const base = {
    containerRegistry: { host: "registry.example.test", pathPrefix: "team", requiresAuthForPull: true },
    registry: { mode: "in-cluster" },
    // Pods on nodes that hold no credentials pull with this namespace's pull secret.
    pullSecrets: { namespaces: ["apps"] },
};

/** The checked stack config with `nodes` as its `nodes` block. */
export function nodesConfig(nodes: unknown): StackConfig {
    const { config } = parseConfig({ ...base, nodes }, {}, { allowMissingSecrets: true });
    return { ...config, secrets: { sshPrivateKey: pulumi.secret("[key]") }, warnings: [], placeholders: [] };
}

/** An entry of `nodes.list`: `name` at one address with a pinned host key, `extra` over it. */
export function nodeEntry(name: string, extra: object = {}) {
    return { name, host: "10.0.0.9", hostKey: "ssh-ed25519 AAAA", ...extra };
}

/**
 * Facts derived from the configuration that the config's own checks and components/config/decisions.ts both
 * read. Each takes only the keys it needs, so it serves the schema's flat shape (while the rules and
 * notices run) and the typed settings (in the decisions) alike, and both always agree.
 */
import type { RuntimeFlavour } from "../shared/facts";

/**
 * The converged case: the Maven repository is on the registry this program runs (same host and
 * port), so the registry's front serves it too. Otherwise the Maven repository is someone else's.
 */
export function mavenServedByRegistry(c: {
    readonly mavenRegistry?: { readonly host: string; readonly port: number };
    readonly containerRegistry: { readonly host: string; readonly port: number };
    readonly registry: { readonly mode: string };
}): boolean {
    const m = c.mavenRegistry;
    return m !== undefined && c.registry.mode !== "existing" && m.host === c.containerRegistry.host && m.port === c.containerRegistry.port;
}

/**
 * The keys that decide who may pull through the caches. The program's settings leave out what a mode
 * has no use for (./settings.ts): an existing registry carries no caches, kind no allowlist.
 */
interface MirrorPullKeys {
    readonly registry: {
        readonly mode: string;
        readonly allowedNetworks?: readonly string[];
        readonly mirrors?: readonly unknown[];
        readonly mirrorPull?: "accounts" | "allowlist" | "anonymous";
    };
}

/**
 * Who may pull through the pull-through caches (`registry.mirrorPull`): as set, else the allowlist's
 * networks when there is an allowlist, else the accounts. Never anonymous unless the operator says so:
 * an open cache fetches from the upstreams for anyone, on the registry's bandwidth and disk. The kind
 * placement is the exception: its front is reached from the Docker host's loopback and the kind network
 * only, and kind's nodes hold no account (docs/kind.md).
 */
export function mirrorPullPolicy(c: MirrorPullKeys): "accounts" | "allowlist" | "anonymous" {
    if (c.registry.mode === "kind") return c.registry.mirrorPull ?? "anonymous";
    return c.registry.mirrorPull ?? ((c.registry.allowedNetworks ?? []).length > 0 ? "allowlist" : "accounts");
}

/** The registry runs caches that only accounts may pull through (whatever `requiresAuthForPull` says of the rest). */
export function mirrorsNeedAccount(c: MirrorPullKeys): boolean {
    return c.registry.mode !== "existing" && (c.registry.mirrors ?? []).length > 0 && mirrorPullPolicy(c) === "accounts";
}

/**
 * Whether anything pulls with credentials, so that a pull account is needed: reads need them, the
 * caches need them (nodes then pull through them with it), or a namespace or Flux is given a pull secret.
 */
export function pullCredentialsWanted(
    c: MirrorPullKeys & {
        readonly containerRegistry: { readonly requiresAuthForPull: boolean };
        readonly pullSecrets: { readonly namespaces: readonly string[]; readonly flux: boolean };
    },
): boolean {
    return c.containerRegistry.requiresAuthForPull || mirrorsNeedAccount(c) || c.pullSecrets.namespaces.length > 0 || c.pullSecrets.flux;
}

/** A node's runtime flavour: its own (`nodes.list[].runtime`), else `nodes.runtime`. */
export function nodeRuntime(node: { readonly runtime?: RuntimeFlavour }, nodes: { readonly runtime: RuntimeFlavour }): RuntimeFlavour {
    return node.runtime ?? nodes.runtime;
}

/**
 * The nodes node trust configures, each with its runtime: every listed node (delivery "ssh", named),
 * one stand-in for all of them (delivery "daemonset", unnamed), or none (delivery "none").
 */
export function trustedNodes(
    nodes:
        | { readonly delivery: "none" }
        | {
              readonly delivery: "daemonset" | "ssh";
              readonly runtime: RuntimeFlavour;
              readonly list?: readonly { readonly name: string; readonly runtime?: RuntimeFlavour }[];
          },
): { readonly runtime: RuntimeFlavour; readonly name?: string }[] {
    switch (nodes.delivery) {
        case "none":
            return [];
        case "daemonset":
            return [{ runtime: nodes.runtime }];
        case "ssh":
            return (nodes.list ?? []).map((n) => ({ runtime: nodeRuntime(n, nodes), name: n.name }));
    }
}

/** The Jenkins credential ID of a push account of `containerRegistry.pushAccounts`: its own, or the push credential's ID and its name. */
export function pushAccountCredentialId(
    baseCredentialId: string,
    account: { readonly name: string; readonly credentialId?: string },
): string {
    return account.credentialId ?? `${baseCredentialId}-${account.name}`;
}

/** The name of a read account's pull Secrets (`containerRegistry.readAccounts[].pullSecret`). */
export function readAccountSecretName(account: { readonly name: string; readonly pullSecret?: { readonly secretName?: string } }): string {
    return account.pullSecret?.secretName ?? `registry-read-${account.name}`.toLowerCase().replace(/[^a-z0-9-]/g, "-");
}

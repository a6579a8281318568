/**
 * Decisions that more than one component depends on, each derived once from the validated config.
 * The stack hands the results to the components; no component derives them again, so both registry
 * placements (in-cluster, external host) and node trust always agree.
 */

import {
    imagePrefix,
    NODE_HELD_CREDENTIAL_FLAVOURS,
    type RegistryDeletes,
    type RuntimeFlavour,
    registryAuthority,
    restartsOnRegistriesChange,
} from "../shared/facts";
import {
    mavenServedByRegistry,
    mirrorsNeedAccount,
    type NodeSettings,
    nodeRuntime,
    type OwnRegistrySettings,
    type ParsedConfig,
    pullCredentialsWanted,
    type RegistrySettings,
} from ".";

/**
 * Who is given pull credentials, and whose account they are. Node trust (registries.yaml auth) and the
 * pull secrets both read this one decision.
 */
export interface PullCredentials {
    /**
     * Whose account: "generated", the pull-only account the program generates for a registry of its
     * own; "organisation", an existing registry's account (secrets `existingPullUsername` and
     * `existingPullPassword`).
     */
    readonly account: "generated" | "organisation";
    /** Reads need credentials (`containerRegistry.requiresAuthForPull`). */
    readonly readsNeedCredentials: boolean;
    /**
     * Namespaces whose pods pull with a pull secret: each gets a `kubernetes.io/dockerconfigjson`
     * Secret named `secretName`, and its `default` ServiceAccount lists it in `imagePullSecrets`.
     */
    readonly namespaces: readonly string[];
    /** Name of those Secrets. */
    readonly secretName: string;
    /** Flux's `registry-credentials` Secret in flux-system (the image reflector lists tags with it). */
    readonly flux: boolean;
    /**
     * Pulls through the caches need an account (`registry.mirrorPull`, docs/mirrors.md): nodes then hold
     * the pull account even when the registry's own reads are anonymous.
     */
    readonly cachesNeedCredentials: boolean;
    /** Whether nodes of a runtime flavour hold the account themselves (only when reads or the caches need credentials). */
    onNodes(flavour: RuntimeFlavour): boolean;
}

/** A node of `nodes.list` (delivery "ssh") as node trust takes it. */
export interface SshNode {
    /** Its entry in `nodes.list`. */
    readonly node: NodeSettings;
    /** Its runtime flavour: its own, else `nodes.runtime`. */
    readonly runtime: RuntimeFlavour;
    /** Its runtime reads registries.yaml only when it starts (k3s, RKE2): a change restarts it, in turns. */
    readonly restartsOnChange: boolean;
}

/** Every decision several components read, made once by `decide`. */
export interface Decisions {
    /** `host[:port]` of the container registry, as image references and logins name it. */
    readonly authority: string;
    /** `authority/pathPrefix`, the prefix every image name starts with. */
    readonly imagePrefix: string;
    /**
     * Pull credentials, when anything needs them: reads need credentials, or a pull secret is
     * configured. Undefined otherwise (then no pull-only account exists).
     */
    readonly pullCredentials?: PullCredentials;
    /**
     * Who may delete (`RegistryDeletes`): DELETE through the API for push accounts, which garbage
     * collection needs (it frees only what no manifest references: the documented workflow deletes a manifest,
     * then collects) and so does the UI's delete button; and that button, when the UI runs and the
     * operator asked for it.
     */
    readonly deletes: RegistryDeletes;
    /**
     * Tag retention in garbage collection's window (`registry.maintenance.retention`), when it has rules
     * (the config refuses rules without garbage collection, so `deletes.api` is on whenever this is set).
     */
    readonly retention?: OwnRegistrySettings["maintenance"]["retention"];
    /**
     * The registry's front serves the Maven repository too (`mavenRegistry.host` and port are the
     * registry's own). Otherwise nothing Maven is served and pipelines point at `mavenRegistry.host`.
     */
    readonly mavenServed: boolean;
    /**
     * The CA the configuration names, for the program to publish when it makes none itself: an existing
     * registry's (`existing.caCertificate`) or a cert-manager issuer's (`registry.tls.certManagerCaCertificate`).
     */
    readonly configuredCa?: string;
    /** The nodes node trust reaches over SSH (`nodes.delivery` "ssh"); empty with another delivery. */
    readonly sshNodes: readonly SshNode[];
}

function decidePullCredentials(cfg: ParsedConfig): PullCredentials | undefined {
    if (!pullCredentialsWanted(cfg)) return undefined;
    const readsNeedCredentials = cfg.containerRegistry.requiresAuthForPull;
    const cachesNeedCredentials = mirrorsNeedAccount(cfg);
    const p = cfg.pullSecrets;
    return {
        account: cfg.registry.mode === "existing" ? "organisation" : "generated",
        readsNeedCredentials,
        cachesNeedCredentials,
        namespaces: p.namespaces,
        secretName: p.secretName,
        flux: p.flux,
        onNodes: (flavour) => (readsNeedCredentials || cachesNeedCredentials) && NODE_HELD_CREDENTIAL_FLAVOURS.has(flavour),
    };
}

function decideSshNodes(nodes: ParsedConfig["nodes"]): SshNode[] {
    if (nodes.delivery !== "ssh") return [];
    return nodes.list.map((node) => {
        const runtime = nodeRuntime(node, nodes);
        return { node, runtime, restartsOnChange: restartsOnRegistriesChange(runtime) };
    });
}

/**
 * Who may delete, and the tags retention removes: a registry the program runs decides both from its UI
 * and its upkeep; an existing registry is not ours to delete from or clean up.
 */
function decideUpkeep(r: RegistrySettings): Pick<Decisions, "deletes" | "retention"> {
    if (r.mode === "existing") return { deletes: { api: false, ui: false } };
    const api = r.ui.deleteEnabled || r.maintenance.garbageCollection.enabled;
    const retention = r.maintenance.retention;
    return {
        deletes: { api, ui: r.ui.enabled && r.ui.deleteEnabled && api },
        ...(retention.rules.length > 0 ? { retention } : {}),
    };
}

/** The CA the configuration names: an existing registry's, or the in-cluster cert-manager issuer's. */
function configuredCaOf(r: RegistrySettings): string | undefined {
    switch (r.mode) {
        case "existing":
            return r.existing.caCertificate;
        case "in-cluster":
            return r.tls.mode === "cert-manager" && r.tls.issuer === "named" ? r.tls.caCertificate : undefined;
        case "external-host":
        case "kind":
            return undefined;
    }
}

/** Every decision, from the validated configuration. */
export function decide(cfg: ParsedConfig): Decisions {
    const cr = cfg.containerRegistry;
    const authority = registryAuthority(cr.host, cr.port);
    const pullCredentials = decidePullCredentials(cfg);
    const configuredCa = configuredCaOf(cfg.registry);
    return {
        authority,
        imagePrefix: imagePrefix(authority, cr.pathPrefix),
        ...(pullCredentials ? { pullCredentials } : {}),
        ...decideUpkeep(cfg.registry),
        mavenServed: mavenServedByRegistry(cfg),
        ...(configuredCa ? { configuredCa } : {}),
        sshNodes: decideSshNodes(cfg.nodes),
    };
}

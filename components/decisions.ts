/**
 * Decisions that more than one component depends on, each derived once from the validated config.
 * The stack hands the results to the components; no component derives them again, so both registry
 * placements (in-cluster, external host) and node trust always agree.
 */
import type { ParsedConfig } from "./config";
import { imagePrefix, type RuntimeFlavour, registryAuthority } from "./shared/facts";

export interface Decisions {
    /** `host[:port]` of the container registry, as image references and logins name it. */
    readonly authority: string;
    /** `authority/pathPrefix`, the prefix every image name starts with. */
    readonly imagePrefix: string;
    /** The program runs the registry (in-cluster or on its host); false for an existing registry. */
    readonly ownRegistry: boolean;
    /**
     * The pull-only account exists: pulls need credentials, or a pull secret is configured. It exists
     * only for a registry of our own (an existing registry's accounts are the organisation's).
     */
    readonly pullAccount: boolean;
    /**
     * DELETE through the API, for push accounts. Garbage collection frees only what no manifest
     * references, so it needs deletable manifests (the seed workflow: delete a manifest, then collect);
     * the UI's delete button needs them too.
     */
    readonly apiDeletes: boolean;
    /** The web UI shows a delete button (only when the UI runs and the operator asked for it). */
    readonly uiDeletes: boolean;
    /** Whether nodes of a runtime flavour hold the pull account themselves (k3s / RKE2 registries.yaml). */
    nodesHoldPullAccount(flavour: RuntimeFlavour): boolean;
}

export function decide(cfg: ParsedConfig): Decisions {
    const cr = cfg.containerRegistry;
    const authority = registryAuthority(cr.host, cr.port);
    const ownRegistry = cfg.registry.mode !== "existing";
    const apiDeletes = ownRegistry && (cfg.registry.ui.deleteEnabled || cfg.registry.maintenance.garbageCollection.enabled);
    return {
        authority,
        imagePrefix: imagePrefix(authority, cr.pathPrefix),
        ownRegistry,
        pullAccount: ownRegistry && (cr.requiresAuthForPull || cfg.pullSecrets.namespaces.length > 0 || cfg.pullSecrets.flux),
        apiDeletes,
        uiDeletes: cfg.registry.ui.enabled && cfg.registry.ui.deleteEnabled && apiDeletes,
        // Other runtimes have no place for credentials on the node: pods pull with imagePullSecrets.
        nodesHoldPullAccount: (flavour) => cr.requiresAuthForPull && (flavour === "k3s" || flavour === "rke2"),
    };
}

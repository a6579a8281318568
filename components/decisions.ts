/**
 * Decisions that more than one component depends on, each derived once from the validated config.
 * The stack hands the results to the components; no component derives them again, so both registry
 * placements (in-cluster, external host) and node trust always agree.
 */
import { mavenServedByRegistry, type ParsedConfig } from "./config";
import { imagePrefix, type RuntimeFlavour, registryAuthority } from "./shared/facts";

/**
 * Runtime flavours whose nodes can hold registry credentials themselves, so that every pod on them
 * pulls without an imagePullSecret: k3s and RKE2 read `configs.<host>.auth` from registries.yaml;
 * containerd (also microk8s's and kind's) sends hosts.toml's `header` table (an `Authorization: Basic`
 * header) with every request to the registry. The Docker engine has nothing kubelet's pulls use, so
 * pods on docker nodes pull with the pull secrets of `pullSecrets.namespaces`. The config rules refuse
 * reads that need credentials when some node gets none this way and no namespace gets a pull secret.
 */
export const NODE_HELD_CREDENTIAL_FLAVOURS: ReadonlySet<RuntimeFlavour> = new Set<RuntimeFlavour>([
    "k3s",
    "rke2",
    "containerd",
    "microk8s",
    "kind",
]);

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
    /** Whether nodes of a runtime flavour hold the account themselves (only when reads need credentials). */
    onNodes(flavour: RuntimeFlavour): boolean;
}

export interface Decisions {
    /** `host[:port]` of the container registry, as image references and logins name it. */
    readonly authority: string;
    /** `authority/pathPrefix`, the prefix every image name starts with. */
    readonly imagePrefix: string;
    /** The program runs the registry (in-cluster or on its host); false for an existing registry. */
    readonly ownRegistry: boolean;
    /**
     * Pull credentials, when anything needs them: reads need credentials, or a pull secret is
     * configured. Undefined otherwise (then no pull-only account exists).
     */
    readonly pullCredentials?: PullCredentials;
    /**
     * DELETE through the API, for push accounts. Garbage collection frees only what no manifest
     * references, so it needs deletable manifests (the seed workflow: delete a manifest, then collect);
     * the UI's delete button needs them too.
     */
    readonly apiDeletes: boolean;
    /** The web UI shows a delete button (only when the UI runs and the operator asked for it). */
    readonly uiDeletes: boolean;
    /**
     * The registry's front serves the Maven repository too (`mavenRegistry.host` and port are the
     * registry's own). Otherwise nothing Maven is served and pipelines point at `mavenRegistry.host`.
     */
    readonly mavenServed: boolean;
}

function decidePullCredentials(cfg: ParsedConfig, ownRegistry: boolean): PullCredentials | undefined {
    const readsNeedCredentials = cfg.containerRegistry.requiresAuthForPull;
    const p = cfg.pullSecrets;
    if (!readsNeedCredentials && p.namespaces.length === 0 && !p.flux) return undefined;
    return {
        account: ownRegistry ? "generated" : "organisation",
        readsNeedCredentials,
        namespaces: p.namespaces,
        secretName: p.secretName,
        flux: p.flux,
        onNodes: (flavour) => readsNeedCredentials && NODE_HELD_CREDENTIAL_FLAVOURS.has(flavour),
    };
}

export function decide(cfg: ParsedConfig): Decisions {
    const cr = cfg.containerRegistry;
    const authority = registryAuthority(cr.host, cr.port);
    const ownRegistry = cfg.registry.mode !== "existing";
    const apiDeletes = ownRegistry && (cfg.registry.ui.deleteEnabled || cfg.registry.maintenance.garbageCollection.enabled);
    const pullCredentials = decidePullCredentials(cfg, ownRegistry);
    return {
        authority,
        imagePrefix: imagePrefix(authority, cr.pathPrefix),
        ownRegistry,
        ...(pullCredentials ? { pullCredentials } : {}),
        apiDeletes,
        uiDeletes: cfg.registry.ui.enabled && cfg.registry.ui.deleteEnabled && apiDeletes,
        mavenServed: mavenServedByRegistry(cfg),
    };
}

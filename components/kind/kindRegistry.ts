/**
 * The registry for a kind cluster (`registry.mode` "kind", docs/kind.md): Distribution and its Caddy
 * front as containers on the Docker host that runs the cluster (locally or over SSH), the front
 * attached to the kind network under its own name, the images in a host directory that outlives the
 * cluster; each node's containerd configured for the registry's name and for localhost:<port>, now and
 * by a watcher container whenever a node of the cluster starts; and the KEP-1755 ConfigMap. One registry
 * may serve several clusters of the same Docker host (`layout.clusters`): each gets its nodes' files and
 * its ConfigMap, through its own Kubernetes provider.
 */
import * as pulumi from "@pulumi/pulumi";
import { previousUsersFile } from "../accessPolicy/usersFile";
import { type OverlapFiles, overlapFilesOutput, usersFileOutput } from "../accessPolicy/usersFileOutput";
import { decoyHash } from "../accounts/decoy";
import { MIRROR_FILE_ROLES, type RegistryMirror, renderMirrorEnvFile } from "../mirrors/mirrors";
import { DEFAULT_IMAGES, DEFAULT_KIND_WATCHER_IMAGE } from "../shared/defaults";
import type { DistributionSettings } from "../shared/distributionSettings";
import { DISTRIBUTION, type RegistryDeletes } from "../shared/facts";
import { fingerprint } from "../shared/fingerprint";
import { FRONT_DEFAULTS, frontUsers, type RegistryFront } from "../shared/front";
import {
    dataDirStepName,
    type HostConnection,
    HostFile,
    type HostTarget,
    hostCommand,
    type PlannedHostCommand,
    type PlannedHostFile,
    privileged,
} from "../shared/hostAccess";
import { HostFilesCheck, type HostFilesCheckArgs, recreatingScript } from "../shared/hostFilesCheck";
import type { K8sObject } from "../shared/k8sObject";
import { type PlannedObject, registerPlannedObjects } from "../shared/k8sResources";
import { shQuote } from "../shared/shQuote";
import { typeToken } from "../shared/typeToken";
import { KIND_DISK_FULL_MARKER, type KindDiskGuard } from "./diskGuard";
import { renderKindCaddyfile, renderKindRegistryConfig } from "./front";
import {
    containersApplyScript,
    containersDeleteScript,
    dataDirClaimScript,
    KIND_GC_MARKER,
    type KindFileDigests,
    type KindGarbageCollection,
    type KindImages,
    type KindLayout,
    type KindMirrorRun,
    kindClusters,
    kindMirrorFiles,
    kindMirrorPaths,
    kindPaths,
    localRegistryHostingBody,
    nodeInsideScript,
    nodesConfigureScript,
    nodesUnconfigureScript,
    nodeWatchScript,
    watcherStopScript,
} from "./scripts";
import { KIND_UI_OBJECTS, type KindUiIngress, kindUiEnvironment, kindUiObjects, kindUiOrigin, kindUiPageUrl, kindUiUpstream } from "./ui";
import { kindUpkeep } from "./upkeep";

/**
 * kind's registry: the front contract every placement takes (accounts, pull auth, deletes), but no
 * allowlist (it listens on the Docker host's loopback and the kind network only) and no account for the
 * caches (the nodes hold none), and what runs on the Docker host.
 */
export interface KindRegistryArgs extends Omit<RegistryFront, "allowedNetworks" | "mirrorsRequireAuth"> {
    /** The Docker host of the kind cluster: local, or over SSH. */
    readonly connection: HostConnection;
    /** Names, port and data directory (`dso-registry:kind`). */
    readonly layout: KindLayout;
    /**
     * With several clusters (`layout.clusters`): the Kubernetes provider of each cluster whose ConfigMap does
     * not go through the component's own provider (`opts.provider`, else the ambient one). At most one
     * cluster goes without: it keeps the single cluster's resource names. None when unset.
     */
    readonly clusterProviders?: Readonly<Record<string, pulumi.ProviderResource>>;
    /**
     * Distribution (`registry.image`), Caddy (`registry.caddyImage`), the watcher (`kind.watcherImage`);
     * each one left out is the pinned default.
     * @default { distribution: "registry:3.1.2", front: "caddy:2.11.9", watcher: "docker:29.9.3-cli" }
     */
    readonly images?: Partial<KindImages>;
    /** Scheduled garbage collection in the front's read-only window, by an upkeep container; none when unset. */
    readonly garbageCollection?: KindGarbageCollection;
    /** The disk guard (`registry.diskGuard`): new uploads refused past its percentage of kind.dataDir's file system used, by the upkeep container; none when unset. */
    readonly diskGuard?: KindDiskGuard;
    /**
     * Publish the KEP-1755 ConfigMap in the cluster Pulumi deploys to.
     * @default true
     */
    readonly publishLocalRegistryHosting?: boolean;
    /**
     * The web UI (registry.ui.enabled); none when unset. With `ingress`, a Deployment in the cluster behind its
     * ingress controller, which serves the UI and the API (through the front) on one origin,
     * `http://<ingress.host>:<ingress.port>/registry/` (ui.ts `kindUiObjects`); without, a container beside the
     * registry's, which the front serves at http://localhost:<port>/registry/, the API's own origin. Its image,
     * when left out, is the pinned default (`registry.ui.image`'s).
     */
    readonly ui?: { readonly image?: string; readonly ingress?: KindUiIngress };
    /** Pull-through caches (`registry.mirrors`), each with its upstream account when it has one. */
    readonly mirrors?: readonly RegistryMirror[];
    /** Additions to Distribution's config.yml (`registry.distributionConfig`, docs/distribution-config.md); none when unset. */
    readonly distributionConfig?: DistributionSettings;
}

/** What `resolveKindRegistry` returns: the args with every default applied, and what the plan derives from them. */
export type ResolvedKindRegistry = Omit<
    KindRegistryArgs,
    "requiresAuthForPull" | "deletes" | "images" | "publishLocalRegistryHosting" | "ui" | "mirrors"
> & {
    readonly requiresAuthForPull: boolean;
    readonly deletes: RegistryDeletes;
    readonly images: KindImages;
    readonly publishLocalRegistryHosting: boolean;
    readonly ui?: { readonly image: string; readonly ingress?: KindUiIngress };
    readonly mirrors: readonly RegistryMirror[];
    /** The front's two users files' accounts and the scopes (`frontUsers`). */
    readonly users: ReturnType<typeof frontUsers>;
};

/**
 * The kind placement's one resolve step: the defaults each arg's `@default` documents (the stack config's
 * defaults too, components/shared/defaults.ts), the front's (`FRONT_DEFAULTS`; kind has no allowlist and
 * no cache accounts) first, then the placement's own, a setting given kept as given; and the users files'
 * accounts (`frontUsers`). Pure: it registers nothing.
 */
export function resolveKindRegistry(args: KindRegistryArgs): ResolvedKindRegistry {
    const { ui, ...given } = args;
    return {
        ...given,
        mirrors: args.mirrors ?? [],
        users: frontUsers(args.accounts),
        requiresAuthForPull: args.requiresAuthForPull ?? FRONT_DEFAULTS.requiresAuthForPull,
        deletes: args.deletes ?? FRONT_DEFAULTS.deletes,
        images: {
            distribution: args.images?.distribution ?? DEFAULT_IMAGES.registry,
            front: args.images?.front ?? DEFAULT_IMAGES.caddy,
            watcher: args.images?.watcher ?? DEFAULT_KIND_WATCHER_IMAGE,
        },
        publishLocalRegistryHosting: args.publishLocalRegistryHosting ?? true,
        ...(ui ? { ui: { image: ui.image ?? DEFAULT_IMAGES.ui, ...(ui.ingress ? { ingress: ui.ingress } : {}) } } : {}),
    };
}

/** A step of the component that others wait for: the data directory's claim, every file, the containers' command. */
export type KindStep = "dataDir" | "files" | "containers";

/** A command on the Docker host, and the steps it waits for. */
export interface KindPlannedCommand extends PlannedHostCommand {
    readonly after: readonly KindStep[];
}

/** A file on the Docker host, placed once `kind.dataDir` is the registry's. */
export interface KindPlannedFile extends PlannedHostFile {
    readonly after: readonly ["dataDir"];
}

/** What `KindRegistry` registers for one cluster it serves. */
export interface KindClusterPlan {
    /** The kind cluster's name. */
    readonly cluster: string;
    /** Its ConfigMap goes through the component's own provider (else through `clusterProviders[cluster]`). */
    readonly ownProvider: boolean;
    /** Configures its nodes (and undoes it on delete), after the containers. */
    readonly nodes: KindPlannedCommand;
    /** The KEP-1755 ConfigMap, when published. */
    readonly objects: readonly PlannedObject[];
}

/** What `KindRegistry` registers, in this order (after the decoy's seed): `planKindRegistry`. */
export interface KindRegistryPlan {
    /**
     * Claims `kind.dataDir` (sh/data-dir-claim.sh): makes it or accepts it as the registry's, or stops the
     * run before anything is written into a directory that holds someone else's files. Its delete is
     * nothing: the marker stays with the images.
     */
    readonly dataDir: KindPlannedCommand;
    readonly files: readonly KindPlannedFile[];
    /** Starts (and replaces) the containers; then configures the nodes. */
    readonly containers: KindPlannedCommand;
    /** Each cluster served: `layout.cluster` alone, or every one of `layout.clusters`. */
    readonly clusters: readonly KindClusterPlan[];
    /**
     * With `layout.clusters`: stops the node watcher on `destroy` before any cluster's files are removed (it
     * waits for every cluster's nodes command, so it is deleted first).
     */
    readonly watcherStop?: Omit<KindPlannedCommand, "after">;
    /** The read-back of every file above, after the containers. */
    readonly filesCheck: { readonly name: string; readonly args: HostFilesCheckArgs; readonly after: readonly KindStep[] };
    readonly registryUrl: string;
    readonly authority: string;
    /**
     * The web UI's objects in the cluster the component's own provider deploys to (`ui.ingress`; none else),
     * in creation order, each waiting for the namespace the stack makes.
     */
    readonly uiObjects: readonly PlannedObject[];
    /** The web UI's address; none without the UI. */
    readonly uiUrl?: string;
}

/** Refuses a cache whose upstream needs an account when none was given. */
export function checkKindMirrors(name: string, mirrors: readonly RegistryMirror[]): void {
    for (const m of mirrors) {
        if (m.spec.hasCredentials && m.account === undefined) {
            throw new Error(`KindRegistry ${name}: the cache of ${m.spec.upstream} has credentials but no upstream account was given`);
        }
    }
}

/**
 * The clusters served and which of them goes through the component's own Kubernetes provider: every
 * cluster but at most one has a provider of its own. Refuses two without.
 */
export function kindClusterProviders(
    name: string,
    layout: KindLayout,
    providers: Readonly<Record<string, unknown>> = {},
): readonly { readonly cluster: string; readonly ownProvider: boolean }[] {
    if (!kindClusters(layout).includes(layout.cluster)) {
        throw new Error(
            `KindRegistry ${name}: layout.cluster "${layout.cluster}" is not among layout.clusters (${kindClusters(layout).join(", ")})`,
        );
    }
    const clusters = kindClusters(layout).map((cluster) => ({ cluster, ownProvider: providers[cluster] === undefined }));
    const own = clusters.filter((c) => c.ownProvider).map((c) => c.cluster);
    if (own.length > 1) {
        throw new Error(
            `KindRegistry ${name}: kind clusters ${own.join(", ")} have no Kubernetes provider of their own; give every cluster but one a provider in clusterProviders`,
        );
    }
    return clusters;
}

/** The texts of the kind placement's files, rendered once: what its files hold and what its containers' digests cover. */
interface KindRendered {
    /** A rotation's overlap: each users file's previous passwords, and the overlap file that routes to them. */
    readonly overlap?: OverlapFiles;
    readonly caddyfile: pulumi.Output<string>;
    readonly registryConfig: string;
    /** The upkeep container's files and their digest, with garbage collection or the disk guard. */
    readonly upkeep?: ReturnType<typeof kindUpkeep>;
    readonly nodeScript: string;
    /** Each cache's files, in the order of `args.mirrors`. */
    readonly mirrorFiles: readonly ReturnType<typeof kindMirrorFiles>[];
}

/** The front's Caddyfile, Distribution's config, the upkeep and node scripts and the caches' files, from the args. */
function renderKindTexts(args: ResolvedKindRegistry, decoyBcryptHash: pulumi.Output<string>): KindRendered {
    const { layout } = args;
    const p = kindPaths(layout);
    const { users, mirrors } = args;
    const overlap = overlapFilesOutput({ push: users.push, pull: users.pull });
    const caddyfile = decoyBcryptHash.apply((bcryptHash) =>
        renderKindCaddyfile({
            registryName: layout.registryName,
            port: layout.port,
            distributionName: p.distributionName,
            requiresAuthForPull: args.requiresAuthForPull,
            deletesEnabled: args.deletes.api,
            ...(args.ui && !args.ui.ingress ? { uiUpstream: kindUiUpstream(layout) } : {}),
            ...(args.ui?.ingress ? { uiOrigin: kindUiOrigin(args.ui.ingress) } : {}),
            ...(args.garbageCollection ? { readOnlyMarker: KIND_GC_MARKER } : {}),
            ...(args.diskGuard ? { diskFullMarker: KIND_DISK_FULL_MARKER } : {}),
            mirrors: mirrors.map((m) => ({
                pathName: m.spec.pathName,
                upstream: `${kindMirrorPaths(layout, m.spec).container}:${DISTRIBUTION.containerPort}`,
            })),
            scopedPushAccounts: users.scoped,
            overlap: overlap !== undefined,
            decoy: {
                accounts: { push: users.push.map((a) => a.username), pull: users.pull.map((a) => a.username) },
                bcryptHash,
            },
        }),
    );
    const gc = args.garbageCollection;
    return {
        ...(overlap ? { overlap } : {}),
        caddyfile,
        registryConfig: renderKindRegistryConfig(args.deletes.api, gc !== undefined, args.distributionConfig),
        upkeep: kindUpkeep(layout, gc, args.diskGuard),
        nodeScript: nodeInsideScript(
            layout,
            mirrors.map((m) => m.spec),
        ),
        mirrorFiles: mirrors.map((m) => kindMirrorFiles(layout, m.spec)),
    };
}

/** Every file on the Docker host: the front's, Distribution's, the nodes' and the watcher's, the upkeep container's, the caches'. */
function kindFiles(name: string, args: ResolvedKindRegistry, rendered: KindRendered): KindPlannedFile[] {
    const { connection, layout } = args;
    const p = kindPaths(layout);
    const { overlap, upkeep } = rendered;
    const { users } = args;
    const file = (id: string, path: string, content: pulumi.Input<string>, mode = "0644", secret = false): KindPlannedFile => ({
        name: `${name}-${id}`,
        args: { connection, path, mode, content, secret, replaceOnPathChange: true },
        after: ["dataDir"],
    });
    // Caddy runs as root in its image and reads the users files through a read-only mount.
    return [
        file("caddyfile", p.caddyfile, rendered.caddyfile),
        file("users-push", p.pushUsers, usersFileOutput("push", users.push), "0600", true),
        file("users-pull", p.pullUsers, usersFileOutput("pull", users.pull), "0600", true),
        ...(overlap
            ? [
                  file("overlap", p.overlapMatchers, overlap.matchers, "0600", true),
                  file("users-push-previous", previousUsersFile(p.pushUsers), overlap.push, "0600", true),
                  file("users-pull-previous", previousUsersFile(p.pullUsers), overlap.pull, "0600", true),
              ]
            : []),
        file("registry-config", p.registryConfig, rendered.registryConfig),
        file("node-script", p.nodeScript, rendered.nodeScript),
        file("watcher-script", p.watcherScript, nodeWatchScript(layout)),
        ...(upkeep?.files ?? []).map((f) => file(f.id, f.path, f.content)),
        ...args.mirrors.flatMap((m, i) => {
            const mp = kindMirrorPaths(layout, m.spec);
            const env = m.spec.hasCredentials && m.account ? pulumi.secret(pulumi.output(m.account).apply(renderMirrorEnvFile)) : undefined;
            return [
                ...rendered.mirrorFiles[i]!.map((f) => file(`mirror-${m.spec.pathName}-${MIRROR_FILE_ROLES[f.name]}`, f.path, f.content)),
                ...(env ? [file(`mirror-${m.spec.pathName}-env`, mp.env, env, "0600", true)] : []),
            ];
        }),
    ];
}

/** The script that starts the containers, each replaced when the digest of its own files changes. */
function kindContainersScript(args: ResolvedKindRegistry, rendered: KindRendered): pulumi.Output<string> {
    const { layout } = args;
    const { overlap, upkeep } = rendered;
    const { users } = args;
    const accounts = [...users.push, ...users.pull];
    const mirrorRuns: KindMirrorRun[] = args.mirrors.map((m, i) => ({
        pathName: m.spec.pathName,
        files: fingerprint(args.images.distribution, ...rendered.mirrorFiles[i]!.map((f) => f.content)),
        hasCredentials: m.spec.hasCredentials,
    }));
    // The digest of the accounts is of their bcrypt hashes, which reveal nothing, so the script stays
    // readable in previews.
    const overlapBodies = overlap ? [overlap.matchers, overlap.push, overlap.pull] : [];
    const digests = pulumi.all([rendered.caddyfile, ...accounts.map((a) => a.bcryptHash), ...overlapBodies]).apply(
        (frontParts): KindFileDigests => ({
            distribution: fingerprint(rendered.registryConfig),
            front: fingerprint(...frontParts),
            watcher: fingerprint(rendered.nodeScript, nodeWatchScript(layout)),
            ...(upkeep ? { upkeep: upkeep.digest, ...(upkeep.keepsPulls ? { upkeepPulls: true } : {}) } : {}),
        }),
    );
    // The UI's container runs beside the registry's only when the front serves it; in the cluster it is a Deployment.
    const ui =
        args.ui && !args.ui.ingress
            ? { image: args.ui.image, environment: kindUiEnvironment(layout, { deleteEnabled: args.deletes.ui }) }
            : undefined;
    return pulumi.unsecret(digests).apply((d) => containersApplyScript(layout, args.images, d, mirrorRuns, ui));
}

/** The type token of the kind placement's component. */
export const KIND_REGISTRY_TYPE = typeToken("kind", "KindRegistry");

/** The command that starts (and replaces) the containers on the Docker host. */
export const kindContainersStepName = (name: string) => `${name}-containers`;

/**
 * The command that configures one cluster's nodes: the cluster on the component's own provider keeps the
 * single cluster's name, each other is named after its cluster.
 */
export const kindNodesStepName = (name: string, cluster?: string) => `${name}-nodes${cluster === undefined ? "" : `-${cluster}`}`;

/**
 * Each cluster served, its nodes' command and ConfigMap, and with several clusters the watcher's stop.
 * The cluster on the component's own provider keeps the single cluster's names (an existing stack that
 * adds clusters sees no replacement); each other is named after its cluster, so that taking one off the
 * list deletes its own resources alone.
 */
function kindClusterPlans(name: string, args: ResolvedKindRegistry): Pick<KindRegistryPlan, "clusters" | "watcherStop"> {
    const { connection, layout } = args;
    const root = (script: string) => privileged(script, connection.sudo);
    return {
        clusters: kindClusterProviders(name, layout, args.clusterProviders).map(({ cluster, ownProvider }) => {
            const suffix = ownProvider ? "" : `-${cluster}`;
            return {
                cluster,
                ownProvider,
                nodes: {
                    name: kindNodesStepName(name, ownProvider ? undefined : cluster),
                    args: {
                        connection,
                        create: root(nodesConfigureScript(layout, cluster)),
                        delete: root(nodesUnconfigureScript(layout, cluster)),
                        triggers: [cluster, layout.registryName, layout.port],
                    },
                    after: ["containers"] as const,
                },
                objects: args.publishLocalRegistryHosting
                    ? [localRegistryHostingObject(`${name}-local-registry-hosting${suffix}`, layout)]
                    : [],
            };
        }),
        ...(layout.clusters
            ? {
                  watcherStop: {
                      name: `${name}-watcher-stop`,
                      args: {
                          connection,
                          create: `echo ${shQuote(`node watcher serves kind clusters ${kindClusters(layout).join(", ")}`)}`,
                          delete: root(watcherStopScript(layout)),
                      },
                  },
              }
            : {}),
    };
}

/**
 * Everything `KindRegistry` registers, from its args with the defaults applied, the decoy's hash
 * (`decoyHash`, a resource of the component's) and the stack's `<project>/<stack>` (whose `kind.dataDir`
 * it is): the claim of the data directory, the files on the Docker host, the commands that start the
 * containers and configure the nodes, the read-back of the files, the Kubernetes objects.
 */
export function planKindRegistry(
    name: string,
    args: ResolvedKindRegistry,
    decoyBcryptHash: pulumi.Output<string>,
    stack: string,
): KindRegistryPlan {
    const { connection, layout } = args;
    checkKindMirrors(name, args.mirrors);
    const rendered = renderKindTexts(args, decoyBcryptHash);
    const files = kindFiles(name, args, rendered);
    const root = (script: string) => privileged(script, connection.sudo);
    const applyContainers = kindContainersScript(args, rendered);
    return {
        dataDir: {
            name: dataDirStepName(name),
            args: { connection, create: root(dataDirClaimScript(layout, stack)) },
            after: [],
        },
        files,
        containers: {
            name: kindContainersStepName(name),
            args: {
                connection,
                create: applyContainers.apply(root),
                delete: root(containersDeleteScript(layout)),
                triggers: [layout.dataDir, layout.registryName],
            },
            after: ["dataDir", "files"],
        },
        ...kindClusterPlans(name, args),
        // Every file above is read back by a refresh (docs/decisions/drift-on-hosts.md); a repair makes the
        // containers anew, so that each reads its files again. The nodes' own files are the watcher's: it
        // puts them back on its own loop (sh/node-watch.sh).
        filesCheck: {
            name: `${name}-files-check`,
            args: {
                connection,
                files: files.map(({ args: { path, mode, content } }) => ({ path, mode, content })),
                afterRepair: applyContainers.apply((script) => root(recreatingScript(script))),
            },
            after: ["containers"],
        },
        registryUrl: `http://localhost:${layout.port}`,
        authority: `${layout.registryName}:${layout.port}`,
        uiObjects: kindUiPlannedObjects(name, args),
        ...(args.ui ? { uiUrl: kindUiPageUrl(layout, args.ui.ingress) } : {}),
    };
}

/** The UI's objects in the cluster as the component registers them: `<name>-ui-<kind>`, after the namespace. */
function kindUiPlannedObjects(name: string, args: ResolvedKindRegistry): PlannedObject[] {
    const ui = args.ui;
    if (!ui?.ingress) return [];
    const objects = kindUiObjects(args.layout, { image: ui.image, deleteEnabled: args.deletes.ui }, ui.ingress);
    const names: Record<string, string> = {
        Namespace: `${name}-ui-namespace`,
        Deployment: `${name}-ui`,
        [`Service ${KIND_UI_OBJECTS.ui}`]: `${name}-ui-service`,
        [`Service ${KIND_UI_OBJECTS.api}`]: `${name}-api-service`,
        Ingress: `${name}-ui-ingress`,
    };
    const resourceName = (o: K8sObject) => (names[o.kind] ?? names[`${o.kind} ${o.metadata.name}`]) as string;
    const namespace = objects.find((o) => o.kind === "Namespace");
    return objects.map((object) => ({
        name: resourceName(object),
        object,
        dependsOn: namespace && object !== namespace ? [resourceName(namespace)] : [],
    }));
}

/** The KEP-1755 ConfigMap in kube-public, registered as `name`. */
function localRegistryHostingObject(name: string, layout: KindLayout): PlannedObject {
    return {
        name,
        object: {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: {
                name: "local-registry-hosting",
                namespace: "kube-public",
                labels: { "app.kubernetes.io/managed-by": "dso-registry", "app.kubernetes.io/component": "discovery" },
            },
            data: { "localRegistryHosting.v1": localRegistryHostingBody(layout) },
        },
        dependsOn: [],
    };
}

/**
 * The kind placement: its files, its containers, its nodes, its ConfigMap. Commands run on the Docker host
 * of `args.connection`; the ConfigMap goes to the Kubernetes provider of
 * `opts.providers` (or `opts.provider`), else the ambient one; with several clusters, each other cluster's
 * to its own provider (`args.clusterProviders`). What it registers is `planKindRegistry`'s.
 */
export class KindRegistry extends pulumi.ComponentResource {
    /** Starts the front, Distribution, the caches, the watcher and the upkeep container, and replaces each when its files change. */
    readonly containers: pulumi.CustomResource;
    /** Configures every node of `layout.cluster` for the registry (and undoes it on delete); runs after `containers`. */
    readonly nodes: pulumi.CustomResource;
    /** The same command of each cluster served, by name (`layout.clusters`; else `layout.cluster`'s alone). */
    readonly nodesByCluster: Readonly<Record<string, pulumi.CustomResource>>;
    /** http://localhost:<port>: the registry as the Docker host reaches it (kind's nodes pull `localhost:<port>/…` too). */
    readonly registryUrl: string;
    /** `<registry name>:<port>`: the authority pods use in image references (their localhost is their own; docs/kind.md). */
    readonly authority: string;
    /** The web UI's page (`http://localhost:8080/registry/` behind the cluster's ingress, or the front's); none without the UI. */
    readonly uiUrl?: string;

    constructor(name: string, given: KindRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        const target: HostTarget = { target: given.connection.name };
        super(KIND_REGISTRY_TYPE, name, target, opts);
        // The caches are checked before anything else reads the args.
        checkKindMirrors(name, given.mirrors ?? []);
        const args = resolveKindRegistry(given);
        const plan = planKindRegistry(name, args, decoyHash(`${name}-decoy`, this), `${pulumi.getProject()}/${pulumi.getStack()}`);
        const done: Record<KindStep, pulumi.Resource[]> = { dataDir: [], files: [], containers: [] };
        const after = (steps: readonly KindStep[]) => steps.flatMap((step) => done[step]);
        done.dataDir = [hostCommand(plan.dataDir.name, plan.dataDir.args, { parent: this, dependsOn: after(plan.dataDir.after) })];
        done.files = plan.files.map((f) => new HostFile(f.name, f.args, { parent: this, dependsOn: after(f.after) }));
        const containers = hostCommand(plan.containers.name, plan.containers.args, {
            parent: this,
            dependsOn: after(plan.containers.after),
        });
        done.containers = [containers];
        const nodes = plan.clusters.map((c) => hostCommand(c.nodes.name, c.nodes.args, { parent: this, dependsOn: after(c.nodes.after) }));
        if (plan.watcherStop) hostCommand(plan.watcherStop.name, plan.watcherStop.args, { parent: this, dependsOn: nodes });
        new HostFilesCheck(plan.filesCheck.name, plan.filesCheck.args, { parent: this, dependsOn: after(plan.filesCheck.after) });
        for (const c of plan.clusters) {
            const provider = c.ownProvider ? {} : { provider: given.clusterProviders?.[c.cluster] };
            registerPlannedObjects(c.objects, `KindRegistry ${name}`, { parent: this, ...provider });
        }
        // The web UI's objects go to the cluster the stack deploys to (the component's own provider).
        registerPlannedObjects(plan.uiObjects, `KindRegistry ${name}`, { parent: this });
        this.containers = containers;
        this.nodesByCluster = Object.fromEntries(plan.clusters.map((c, i) => [c.cluster, nodes[i] as pulumi.CustomResource]));
        this.nodes = this.nodesByCluster[args.layout.cluster] as pulumi.CustomResource;
        this.registryUrl = plan.registryUrl;
        this.authority = plan.authority;
        if (plan.uiUrl) this.uiUrl = plan.uiUrl;
        this.registerOutputs({});
    }
}

/**
 * The registry for a kind cluster (`registry.mode` "kind", docs/kind.md): Distribution and its Caddy
 * front as containers on the Docker host that runs the cluster (locally or over SSH), the front
 * attached to the kind network under its own name, the images in a host directory that outlives the
 * cluster; each node's containerd configured for the registry's name and for localhost:<port>, now and
 * by a watcher container whenever a node of the cluster starts; and the KEP-1755 ConfigMap.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { previousUsersFile } from "../accessPolicy/usersFile";
import { overlapFilesOutput, usersFileOutput } from "../accessPolicy/usersFileOutput";
import { decoyHash } from "../accounts/decoy";
import { type MirrorSpec, renderMirrorEnvFile, type UpstreamAccount } from "../mirrors/mirrors";
import type { DistributionSettings } from "../shared/distributionSettings";
import { DISTRIBUTION } from "../shared/facts";
import { fingerprint } from "../shared/fingerprint";
import { frontUsers, type RegistryFront } from "../shared/front";
import { type HostConnection, HostFile, type HostFileSpec, type HostTarget, hostCommand, privileged } from "../shared/hostAccess";
import { HostFilesCheck, recreatingScript } from "../shared/hostFilesCheck";
import { objectOptions } from "../shared/k8sObject";
import { resourceClassOf } from "../shared/k8sResources";
import { renderKindCaddyfile, renderKindRegistryConfig } from "./front";
import {
    containersApplyScript,
    containersDeleteScript,
    gcScript,
    KIND_GC_MARKER,
    type KindFileDigests,
    type KindGarbageCollection,
    type KindImages,
    type KindLayout,
    type KindMirrorRun,
    kindMirrorConfig,
    kindMirrorPaths,
    kindPaths,
    kindRetentionScript,
    localRegistryHostingBody,
    maintenanceCrontab,
    nodeInsideScript,
    nodesConfigureScript,
    nodesUnconfigureScript,
    nodeWatchScript,
} from "./scripts";
import { type KindUiSpec, renderKindUiObjects } from "./ui";

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
    /** Distribution (`registry.image`), Caddy (`registry.caddyImage`), the watcher (`kind.watcherImage`). */
    readonly images: KindImages;
    /** Scheduled garbage collection in the front's read-only window, by a maintenance container; none when unset. */
    readonly garbageCollection?: KindGarbageCollection;
    /** Publish the KEP-1755 ConfigMap in the cluster Pulumi deploys to. */
    readonly publishLocalRegistryHosting: boolean;
    /** The web UI in the cluster (registry.ui.enabled); none when unset. */
    readonly ui?: Omit<KindUiSpec, "registryName" | "port" | "deleteEnabled">;
    /** Pull-through caches (`registry.mirrors`), each with its upstream account when it has one. */
    readonly mirrors?: readonly KindMirror[];
    /** Additions to Distribution's config.yml (`registry.distributionConfig`, docs/distribution-config.md); none when unset. */
    readonly distributionConfig?: DistributionSettings;
}

/** One pull-through cache of the kind placement. */
export interface KindMirror {
    readonly spec: MirrorSpec;
    /** The upstream account (`mirrorCredentials`), for a spec with `hasCredentials`. */
    readonly account?: pulumi.Input<UpstreamAccount>;
}

/** The Pulumi resource type of each kind of object the kind UI renders. */

/**
 * The kind placement: its files, its containers, its nodes, its ConfigMap. Commands run on the Docker host
 * of `args.connection`; the ConfigMap and the UI's objects go to the Kubernetes provider of
 * `opts.providers` (or `opts.provider`), else the ambient one.
 */
export class KindRegistry extends pulumi.ComponentResource {
    /** Starts the front, Distribution, the caches, the watcher and the maintenance container, and replaces each when its files change. */
    readonly containers: pulumi.CustomResource;
    /** Configures every node of the cluster for the registry (and undoes it on delete); runs after `containers`. */
    readonly nodes: pulumi.CustomResource;
    /** http://localhost:<port>: the registry as the Docker host reaches it (kind's nodes pull `localhost:<port>/…` too). */
    readonly registryUrl: string;
    /** `<registry name>:<port>`: the authority pods use in image references (their localhost is their own; docs/kind.md). */
    readonly authority: string;

    constructor(name: string, args: KindRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        const target: HostTarget = { target: args.connection.name };
        super("dso-registry:kind:KindRegistry", name, target, opts);
        const { connection, layout } = args;
        const p = kindPaths(layout);
        const users = frontUsers(args.accounts);
        const accounts = [...users.push, ...users.pull];
        const mirrors = args.mirrors ?? [];
        for (const m of mirrors) {
            if (m.spec.hasCredentials && m.account === undefined) {
                throw new Error(`KindRegistry ${name}: the cache of ${m.spec.upstream} has credentials but no upstream account was given`);
            }
        }
        // A rotation's overlap: each users file's previous passwords, and the overlap file that routes to them.
        const overlap = overlapFilesOutput({ push: users.push, pull: users.pull });
        const decoy = decoyHash(`${name}-decoy`, this);
        const caddyfile = decoy.apply((bcryptHash) =>
            renderKindCaddyfile({
                registryName: layout.registryName,
                port: layout.port,
                distributionName: p.distributionName,
                requiresAuthForPull: args.requiresAuthForPull,
                deletesEnabled: args.deletes.api,
                ...(args.ui ? { ui: { host: args.ui.host, port: args.ui.uiPort } } : {}),
                ...(args.garbageCollection ? { readOnlyMarker: KIND_GC_MARKER } : {}),
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
        const registryConfig = renderKindRegistryConfig(args.deletes.api, gc !== undefined, args.distributionConfig);
        const maintenance = gc
            ? {
                  script: gcScript(layout, gc),
                  crontab: maintenanceCrontab(gc),
                  retention: gc.retention ? kindRetentionScript(gc.retention) : "",
              }
            : undefined;
        const nodeScript = nodeInsideScript(
            layout,
            mirrors.map((m) => m.spec),
        );
        const mirrorRuns: KindMirrorRun[] = mirrors.map((m) => ({
            pathName: m.spec.pathName,
            files: fingerprint(args.images.distribution, kindMirrorConfig(m.spec)),
            hasCredentials: m.spec.hasCredentials,
        }));
        const checked: (HostFileSpec & { content: pulumi.Input<string> })[] = [];
        const file = (id: string, path: string, content: pulumi.Input<string>, mode = "0644", secret = false) => {
            checked.push({ path, mode, content });
            return new HostFile(`${name}-${id}`, { connection, path, mode, content, secret, replaceOnPathChange: true }, { parent: this });
        };
        // Caddy runs as root in its image and reads the users files through a read-only mount.
        const files = [
            file("caddyfile", p.caddyfile, caddyfile),
            file("users-push", p.pushUsers, usersFileOutput("push", users.push), "0600", true),
            file("users-pull", p.pullUsers, usersFileOutput("pull", users.pull), "0600", true),
            ...(overlap
                ? [
                      file("overlap", p.overlapMatchers, overlap.matchers, "0600", true),
                      file("users-push-previous", previousUsersFile(p.pushUsers), overlap.push, "0600", true),
                      file("users-pull-previous", previousUsersFile(p.pullUsers), overlap.pull, "0600", true),
                  ]
                : []),
            file("registry-config", p.registryConfig, registryConfig),
            file("node-script", p.nodeScript, nodeScript),
            file("watcher-script", p.watcherScript, nodeWatchScript(layout)),
            ...(maintenance ? [file("gc-script", p.gcScript, maintenance.script), file("crontab", p.crontab, maintenance.crontab)] : []),
            ...(maintenance?.retention ? [file("retention-script", p.retentionScript, maintenance.retention)] : []),
            ...mirrors.flatMap((m) => {
                const mp = kindMirrorPaths(layout, m.spec);
                const env =
                    m.spec.hasCredentials && m.account ? pulumi.secret(pulumi.output(m.account).apply(renderMirrorEnvFile)) : undefined;
                return [
                    file(`mirror-${m.spec.pathName}-config`, mp.config, kindMirrorConfig(m.spec)),
                    ...(env ? [file(`mirror-${m.spec.pathName}-env`, mp.env, env, "0600", true)] : []),
                ];
            }),
        ];
        // Each container is replaced when its own files change. The digest of the accounts is of their
        // bcrypt hashes, which reveal nothing, so the script stays readable in previews.
        const overlapBodies = overlap ? [overlap.matchers, overlap.push, overlap.pull] : [];
        const digests = pulumi.all([caddyfile, ...accounts.map((a) => a.bcryptHash), ...overlapBodies]).apply(
            (frontParts): KindFileDigests => ({
                distribution: fingerprint(registryConfig),
                front: fingerprint(...frontParts),
                watcher: fingerprint(nodeScript, nodeWatchScript(layout)),
                ...(maintenance ? { maintenance: fingerprint(maintenance.script, maintenance.crontab, maintenance.retention) } : {}),
            }),
        );
        const root = (script: string) => privileged(script, connection.sudo);
        const applyContainers = pulumi.unsecret(digests).apply((d) => containersApplyScript(layout, args.images, d, mirrorRuns));
        const containers = hostCommand(
            `${name}-containers`,
            {
                connection,
                create: applyContainers.apply(root),
                delete: root(containersDeleteScript(layout)),
                triggers: [layout.dataDir, layout.registryName],
            },
            { parent: this, dependsOn: files },
        );
        const nodes = hostCommand(
            `${name}-nodes`,
            {
                connection,
                create: root(nodesConfigureScript(layout)),
                delete: root(nodesUnconfigureScript(layout)),
                triggers: [layout.cluster, layout.registryName, layout.port],
            },
            { parent: this, dependsOn: [containers] },
        );
        // Every file above is read back by a refresh (docs/decisions/drift-on-hosts.md); a repair makes the
        // containers anew, so that each reads its files again. The nodes' own files are the watcher's: it
        // puts them back on its own loop (sh/node-watch.sh).
        new HostFilesCheck(
            `${name}-files-check`,
            { connection, files: checked, afterRepair: applyContainers.apply((script) => root(recreatingScript(script))) },
            { parent: this, dependsOn: [containers] },
        );
        if (args.publishLocalRegistryHosting) {
            new k8s.core.v1.ConfigMap(
                `${name}-local-registry-hosting`,
                {
                    metadata: {
                        name: "local-registry-hosting",
                        namespace: "kube-public",
                        labels: { "app.kubernetes.io/managed-by": "dso-registry", "app.kubernetes.io/component": "discovery" },
                    },
                    data: { "localRegistryHosting.v1": localRegistryHostingBody(layout) },
                },
                { parent: this },
            );
        }
        if (args.ui) {
            // The namespace first; the rest is independent of the registry's containers.
            let namespace: pulumi.CustomResource | undefined;
            for (const object of renderKindUiObjects({
                ...args.ui,
                deleteEnabled: args.deletes.ui,
                registryName: layout.registryName,
                port: layout.port,
            })) {
                const { apiVersion: _apiVersion, kind, ...body } = object;
                const ctor = resourceClassOf(object, `KindRegistry ${name}`);
                const resource = new ctor(`${name}-ui-${kind.toLowerCase()}-${object.metadata.name}`, body as never, {
                    parent: this,
                    ...objectOptions(kind),
                    ...(namespace ? { dependsOn: [namespace] } : {}),
                });
                if (kind === "Namespace") namespace = resource;
            }
        }
        this.containers = containers;
        this.nodes = nodes;
        this.registryUrl = `http://localhost:${layout.port}`;
        this.authority = `${layout.registryName}:${layout.port}`;
        this.registerOutputs({});
    }
}

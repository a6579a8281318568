/**
 * The kind placement's scripts (`sh/`), rendered with their parameters, and where its files lie on
 * the Docker host and in the node watcher.
 */
import * as path from "node:path";
import { renderShellScript } from "../shared/shellScript";

const sh = (name: string) => path.join(__dirname, "sh", name);

/** The placement's names and places, from `dso-registry:kind` and the images. */
export interface KindLayout {
    /** `kind.clusterName`. */
    readonly cluster: string;
    /** `kind.network`. */
    readonly network: string;
    /** `kind.containerName`: the front container, the registry's name on the kind network. */
    readonly registryName: string;
    /** `kind.hostPort`. */
    readonly port: number;
    /** `kind.dataDir`. */
    readonly dataDir: string;
}

/** Where the watcher container mounts `<dataDir>/bin`. */
const WATCHER_BIN = "/dso";

/** The files and containers of the placement, derived from its layout. */
export function kindPaths(layout: KindLayout) {
    const { dataDir, registryName } = layout;
    return {
        front: `${dataDir}/front`,
        caddyfile: `${dataDir}/front/Caddyfile`,
        pushUsers: `${dataDir}/front/users-push`,
        pullUsers: `${dataDir}/front/users-pull`,
        registryConfig: `${dataDir}/front/config.yml`,
        nodeScript: `${dataDir}/bin/node-inside.sh`,
        watcherScript: `${dataDir}/bin/node-watch.sh`,
        images: `${dataDir}/images`,
        distributionName: `${registryName}-distribution`,
        watcherName: `${registryName}-node-watcher`,
        backendNetwork: `${registryName}-backend`,
    };
}

/** The script run inside each node (`sh/node-inside.sh`). */
export function nodeInsideScript(layout: KindLayout): string {
    return renderShellScript(sh("node-inside.sh"), {
        PORT: layout.port,
        REGISTRY_NAME: layout.registryName,
        CERTS_DIR: "/etc/containerd/certs.d",
        CONFIG_FILE: "/etc/containerd/config.toml",
    });
}

function nodeParams(layout: KindLayout, nodeScriptFile: string) {
    return {
        CLUSTER: layout.cluster,
        KIND_NETWORK: layout.network,
        REGISTRY_NAME: layout.registryName,
        NODE_SCRIPT_FILE: nodeScriptFile,
    };
}

/** Configures every running node of the cluster now (`sh/nodes-configure.sh`), on the Docker host. */
export function nodesConfigureScript(layout: KindLayout): string {
    return renderShellScript(sh("nodes-configure.sh"), nodeParams(layout, kindPaths(layout).nodeScript));
}

/** The node watcher's script (`sh/node-watch.sh`), as its container sees its files. */
export function nodeWatchScript(layout: KindLayout): string {
    return renderShellScript(sh("node-watch.sh"), nodeParams(layout, `${WATCHER_BIN}/node-inside.sh`));
}

/** Removes the registry's files from the nodes (`sh/nodes-unconfigure.sh`). */
export function nodesUnconfigureScript(layout: KindLayout): string {
    return renderShellScript(sh("nodes-unconfigure.sh"), {
        CLUSTER: layout.cluster,
        REGISTRY_NAME: layout.registryName,
        HOST_PORT: layout.port,
    });
}

/** The images the containers run. */
export interface KindImages {
    readonly distribution: string;
    readonly front: string;
    readonly watcher: string;
}

/**
 * Fingerprints of the placed files each container is made from: a container is replaced when its own
 * files change, never for another's (the web UI turned on rewrites the Caddyfile: the front restarts,
 * Distribution keeps serving).
 */
export interface KindFileDigests {
    /** Distribution's config.yml. */
    readonly distribution: string;
    /** The Caddyfile and the users files. */
    readonly front: string;
    /** The watcher's script and the node script (a watcher that starts configures every running node again). */
    readonly watcher: string;
}

/** Runs the containers (`sh/containers-apply.sh`); `digests` name what each one's placed files hold. */
export function containersApplyScript(layout: KindLayout, images: KindImages, digests: KindFileDigests): string {
    const p = kindPaths(layout);
    return renderShellScript(sh("containers-apply.sh"), {
        DATA_DIR: layout.dataDir,
        KIND_NETWORK: layout.network,
        BACKEND_NETWORK: p.backendNetwork,
        HOST_PORT: layout.port,
        DISTRIBUTION_FILES: digests.distribution,
        FRONT_FILES: digests.front,
        WATCHER_FILES: digests.watcher,
        DISTRIBUTION_NAME: p.distributionName,
        DISTRIBUTION_IMAGE: images.distribution,
        FRONT_NAME: layout.registryName,
        FRONT_IMAGE: images.front,
        WATCHER_NAME: p.watcherName,
        WATCHER_IMAGE: images.watcher,
    });
}

/** Removes the containers and the backend network; the images stay (`sh/containers-delete.sh`). */
export function containersDeleteScript(layout: KindLayout): string {
    const p = kindPaths(layout);
    return renderShellScript(sh("containers-delete.sh"), {
        DATA_DIR: layout.dataDir,
        BACKEND_NETWORK: p.backendNetwork,
        DISTRIBUTION_NAME: p.distributionName,
        FRONT_NAME: layout.registryName,
        WATCHER_NAME: p.watcherName,
    });
}

/**
 * The KEP-1755 `localRegistryHosting.v1` document: localhost on the host and in the nodes (their
 * hosts.toml sends it to the registry's container), the container name on the cluster's network.
 */
export function localRegistryHostingBody(layout: KindLayout): string {
    const name = `${layout.registryName}:${layout.port}`;
    return [
        `host: "localhost:${layout.port}"`,
        `hostFromContainerRuntime: "${name}"`,
        `hostFromClusterNetwork: "${name}"`,
        `help: "https://kind.sigs.k8s.io/docs/user/local-registry/"`,
        "",
    ].join("\n");
}

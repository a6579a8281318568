/**
 * The kind placement's front and Distribution config: the same access policy as every placement
 * (components/accessPolicy), rendered for a Caddy container that serves plain HTTP on the Docker host's
 * loopback and on the kind network, in front of Distribution on a network only the front shares.
 *
 * Everything here is pure: no Pulumi, no I/O.
 */
import { renderCaddyfile } from "../accessPolicy/caddyfile";
import { type FrontSpec, frontPolicy } from "../accessPolicy/frontPolicy";
import type { AccessPolicy, MirrorRoute } from "../accessPolicy/policy";
import { renderRegistryConfig } from "../distribution/registryConfig";
import type { DistributionSettings } from "../shared/distributionSettings";
import { DISTRIBUTION } from "../shared/facts";

/** Where the front container finds its files (the host's `<dataDir>/front`, mounted read-only). */
export const FRONT_DIR = "/etc/dso-registry";

/**
 * What the front is rendered from: the front's settings (accounts' scopes, the decoy, a rotation's overlap;
 * no allowlist, anonymous pulls through the caches, no Maven), and where kind's containers are.
 */
export interface KindFrontSpec extends Omit<FrontSpec, "allowedNetworks" | "mirrorsRequireAuth" | "maven"> {
    /** The front container's name on the kind network (`kind.containerName`). */
    readonly registryName: string;
    /** The port on 127.0.0.1 of the Docker host and on the kind network (`kind.hostPort`). */
    readonly port: number;
    /** Distribution's container name on the backend network. */
    readonly distributionName: string;
    /**
     * The web UI's container as the front reaches it on the backend network (ui.ts `kindUiUpstream`) when the
     * UI is on: the front serves it under /registry/, on its own origin, where the UI's `/v2/` requests arrive.
     */
    readonly uiUpstream?: string;
    /**
     * The origin of the web UI behind the cluster's ingress (`<host>:<port>`, ui.ts `kindUiOrigin`) when the UI
     * runs in the cluster: its requests reach the front through the ingress with that Host, and get the realm there.
     */
    readonly uiOrigin?: string;
    /**
     * The read-only window's marker file, as the front container sees it, with scheduled garbage
     * collection: while it exists writes get 503 and reads go on (scripts.ts `KIND_GC_MARKER`).
     */
    readonly readOnlyMarker?: string;
    /**
     * The disk guard's marker file, as the front container sees it (diskGuard.ts `KIND_DISK_FULL_MARKER`):
     * while it exists new blob uploads get 507.
     */
    readonly diskFullMarker?: string;
    /** The pull-through caches, each a container on the backend network (scripts.ts `kindMirrorPaths`). */
    readonly mirrors?: readonly MirrorRoute[];
}

/** An authority as a browser writes it in its Host header: the port only when it is not HTTP's 80. */
export function httpAuthority(host: string, port: number): string {
    return port === 80 ? host : `${host}:${port}`;
}

/**
 * The policy: addressed as localhost (or 127.0.0.1) on the host (the name images carry, KEP-1755), and by
 * its container name from the nodes and pods. The challenge's realm is chosen by the authority the client
 * used, among configured ones: pods that use `<containerName>:<port>` get the realm there (they cannot
 * reach localhost), and everyone else `localhost:<port>`, where docker, skopeo and CI on the host log in
 * and where the browser opened the web UI.
 */
export function kindFrontPolicy(spec: KindFrontSpec): AccessPolicy {
    const onKindNetwork = `${spec.registryName}:${spec.port}`;
    // 127.0.0.1 too: on the host, clients that write the address instead of localhost.
    // The UI's host behind the cluster's ingress too: the ingress passes the browser's Host on.
    const uiHost = spec.uiOrigin?.replace(/:\d+$/, "");
    const names = ["localhost", "127.0.0.1", spec.registryName, ...(uiHost ? [uiHost] : [])];
    return frontPolicy(spec, {
        siteAddress: "localhost",
        siteAliases: [...new Set(names)].filter((name) => name !== "localhost"),
        port: spec.port,
        publicAuthority: `localhost:${spec.port}`,
        // docs/kind.md#the-realm
        realmAuthorities: { [onKindNetwork]: onKindNetwork, ...(spec.uiOrigin ? { [spec.uiOrigin]: spec.uiOrigin } : {}) },
        ...(spec.uiUpstream ? { uiUpstream: spec.uiUpstream } : {}),
        tls: { kind: "plain-http" },
        upstream: `${spec.distributionName}:${DISTRIBUTION.containerPort}`,
        usersFiles: { push: `${FRONT_DIR}/users-push`, pull: `${FRONT_DIR}/users-pull`, overlapMatchers: `${FRONT_DIR}/overlap` },
        // Only the host's loopback and the kind network reach the front.
        enforcesAllowlist: false,
        ...(spec.readOnlyMarker ? { readOnlySignals: [{ kind: "file" as const, path: spec.readOnlyMarker }] } : {}),
        ...(spec.diskFullMarker ? { diskFullSignal: spec.diskFullMarker } : {}),
        // Anonymous pulls through the caches (`mirrorsRequireAuth` unset): kind's nodes hold no account, and only
        // the host's loopback and the kind network reach the front.
        ...(spec.mirrors ? { mirrors: spec.mirrors } : {}),
        // The container is replaced when its files change; nothing needs Caddy's admin API.
        admin: "off",
        // Docker keeps what containers write to stdout (`docker logs`).
        accessLog: { kind: "stdout" },
    });
}

/** The front's Caddyfile. */
export function renderKindCaddyfile(spec: KindFrontSpec): string {
    return renderCaddyfile(kindFrontPolicy(spec));
}

/**
 * Distribution's config.yml: TCP on the backend network (no port published), images in its volume.
 * With scheduled garbage collection (`collected`), no blob-descriptor cache: the collection runs beside
 * the serving Distribution, which would otherwise answer for blobs it removed until a restart
 * (distribution#3743), as in the cluster's marker window.
 */
export function renderKindRegistryConfig(deletesEnabled: boolean, collected = false, settings?: DistributionSettings): string {
    return renderRegistryConfig({
        addr: `:${DISTRIBUTION.containerPort}`,
        storage: { kind: "filesystem", rootDirectory: DISTRIBUTION.dataDir },
        deletesEnabled,
        ...(collected ? { blobDescriptorCache: false } : {}),
        ...(settings ? { settings } : {}),
    });
}

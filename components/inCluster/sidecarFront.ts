/**
 * The Caddy sidecar, the registry pod's front: its policy (the front's settings placed in the pod,
 * ../accessPolicy/frontPolicy.ts) and its Caddyfile, with a second site over TLS for pods that reach the
 * registry by its public name.
 */
import { renderCaddyfile } from "../accessPolicy/caddyfile";
import { type FrontSpec, frontPolicy } from "../accessPolicy/frontPolicy";
import type { AccessPolicy, MirrorRoute } from "../accessPolicy/policy";
import { MAVEN_BACKEND } from "../maven/nginxConfig";
import { METRICS_PORTS, registryAuthority } from "../shared/facts";
import { RETENTION_TEXTFILE } from "../upkeep/retention";
import { IN_CLUSTER_BACKUP } from "./backup";
import { FRONT_STOP_DELAY_SECONDS } from "./deployment";
import { DISK_FIGURES, IN_CLUSTER_DISK_GUARD } from "./diskGuard";
import { type GcWindow, podsMayOverlap } from "./gcWindow";
import { REGISTRY_METRICS_RELAY_PORT } from "./monitoring";
import { READ_ONLY_SIGNAL } from "./readOnlySignal";
import { RETENTION_COUNTS } from "./retentionCounts";
import { IN_CLUSTER, OVERLAP_FILES, REGISTRY_METRICS_ADDR } from "./spec";

/**
 * The sidecar's policy: the front's settings (`FrontSpec`), placed behind the ingress on plain HTTP
 * inside the pod. `allowedNetworks` (`registry.allowedNetworks`) is the sidecar's only behind a Gateway.
 */
export function sidecarPolicy(
    args: FrontSpec & {
        readonly host: string;
        /** The port clients write after the host: 443 (the default) unless the ingress is published elsewhere. */
        readonly port?: number;
        /** With filesystem storage the PVC is mounted read-only into Caddy, which serves blob downloads from it. */
        readonly storage: "filesystem" | "s3";
        /** Where the sidecar sends each mirror's requests. */
        readonly mirrors?: readonly MirrorRoute[];
        /** Scheduled backups: their read-only pass opens the window with a marker file instead of a restart. */
        readonly backup?: boolean;
        /** How the GC job holds writes back (`gcWindow`); none without garbage collection. */
        readonly gcWindow?: GcWindow;
        /** Caddy's metrics, and Distribution's relayed from its loopback, on ports of their own. */
        readonly metrics?: boolean;
        /** With `metrics`: tag retention's counts on Caddy's metrics port too (`retentionCountsServed`). */
        readonly retentionCounts?: boolean;
        /** With `metrics`: the disk guard container's figures of the pod's volumes on Caddy's metrics port too (`diskFiguresServed`). */
        readonly diskFigures?: boolean;
        /**
         * Behind a Gateway: the allowlist, enforced on the plain-HTTP listener the controller uses, and, with
         * the web UI, its path served through the front (the route sends every path here) from `uiService`.
         */
        readonly gateway?: { readonly proxyNetworks: readonly string[]; readonly uiService?: string };
        /**
         * The disk guard's container runs (./diskGuard.ts): new uploads get 507 while the data volume's marker
         * exists (filesystem storage), Maven deploys while the Maven volume's does (with `maven`).
         */
        readonly diskGuard?: boolean;
    },
): AccessPolicy {
    return frontPolicy(args, {
        siteAddress: args.host,
        port: IN_CLUSTER.servicePort,
        // Clients reach the sidecar as https://<host>[:<port>] (the ingress, or the TLS Service on 443 inside pods).
        publicAuthority: registryAuthority(args.host, args.port ?? 443),
        tls: { kind: "plain-http" },
        upstream: IN_CLUSTER.registryAddr,
        usersFiles: {
            push: `${IN_CLUSTER.usersDir}/push`,
            pull: `${IN_CLUSTER.usersDir}/pull`,
            overlapMatchers: `${IN_CLUSTER.usersDir}/${OVERLAP_FILES.matchers}`,
        },
        // Behind an Ingress the sidecar only sees the controller's address: the allowlist is the ingress's
        // job. Behind a Gateway (no standard allowlist) the sidecar enforces it on the client the
        // controller names, believed from the controller's networks only.
        enforcesAllowlist: args.gateway !== undefined,
        ...(args.gateway ? { trustedProxies: args.gateway.proxyNetworks } : {}),
        ...(args.gateway?.uiService ? { uiUpstream: args.gateway.uiService } : {}),
        // Pods are replaced on every change; nothing needs Caddy's admin API.
        admin: "off",
        ...(args.storage === "filesystem" ? { blobFiles: IN_CLUSTER.dataDir } : {}),
        // Distribution's read-only switch, which the GC job sets on every container (and rolls the
        // pods) when they may overlap; the markers the GC job (one pod) and the backup create on the
        // pod's emptyDir, each its own, without a restart (./readOnlySignal.ts).
        readOnlySignals: [
            { kind: "env", name: IN_CLUSTER.readOnlyEnv },
            ...(args.gcWindow === "marker" ? [{ kind: "file", path: READ_ONLY_SIGNAL.gcMarker } as const] : []),
            ...(args.backup ? [{ kind: "file", path: IN_CLUSTER_BACKUP.marker } as const] : []),
        ],
        ...(args.diskGuard && args.storage === "filesystem" ? { diskFullSignal: IN_CLUSTER_DISK_GUARD.marker } : {}),
        maven: {
            upstream: `127.0.0.1:${MAVEN_BACKEND.port}`,
            deployUsersFile: `${IN_CLUSTER.usersDir}/maven-deploy`,
            ...(args.diskGuard ? { diskFullSignal: IN_CLUSTER_DISK_GUARD.mavenMarker } : {}),
        },
        ...(args.mirrors ? { mirrors: args.mirrors } : {}),
        // The kubelet keeps and rotates what containers write to stdout.
        accessLog: { kind: "stdout" },
        // Pods that may overlap hand their clients over when they stop (./deployment.ts).
        ...(podsMayOverlap({ storage: { kind: args.storage }, maven: args.maven })
            ? { shutdownDelaySeconds: FRONT_STOP_DELAY_SECONDS }
            : {}),
        ...(args.metrics
            ? {
                  metrics: {
                      port: METRICS_PORTS.caddy,
                      registry: { port: REGISTRY_METRICS_RELAY_PORT, upstream: REGISTRY_METRICS_ADDR },
                      ...(args.retentionCounts || args.diskFigures
                          ? {
                                textfiles: [
                                    ...(args.retentionCounts
                                        ? [{ path: RETENTION_COUNTS.path, file: `${RETENTION_COUNTS.dir}/${RETENTION_TEXTFILE}` }]
                                        : []),
                                    ...(args.diskFigures ? [{ path: DISK_FIGURES.path, file: DISK_FIGURES.file }] : []),
                                ],
                            }
                          : {}),
                  },
              }
            : {}),
    });
}

/** The sidecar's TLS listener: where it listens in the pod and where the certificate and key are mounted. */
export interface SidecarTlsListener {
    readonly port: number;
    readonly certFile: string;
    readonly keyFile: string;
}

/** The pod's TLS listener: the registry TLS Secret (the ingress's certificate) mounted into the Caddy container. */
export const SIDECAR_TLS: SidecarTlsListener = {
    port: IN_CLUSTER.tlsPort,
    certFile: `${IN_CLUSTER.tlsDir}/tls.crt`,
    keyFile: `${IN_CLUSTER.tlsDir}/tls.key`,
};

/**
 * The sidecar's Caddyfile. The plain-HTTP site answers whatever host name the request carries: the
 * ingress forwards the public name, and pods in the cluster use the Service name (KEP-1755
 * `hostFromClusterNetwork`), so the site label must not become a host matcher.
 *
 * With `tls`, a second site serves the same policy over TLS with the ingress's certificate, for pods
 * that reach the registry by its public name through Service `registry-tls` (CoreDNS points the name
 * at that Service). Its label keeps the host name: the certificate is for that name, and Caddy picks
 * the certificate by the name the client asks for.
 */
export function renderSidecarCaddyfile(policy: AccessPolicy, tls?: SidecarTlsListener): string {
    // With the TLS site, the metrics listeners (and their global option) come once, from its render.
    const text = renderCaddyfile(tls ? { ...policy, metrics: undefined } : policy);
    const label = `http://${policy.siteAddress}:${policy.port} {`;
    const lines = text.split("\n");
    const index = lines.indexOf(label);
    if (index < 0) throw new Error(`renderSidecarCaddyfile: the rendered Caddyfile has no site line "${label}"`);
    lines[index] = `http://:${policy.port} {`;
    if (!tls) return lines.join("\n");
    // The TLS site is the same policy rendered for a certificate on disk; its global options (no ACME,
    // no redirect listener) apply to the whole file, and the plain-HTTP site keeps its explicit scheme.
    // The allowlist (behind a Gateway) guards the controller's way in, the plain-HTTP site; pods that reach the
    // TLS Service by the registry's name are not behind it, as with an Ingress.
    const secure = renderCaddyfile({
        ...policy,
        allowedNetworks: [],
        port: tls.port,
        tls: { kind: "files", certFile: tls.certFile, keyFile: tls.keyFile },
    });
    const secureLines = secure.split("\n");
    const secureLabel = `${policy.siteAddress}:${tls.port} {`;
    const secureIndex = secureLines.indexOf(secureLabel);
    if (secureIndex < 0) throw new Error(`renderSidecarCaddyfile: the rendered TLS site has no site line "${secureLabel}"`);
    const globalEnd = (all: string[]) => all.indexOf("}");
    const plainGlobals = lines.slice(0, globalEnd(lines) + 1);
    const secureGlobals = secureLines.slice(0, globalEnd(secureLines) + 1);
    return [...secureGlobals, ...lines.slice(plainGlobals.length), ...secureLines.slice(secureIndex)].join("\n");
}

/**
 * The files the registry's pod reads, rendered once: the sidecar's Caddyfile (with the decoy), Distribution's
 * config, the users files and Maven's nginx config; and the checksum in the pod template, which rolls the pods
 * when any of them changes.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { type OverlapFiles, overlapFilesOutput, usersFileOutput } from "../accessPolicy/usersFileOutput";
import { type RegistryStorage, renderRegistryConfig } from "../distribution/registryConfig";
import { MAVEN_BACKEND, renderMavenNginxConfig } from "../maven/nginxConfig";
import { clusterMirrorRoutes } from "../mirrors/mirrorManifests";
import { UI_WORKLOAD } from "../registryUi/kubernetes";
import { diskFiguresServed } from "./diskGuard";
import { distributionCachesBlobs, gcWindow, registryMetricsInPod } from "./gcWindow";
import type { ResolvedInClusterRegistry } from "./resolve";
import { retentionCountsServed } from "./retentionCounts";
import { renderSidecarCaddyfile, SIDECAR_TLS, sidecarPolicy } from "./sidecarFront";
import { IN_CLUSTER, REGISTRY_METRICS_ADDR } from "./spec";

/** Distribution's storage as the shared config renderer takes it (credentials stay out of config.yml). */
function registryStorage(storage: ResolvedInClusterRegistry["storage"]): RegistryStorage {
    if (storage.kind === "filesystem") return { kind: "filesystem", rootDirectory: IN_CLUSTER.dataDir };
    const { credentials: _credentials, ...settings } = storage;
    return settings;
}

/** The pod's files, rendered once: what the pod mounts, and what its checksum covers. */
export interface InClusterPodFiles {
    /** A rotation's overlap: each users file's previous passwords, and the overlap file that routes to them. */
    readonly overlap?: OverlapFiles;
    readonly caddyfile: pulumi.Output<string>;
    readonly registryConfig: string;
    readonly push: pulumi.Output<string>;
    readonly pull: pulumi.Output<string>;
    /** The Maven deploy account's users file; "" without `maven`. */
    readonly mavenDeploy: pulumi.Output<string>;
    /** nginx's config of the Maven repository; "" without `maven`. */
    readonly mavenNginxConfig: string;
}

/** The sidecar's Caddyfile (its policy, with the decoy), Distribution's config, the users files and Maven's nginx config. */
export function renderPodFiles(args: ResolvedInClusterRegistry, decoyBcryptHash: pulumi.Output<string>): InClusterPodFiles {
    const { users, mirrors } = args;
    const overlap = overlapFilesOutput({
        push: users.push,
        pull: users.pull,
        ...(args.maven ? { mavenDeploy: [args.maven.deployAccount] } : {}),
    });
    const policy = sidecarPolicy({
        overlap: overlap !== undefined,
        host: args.host,
        port: args.port,
        requiresAuthForPull: args.requiresAuthForPull,
        deletesEnabled: args.deletes.api,
        storage: args.storage.kind,
        maven: args.maven,
        mirrors: clusterMirrorRoutes({ namespace: args.namespace, mirrors }),
        mirrorsRequireAuth: args.mirrorsRequireAuth,
        backup: args.backup !== undefined,
        gcWindow: gcWindow(args),
        metrics: args.monitoring !== undefined,
        retentionCounts: retentionCountsServed(args),
        diskFigures: diskFiguresServed(args),
        scopedPushAccounts: users.scoped,
        diskGuard: args.diskGuard !== undefined,
        ...(args.gateway
            ? {
                  gateway: {
                      proxyNetworks: args.gateway.proxyNetworks,
                      ...(args.ui.enabled ? { uiService: `${UI_WORKLOAD.name}.${args.namespace}.svc:80` } : {}),
                  },
                  allowedNetworks: args.allowedNetworks,
              }
            : {}),
    });
    // Every users file's accounts by name: at each check, credentials of any other user are checked against the decoy account.
    const accounts = {
        push: users.push.map((a) => a.username),
        pull: users.pull.map((a) => a.username),
        ...(args.maven ? { mavenDeploy: [args.maven.deployAccount.username] } : {}),
    };
    return {
        ...(overlap ? { overlap } : {}),
        caddyfile: decoyBcryptHash.apply((bcryptHash) =>
            renderSidecarCaddyfile({ ...policy, decoy: { accounts, bcryptHash } }, SIDECAR_TLS),
        ),
        registryConfig: renderRegistryConfig({
            addr: IN_CLUSTER.registryAddr,
            storage: registryStorage(args.storage),
            deletesEnabled: args.deletes.api,
            blobDescriptorCache: distributionCachesBlobs(args),
            ...(args.monitoring || registryMetricsInPod(args) ? { metricsAddr: REGISTRY_METRICS_ADDR } : {}),
            ...(args.distributionConfig ? { settings: args.distributionConfig } : {}),
        }),
        push: usersFileOutput("push", users.push),
        pull: usersFileOutput("pull", users.pull),
        mavenDeploy: args.maven ? usersFileOutput("push", [args.maven.deployAccount]) : pulumi.output(""),
        mavenNginxConfig: args.maven
            ? renderMavenNginxConfig({
                  listen: `127.0.0.1:${MAVEN_BACKEND.port}`,
                  pathPrefix: args.maven.pathPrefix,
                  dataDir: MAVEN_BACKEND.dataDir,
                  runDir: MAVEN_BACKEND.runDir,
              })
            : "",
    };
}

/**
 * The checksum in the pod template: a change of any file the pods read rolls them. A digest of bcrypt
 * hashes of long random passwords reveals nothing; keeping it plain keeps the pod template readable in
 * previews. Our certificate is in it too (public): Caddy reads it at start, so a renewed certificate
 * rolls the pods.
 */
export function podConfigChecksum(args: ResolvedInClusterRegistry, files: InClusterPodFiles): pulumi.Output<string> {
    const { overlap, registryConfig, mavenNginxConfig } = files;
    const servedCert = args.tls.kind === "secret" ? args.tls.certPem : "";
    return pulumi.unsecret(
        pulumi
            .all([
                files.caddyfile,
                files.push,
                files.pull,
                files.mavenDeploy,
                servedCert,
                overlap ? pulumi.all(overlapValues(overlap)) : [],
            ])
            .apply(([caddy, p, q, m, c, previous]) =>
                createHash("sha256")
                    .update(caddy)
                    .update("\0")
                    .update(registryConfig)
                    .update("\0")
                    .update(p)
                    .update("\0")
                    .update(q)
                    .update("\0")
                    .update(m)
                    .update("\0")
                    .update(mavenNginxConfig)
                    .update("\0")
                    .update(c)
                    .update(previous.map((v) => `\0${v}`).join(""))
                    .digest("hex"),
            ),
    );
}

/** The overlap files' bodies, in a fixed order (for the pods' checksum). */
function overlapValues(o: OverlapFiles): pulumi.Output<string>[] {
    return [o.matchers, o.push, o.pull, ...(o.mavenDeploy ? [o.mavenDeploy] : [])];
}

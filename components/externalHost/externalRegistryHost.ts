/**
 * The registry on its own host, set up over SSH: Docker Distribution in a container listening on a
 * unix socket only Caddy can open, Caddy in front on the public port enforcing the access policy and terminating TLS,
 * maintenance jobs (read-only garbage collection, backups) and a post-deploy check that fails the
 * update when the policy does not hold. Each remote job is a component of its own in this folder;
 * this one only orders them. Every file goes through HostFile (stdin, tight modes), every other step
 * through hostCommand with a delete.
 */
import * as pulumi from "@pulumi/pulumi";
import type { LoginLimit } from "../accessPolicy/loginLimit";
import { type HostMirror, MirrorCachesOnHost } from "../mirrors/mirrorCachesOnHost";
import type { DistributionSettings } from "../shared/distributionSettings";
import { imagePrefix, METRICS_PORTS, registryAuthority } from "../shared/facts";
import { withFormerType } from "../shared/formerType";
import { frontUsers, type RegistryFront } from "../shared/front";
import type { HostConnection, HostTarget } from "../shared/hostAccess";
import type { Retention } from "../upkeep/retention";
import { CADDY_ACCESS_LOG, type CaddyMaven, CaddySite, type HostTls } from "./caddySite";
import { HostMonitoring, hostReporting, monitoringPaths } from "./hostMonitoring";
import { HostPackages } from "./hostPackages";
import { HostLoginLimit } from "./loginLimit";
import { type HostBackupArgs, Maintenance } from "./maintenance";
import { MavenContainer } from "./mavenContainer";
import { MAVEN_CONTAINER } from "./mavenScripts";
import { PostDeployCheck } from "./postDeployCheck";
import { PurgeOnDestroy } from "./purgeOnDestroy";
import { containerStorage, type HostRegistryStorage, RegistryContainer } from "./registryContainer";
import {
    type ContainerSpec,
    defaultHostLayout,
    FRONT_CONTAINER,
    hostPaths,
    type MaintenanceOptions,
    mirrorsDirOf,
    type PasswordRotation,
    REGISTRY_CONTAINER,
    UI_CONTAINER,
    UI_HOST_PORT,
} from "./scripts";
import { UiContainer } from "./uiContainer";

/** The host's registry: the front contract every placement takes (accounts, pull auth, deletes, allowlist), and what runs on the host. */
export interface ExternalRegistryHostArgs extends RegistryFront {
    /** The SSH connection to the host (kind "ssh"; "local" when Pulumi runs on the host itself). */
    readonly connection: HostConnection;
    /** Host name clients use, and the HTTPS port Caddy listens on. */
    readonly registryHost: string;
    readonly port: number;
    /** Repository path prefix, for the image prefix output. */
    readonly pathPrefix: string;
    /** Distribution image, e.g. "registry:2.8.3" or "registry@sha256:…". */
    readonly image: string;
    /** The front's Caddy image (`registry.caddyImage`, e.g. "caddy:2.8.4"): the same Caddy as every other placement's front. */
    readonly caddyImage: string;
    /** Registry data directory on the host (filesystem storage). */
    readonly dataDir: string;
    /** The Maven repository's data directory on the host (used when `maven` is set). */
    readonly mavenDataDir?: string;
    /** Where the registry keeps images: the data directory, or an S3 bucket with its credentials. */
    readonly storage: HostRegistryStorage;
    /** Delete the data directory on destroy. */
    readonly purgeDataOnDestroy: boolean;
    /** Install missing packages (Docker, cron, curl) instead of only reporting them. */
    readonly installPackages: boolean;
    readonly tls: HostTls;
    /** Same-origin web UI container; none when unset. */
    readonly ui?: { readonly image: string };
    /** Scheduled garbage collection (in a read-only window, checked afterwards). */
    readonly garbageCollection: MaintenanceOptions["garbageCollection"];
    /** Tag retention, run by garbage collection in its window; none when unset. */
    readonly retention?: Retention;
    /** Scheduled backups off the host, and the restore command; none when unset. */
    readonly backup?: HostBackupArgs;
    /** Pull-through caches (`registry.mirrors`): containers of their own beside the registry; none when unset. */
    readonly mirrors?: readonly HostMirror[];
    /** The Maven repository served by the same site (the converged case); none when unset. */
    readonly maven?: HostMavenArgs;
    /**
     * Metrics, job outcomes and alert rules (docs/monitoring.md); none when unset. `relayImage` is the
     * Caddy image (`registry.caddyImage`) of the relay that lets only Distribution's /metrics out.
     */
    readonly monitoring?: { readonly runbookBaseUrl: string; readonly relayImage: string };
    /**
     * Rotation by age of the generated passwords: the period's length and when the next begins (Unix
     * seconds), for the status script and, with monitoring, an alert past it.
     */
    readonly passwordRotation?: PasswordRotation;
    /** fail2ban on the front's access log (`registry.loginLimit`); its files are removed when unset. */
    readonly loginLimit?: { readonly limit: LoginLimit; readonly ignoreNetworks: readonly string[] };
    /** Additions to Distribution's config.yml (`registry.distributionConfig`, docs/distribution-config.md); none when unset. */
    readonly distributionConfig?: DistributionSettings;
}

/** The Maven repository on the host: nginx's WebDAV behind the registry's Caddy site (docs/maven.md). */
export interface HostMavenArgs extends CaddyMaven {
    /** nginx image with its WebDAV module (`mavenRegistry.nginxImage`). */
    readonly image: string;
    /** Timestamped builds kept per SNAPSHOT version by the garbage-collection job. */
    readonly snapshotBuildsToKeep: number;
}

/** Why the args cannot work, or undefined. Exported for table-driven tests. */
export function externalRegistryHostProblem(args: Pick<ExternalRegistryHostArgs, "dataDir">): string | undefined {
    if (!args.dataDir.startsWith("/") || args.dataDir === "/") return `dataDir "${args.dataDir}" must be an absolute path below /`;
    return undefined;
}

/**
 * The registry on a host of its own, reached over SSH (or locally). Each remote job is a child component
 * a caller can order against (`dependsOn`); the commands run with the `command` provider of the stack.
 */
export class ExternalRegistryHost extends pulumi.ComponentResource {
    /** The packages the host needs (Docker, cron, curl), checked or installed; everything else waits for it. */
    readonly packages: HostPackages;
    /** Distribution's container (`dso-registry`) and its config.yml; `specFingerprint` changes when it is replaced. */
    readonly container: RegistryContainer;
    /** Caddy's site on the public port: the access policy, TLS and the users files. */
    readonly caddy: CaddySite;
    /** The web UI's container; undefined without `args.ui`. */
    readonly uiContainer?: UiContainer;
    /** The Maven repository's nginx container; undefined without `args.maven`. */
    readonly mavenContainer?: MavenContainer;
    /** The pull-through caches' containers; undefined without `args.mirrors`. */
    readonly mirrors?: MirrorCachesOnHost;
    /** The scripts and cron entries of garbage collection, verification, status and backups. */
    readonly maintenance: Maintenance;
    /** The check after each change that the access policy holds (fails the update when it does not). */
    readonly check: PostDeployCheck;
    /** https://host[:port] */
    readonly registryUrl: string;
    /** host[:port]/pathPrefix */
    readonly imagePrefix: string;
    /** The CA clients must trust, when the program generated one. */
    readonly caCertPem?: pulumi.Output<string>;
    /** Commands an operator runs on the host (no secrets). */
    readonly opsCommands: Record<string, string>;

    constructor(name: string, args: ExternalRegistryHostArgs, opts?: pulumi.ComponentResourceOptions) {
        const target: HostTarget = { target: args.connection.name };
        super("dso-registry:externalHost:ExternalRegistryHost", name, target, withFormerType(opts, "dso:registry:ExternalRegistryHost"));
        const problem = externalRegistryHostProblem(args);
        if (problem) throw new pulumi.ResourceError(`ExternalRegistryHost ${name}: ${problem}`, this);

        const { connection } = args;
        const layout = defaultHostLayout(args.dataDir, args.mavenDataDir);
        const s3 = args.storage.kind === "s3";
        // No published port: Distribution listens on a unix socket only Caddy and root can open.
        const registry: ContainerSpec = {
            name: REGISTRY_CONTAINER,
            image: args.image,
            layout,
            storage: containerStorage(args.storage),
            ...(args.monitoring ? { metrics: { port: METRICS_PORTS.distribution, relayImage: args.monitoring.relayImage } } : {}),
        };

        // Everything on the host waits for it (through the packages), so on destroy its delete, which
        // removes the data when the last `up` asked for it, runs after every container is gone.
        const purge = new PurgeOnDestroy(
            `${name}-purge`,
            {
                connection,
                purge: args.purgeDataOnDestroy,
                directories: [...(s3 ? [] : [layout.dataDir]), ...(args.maven ? [layout.mavenDataDir] : [])],
            },
            { parent: this },
        );
        const packages = new HostPackages(
            `${name}-packages`,
            {
                connection,
                layout,
                dataDir: !s3,
                installPackages: args.installPackages,
                restic: args.backup !== undefined,
            },
            { parent: this, dependsOn: [purge] },
        );
        const monitoring =
            args.monitoring &&
            new HostMonitoring(
                `${name}-monitoring`,
                {
                    connection,
                    layout,
                    installPackages: args.installPackages,
                    probe: {
                        host: args.registryHost,
                        port: args.port,
                        certFile: args.tls.kind === "files" ? hostPaths(layout).tlsCert : "",
                        dataDir: s3 ? "" : layout.dataDir,
                    },
                    backup: args.backup !== undefined,
                    caches: (args.mirrors ?? []).length > 0,
                    runbookBaseUrl: args.monitoring.runbookBaseUrl,
                    passwordsRotationDue: args.passwordRotation?.due,
                },
                { parent: this, dependsOn: [packages] },
            );
        new HostLoginLimit(
            `${name}-login-limit`,
            {
                connection,
                installPackages: args.installPackages,
                jail: args.loginLimit && { ...args.loginLimit, accessLog: CADDY_ACCESS_LOG, port: args.port },
            },
            // After the monitoring too: both may install Debian packages, and the engine runs every step
            // whose dependencies are done at once, so two apt-get runs would race for dpkg's lock.
            { parent: this, dependsOn: [packages, ...(monitoring ? [monitoring] : [])] },
        );
        const reporting = monitoring ? hostReporting(layout) : undefined;
        const jobsAfter = monitoring ? monitoring.scripts : [];
        const container = new RegistryContainer(
            `${name}-container`,
            {
                connection,
                spec: registry,
                storage: args.storage,
                deletesEnabled: args.deletes.api,
                ...(args.distributionConfig ? { distributionConfig: args.distributionConfig } : {}),
            },
            { parent: this, dependsOn: [packages] },
        );
        const uiContainer =
            args.ui &&
            new UiContainer(
                `${name}-ui`,
                {
                    connection,
                    spec: { name: UI_CONTAINER, image: args.ui.image, hostPort: UI_HOST_PORT, layout },
                    deleteEnabled: args.deletes.ui,
                    // The origin the UI calls: the registry's authority as clients write it.
                    registryHost: args.port === 443 ? args.registryHost : `${args.registryHost}:${args.port}`,
                },
                { parent: this, dependsOn: [packages] },
            );
        const mirrors =
            args.mirrors && args.mirrors.length > 0
                ? new MirrorCachesOnHost(
                      `${name}-mirrors`,
                      {
                          connection,
                          image: args.image,
                          mirrors: args.mirrors,
                          // Beside the registry's data directory, never inside it: backups and GC never see a cache.
                          mirrorsDir: mirrorsDirOf(args.dataDir),
                          configRoot: layout.registryConfigDir,
                          socketsDir: layout.mirrorSocketsDir,
                          pruneScriptPath: `${layout.binDir}/dso-registry-mirror-prune`,
                          cronFilePath: `${layout.cronFile}-mirrors`,
                          ...(reporting ? { reporting: { ...reporting, textfileDir: monitoringPaths(layout).textfileDir } } : {}),
                      },
                      { parent: this, dependsOn: [packages, ...jobsAfter] },
                  )
                : undefined;
        const mavenSpec = args.maven && { image: args.maven.image, pathPrefix: args.maven.pathPrefix, layout };
        const mavenContainer =
            mavenSpec && new MavenContainer(`${name}-maven`, { connection, spec: mavenSpec }, { parent: this, dependsOn: [packages] });
        // The site goes live only once what it proxies to runs.
        const users = frontUsers(args.accounts);
        const caddy = new CaddySite(
            `${name}-caddy`,
            {
                connection,
                image: args.caddyImage,
                layout,
                registryHost: args.registryHost,
                port: args.port,
                tls: args.tls,
                pushAccounts: users.push,
                pullAccounts: users.pull,
                scopedPushAccounts: users.scoped,
                requiresAuthForPull: args.requiresAuthForPull,
                allowedNetworks: args.allowedNetworks,
                deletesEnabled: args.deletes.api,
                blobFiles: !s3,
                upstream: `unix/${hostPaths(layout).registrySocket}`,
                metrics: args.monitoring !== undefined,
                uiUpstream: args.ui && `127.0.0.1:${UI_HOST_PORT}`,
                mirrors: mirrors?.routes,
                mirrorsRequireAuth: args.mirrorsRequireAuth,
                maven: args.maven && {
                    pathPrefix: args.maven.pathPrefix,
                    requiresAuthForPull: args.maven.requiresAuthForPull,
                    deployAccount: args.maven.deployAccount,
                },
            },
            {
                parent: this,
                dependsOn: [
                    packages,
                    container,
                    ...(uiContainer ? [uiContainer] : []),
                    ...(mirrors ? [mirrors] : []),
                    ...(mavenContainer ? [mavenContainer] : []),
                ],
            },
        );
        const maintenance = new Maintenance(
            `${name}-maintenance`,
            {
                connection,
                spec: registry,
                specFingerprint: container.specFingerprint,
                garbageCollection: args.garbageCollection,
                backup: args.backup,
                maven:
                    mavenSpec && mavenContainer && args.maven
                        ? {
                              spec: mavenSpec,
                              fingerprint: mavenContainer.specFingerprint,
                              snapshotBuildsToKeep: args.maven.snapshotBuildsToKeep,
                          }
                        : undefined,
                reporting,
                ...(args.retention ? { retention: args.retention } : {}),
                status: {
                    host: args.registryHost,
                    port: args.port,
                    textfileDir: monitoring ? monitoringPaths(layout).textfileDir : "",
                    ...(args.passwordRotation ? { passwordRotation: args.passwordRotation } : {}),
                    ...(args.retention ? { retentionMode: args.retention.mode } : {}),
                },
            },
            { parent: this, dependsOn: [packages, ...jobsAfter] },
        );
        const check = new PostDeployCheck(
            `${name}-check`,
            {
                connection,
                layout,
                registryHost: args.registryHost,
                port: args.port,
                tls: args.tls,
                requiresAuthForPull: args.requiresAuthForPull,
                allowedNetworks: args.allowedNetworks,
                triggers: [caddy.filesFingerprint, container.specFingerprint],
            },
            { parent: this, dependsOn: [caddy, container] },
        );

        this.packages = packages;
        this.container = container;
        this.caddy = caddy;
        this.uiContainer = uiContainer;
        this.mavenContainer = mavenContainer;
        this.mirrors = mirrors;
        this.maintenance = maintenance;
        this.check = check;
        const authority = registryAuthority(args.registryHost, args.port);
        this.registryUrl = `https://${authority}`;
        this.imagePrefix = imagePrefix(authority, args.pathPrefix);
        if (args.tls.kind === "files" && args.tls.caCertPem) this.caCertPem = pulumi.output(args.tls.caCertPem);
        const paths = hostPaths(layout);
        const sshTarget = connection.kind === "ssh" ? `ssh -p ${connection.port} ${connection.user}@${connection.host}` : "";
        const root = connection.sudo ? "sudo " : "";
        this.opsCommands = {
            status: `${sshTarget} ${root}${paths.statusScript}`.trim(),
            logs: `${sshTarget} ${root}docker logs --tail 100 -f ${REGISTRY_CONTAINER}`.trim(),
            ...(args.maven ? { mavenLogs: `${sshTarget} ${root}docker logs --tail 100 -f ${MAVEN_CONTAINER}`.trim() } : {}),
            caddyLogs: `${sshTarget} ${root}docker logs --tail 100 -f ${FRONT_CONTAINER}`.trim(),
            garbageCollect: `${sshTarget} ${root}${paths.gcScript}`.trim(),
            verify: `${sshTarget} ${root}${paths.verifyScript}`.trim(),
            accessLog: `${sshTarget} ${root}tail -f ${CADDY_ACCESS_LOG}`.trim(),
            ...(args.backup
                ? {
                      backup: `${sshTarget} ${root}${paths.backupScript}`.trim(),
                      restore: `${sshTarget} ${root}${paths.restoreScript}`.trim(),
                  }
                : {}),
        };
        this.registerOutputs({
            registryUrl: this.registryUrl,
            imagePrefix: this.imagePrefix,
            caCertPem: this.caCertPem,
            opsCommands: this.opsCommands,
        });
    }
}

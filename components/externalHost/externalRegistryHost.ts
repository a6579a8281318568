/**
 * The registry on its own host, set up over SSH: Docker Distribution in a container listening on a
 * unix socket only Caddy can open, Caddy in front on the public port enforcing the access policy and terminating TLS,
 * upkeep jobs (read-only garbage collection, backups) and a post-deploy check that fails the
 * update when the policy does not hold. Each remote job is a component of its own in this folder;
 * this one only orders them. Every file goes through HostFile (stdin, tight modes), every other step
 * through hostCommand with a delete.
 */
import * as pulumi from "@pulumi/pulumi";
import type { LoginLimit } from "../accessPolicy/loginLimit";
import type { MirrorRoute } from "../accessPolicy/policy";
import type { RegistryMaven } from "../maven/registryMaven";
import { hostMirror, MirrorCachesOnHost, type MirrorCachesOnHostArgs } from "../mirrors/mirrorCachesOnHost";
import type { RegistryMirror } from "../mirrors/mirrors";
import type { RegistryMonitoring } from "../monitoring/alertRules";
import { DEFAULT_GC_SCHEDULE, DEFAULT_HOST_DIRS, DEFAULT_IMAGES, DEFAULT_REGISTRY_PORT } from "../shared/defaults";
import type { DistributionSettings } from "../shared/distributionSettings";
import { imagePrefix, METRICS_PORTS, registryAuthority } from "../shared/facts";
import { withFormerType } from "../shared/formerType";
import { frontUsers, type RegistryFront, resolveFront } from "../shared/front";
import type { HostConnection, HostTarget } from "../shared/hostAccess";
import { typeToken } from "../shared/typeToken";
import { onlineS3Url } from "../upkeep/onlineCollection";
import type { Retention } from "../upkeep/retention";
import { CADDY_ACCESS_LOG, CaddySite, type CaddySiteArgs, type HostTls } from "./caddySite";
import { HostMonitoring, type HostMonitoringArgs, hostReporting, monitoringPaths } from "./hostMonitoring";
import { HostPackages, type HostPackagesArgs } from "./hostPackages";
import { HostLoginLimit, type HostLoginLimitArgs } from "./loginLimit";
import { MavenContainer, type MavenContainerArgs } from "./mavenContainer";
import { MAVEN_CONTAINER, type MavenHostSpec } from "./mavenScripts";
import { PostDeployCheck, type PostDeployCheckArgs } from "./postDeployCheck";
import { PurgeOnDestroy, type PurgeOnDestroyArgs } from "./purgeOnDestroy";
import { containerStorage, type HostRegistryStorage, RegistryContainer, type RegistryContainerArgs } from "./registryContainer";
import {
    type ContainerSpec,
    type DiskGuard,
    defaultHostLayout,
    FRONT_CONTAINER,
    type GcMode,
    hostPaths,
    mirrorsDirOf,
    type PasswordRotation,
    REGISTRY_CONTAINER,
    UI_CONTAINER,
    UI_HOST_PORT,
    type UpkeepSpec,
} from "./scripts";
import { UiContainer, type UiContainerArgs } from "./uiContainer";
import { type HostBackupArgs, HostUpkeep, type HostUpkeepArgs } from "./upkeep";

/** The host's registry: the front contract every placement takes (accounts, pull auth, deletes, allowlist), and what runs on the host. */
export interface ExternalRegistryHostArgs extends RegistryFront {
    /** The SSH connection to the host (kind "ssh"; "local" when Pulumi runs on the host itself). */
    readonly connection: HostConnection;
    /** Host name clients use. */
    readonly registryHost: string;
    /**
     * The HTTPS port Caddy listens on.
     * @default 443
     */
    readonly port?: number;
    /**
     * Repository path prefix, for the image prefix output.
     * @default "" (images right under the host)
     */
    readonly pathPrefix?: string;
    /**
     * Distribution image, e.g. "registry:3.1.2" or "registry@sha256:…".
     * @default "registry:3.1.2"
     */
    readonly image?: string;
    /**
     * The front's Caddy image (`registry.caddyImage`): the same Caddy as every other placement's front.
     * @default "caddy:2.11.9"
     */
    readonly caddyImage?: string;
    /**
     * Registry data directory on the host (filesystem storage).
     * @default "/srv/data/registry"
     */
    readonly dataDir?: string;
    /**
     * The Maven repository's data directory on the host (used when `maven` is set).
     * @default "/srv/data/maven"
     */
    readonly mavenDataDir?: string;
    /**
     * Where the registry keeps images: the data directory, or an S3 bucket with its credentials.
     * @default { kind: "filesystem" }
     */
    readonly storage?: HostRegistryStorage;
    /**
     * Delete the data directory on destroy.
     * @default false
     */
    readonly purgeDataOnDestroy?: boolean;
    /**
     * Install missing packages (Docker, cron, curl) instead of only reporting them.
     * @default true
     */
    readonly installPackages?: boolean;
    readonly tls: HostTls;
    /** Same-origin web UI container; none when unset. */
    readonly ui?: { readonly image: string };
    /**
     * Scheduled garbage collection, checked afterwards: whether it runs, when (cron; default "30 3 * * 0"),
     * whether it also removes untagged manifests (default false), and how: in a read-only window
     * ("window", the default) or while pushes go on ("online", not with deleteUntagged; Distribution then
     * runs without its blob-descriptor cache).
     * @default { enabled: false, schedule: "30 3 * * 0", deleteUntagged: false, mode: "window" }
     */
    readonly garbageCollection?: {
        readonly enabled: boolean;
        readonly schedule?: string;
        readonly deleteUntagged?: boolean;
        readonly mode?: GcMode;
    };
    /** Tag retention, run by garbage collection in its window; none when unset. */
    readonly retention?: Retention;
    /** Scheduled backups off the host, and the restore command; none when unset. */
    readonly backup?: HostBackupArgs;
    /** Pull-through caches (`registry.mirrors`): containers of their own beside the registry; none when unset. */
    readonly mirrors?: readonly RegistryMirror[];
    /** The Maven repository served by the same site (the converged case); none when unset. */
    readonly maven?: HostMavenArgs;
    /** Metrics, job outcomes and alert rules (docs/monitoring.md); none when unset. */
    readonly monitoring?: HostRegistryMonitoring;
    /**
     * Rotation by age of the generated passwords: the period's length and when the next begins (Unix
     * seconds), for the status script and, with monitoring, an alert past it.
     */
    readonly passwordRotation?: PasswordRotation;
    /** fail2ban on the front's access log (`registry.loginLimit`); its files are removed when unset. */
    readonly loginLimit?: { readonly limit: LoginLimit; readonly ignoreNetworks: readonly string[] };
    /** Additions to Distribution's config.yml (`registry.distributionConfig`, docs/distribution-config.md); none when unset. */
    readonly distributionConfig?: DistributionSettings;
    /**
     * The disk guard (`registry.diskGuard`): new uploads refused with 507 while the data directory's file
     * system is used past `refusePercent` (filesystem storage), and Maven deploys while the Maven data
     * directory's is (with `maven`); none when unset.
     */
    readonly diskGuard?: DiskGuard;
}

/**
 * The Maven repository on the host (`RegistryMaven`): nginx's WebDAV behind the registry's Caddy site, its
 * files in `mavenDataDir` (docs/maven.md).
 */
export type HostMavenArgs = RegistryMaven;

/** The host's monitoring: what every placement takes (`RegistryMonitoring`), and the image of its metrics relay. */
export interface HostRegistryMonitoring extends RegistryMonitoring {
    /**
     * The Caddy image of the relay that lets only Distribution's /metrics out.
     * @default the front's (`caddyImage`)
     */
    readonly relayImage?: string;
    /** The almost-full alert past this percentage used (`registry.diskGuard.warnPercent`); at 10% free when unset. */
    readonly diskWarnPercent?: number;
}

/**
 * The host's one resolve step: the defaults each arg's `@default` documents (the stack config's defaults
 * too, components/shared/defaults.ts), the front's (`resolveFront`) first, then the host's own, a setting
 * given kept as given; and what every step of the host's plan derives from them, once: the host's layout,
 * Distribution's container, the job reporter and the Maven container. Pure: it registers nothing, and it
 * reads no account, so the constructor refuses args it cannot work with (`externalRegistryHostProblem`)
 * before anything reads them.
 */
export function resolveExternalRegistryHost(args: ExternalRegistryHostArgs) {
    const caddyImage = args.caddyImage ?? DEFAULT_IMAGES.caddy;
    const { monitoring: given, ...front } = resolveFront(args);
    const monitoring = given && { ...given, relayImage: given.relayImage ?? caddyImage };
    const dataDir = args.dataDir ?? DEFAULT_HOST_DIRS.data;
    const mavenDataDir = args.mavenDataDir ?? DEFAULT_HOST_DIRS.maven;
    const image = args.image ?? DEFAULT_IMAGES.registry;
    const storage = args.storage ?? { kind: "filesystem" };
    const layout = defaultHostLayout(dataDir, mavenDataDir);
    const monitored = monitoring !== undefined;
    // No published port: Distribution listens on a unix socket only Caddy and root can open.
    const registryContainer: ContainerSpec = {
        name: REGISTRY_CONTAINER,
        image,
        layout,
        storage: containerStorage(storage),
        ...(monitoring ? { metrics: { port: METRICS_PORTS.distribution, relayImage: monitoring.relayImage } } : {}),
    };
    return {
        ...front,
        port: args.port ?? DEFAULT_REGISTRY_PORT,
        pathPrefix: args.pathPrefix ?? "",
        image,
        caddyImage,
        dataDir,
        mavenDataDir,
        storage,
        purgeDataOnDestroy: args.purgeDataOnDestroy ?? false,
        installPackages: args.installPackages ?? true,
        garbageCollection: {
            enabled: args.garbageCollection?.enabled ?? false,
            schedule: args.garbageCollection?.schedule ?? DEFAULT_GC_SCHEDULE,
            deleteUntagged: args.garbageCollection?.deleteUntagged ?? false,
            mode: args.garbageCollection?.mode ?? "window",
        } satisfies UpkeepSpec["garbageCollection"],
        ...(monitoring ? { monitoring } : {}),
        /** The host's directories and files. */
        layout,
        /** The images are in a bucket: no data directory on the host. */
        s3: storage.kind === "s3",
        /** Distribution's container. */
        registryContainer,
        monitored,
        /** The job reporter, with monitoring. */
        ...(monitored ? { reporting: hostReporting(layout) } : {}),
        /** What the jobs that report wait for: the reporter, with monitoring (the jobs that report run after it is placed). */
        jobsAfter: (monitored ? ["monitoringScripts"] : []) satisfies HostStepName[] as readonly HostStepName[],
        /** The Maven repository's container, with `maven`. */
        ...(args.maven
            ? { mavenSpec: { image: args.maven.image, pathPrefix: args.maven.pathPrefix, layout } satisfies MavenHostSpec }
            : {}),
    };
}

/** What `resolveExternalRegistryHost` returns: what every step of the host's plan reads. */
export type ResolvedExternalRegistryHost = ReturnType<typeof resolveExternalRegistryHost>;

/** Why the args cannot work, or undefined. Exported for table-driven tests. */
export function externalRegistryHostProblem(args: Pick<ResolvedExternalRegistryHost, "dataDir">): string | undefined {
    if (!args.dataDir.startsWith("/") || args.dataDir === "/") return `dataDir "${args.dataDir}" must be an absolute path below /`;
    return undefined;
}

/** A child component of the host: one of its steps, by the role it plays. */
export type HostStepName = "purge" | "packages" | "monitoring" | "monitoringScripts" | "container" | "ui" | "mirrors" | "maven" | "caddy";

/**
 * One child component the host registers: its resource name, its args (a function of the values the
 * children registered before it give, where it takes any) and the steps it waits for (`monitoringScripts`:
 * the monitoring's reporter and probe; no `dependsOn` at all when unset).
 */
export interface HostStep<A> {
    readonly name: string;
    readonly args: A;
    readonly dependsOn?: readonly HostStepName[];
}

/** What `ExternalRegistryHost` registers, in this order, and what it exposes: `planExternalRegistryHost`. */
export interface ExternalRegistryHostPlan {
    readonly purge: HostStep<PurgeOnDestroyArgs>;
    readonly packages: HostStep<HostPackagesArgs>;
    readonly monitoring?: HostStep<HostMonitoringArgs>;
    readonly loginLimit: HostStep<HostLoginLimitArgs>;
    readonly container: HostStep<RegistryContainerArgs>;
    readonly ui?: HostStep<UiContainerArgs>;
    readonly mirrors?: HostStep<MirrorCachesOnHostArgs>;
    readonly maven?: HostStep<MavenContainerArgs>;
    /** With the caches' routes (`MirrorCachesOnHost.routes`). */
    readonly caddy: HostStep<(links: { readonly mirrorRoutes?: readonly MirrorRoute[] }) => CaddySiteArgs>;
    /** With the containers' spec fingerprints (`RegistryContainer`, `MavenContainer`). */
    readonly upkeep: HostStep<(links: { readonly containerFingerprint: string; readonly mavenFingerprint?: string }) => HostUpkeepArgs>;
    /** With the site's files' fingerprint (`CaddySite.filesFingerprint`) and the container's. */
    readonly check: HostStep<
        (links: { readonly caddyFingerprint: pulumi.Output<string>; readonly containerFingerprint: string }) => PostDeployCheckArgs
    >;
    readonly registryUrl: string;
    readonly imagePrefix: string;
    /** The CA clients must trust, when the program generated one. */
    readonly caCertPem?: pulumi.Input<string>;
    readonly opsCommands: Record<string, string>;
}

/**
 * Everything `ExternalRegistryHost` registers, from its resolved args (`resolveExternalRegistryHost`): which child
 * components exist (the web UI, the caches, the Maven repository and the monitoring only when asked
 * for), their names and args, and the order they run in (everything after the packages, which wait for
 * the purge; the site after what it proxies to; the check after the site).
 */
export function planExternalRegistryHost(name: string, args: ResolvedExternalRegistryHost): ExternalRegistryHostPlan {
    return {
        ...hostPreparationSteps(name, args),
        ...hostContainerSteps(name, args),
        // The site goes live only once what it proxies to runs.
        caddy: hostSiteStep(name, args),
        ...hostJobSteps(name, args),
        ...hostOutputs(args),
    };
}

/** What the host needs before anything runs on it: the purge on destroy, the packages, the monitoring, the login limit. */
function hostPreparationSteps(
    name: string,
    args: ResolvedExternalRegistryHost,
): Pick<ExternalRegistryHostPlan, "purge" | "packages" | "monitoring" | "loginLimit"> {
    const { connection, layout, s3, monitored } = args;
    return {
        // Everything on the host waits for it (through the packages), so on destroy its delete, which
        // removes the data when the last `up` asked for it, runs after every container is gone.
        purge: {
            name: `${name}-purge`,
            args: {
                connection,
                purge: args.purgeDataOnDestroy,
                directories: [...(s3 ? [] : [layout.dataDir]), ...(args.maven ? [layout.mavenDataDir] : [])],
            },
        },
        packages: {
            name: `${name}-packages`,
            args: { connection, layout, dataDir: !s3, installPackages: args.installPackages, restic: args.backup !== undefined },
            dependsOn: ["purge"],
        },
        ...(args.monitoring
            ? {
                  monitoring: {
                      name: `${name}-monitoring`,
                      args: {
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
                          ...(args.monitoring.diskWarnPercent !== undefined && !s3
                              ? { diskGuard: { warnPercent: args.monitoring.diskWarnPercent, refusing: args.diskGuard !== undefined } }
                              : {}),
                          // The Maven directory's guard runs whatever the registry's storage (hostJobSteps).
                          ...(args.diskGuard && args.maven ? { mavenDiskGuard: args.diskGuard } : {}),
                          passwordsRotationDue: args.passwordRotation?.due,
                      },
                      dependsOn: ["packages"],
                  },
              }
            : {}),
        loginLimit: {
            name: `${name}-login-limit`,
            args: {
                connection,
                installPackages: args.installPackages,
                jail: args.loginLimit && { ...args.loginLimit, accessLog: CADDY_ACCESS_LOG, port: args.port },
            },
            // After the monitoring too: both may install Debian packages, and the engine runs every step
            // whose dependencies are done at once, so two apt-get runs would race for dpkg's lock.
            dependsOn: ["packages", ...(monitored ? (["monitoring"] as const) : [])],
        },
    };
}

/** The containers the site proxies to: Distribution, and the web UI, the caches and Maven when asked for. */
function hostContainerSteps(
    name: string,
    args: ResolvedExternalRegistryHost,
): Pick<ExternalRegistryHostPlan, "container" | "ui" | "mirrors" | "maven"> {
    const { connection, layout, registryContainer: registry, reporting, jobsAfter, mavenSpec } = args;
    return {
        container: {
            name: `${name}-container`,
            args: {
                connection,
                spec: registry,
                storage: args.storage,
                deletesEnabled: args.deletes.api,
                ...(args.distributionConfig ? { distributionConfig: args.distributionConfig } : {}),
                // Collected while pushes go on, Distribution must check every blob a manifest names (distribution#3743).
                ...(args.garbageCollection.mode === "online" ? { blobDescriptorCache: false } : {}),
            },
            dependsOn: ["packages"],
        },
        ...(args.ui
            ? {
                  ui: {
                      name: `${name}-ui`,
                      args: {
                          connection,
                          spec: { name: UI_CONTAINER, image: args.ui.image, hostPort: UI_HOST_PORT, layout },
                          deleteEnabled: args.deletes.ui,
                          // The origin the UI calls: the registry's authority as clients write it.
                          registryHost: args.port === 443 ? args.registryHost : `${args.registryHost}:${args.port}`,
                      },
                      dependsOn: ["packages"],
                  },
              }
            : {}),
        ...(args.mirrors && args.mirrors.length > 0
            ? {
                  mirrors: {
                      name: `${name}-mirrors`,
                      args: {
                          connection,
                          image: args.image,
                          mirrors: args.mirrors.map(hostMirror),
                          // Beside the registry's data directory, never inside it: backups and GC never see a cache.
                          mirrorsDir: mirrorsDirOf(args.dataDir),
                          configRoot: layout.registryConfigDir,
                          socketsDir: layout.mirrorSocketsDir,
                          pruneScriptPath: `${layout.binDir}/dso-registry-mirror-prune`,
                          cronFilePath: `${layout.cronFile}-mirrors`,
                          ...(reporting ? { reporting: { ...reporting, textfileDir: monitoringPaths(layout).textfileDir } } : {}),
                      },
                      dependsOn: ["packages", ...jobsAfter],
                  },
              }
            : {}),
        ...(mavenSpec ? { maven: { name: `${name}-maven`, args: { connection, spec: mavenSpec }, dependsOn: ["packages"] } } : {}),
    };
}

/** Caddy's site: the access policy in front of what runs, with the caches' routes once they are known. */
function hostSiteStep(name: string, args: ResolvedExternalRegistryHost): ExternalRegistryHostPlan["caddy"] {
    const { connection, layout, s3, monitored, mavenSpec } = args;
    const users = frontUsers(args.accounts);
    return {
        name: `${name}-caddy`,
        args: ({ mirrorRoutes }) => ({
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
            diskGuard: args.diskGuard !== undefined && !s3,
            upstream: `unix/${hostPaths(layout).registrySocket}`,
            metrics: monitored,
            sweepHold: args.garbageCollection.mode === "online",
            uiUpstream: args.ui && `127.0.0.1:${UI_HOST_PORT}`,
            mirrors: mirrorRoutes,
            mirrorsRequireAuth: args.mirrorsRequireAuth,
            maven: args.maven && {
                pathPrefix: args.maven.pathPrefix,
                requiresAuthForPull: args.maven.requiresAuthForPull,
                deployAccount: args.maven.deployAccount,
                diskGuard: args.diskGuard !== undefined,
            },
        }),
        dependsOn: [
            "packages",
            "container",
            ...(args.ui ? (["ui"] as const) : []),
            ...(args.mirrors && args.mirrors.length > 0 ? (["mirrors"] as const) : []),
            ...(mavenSpec ? (["maven"] as const) : []),
        ],
    };
}

/** The upkeep jobs and the post-deploy check, with the fingerprints of what they watch. */
function hostJobSteps(name: string, args: ResolvedExternalRegistryHost): Pick<ExternalRegistryHostPlan, "upkeep" | "check"> {
    const { connection, layout, s3, registryContainer: registry, monitored, reporting, jobsAfter, mavenSpec } = args;
    return {
        upkeep: {
            name: `${name}-maintenance`,
            args: ({ containerFingerprint, mavenFingerprint }) => ({
                connection,
                spec: registry,
                specFingerprint: containerFingerprint,
                garbageCollection: args.garbageCollection,
                ...(args.garbageCollection.mode === "online" && args.storage.kind === "s3"
                    ? { onlineS3: { url: onlineS3Url(args.storage), region: args.storage.region } }
                    : {}),
                backup: args.backup,
                maven:
                    mavenSpec && mavenFingerprint !== undefined && args.maven
                        ? { spec: mavenSpec, fingerprint: mavenFingerprint, snapshotBuildsToKeep: args.maven.snapshotBuildsToKeep }
                        : undefined,
                reporting,
                ...(args.retention ? { retention: args.retention } : {}),
                ...(args.diskGuard && (!s3 || args.maven) ? { diskGuard: args.diskGuard } : {}),
                status: {
                    host: args.registryHost,
                    port: args.port,
                    textfileDir: monitored ? monitoringPaths(layout).textfileDir : "",
                    ...(args.passwordRotation ? { passwordRotation: args.passwordRotation } : {}),
                    ...(args.retention ? { retentionMode: args.retention.mode } : {}),
                    ...(args.diskGuard && !s3 ? { diskGuard: args.diskGuard } : {}),
                    ...(args.diskGuard && args.maven ? { mavenDiskGuard: args.diskGuard } : {}),
                },
            }),
            dependsOn: ["packages", ...jobsAfter],
        },
        check: {
            name: `${name}-check`,
            args: ({ caddyFingerprint, containerFingerprint }) => ({
                connection,
                layout,
                registryHost: args.registryHost,
                port: args.port,
                tls: args.tls,
                requiresAuthForPull: args.requiresAuthForPull,
                allowedNetworks: args.allowedNetworks,
                triggers: [caddyFingerprint, containerFingerprint],
            }),
            dependsOn: ["caddy", "container"],
        },
    };
}

/** What the host exposes besides its children: its URL, image prefix, CA, and the operator's commands. */
function hostOutputs(
    args: ResolvedExternalRegistryHost,
): Pick<ExternalRegistryHostPlan, "registryUrl" | "imagePrefix" | "caCertPem" | "opsCommands"> {
    const { connection, layout } = args;
    const authority = registryAuthority(args.registryHost, args.port);
    const paths = hostPaths(layout);
    const sshTarget = connection.kind === "ssh" ? `ssh -p ${connection.port} ${connection.user}@${connection.host}` : "";
    const root = connection.sudo ? "sudo " : "";
    return {
        registryUrl: `https://${authority}`,
        imagePrefix: imagePrefix(authority, args.pathPrefix),
        ...(args.tls.kind === "files" && args.tls.caCertPem ? { caCertPem: args.tls.caCertPem } : {}),
        opsCommands: {
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
        },
    };
}

const EXTERNAL_REGISTRY_HOST_TYPE = typeToken("externalHost", "ExternalRegistryHost");

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
    readonly upkeep: HostUpkeep;
    /** @deprecated `upkeep`: the same component under its 0.1.0 name, kept for programs written against that release. */
    get maintenance(): HostUpkeep {
        return this.upkeep;
    }
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

    constructor(name: string, given: ExternalRegistryHostArgs, opts?: pulumi.ComponentResourceOptions) {
        const target: HostTarget = { target: given.connection.name };
        super(EXTERNAL_REGISTRY_HOST_TYPE, name, target, withFormerType(opts, "dso:registry:ExternalRegistryHost"));
        const args = resolveExternalRegistryHost(given);
        const problem = externalRegistryHostProblem(args);
        if (problem) throw new pulumi.ResourceError(`ExternalRegistryHost ${name}: ${problem}`, this);
        const plan = planExternalRegistryHost(name, args);
        const { step, after } = stepOrder(this, name);
        step("purge", new PurgeOnDestroy(plan.purge.name, plan.purge.args, after(plan.purge)));
        this.packages = step("packages", new HostPackages(plan.packages.name, plan.packages.args, after(plan.packages)));
        const monitoring = plan.monitoring && new HostMonitoring(plan.monitoring.name, plan.monitoring.args, after(plan.monitoring));
        if (monitoring) step("monitoring", monitoring, monitoring.scripts);
        new HostLoginLimit(plan.loginLimit.name, plan.loginLimit.args, after(plan.loginLimit));
        this.container = step("container", new RegistryContainer(plan.container.name, plan.container.args, after(plan.container)));
        this.uiContainer = plan.ui && step("ui", new UiContainer(plan.ui.name, plan.ui.args, after(plan.ui)));
        this.mirrors = plan.mirrors && step("mirrors", new MirrorCachesOnHost(plan.mirrors.name, plan.mirrors.args, after(plan.mirrors)));
        this.mavenContainer = plan.maven && step("maven", new MavenContainer(plan.maven.name, plan.maven.args, after(plan.maven)));
        const caddyArgs = plan.caddy.args({ mirrorRoutes: this.mirrors?.routes });
        this.caddy = step("caddy", new CaddySite(plan.caddy.name, caddyArgs, after(plan.caddy)));
        const containerFingerprint = this.container.specFingerprint;
        const upkeepArgs = plan.upkeep.args({ containerFingerprint, mavenFingerprint: this.mavenContainer?.specFingerprint });
        this.upkeep = new HostUpkeep(plan.upkeep.name, upkeepArgs, after(plan.upkeep));
        const checkArgs = plan.check.args({ caddyFingerprint: this.caddy.filesFingerprint, containerFingerprint });
        this.check = new PostDeployCheck(plan.check.name, checkArgs, after(plan.check));
        this.registryUrl = plan.registryUrl;
        this.imagePrefix = plan.imagePrefix;
        if (plan.caCertPem) this.caCertPem = pulumi.output(plan.caCertPem);
        this.opsCommands = plan.opsCommands;
        this.registerOutputs({
            registryUrl: this.registryUrl,
            imagePrefix: this.imagePrefix,
            caCertPem: this.caCertPem,
            opsCommands: this.opsCommands,
        });
    }
}

/**
 * Registers the plan's steps in order under `parent`: `step` records a registered child (with the
 * monitoring, its scripts as `monitoringScripts`); `after` gives a step's options, waiting for the
 * children its `dependsOn` names.
 */
function stepOrder(parent: pulumi.Resource, name: string) {
    const done: Partial<Record<HostStepName, pulumi.Resource[]>> = {};
    return {
        step: <T extends pulumi.Resource>(role: HostStepName, resource: T, scripts?: pulumi.Resource[]): T => {
            done[role] = [resource];
            if (scripts) done.monitoringScripts = scripts;
            return resource;
        },
        after: ({ dependsOn }: HostStep<unknown>): pulumi.ComponentResourceOptions => {
            if (!dependsOn) return { parent };
            return {
                parent,
                dependsOn: dependsOn.flatMap((role) => {
                    const children = done[role];
                    if (!children) throw new Error(`ExternalRegistryHost ${name}: a step waits for "${role}", not registered before it`);
                    return children;
                }),
            };
        },
    };
}

/**
 * The pull-through caches on the external registry host: per upstream a Distribution container (in
 * proxy mode while the upstream answers, read-only on what it holds otherwise) on its own unix socket
 * (which only root and Caddy's group can open), with its own storage directory beside (never inside) the
 * registry's data directory, and the hourly prune job that holds each cache to its `maxSize`. The
 * front (CaddySite) routes `/v2/mirrors/<upstream>/` to the `routes` this component exposes.
 */
import * as pulumi from "@pulumi/pulumi";
import { DISTRIBUTION_ENV_WORDS } from "../shared/facts";
import { fingerprint } from "../shared/fingerprint";
import { withFormerType } from "../shared/formerType";
import {
    containerRunStepName,
    type HostConnection,
    HostFile,
    type HostFileSpec,
    hostCommand,
    type PlannedHostCommand,
    type PlannedHostFile,
    privileged,
} from "../shared/hostAccess";
import { HostFilesCheck, type HostFilesCheckArgs, recreatingScript } from "../shared/hostFilesCheck";
import { typeToken } from "../shared/typeToken";
import {
    type HostWarm,
    hostMirrorFiles,
    hostMirrorPaths,
    hostWarmRunScript,
    hostWarmScript,
    hostWarmScriptPath,
    mirrorContainerDeleteScript,
    mirrorContainerScript,
    mirrorCronFile,
    mirrorPruneScript,
    type PrunedMirror,
} from "./hostCaches";
import { MIRROR_FILE_ROLES, MIRROR_FILES, type MirrorRoute, type MirrorSpec, type RegistryMirror, renderMirrorEnvFile } from "./mirrors";

/** A cache to run, with its upstream account's env file when it has one (secret). */
export interface HostMirror {
    readonly spec: MirrorSpec;
    /** `renderMirrorEnvFile` of the upstream account; only with `spec.hasCredentials`. */
    readonly envFile?: pulumi.Input<string>;
}

/** The host's form of a cache (`RegistryMirror`): its upstream account as the container's env file. */
export function hostMirror(mirror: RegistryMirror): HostMirror {
    if (!mirror.spec.hasCredentials || mirror.account === undefined) return { spec: mirror.spec };
    return { spec: mirror.spec, envFile: pulumi.output(mirror.account).apply(renderMirrorEnvFile) };
}

export interface MirrorCachesOnHostArgs {
    readonly connection: HostConnection;
    /** Distribution image (the registry's own). */
    readonly image: string;
    readonly mirrors: readonly HostMirror[];
    /** Directory holding one storage directory per cache, e.g. "/srv/data/registry-mirrors". */
    readonly mirrorsDir: string;
    /** Directory of the program's config files on the host (the caches' configs go under mirrors/). */
    readonly configRoot: string;
    /** Directory holding one socket directory per cache, e.g. "/run/dso-registry-mirrors". */
    readonly socketsDir: string;
    /** Where the prune script and the cron file go. */
    readonly pruneScriptPath: string;
    readonly cronFilePath: string;
    /** The job reporter and node_exporter's textfile directory (monitoring on); no reporting when unset. */
    readonly reporting?: { readonly reporter: string; readonly textfileDir: string };
}

/** Its type token, by which URNs and previews name it (the preview's consequences summary reads it). */
export const MIRROR_CACHES_ON_HOST_TYPE = typeToken("mirrors", "MirrorCachesOnHost");

/** What `MirrorCachesOnHost` registers for one cache, in this order. */
export interface HostCachePlan {
    /** Its config files, and its upstream account's env file (secret) when it has one. */
    readonly files: readonly PlannedHostFile[];
    /** Starts (and replaces) its container, after its files. */
    readonly run: PlannedHostCommand;
    /** The read-back of its files, after the run. */
    readonly filesCheck: { readonly name: string; readonly args: HostFilesCheckArgs };
    /** With `warm`: its warm script, and the command that runs it (in the background) when the list changes, after the run. */
    readonly warm?: { readonly script: PlannedHostFile; readonly run: PlannedHostCommand };
}

/** The name of the command that runs a cache's warm list when it changes (the preview's consequences summary finds it by it). */
export const warmStepName = (name: string) => `${name}-warm`;

/** What `MirrorCachesOnHost` registers, in this order, and exposes: `planMirrorCachesOnHost`. */
export interface MirrorCachesOnHostPlan {
    readonly caches: readonly HostCachePlan[];
    /** The prune script, then its cron file, then their read-back; none without a cache. */
    readonly prune?: {
        readonly script: PlannedHostFile;
        readonly cron: PlannedHostFile;
        readonly filesCheck: { readonly name: string; readonly args: HostFilesCheckArgs };
    };
    /** Where the front sends each mirror's requests (`MirrorCachesOnHost.routes`). */
    readonly routes: readonly MirrorRoute[];
}

/**
 * Everything `MirrorCachesOnHost` registers, from its args, or why they cannot work (an upstream with
 * credentials but no env file): each cache's files, container and read-back under a name of its upstream's,
 * the prune job over every cache, and the front's routes.
 */
export function planMirrorCachesOnHost(name: string, args: MirrorCachesOnHostArgs): MirrorCachesOnHostPlan | { readonly problem: string } {
    const { connection } = args;
    const missing = args.mirrors.find(({ spec, envFile }) => spec.hasCredentials && envFile === undefined);
    if (missing) return { problem: `${missing.spec.upstream} needs its upstream account's env file` };
    const caches = args.mirrors.map(({ spec, envFile }) => {
        const paths = hostMirrorPaths(spec, args.mirrorsDir, args.configRoot, args.socketsDir);
        const mirrorFiles = hostMirrorFiles(spec);
        const role = `${name}-${spec.pathName.replace(/\./g, "-")}`;
        const names = Object.values(MIRROR_FILES);
        const checked: (HostFileSpec & { content: pulumi.Input<string> })[] = names.map((file) => ({
            path: `${paths.configDir}/${file}`,
            mode: "0644",
            content: mirrorFiles[file],
        }));
        const files: PlannedHostFile[] = names.map((file, i) => ({
            name: `${role}-${MIRROR_FILE_ROLES[file]}`,
            args: { connection, ...checked[i]! },
        }));
        if (spec.hasCredentials && envFile !== undefined) {
            files.push({
                name: `${role}-env`,
                args: { connection, path: `${paths.configDir}/env`, mode: "0600", content: envFile, secret: true },
            });
            checked.push({ path: `${paths.configDir}/env`, mode: "0600", content: envFile });
        }
        const fp = fingerprint(
            args.image,
            DISTRIBUTION_ENV_WORDS,
            paths.socketDir,
            paths.dataDir,
            paths.configDir,
            ...names.map((file) => mirrorFiles[file]),
        );
        const runScript = mirrorContainerScript(paths, args.image, fp, spec.hasCredentials);
        const warmScriptPath = hostWarmScriptPath(paths);
        const warm = spec.warm && {
            script: {
                name: `${role}-warm-script`,
                args: { connection, path: warmScriptPath, mode: "0755", content: hostWarmScript(paths, spec.warm) },
            },
            run: {
                name: warmStepName(role),
                args: { connection, create: privileged(hostWarmRunScript(warmScriptPath, spec.upstream, spec.warm), connection.sudo) },
            },
        };
        const cache: HostCachePlan = {
            ...(warm ? { warm } : {}),
            files,
            run: {
                name: containerRunStepName(role),
                args: {
                    connection,
                    create: privileged(runScript, connection.sudo),
                    delete: privileged(mirrorContainerDeleteScript(paths), connection.sudo),
                },
            },
            // The cache's files read back at each refresh; a repair makes its container anew, so it reads them again.
            filesCheck: {
                name: `${role}-files-check`,
                args: { connection, files: checked, afterRepair: privileged(recreatingScript(runScript), connection.sudo) },
            },
        };
        const warmed: HostWarm | undefined = spec.warm && { script: warmScriptPath, schedule: spec.warm.schedule };
        return { cache, warmed, pruned: { paths, maxSize: spec.maxSize, maxAge: spec.ttl, remoteUrl: spec.remoteUrl } };
    });
    const pruned = caches.map((c) => c.pruned);
    const warms = caches.flatMap((c) => (c.warmed ? [c.warmed] : []));
    return {
        caches: caches.map((c) => c.cache),
        ...(pruned.length > 0 ? { prune: prunePlan(name, args, pruned, warms) } : {}),
        routes: pruned.map(({ paths }, i) => ({ pathName: args.mirrors[i]!.spec.pathName, upstream: `unix/${paths.socket}` })),
    };
}

/** The prune job over the caches: its script, its cron file and their read-back. */
function prunePlan(
    name: string,
    args: MirrorCachesOnHostArgs,
    pruned: readonly PrunedMirror[],
    warms: readonly HostWarm[],
): NonNullable<MirrorCachesOnHostPlan["prune"]> {
    const { connection } = args;
    const pruneReporting = args.reporting && {
        reporter: args.reporting.reporter,
        self: args.pruneScriptPath,
        mirrorsDir: args.mirrorsDir,
        metricsFile: `${args.reporting.textfileDir}/dso_registry_caches.prom`,
    };
    const prune = [
        { path: args.pruneScriptPath, mode: "0755", content: mirrorPruneScript(pruned, pruneReporting) },
        { path: args.cronFilePath, mode: "0644", content: mirrorCronFile(args.pruneScriptPath, warms) },
    ];
    return {
        script: { name: `${name}-prune-script`, args: { connection, ...prune[0]! } },
        cron: { name: `${name}-cron`, args: { connection, ...prune[1]! } },
        // The prune script and its cron file read back at each refresh; cron runs the script as it is, nothing follows.
        filesCheck: { name: `${name}-prune-files-check`, args: { connection, files: prune } },
    };
}

export class MirrorCachesOnHost extends pulumi.ComponentResource {
    /** Where the front sends each mirror's requests. */
    readonly routes: readonly MirrorRoute[];

    constructor(name: string, args: MirrorCachesOnHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super(MIRROR_CACHES_ON_HOST_TYPE, name, {}, withFormerType(opts, "dso:mirrors:MirrorCachesOnHost"));
        const plan = planMirrorCachesOnHost(name, args);
        if ("problem" in plan) throw new pulumi.ResourceError(`MirrorCachesOnHost ${name}: ${plan.problem}`, this);
        for (const cache of plan.caches) {
            const files = cache.files.map((f) => new HostFile(f.name, f.args, { parent: this }));
            const run = hostCommand(cache.run.name, cache.run.args, { parent: this, dependsOn: files });
            new HostFilesCheck(cache.filesCheck.name, cache.filesCheck.args, { parent: this, dependsOn: [run] });
            if (cache.warm) {
                const script = new HostFile(cache.warm.script.name, cache.warm.script.args, { parent: this, dependsOn: [run] });
                hostCommand(cache.warm.run.name, cache.warm.run.args, { parent: this, dependsOn: [script, run] });
            }
        }
        if (plan.prune) {
            const { prune } = plan;
            const script = new HostFile(prune.script.name, prune.script.args, { parent: this });
            const cron = new HostFile(prune.cron.name, prune.cron.args, { parent: this, dependsOn: [script] });
            new HostFilesCheck(prune.filesCheck.name, prune.filesCheck.args, { parent: this, dependsOn: [cron] });
        }
        this.routes = plan.routes;
        this.registerOutputs({});
    }
}

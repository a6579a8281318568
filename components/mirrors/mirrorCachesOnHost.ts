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
import { containerRunStepName, type HostConnection, HostFile, type HostFileSpec, hostCommand, privileged } from "../shared/hostAccess";
import { HostFilesCheck, recreatingScript } from "../shared/hostFilesCheck";
import {
    hostMirrorFiles,
    hostMirrorPaths,
    mirrorContainerDeleteScript,
    mirrorContainerScript,
    mirrorCronFile,
    mirrorPruneScript,
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
export const MIRROR_CACHES_ON_HOST_TYPE = "dso-registry:mirrors:MirrorCachesOnHost";

export class MirrorCachesOnHost extends pulumi.ComponentResource {
    /** Where the front sends each mirror's requests. */
    readonly routes: readonly MirrorRoute[];

    constructor(name: string, args: MirrorCachesOnHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super(MIRROR_CACHES_ON_HOST_TYPE, name, {}, withFormerType(opts, "dso:mirrors:MirrorCachesOnHost"));
        const { connection } = args;
        const pruned = args.mirrors.map(({ spec, envFile }) => {
            const paths = hostMirrorPaths(spec, args.mirrorsDir, args.configRoot, args.socketsDir);
            const mirrorFiles = hostMirrorFiles(spec);
            const role = `${name}-${spec.pathName.replace(/\./g, "-")}`;
            const names = Object.values(MIRROR_FILES);
            const checked: (HostFileSpec & { content: pulumi.Input<string> })[] = names.map((file) => ({
                path: `${paths.configDir}/${file}`,
                mode: "0644",
                content: mirrorFiles[file],
            }));
            const files = names.map(
                (file, i) => new HostFile(`${role}-${MIRROR_FILE_ROLES[file]}`, { connection, ...checked[i]! }, { parent: this }),
            );
            if (spec.hasCredentials) {
                if (envFile === undefined)
                    throw new pulumi.ResourceError(
                        `MirrorCachesOnHost ${name}: ${spec.upstream} needs its upstream account's env file`,
                        this,
                    );
                files.push(
                    new HostFile(
                        `${role}-env`,
                        { connection, path: `${paths.configDir}/env`, mode: "0600", content: envFile, secret: true },
                        { parent: this },
                    ),
                );
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
            const run = hostCommand(
                containerRunStepName(role),
                {
                    connection,
                    create: privileged(runScript, connection.sudo),
                    delete: privileged(mirrorContainerDeleteScript(paths), connection.sudo),
                },
                { parent: this, dependsOn: files },
            );
            // The cache's files read back at each refresh; a repair makes its container anew, so it reads them again.
            new HostFilesCheck(
                `${role}-files-check`,
                { connection, files: checked, afterRepair: privileged(recreatingScript(runScript), connection.sudo) },
                { parent: this, dependsOn: [run] },
            );
            return { paths, maxSize: spec.maxSize, maxAge: spec.ttl, remoteUrl: spec.remoteUrl };
        });
        this.routes = pruned.map(({ paths }, i) => ({ pathName: args.mirrors[i]!.spec.pathName, upstream: `unix/${paths.socket}` }));
        const pruneReporting = args.reporting && {
            reporter: args.reporting.reporter,
            self: args.pruneScriptPath,
            mirrorsDir: args.mirrorsDir,
            metricsFile: `${args.reporting.textfileDir}/dso_registry_caches.prom`,
        };
        if (pruned.length > 0) {
            const prune = [
                { path: args.pruneScriptPath, mode: "0755", content: mirrorPruneScript(pruned, pruneReporting) },
                { path: args.cronFilePath, mode: "0644", content: mirrorCronFile(args.pruneScriptPath) },
            ];
            const script = new HostFile(`${name}-prune-script`, { connection, ...prune[0]! }, { parent: this });
            const cron = new HostFile(`${name}-cron`, { connection, ...prune[1]! }, { parent: this, dependsOn: [script] });
            // The prune script and its cron file read back at each refresh; cron runs the script as it is, nothing follows.
            new HostFilesCheck(`${name}-prune-files-check`, { connection, files: prune }, { parent: this, dependsOn: [cron] });
        }
        this.registerOutputs({});
    }
}

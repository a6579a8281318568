/**
 * The kind placement's files in `kind.dataDir`, rendered as the component (components/kind/kindRegistry.ts)
 * renders them, for the integration tests that run the placement's scripts on a real Docker engine
 * without Pulumi; and those scripts run on the Docker host as the component's commands run them.
 *
 * Usage:
 *   placeKindFiles(layout, { push });                                     // the registry alone
 *   placeKindFiles(layout, { push, deletesEnabled: true, gc });           // with scheduled garbage collection
 *   placeKindFiles(layout, { push, diskGuard: { refusePercent: 90 } });  // with the disk guard
 *   const runs = placeKindFiles(layout, { push, mirrors: [spec] });       // with caches: containersApplyScript's 4th argument
 *   onHostOk(engine, containersApplyScript(layout, images, FILES, runs));
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { KIND_DISK_FULL_MARKER, type KindDiskGuard } from "../../components/kind/diskGuard";
import { renderKindCaddyfile, renderKindRegistryConfig } from "../../components/kind/front";
import {
    KIND_GC_MARKER,
    type KindGarbageCollection,
    type KindLayout,
    type KindMirrorRun,
    kindMirrorFiles,
    kindMirrorPaths,
    kindPaths,
    nodeInsideScript,
    nodeWatchScript,
} from "../../components/kind/scripts";
import { kindUpkeep } from "../../components/kind/upkeep";
import type { MirrorSpec } from "../../components/mirrors/mirrors";
import { DISTRIBUTION } from "../../components/shared/facts";
import type { DockerClient } from "./dockerEngine";
import { makeDecoyHash, type TestAccount } from "./realRegistry";
import { type RunResult, run } from "./serverProcess";

export interface KindFilesOptions {
    readonly push: TestAccount;
    /** Pull-only accounts; none unless given. */
    readonly pull?: readonly TestAccount[];
    readonly deletesEnabled?: boolean;
    /** Scheduled garbage collection: its script and crontab, the front's marker check, no blob-descriptor cache. */
    readonly gc?: KindGarbageCollection;
    /** The disk guard: its script in the upkeep container's crontab, the front's 507 while its marker exists. */
    readonly diskGuard?: KindDiskGuard;
    /** Pull-through caches: each one's config, its route on the front, its hosts.toml in the node script. */
    readonly mirrors?: readonly MirrorSpec[];
}

/** Writes the placement's files; returns the caches as `containersApplyScript` runs them. */
export function placeKindFiles(layout: KindLayout, options: KindFilesOptions): KindMirrorRun[] {
    const p = kindPaths(layout);
    const pull = options.pull ?? [];
    const mirrors = options.mirrors ?? [];
    const files: [string, string][] = [
        [
            p.caddyfile,
            renderKindCaddyfile({
                registryName: layout.registryName,
                port: layout.port,
                distributionName: p.distributionName,
                requiresAuthForPull: false,
                deletesEnabled: options.deletesEnabled ?? false,
                ...(options.gc ? { readOnlyMarker: KIND_GC_MARKER } : {}),
                ...(options.diskGuard ? { diskFullMarker: KIND_DISK_FULL_MARKER } : {}),
                mirrors: mirrors.map((m) => ({
                    pathName: m.pathName,
                    upstream: `${kindMirrorPaths(layout, m).container}:${DISTRIBUTION.containerPort}`,
                })),
                decoy: { accounts: { push: [options.push.username], pull: pull.map((a) => a.username) }, bcryptHash: makeDecoyHash() },
            }),
        ],
        [p.pushUsers, renderUsersFile("push", [options.push])],
        [p.pullUsers, renderUsersFile("pull", pull)],
        [p.registryConfig, renderKindRegistryConfig(options.deletesEnabled ?? false, options.gc !== undefined)],
        [p.nodeScript, nodeInsideScript(layout, mirrors)],
        [p.watcherScript, nodeWatchScript(layout)],
        ...(kindUpkeep(layout, options.gc, options.diskGuard)?.files ?? []).map((f): [string, string] => [f.path, f.content]),
        ...mirrors.flatMap((m) => kindMirrorFiles(layout, m).map((f): [string, string] => [f.path, f.content])),
    ];
    // Modes as the component's files have them: the users files 0600, the rest 0644.
    const secret = new Set([p.pushUsers, p.pullUsers]);
    for (const [file, content] of files) {
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, content, { mode: secret.has(file) ? 0o600 : 0o644 });
    }
    return mirrors.map((m) => ({ pathName: m.pathName, files: "mirror-files-1", hasCredentials: false }));
}

/** A placement script on the Docker host, as the program's command runs it. */
export function onHost(engine: DockerClient, script: string): RunResult {
    return run("/bin/sh", ["-c", script], { env: engine.env, timeout: 300_000 });
}

/** `onHost`, failing with the script's output unless it exits 0; returns its stdout. */
export function onHostOk(engine: DockerClient, script: string): string {
    const r = onHost(engine, script);
    if (r.code !== 0) throw new Error(`script exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
}

/**
 * Runs kind's own local-registry recipe's container on `docker` (kind.sigs.k8s.io/docs/user/local-registry:
 * `docker run -d --restart=always -p 127.0.0.1:5001:5000 --network bridge --name kind-registry registry:2`),
 * from `image`, and returns its result: a container of the stack's default name that the stack did not make.
 */
export function runKindRecipeRegistry(docker: DockerClient, image: string): RunResult {
    return docker.docker([
        "run",
        "-d",
        "--restart=always",
        "-p",
        "127.0.0.1:5001:5000",
        "--network",
        "bridge",
        "--name",
        "kind-registry",
        image,
    ]);
}

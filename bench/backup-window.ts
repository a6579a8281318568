/**
 * The external host's backup: how long pushes are refused (the read-only window) and how long the
 * whole backup takes, the previous script (a gzip tar of the data directory while read-only, kept on
 * the same host) against the restic script (a writable pass, then a second pass for what changed,
 * to another machine over SFTP, while the front refuses writes), in the same run, on the same data,
 * at two sizes.
 *
 * Real software: a private dockerd in a network namespace running the registry container, the
 * scripts as rendered, restic to a real OpenSSH server. The window is what pushes see: the lifetime
 * of the front's read-only marker (Caddy answers every write 503 while it exists), timed by an
 * inotify watch (fs.watch) on its directory. The previous script is the tar script as it last
 * shipped (commit 6f0157a, before restic): it too created the marker before the writable container
 * went and removed it once the writable one was started again, so both are timed by the marker.
 * For the previous script the engine's own events are printed beside it (the writable container's
 * removal to the next writable start: the figure published before, which leaves out the marker's
 * time before and after the swap). The restic script must cause no container event at all: the
 * bench fails if it stops, replaces or restarts the registry.
 * Data: files of 105 KiB of random bytes laid out as registry blobs (already-compressed layers are
 * what a registry holds), 2,500 files (256 MiB) and 10,000 files (1 GiB).
 *
 * Run as root: npx tsx bench/backup-window.ts
 *
 * `npx tsx bench/backup-window.ts in-cluster` measures the in-cluster backup instead, with the same
 * data: the CronJob's script as rendered, the registry pod played by Distribution and Caddy with the
 * rendered configs (test/support/registryPodStandIn.ts, with a kubectl stand-in for `kubectl exec`),
 * restic running the rendered step scripts to the test S3 server (test/support/s3Server.ts) on loopback. The window is the read-only
 * marker's lifetime; from the stand-in's timestamps it is bounded by the read-only step's exec (its
 * call to its return), which includes the front's settle wait. Nothing restarts: the bench checks it.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmSync, watch, writeFileSync } from "node:fs";
import * as path from "node:path";
import { renderRegistryConfig } from "../components/distribution/registryConfig";
import { backupKnownHosts, backupPaths, backupScript } from "../components/externalHost/backupScripts";
import {
    type ContainerSpec,
    containerScript,
    defaultHostLayout,
    hostPaths,
    lockParams,
    registryParams,
} from "../components/externalHost/scripts";
import { IN_CLUSTER_BACKUP } from "../components/inCluster/backup";
import { IN_CLUSTER } from "../components/inCluster/spec";
import { DISTRIBUTION } from "../components/shared/facts";
import { renderShellScript } from "../components/shared/shellScript";
import { FRONT_SETTLE_SECONDS } from "../components/upkeep/frontWindow";
import { startDockerEngine } from "../test/support/dockerEngine";
import { registryImage } from "../test/support/dockerImages";
import { createNetns } from "../test/support/netns";
import { makeAccount } from "../test/support/realRegistry";
import { startRegistryPodStandIn, synthRegistryPod } from "../test/support/registryPodStandIn";
import { dataOf } from "../test/support/registryStack";
import { startS3Server } from "../test/support/s3Server";
import { privateDir, removeDir, run } from "../test/support/serverProcess";
import { startSftpTarget } from "../test/support/sftpTarget";

/** The backup script as it last shipped before restic (commit 6f0157a), in bench/previous-backup.sh. */
function previousBackupScript(spec: ContainerSpec, fingerprint: string, destination: string, keep: number): string {
    return renderShellScript(path.join(__dirname, "previous-backup.sh"), {
        ...lockParams(spec.layout),
        DEST: destination,
        MARKER: hostPaths(spec.layout).readOnlyMarker,
        KEEP: keep,
        ...registryParams(spec, fingerprint),
    });
}

/**
 * Watches `file` (inotify on its directory) and records each time it appears and disappears, in
 * seconds on this process's monotonic clock. The bench's event loop is idle while a script runs, so
 * each change is seen within milliseconds.
 */
function watchMarker(file: string): { spans(): { open: number; close?: number }[]; stop(): void } {
    const spans: { open: number; close?: number }[] = [];
    let present = existsSync(file);
    const watcher = watch(path.dirname(file), () => {
        const now = Number(process.hrtime.bigint()) / 1e9;
        const exists = existsSync(file);
        if (exists && !present) spans.push({ open: now });
        const last = spans.at(-1);
        if (!exists && present && last) last.close = now;
        present = exists;
    });
    return { spans: () => spans, stop: () => watcher.close() };
}

const FILE_BYTES = 105 * 1024;

/** Adds blob files of FILE_BYTES random bytes under `dataDir` until it holds `until` of them; returns the count. */
function growBlobs(dataDir: string, from: number, until: number): number {
    let files = from;
    for (; files < until; files++) {
        const id = randomBytes(32).toString("hex");
        const dir = path.join(dataDir, "docker/registry/v2/blobs/sha256", id.slice(0, 2), id);
        mkdirSync(dir, { recursive: true });
        writeFileSync(path.join(dir, "data"), randomBytes(FILE_BYTES));
    }
    return files;
}

async function inClusterMain(): Promise<void> {
    const bucket = "bench-backups";
    const s3 = await startS3Server([bucket]);
    let pod: Awaited<ReturnType<typeof startRegistryPodStandIn>> | undefined;
    try {
        const rows: string[] = [];
        let files = 0;
        for (const targetFiles of [2_500, 10_000]) {
            const stack = await synthRegistryPod({
                push: makeAccount("ci-push"),
                pull: makeAccount("cluster-pull"),
                maintenance: {
                    backup: {
                        enabled: true,
                        image: "restic/restic",
                        keep: 7,
                        destination: { kind: "s3", endpoint: s3.endpoint, bucket, prefix: `repo-${targetFiles}`, region: "us-east-1" },
                    },
                },
                secrets: {
                    backupRepositoryPassword: randomBytes(24).toString("base64"),
                    backupS3AccessKeyId: s3.credentials.accessKeyId,
                    backupS3SecretAccessKey: s3.credentials.secretAccessKey,
                },
            });
            const objects = stack.objects;
            if (!pod) pod = await startRegistryPodStandIn(stack, { loopbackServices: [Number(new URL(s3.endpoint).port)] });
            else {
                // The same pod and data; a new repository for this size: the synthesized scripts and Secret again.
                for (const [dir, kind] of [
                    [IN_CLUSTER_BACKUP.scriptsDir, "ConfigMap"],
                    [IN_CLUSTER_BACKUP.secretDir, "Secret"],
                ] as const) {
                    for (const [key, text] of Object.entries(dataOf(objects, kind, IN_CLUSTER_BACKUP.name))) {
                        writeFileSync(`${pod.root}${dir}/${key}`, text);
                    }
                }
                removeDir(stack.dir);
            }
            files = growBlobs(`${pod.root}${IN_CLUSTER.dataDir}`, files, targetFiles);
            const mib = Math.round((files * FILE_BYTES) / 2 ** 20);
            const job = (objects.find((o) => o.kind === "CronJob" && o.metadata.name === IN_CLUSTER_BACKUP.name) as any).spec.jobTemplate
                .spec.template.spec.containers[0].command[2] as string;
            for (const name of ["first backup", "next night (nothing new)"]) {
                const before = pod.kubectlTimes().length;
                const startsBefore = pod.starts();
                const t0 = process.hrtime.bigint();
                const r = run("/bin/sh", ["-c", job], { env: pod.env, timeout: 3_600_000 });
                if (r.code !== 0) throw new Error(`the backup job exited ${r.code}\n${r.stdout}\n${r.stderr}`);
                const total = Number(process.hrtime.bigint() - t0) / 1e9;
                if (pod.starts() !== startsBefore) throw new Error("the backup restarted the pod's programs");
                const times = pod.kubectlTimes().slice(before);
                const pass2 = times.filter((t) => t.call.includes("backup.sh read-only"));
                if (pass2.length !== 2) throw new Error(`no read-only step in the stand-in's timestamps:\n${JSON.stringify(times)}`);
                const window = pass2[1]!.at - pass2[0]!.at;
                const row = `| ${files} files, ${mib} MiB | in-cluster, restic to S3, ${name} | ${window.toFixed(1)} s | ${(window - FRONT_SETTLE_SECONDS).toFixed(1)} s | ${total.toFixed(1)} s |`;
                console.log(row);
                rows.push(row);
            }
        }
        console.log(
            [
                "",
                "| data | script | read-only window (read-only step) | of which pass 2 (without the settle wait) | total |",
                "|---|---|---|---|---|",
                ...rows,
            ].join("\n"),
        );
    } finally {
        await pod?.stop();
        await s3.stop();
    }
}

async function main(): Promise<void> {
    const root = privateDir("bench-backup");
    const ns = await createNetns({ prefix: "bk", subnet: "198.18.80.0/20" });
    const engine = await startDockerEngine(ns);
    const target = await startSftpTarget(ns.hostAddress);
    try {
        const layout = defaultHostLayout("/srv/data/registry");
        const paths = hostPaths(layout);
        const bp = backupPaths();
        const spec: ContainerSpec = { name: "dso-registry", image: registryImage(engine), hostPort: 5000, layout };
        const place = (p: string, body: string, mode: number) => {
            mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
            writeFileSync(path.join(root, p), body, { mode });
        };
        const config = (readOnly: boolean) =>
            renderRegistryConfig({
                addr: `:${DISTRIBUTION.containerPort}`,
                storage: { kind: "filesystem", rootDirectory: DISTRIBUTION.dataDir },
                deletesEnabled: true,
                readOnly,
            });
        place(paths.registryConfig, config(false), 0o644);
        place(paths.registryConfigReadOnly, config(true), 0o644);
        const destination = {
            kind: "sftp" as const,
            host: target.host,
            port: target.port,
            user: target.user,
            path: "",
            hostKey: target.hostKey,
        };
        place(bp.passwordFile, randomBytes(24).toString("base64"), 0o600);
        place(bp.sshKey, target.privateKey, 0o600);
        place(bp.knownHosts, backupKnownHosts(destination), 0o644);
        place("/usr/local/sbin/start-registry", containerScript(spec, "bench"), 0o755);
        mkdirSync(path.join(root, layout.caddyDir), { recursive: true });
        const env = { ...engine.env, DSO_ROOT: root };
        const sh = (script: string) => {
            const r = ns.run("sh", [path.join(root, script)], { env });
            if (r.code !== 0) throw new Error(`${script} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
            return r.stdout;
        };
        /** Runs a placed script inside the namespace without blocking the event loop (the marker's watch needs it). */
        const shAsync = (script: string) =>
            new Promise<void>((resolve, reject) => {
                const [command, args] = ns.wrap("sh", [path.join(root, script)]);
                const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
                let output = "";
                child.stdout.on("data", (d: Buffer) => {
                    output += d;
                });
                child.stderr.on("data", (d: Buffer) => {
                    output += d;
                });
                child.on("error", reject);
                child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${script} exited ${code}\n${output}`))));
            });
        sh("/usr/local/sbin/start-registry");

        /** The registry container's events between two times (seconds since the epoch): "<ns> <action> <spec label>" each. */
        const eventsBetween = (since: number, until: number): string[][] => {
            const out = engine.dockerOk([
                "events",
                "--since",
                since.toFixed(3),
                "--until",
                until.toFixed(3),
                "--filter",
                "container=dso-registry",
                "--format",
                '{{.TimeNano}} {{.Action}} {{index .Actor.Attributes "dso-registry.spec"}}',
            ]);
            return out
                .split("\n")
                .filter(Boolean)
                .map((l) => l.split(" "));
        };
        /** From the writable container's removal to the next writable start, in the engine's events. */
        const containerWindow = (events: string[][]): number => {
            const first = events.find((e) => e[1] === "destroy");
            const last = events.filter((e) => e[1] === "start" && e[2] === "bench").at(-1);
            if (!first || !last) throw new Error(`no container swap in the engine's events:\n${events.map((e) => e.join(" ")).join("\n")}`);
            return (Number(last[0]) - Number(first[0])) / 1e9;
        };

        const rows: string[] = [];
        let files = 0;
        for (const target_files of [2_500, 10_000]) {
            // Grow the data to the size, as blobs: docker/registry/v2/blobs/sha256/<2>/<64>/data.
            files = growBlobs(path.join(root, layout.dataDir), files, target_files);
            const mib = Math.round((files * FILE_BYTES) / 2 ** 20);
            const repo = { ...destination, path: `${target.dir}/repo-${files}` };
            const runs: [string, string, boolean][] = [
                [
                    "previous (tar.gz on the host, read-only throughout)",
                    previousBackupScript(spec, "bench", "/srv/backup/registry", 7),
                    true,
                ],
                ["restic over SFTP, first backup", backupScript(spec, repo, 7), false],
                ["restic over SFTP, next night (nothing new)", backupScript(spec, repo, 7), false],
            ];
            for (const [name, script, swapsContainer] of runs) {
                place(paths.backupScript, script, 0o755);
                const marker = watchMarker(path.join(root, paths.readOnlyMarker));
                const since = Date.now() / 1000;
                const t0 = process.hrtime.bigint();
                try {
                    await shAsync(paths.backupScript);
                } finally {
                    marker.stop();
                }
                const total = Number(process.hrtime.bigint() - t0) / 1e9;
                const spans = marker.spans();
                const span = spans[0];
                if (spans.length !== 1 || span?.close === undefined) {
                    throw new Error(`expected the marker to appear and go exactly once, saw ${JSON.stringify(spans)}`);
                }
                const window = span.close - span.open;
                // Events reach the engine's log at once; the second's margin keeps the last one in.
                await new Promise((r) => setTimeout(r, 1000));
                const events = eventsBetween(since, Date.now() / 1000);
                let engineColumn: string;
                if (swapsContainer) engineColumn = `${containerWindow(events).toFixed(1)} s`;
                else if (events.length > 0) {
                    throw new Error(`the restic backup touched the registry container:\n${events.map((e) => e.join(" ")).join("\n")}`);
                } else engineColumn = "none (no container event)";
                const row = `| ${files} files, ${mib} MiB | ${name} | ${window.toFixed(1)} s | ${engineColumn} | ${total.toFixed(1)} s |`;
                console.log(row);
                rows.push(row);
            }
            rmSync(path.join(root, "srv/backup"), { recursive: true, force: true });
        }
        console.log(
            [
                "",
                "| data | script | read-only window: the marker's lifetime (writes refused at the front) | registry container swap (engine events: writable container removed → writable started) | total |",
                "|---|---|---|---|---|",
                ...rows,
                "",
                "The window is what pushes see: from the read-only marker's appearance to its removal (Caddy answers writes 503 meanwhile).",
                "The previous tar script (as of commit 6f0157a) created the marker too; its engine column is the container swap alone.",
                `The restic script's window includes the front's settle wait (${FRONT_SETTLE_SECONDS} s) and restic's second pass; it restarts nothing.`,
            ].join("\n"),
        );
    } finally {
        await target.stop();
        await engine.stop();
        await ns.destroy();
        removeDir(root);
    }
}

(process.argv[2] === "in-cluster" ? inClusterMain() : main()).catch((error) => {
    console.error(error);
    process.exit(1);
});

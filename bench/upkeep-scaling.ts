/**
 * How the upkeep steps' time grows with the registry's size: tag retention, garbage collection (and
 * the read-only window it sits in), verify, the pull-through caches' prune and the backup, each as the
 * product runs it (the rendered scripts and the shared shell they source), on a real Distribution
 * (the deployed version, filesystem storage) on loopback, at two or three sizes.
 *
 * Data: `--sizes` tags in all (default 200, 1000, 4000), `--per-repo` tags a repository (default 20; 0:
 * every tag in one repository), each tag a small image
 * of its own (a config blob and a manifest of its own, a 4 KiB layer shared by the repository's tags),
 * pushed one hour apart. The storage files are laid out as Distribution writes them (blob data under
 * `blobs/`, the repository's layer, revision and tag links) before the first request, so that filling
 * takes seconds; Distribution then serves, lists, deletes and collects them as pushed ones.
 *
 * Steps, in the order a night runs them:
 * - retention: `renderRetentionScript` with curl, rule `bench/` keepNewest 10 (half of each repository
 *   goes), in apply mode, the link files' mtimes as ages: its read phase (`plan`, before the window) and
 *   its removals (`apply`, inside it), timed apart;
 * - gc: `collect_garbage` (components/upkeep/sh/collect.sh) with the deployed binary on the running
 *   registry's config; the window the product holds writes back for is retention's removals + gc + two
 *   restarts of Distribution (constant: not measured here);
 * - verify: `renderVerifyScript` with curl and the blob store (first run hashes every blob, the next
 *   one only new files);
 * - cache prune: `mirrorPruneScript` on a cache directory laid out like the registry's blob store, half
 *   of its blobs older than maxAge, with a `docker` stand-in on PATH (stop/start do nothing);
 * - backup: the two restic passes of components/upkeep/sh/backup.sh to a local repository (the first
 *   while writable, the second, with the first as its parent, the one inside the window).
 *
 * Run: npx tsx bench/upkeep-scaling.ts [--sizes 200,1000,4000] [--per-repo 20] [--window-only] [--s3]
 * (`--window-only`: retention and the collection only; `--s3`: the store in a bucket of the test S3
 * server, versitygw over a directory, laid out as its objects, the ages from the image configs; window only)
 */
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { mirrorPruneScript } from "../components/mirrors/hostCaches";
import { DISTRIBUTION } from "../components/shared/facts";
import { renderRetentionScript } from "../components/upkeep/retention";
import { renderVerifyScript } from "../components/upkeep/verify";
import { deployedRegistry } from "../test/support/distributionBinaries";
import { type RealRegistry, startRealRegistry } from "../test/support/realRegistry";
import { type S3Server, startS3Server } from "../test/support/s3Server";
import { privateDir, removeDir, run } from "../test/support/serverProcess";
import { arg, runBench } from "./support";

/** Tags a repository (`--per-repo`; 0: every tag in one repository). */
const TAGS_PER_REPO_OPTION = arg("per-repo", 20);
const KEEP_NEWEST = 10;
const HOUR = 3600;

function sizes(): number[] {
    const i = process.argv.indexOf("--sizes");
    const text = i > 0 ? process.argv[i + 1] : undefined;
    return (text ?? "200,1000,4000").split(",").map((s) => Number(s.trim()));
}

const perRepo = (tags: number) => (TAGS_PER_REPO_OPTION > 0 ? TAGS_PER_REPO_OPTION : tags);

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

/** Writes `data` as a blob of the store under `root`; returns its digest's hex. */
function writeBlob(root: string, data: Buffer | string): string {
    const hex = sha256(data);
    const dir = path.join(root, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "data"), data);
    return hex;
}

function writeLink(file: string, hex: string, mtime?: number): void {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `sha256:${hex}`);
    if (mtime !== undefined) utimesSync(file, mtime, mtime);
}

/** Lays out `tags` tags in repositories of `perRepo(tags)` tags, as Distribution stores pushed images; returns the blob count. */
function fill(root: string, tags: number): { repositories: number; blobs: number } {
    const inRepository = perRepo(tags);
    const now = Math.floor(Date.now() / 1000);
    const repositories = Math.ceil(tags / inRepository);
    let blobs = 0;
    let made = 0;
    for (let r = 0; r < repositories; r++) {
        const name = `bench/app${String(r).padStart(5, "0")}`;
        const repoDir = path.join(root, "docker/registry/v2/repositories", name);
        const layer = randomBytes(4096);
        const layerHex = writeBlob(root, layer);
        blobs++;
        writeLink(path.join(repoDir, "_layers/sha256", layerHex, "link"), layerHex);
        for (let t = 0; t < inRepository && made < tags; t++, made++) {
            const pushed = now - (inRepository - t) * HOUR;
            const config = JSON.stringify({
                created: new Date(pushed * 1000).toISOString(),
                architecture: "amd64",
                os: "linux",
                config: { Env: [`BUILD=${t}`] },
                rootfs: { type: "layers", diff_ids: [`sha256:${sha256(`${name}-${t}`)}`] },
            });
            const configHex = writeBlob(root, config);
            const manifest = JSON.stringify({
                schemaVersion: 2,
                mediaType: "application/vnd.oci.image.manifest.v1+json",
                config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha256:${configHex}`, size: config.length },
                layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: `sha256:${layerHex}`, size: layer.length }],
            });
            const manifestHex = writeBlob(root, manifest);
            blobs += 2;
            writeLink(path.join(repoDir, "_layers/sha256", configHex, "link"), configHex);
            writeLink(path.join(repoDir, "_manifests/revisions/sha256", manifestHex, "link"), manifestHex);
            const tagDir = path.join(repoDir, "_manifests/tags", `b${t}`);
            writeLink(path.join(tagDir, "index/sha256", manifestHex, "link"), manifestHex, pushed);
            writeLink(path.join(tagDir, "current/link"), manifestHex, pushed);
        }
    }
    return { repositories, blobs };
}

/** A cache's storage: `blobs` blob files of 1 KiB, every second one stored two days ago. */
function fillCache(dir: string, blobs: number): void {
    const old = Math.floor(Date.now() / 1000) - 2 * 24 * HOUR;
    for (let i = 0; i < blobs; i++) {
        const hex = writeBlob(dir, randomBytes(1024));
        if (i % 2 === 0) {
            const file = path.join(dir, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data");
            utimesSync(file, old, old);
        }
    }
}

/** Runs a script file with sh, fails with its output when it fails; returns the seconds it took and its stdout. */
function timed(
    label: string,
    script: string,
    args: readonly string[] = [],
    env: NodeJS.ProcessEnv = process.env,
): { seconds: number; out: string } {
    const started = process.hrtime.bigint();
    const r = run("sh", [script, ...args], { env, timeout: 3_600_000 });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (r.code !== 0) throw new Error(`${label} failed (${r.code}):\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
    return { seconds, out: `${r.stdout}\n${r.stderr}` };
}

interface Row {
    readonly tags: number;
    readonly repositories: number;
    readonly blobs: number;
    readonly fill: number;
    readonly steps: Record<string, number>;
}

/** `--s3`: Distribution's storage in a bucket of the test S3 server (versitygw, posix backend) instead of a directory. */
const S3 = process.argv.includes("--s3");
const BUCKET = "bench";

async function measure(tags: number): Promise<Row> {
    const work = privateDir("upkeep-scaling");
    let reg: RealRegistry | undefined;
    let s3: S3Server | undefined;
    try {
        const write = (name: string, text: string) => {
            const file = path.join(work, name);
            writeFileSync(file, text);
            return file;
        };
        // Distribution makes its data directory; the files go there before the first request.
        if (S3) s3 = await startS3Server([BUCKET]);
        reg = await startRealRegistry({
            caddy: false,
            registryBinary: deployedRegistry().path,
            ...(s3 ? { s3: { server: s3, bucket: BUCKET } } : {}),
        });
        // With a bucket, the store's files are the bucket's objects under the registry's root directory.
        const root = s3 ? path.join(s3.root, BUCKET, "registry") : reg.dataDir;
        const filled = process.hrtime.bigint();
        const { repositories, blobs } = fill(root, tags);
        const fillSeconds = Number(process.hrtime.bigint() - filled) / 1e9;
        const base = `http://127.0.0.1:${reg.registryPort}`;
        const steps: Record<string, number> = {};

        const retentionScript = write(
            "retention.sh",
            renderRetentionScript({
                retention: { mode: "apply", rules: [{ prefix: "bench/", keepNewest: KEEP_NEWEST }], protect: [] },
                base,
                client: "curl",
                registryLogs: "the bench registry's output",
                // With a bucket the ages come from the image configs' `created`, as in the product.
                ...(s3 ? {} : { storageRoot: root }),
            }),
        );
        // The read phase runs before the window, while pushes go on; only the removals are in it.
        const plan = path.join(work, "retention-plan");
        steps.retentionRead = timed("retention's read phase", retentionScript, ["plan", plan]).seconds;
        const retention = timed("retention's removals", retentionScript, ["apply", plan]);
        const per = perRepo(tags);
        const expected = Math.floor(tags / per) * Math.max(0, per - KEEP_NEWEST) + Math.max(0, (tags % per) - KEEP_NEWEST);
        if (!retention.out.includes(`apply: ${expected} tags removed`)) {
            throw new Error(`retention did not remove ${expected} tags:\n${retention.out.split("\n").slice(-3).join("\n")}`);
        }
        steps.retention = retention.seconds;

        const gc = write(
            "gc.sh",
            [
                "#!/bin/sh",
                "set -eu",
                `. ${path.resolve(__dirname, "../components/upkeep/sh/collect.sh")}`,
                // No runner: `registry` on PATH is the deployed binary, as in the registry's container.
                'PATH="$3:$PATH" collect_garbage "$1" false "$2"',
                "",
            ].join("\n"),
        );
        const registryBin = path.join(work, "registry-bin");
        mkdirSync(registryBin);
        symlinkSync(deployedRegistry().path, path.join(registryBin, "registry"));
        const collected = timed("gc", gc, [s3 ? "" : root, path.join(reg.dir, "config.yml"), registryBin], {
            ...process.env,
            ...DISTRIBUTION.environment,
            ...(s3
                ? {
                      REGISTRY_STORAGE_S3_ACCESSKEY: s3.credentials.accessKeyId,
                      REGISTRY_STORAGE_S3_SECRETKEY: s3.credentials.secretAccessKey,
                  }
                : {}),
        });
        const eligible = /(\d+) blobs and (\d+) manifests eligible for deletion/.exec(collected.out);
        if (!eligible) throw new Error(`the collection said nothing of what it frees:\n${collected.out.slice(-2000)}`);
        console.log(`  (the collection: ${eligible[0]})`);
        steps.gc = collected.seconds;
        steps.window = steps.retention + steps.gc;
        if (process.argv.includes("--window-only") || s3) return { tags, repositories, blobs, fill: fillSeconds, steps };

        const verify = write(
            "verify.sh",
            renderVerifyScript({
                base,
                client: "curl",
                registryLogs: "the bench registry's output",
                remedy: "see the bench",
                blobStore: root,
            }),
        );
        steps.verifyFirst = timed("verify", verify).seconds;
        steps.verifyNext = timed("verify", verify).seconds;

        const cache = path.join(work, "cache");
        fillCache(cache, blobs);
        const bin = path.join(work, "bin");
        mkdirSync(bin);
        // The cache's container: none of another's making (inspect finds none), stop and start do nothing.
        writeFileSync(path.join(bin, "docker"), "#!/bin/sh\ncase $1 in inspect) exit 1 ;; esac\nexit 0\n");
        chmodSync(path.join(bin, "docker"), 0o755);
        const prune = write(
            "prune.sh",
            mirrorPruneScript([
                {
                    paths: {
                        container: "dso-mirror-bench",
                        socketDir: path.join(work, "sock"),
                        socket: path.join(work, "sock/s"),
                        configDir: path.join(work, "conf"),
                        dataDir: cache,
                    },
                    maxSize: "100Gi",
                    maxAge: "24h",
                    remoteUrl: base,
                },
            ]),
        );
        const pruned = timed("cache prune", prune, [], { ...process.env, PATH: `${bin}:${process.env.PATH}` });
        if (!pruned.out.includes(`removed ${Math.ceil(blobs / 2)} blobs`)) throw new Error(`cache prune:\n${pruned.out}`);
        steps.cachePrune = pruned.seconds;

        const repo = path.join(work, "restic");
        const backup = write(
            "backup.sh",
            [
                "#!/bin/sh",
                "set -eu",
                "SNAPSHOT_HOST=dso-registry SNAPSHOT_TAG=dso-registry",
                `restic_() { restic --repo "${repo}" --password-file "${path.join(work, "restic-password")}" --cache-dir "${path.join(work, "restic-cache")}" --no-lock "$@"; }`,
                `. ${path.resolve(__dirname, "../components/upkeep/sh/backup.sh")}`,
                'case $1 in first) backup_pass dso-registry-writable-pass "" "$2" ;; second) backup_pass dso-registry "$(restic_ snapshots --json --tag dso-registry-writable-pass | sed -n \'s/.*"short_id":"\\([0-9a-f]*\\)".*/\\1/p\' | tail -n 1)" "$2" ;; esac',
                "",
            ].join("\n"),
        );
        writeFileSync(path.join(work, "restic-password"), randomBytes(24).toString("base64url"), { mode: 0o600 });
        const init = run("restic", ["init", "--repo", repo, "--password-file", path.join(work, "restic-password")]);
        if (init.code !== 0) throw new Error(`restic init: ${init.stderr}`);
        steps.backupFirst = timed("backup", backup, ["first", root]).seconds;
        steps.backupSecond = timed("backup", backup, ["second", root]).seconds;
        return { tags, repositories, blobs, fill: fillSeconds, steps };
    } finally {
        await reg?.stop();
        await s3?.stop();
        removeDir(work);
    }
}

const STEPS: readonly [keyof Row["steps"] & string, string][] = [
    ["retentionRead", "retention, read phase (before the window)"],
    ["retention", "retention, removals (inside the window)"],
    ["gc", "garbage collection"],
    ["window", "window: removals + gc (+ 2 restarts)"],
    ["verifyFirst", "verify, first run (hashes every blob)"],
    ["verifyNext", "verify, next run"],
    ["cachePrune", "cache prune (half the blobs old)"],
    ["backupFirst", "backup, writable pass"],
    ["backupSecond", "backup, pass in the window"],
];

runBench(async () => {
    const rows: Row[] = [];
    for (const size of sizes()) {
        const row = await measure(size);
        rows.push(row);
        console.log(
            `\n${row.tags} tags, ${row.repositories} repositories, ${row.blobs} blobs (laid out in ${row.fill.toFixed(1)} s); loadavg ${run("cat", ["/proc/loadavg"]).stdout.trim()}`,
        );
        for (const [key, label] of STEPS.filter(([k]) => row.steps[k] !== undefined))
            console.log(`  ${label.padEnd(42)} ${row.steps[key]!.toFixed(2).padStart(8)} s`);
    }
    if (rows.length > 1) {
        const first = rows[0]!;
        console.log(`\ngrowth against ${first.tags} tags (linear would be the size ratio)`);
        console.log(
            `  ${"step".padEnd(42)} ${rows
                .slice(1)
                .map((r) => `×${(r.tags / first.tags).toFixed(0)} size`.padStart(10))
                .join(" ")}`,
        );
        for (const [key, label] of STEPS.filter(([k]) => first.steps[k] !== undefined)) {
            console.log(
                `  ${label.padEnd(42)} ${rows
                    .slice(1)
                    .map((r) => `×${(r.steps[key]! / first.steps[key]!).toFixed(1)}`.padStart(10))
                    .join(" ")}`,
            );
        }
    }
});

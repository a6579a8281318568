/**
 * Retention by last pull (`keepPulledWithinDays`) on the external host, end to end with real software:
 * Distribution (3.1.2, and 2.8.3, which stacks made before registry:3 run on the host) behind the pinned
 * Caddy with the product's rendered Caddyfile and its access log (as the host's front writes it, under the
 * front's directory), real pulls through that front by skopeo (by tag, and by digest) and by containerd
 * (`ctr images pull`: a HEAD of the tag, then GETs by digest), none of other tags. The host's pull history
 * feed (dso-registry-pulls, rendered) reads the log; Caddy is restarted and its log rolled for real (a
 * gzipped file beside it; the roll size is the one line of the Caddyfile the test changes, 100MiB → 1MiB),
 * and the history keeps what it read and picks up the rolled file. Pulls "days ago" are access-log entries
 * the test writes with old timestamps into a rolled file of its own, in the real front's format (a real
 * entry with its time and path changed). Then the host's retention script, rendered with the history,
 * keeps the old tags pulled within the window, by tag and by digest (an OCI index too, when the image it
 * lists was pulled by digest), removes the ones nobody pulled, and says why for each; while the history is
 * younger than the window, or missing, it removes nothing it cannot show unpulled. The collector's work is
 * not this test's (retention.test.ts).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { pullsScript } from "../../components/externalHost/backupScripts";
import { CADDY_ACCESS_LOG } from "../../components/externalHost/caddySite";
import { defaultHostLayout, hostPaths } from "../../components/externalHost/scripts";
import { type Retention, renderRetentionScript } from "../../components/upkeep/retention";
import { pinnedCaddy } from "../support/caddyBinaries";
import { type DistributionBinary, deployedRegistry, distributionBinaries } from "../support/distributionBinaries";
import {
    makeOciImage,
    type PrivateContainerd,
    type RealRegistry,
    skopeoCopy,
    skopeoPushPlainHttp,
    startContainerd,
    startRealRegistry,
    writeHostsDir,
} from "../support/realRegistry";
import { privateDir, type RunResult, removeDir, run, runOk } from "../support/serverProcess";

const DAY = 86_400;
const now = () => Math.floor(Date.now() / 1000);
const REPO = "ci/pulled/app";
const WITHIN = 30;

/** Every tag is 100 days old; how each is pulled. */
const TAGS = {
    /** skopeo by tag, before Caddy's restart. */
    skopeoTag: "r1",
    /** containerd (ctr), after the restart; the roll carries its entries into a gzipped file. */
    ctr: "r2",
    /** skopeo by the digest it points to, after the restart. */
    skopeoDigest: "r3",
    /** nobody. */
    unpulled: "r4",
    /** an entry of 40 days ago: older than the window. */
    longAgo: "r5",
    /** an entry of 10 days ago. */
    tenDaysAgo: "r6",
} as const;

/** An OCI index whose one image is `TAGS.skopeoDigest`'s manifest: kept by the pull of that image's digest. */
const INDEX_TAG = "r3-index";

const RETENTION: Retention = { mode: "apply", rules: [{ prefix: "ci/", keepPulledWithinDays: WITHIN }], protect: [] };

const CASES: readonly { readonly major: 2 | 3 }[] = [{ major: 3 }, { major: 2 }];

describe.each(CASES)("retention by last pull, Distribution $major behind the pinned Caddy", ({ major }) => {
    let work: string;
    /** The host's root as the scripts see it (DSO_ROOT): the front's directory and the scripts under it. */
    let root: string;
    let registry: RealRegistry;
    let containerd: PrivateContainerd;
    let binary: DistributionBinary;
    const digests = new Map<string, string>();
    const layout = defaultHostLayout("/srv/data/registry", "/srv/data/maven");
    const paths = hostPaths(layout);
    const logFile = () => path.join(root, CADDY_ACCESS_LOG);
    const historyFile = () => path.join(root, paths.pullHistory);

    function push(tag: string) {
        const image = makeOciImage(path.join(work, "src", tag), 2048);
        skopeoPushPlainHttp({ run }, image.ref, `docker://127.0.0.1:${registry.registryPort}/${REPO}:${tag}`);
        const digest = runOk("skopeo", [
            "inspect",
            "--tls-verify=false",
            "--format",
            "{{.Digest}}",
            `docker://127.0.0.1:${registry.registryPort}/${REPO}:${tag}`,
        ]).stdout.trim();
        digests.set(tag, digest);
        const link = path.join(registry.dataDir, "docker/registry/v2/repositories", REPO, "_manifests/tags", tag, "current/link");
        runOk("touch", ["-d", `@${now() - 100 * DAY}`, link]);
    }

    function tags(): string[] {
        const r = runOk("curl", ["-sS", `http://127.0.0.1:${registry.registryPort}/v2/${REPO}/tags/list`]);
        return ((JSON.parse(r.stdout) as { tags?: string[] | null }).tags ?? []).sort();
    }

    function skopeoPull(ref: string) {
        const r = skopeoCopy(`docker://${registry.authority}/${REPO}${ref}`, `oci:${path.join(work, "pulled")}:x`, {
            certDir: registry.certDir,
        });
        expect(r.code, r.stderr).toBe(0);
    }

    /** The host's pull history feed, as placed (dso-registry-pulls), run against the scratch root. */
    function harvest(): RunResult {
        const file = path.join(root, paths.pullsScript);
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, pullsScript(layout, WITHIN), { mode: 0o755 });
        return run("sh", [file], { env: { ...process.env, DSO_ROOT: root } });
    }

    /** The history's entries for REPO as "REFERENCE" → seconds. */
    function history(): Map<string, number> {
        const entries = new Map<string, number>();
        for (const line of readFileSync(historyFile(), "utf8").split("\n")) {
            const [repo, ref, at] = line.split(" ");
            if (repo === REPO && ref && at) entries.set(ref, Number(at));
        }
        return entries;
    }

    function retention(options: { mode?: Retention["mode"]; file?: string } = {}): RunResult {
        const file = path.join(work, "retention.sh");
        writeFileSync(
            file,
            renderRetentionScript({
                retention: { ...RETENTION, mode: options.mode ?? RETENTION.mode },
                base: `http://127.0.0.1:${registry.registryPort}`,
                client: "curl",
                registryLogs: "the test's registry log",
                storageRoot: registry.dataDir,
                pullHistory: options.file ?? historyFile(),
            }),
        );
        return run("sh", [file]);
    }

    beforeAll(async () => {
        work = privateDir("retention-pulls-");
        root = path.join(work, "root");
        mkdirSync(path.dirname(path.join(root, CADDY_ACCESS_LOG)), { recursive: true });
        binary = major === 3 ? deployedRegistry() : distributionBinaries().v2;
        const hostLog = path.join(root, CADDY_ACCESS_LOG);
        registry = await startRealRegistry({
            caddyBinary: pinnedCaddy(),
            registryBinary: binary.path,
            accessLog: true,
            // The host's access log, where the host writes it; rolled at 1 MiB instead of 100, so that the test rolls it.
            caddyfileFor: (policy) =>
                renderCaddyfile({ ...policy, accessLog: { kind: "file", path: hostLog } }).replace("roll_size 100MiB", "roll_size 1MiB"),
        });
        containerd = await startContainerd();
        for (const tag of Object.values(TAGS)) push(tag);
        // The index, put straight to Distribution, as old as the rest.
        const base = `http://127.0.0.1:${registry.registryPort}/v2/${REPO}/manifests`;
        const child = digests.get(TAGS.skopeoDigest)!;
        const size = runOk("curl", ["-sS", "-H", "Accept: application/vnd.oci.image.manifest.v1+json", `${base}/${child}`]).stdout.length;
        const index = JSON.stringify({
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.index.v1+json",
            manifests: [
                {
                    mediaType: "application/vnd.oci.image.manifest.v1+json",
                    digest: child,
                    size,
                    platform: { architecture: "amd64", os: "linux" },
                },
            ],
        });
        const put = runOk(
            "curl",
            [
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-X",
                "PUT",
                "-H",
                "Content-Type: application/vnd.oci.image.index.v1+json",
                "--data-binary",
                "@-",
                `${base}/${INDEX_TAG}`,
            ],
            { input: index },
        );
        expect(put.stdout).toBe("201");
        const link = path.join(registry.dataDir, "docker/registry/v2/repositories", REPO, "_manifests/tags", INDEX_TAG, "current/link");
        runOk("touch", ["-d", `@${now() - 100 * DAY}`, link]);
    }, 300_000);

    afterAll(async () => {
        await containerd?.stop();
        await registry?.stop();
        if (work) removeDir(work);
    });

    test("the front's access log records pulls; the history keeps them across a restart of Caddy", async () => {
        skopeoPull(`:${TAGS.skopeoTag}`);
        const entries = readFileSync(logFile(), "utf8").trim().split("\n");
        const pull = entries.find((l) => l.includes(`/v2/${REPO}/manifests/${TAGS.skopeoTag}`));
        expect(pull, entries.join("\n")).toBeDefined();
        // The fields the feed reads, as the real front writes them.
        const parsed = JSON.parse(pull as string) as {
            ts: number;
            status: number;
            request: { method: string; uri: string };
            resp_headers: Record<string, string[]>;
        };
        expect(typeof parsed.ts).toBe("number");
        expect(parsed.status).toBe(200);
        expect(parsed.resp_headers["Docker-Content-Digest"]).toEqual([digests.get(TAGS.skopeoTag)]);

        // Pulls of 40 and 10 days ago: a rolled file of the front's own format, written before the first harvest.
        const old = (tag: string, days: number) =>
            JSON.stringify({
                ...parsed,
                ts: now() - days * DAY + 0.5,
                request: { ...parsed.request, uri: `/v2/${REPO}/manifests/${tag}` },
                resp_headers: { ...parsed.resp_headers, "Docker-Content-Digest": [digests.get(tag)] },
            });
        const rolled = path.join(path.dirname(logFile()), "access-2020-01-01T00-00-00.000-size.log.gz");
        writeFileSync(rolled, gzipSync(`${old(TAGS.longAgo, 40)}\n${old(TAGS.tenDaysAgo, 10)}\n`));

        const first = harvest();
        expect(first.code, `${first.stdout}\n${first.stderr}`).toBe(0);
        let h = history();
        expect(h.get(TAGS.skopeoTag)).toBeGreaterThan(now() - 600);
        expect(h.get(digests.get(TAGS.skopeoTag)!)).toBe(h.get(TAGS.skopeoTag));
        expect(h.get(TAGS.tenDaysAgo)).toBeLessThan(now() - 9 * DAY);
        // Older than the longest window: not kept.
        expect(h.has(TAGS.longAgo)).toBe(false);
        // Pulls are recorded from the earliest entry read on: 40 days back.
        const since = Number(/^since (\d+)$/m.exec(readFileSync(historyFile(), "utf8"))?.[1]);
        expect(since).toBeLessThan(now() - 39 * DAY);

        // Caddy restarts (the same Caddyfile): the history is a file of its own, and Caddy appends to the same log.
        await registry.revoke([]);
        const again = harvest();
        expect(again.code, again.stderr).toBe(0);
        h = history();
        expect(h.get(TAGS.skopeoTag)).toBeGreaterThan(now() - 600);
        expect(h.get(TAGS.tenDaysAgo)).toBeLessThan(now() - 9 * DAY);
    }, 120_000);

    test("pulls by containerd and by digest survive the log's roll into a gzipped file", async () => {
        const hostsDir = writeHostsDir(path.join(work, "hosts"), registry);
        const r = containerd.pull(`${registry.authority}/${REPO}:${TAGS.ctr}`, hostsDir);
        expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
        skopeoPull(`@${digests.get(TAGS.skopeoDigest)}`);
        // Requests enough to roll the log past 1 MiB (pings, answered 401: no pull among them).
        const before = readdirSync(path.dirname(logFile())).filter((f) => f.endsWith(".gz") && !f.startsWith("access-2020")).length;
        const config = Array.from({ length: 400 }, () => `url = "${registry.url}/v2/"\noutput = "/dev/null"\n`).join("");
        for (let i = 0; i < 8; i++) {
            runOk("curl", ["-sS", "--cacert", registry.ca.caCertFile, "-H", `X-Filler: ${"x".repeat(2000)}`, "-K", "-"], { input: config });
            if (readdirSync(path.dirname(logFile())).filter((f) => f.endsWith(".gz") && !f.startsWith("access-2020")).length > before)
                break;
        }
        // Caddy compresses the rolled file in the background.
        const deadline = Date.now() + 30_000;
        let rolled: string[] = [];
        while (Date.now() < deadline) {
            rolled = readdirSync(path.dirname(logFile())).filter((f) => /^access-.*\.log\.gz$/.test(f) && !f.startsWith("access-2020"));
            if (rolled.length > 0) break;
            await new Promise((res) => setTimeout(res, 200));
        }
        expect(rolled.length, readdirSync(path.dirname(logFile())).join(" ")).toBeGreaterThan(0);
        // The pulls are in the rolled file, not in the new log.
        expect(readFileSync(logFile(), "utf8")).not.toContain(`/manifests/${TAGS.ctr}`);

        const h0 = harvest();
        expect(h0.code, h0.stderr).toBe(0);
        const h = history();
        expect(h.get(TAGS.ctr), [...h].join("\n")).toBeGreaterThan(now() - 600);
        expect(h.get(digests.get(TAGS.skopeoDigest)!)).toBeGreaterThan(now() - 600);
        expect(h.has(TAGS.unpulled)).toBe(false);
        expect(h.has(digests.get(TAGS.unpulled)!)).toBe(false);
        expect(existsSync(historyFile())).toBe(true);
    }, 180_000);

    test("while the history is younger than the window, or missing, retention keeps what it cannot show unpulled", () => {
        const short = path.join(work, "short-history");
        writeFileSync(short, `since ${now() - 5 * DAY}\n${REPO} ${TAGS.skopeoTag} ${now() - 60}\n`);
        for (const [file, phrase] of [
            [short, "pulls recorded only since"],
            [path.join(work, "no-history"), "no pull history yet"],
        ] as const) {
            const r = retention({ mode: "dry-run", file });
            expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
            expect(r.stdout).not.toContain("would remove");
            expect(r.stdout).toContain(`retention: kept ${REPO}:${TAGS.unpulled} (${phrase}`);
        }
        expect(tags()).toHaveLength(Object.keys(TAGS).length + 1);
    });

    test("retention keeps the old tags pulled within the window, by tag and by digest, removes the others, and says why", () => {
        const r = retention();
        expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
        const out = r.stdout;
        expect(out).toContain(`retention: kept ${REPO}:${TAGS.skopeoTag} (pulled less than a day ago)`);
        expect(out).toContain(`retention: kept ${REPO}:${TAGS.ctr} (pulled less than a day ago)`);
        expect(out).toContain(`retention: kept ${REPO}:${TAGS.skopeoDigest} (pulled less than a day ago, by digest)`);
        expect(out).toContain(`retention: kept ${REPO}:${TAGS.tenDaysAgo} (pulled 10 days ago)`);
        // Its image was pulled by digest: the index stays with it.
        expect(out).toContain(`retention: kept ${REPO}:${INDEX_TAG} (pulled less than a day ago, by digest)`);
        expect(out).toContain(`retention: removed ${REPO}:${TAGS.unpulled} (not pulled in ${WITHIN} days`);
        expect(out).toContain(`retention: removed ${REPO}:${TAGS.longAgo} (not pulled in ${WITHIN} days`);
        expect(tags()).toEqual([TAGS.skopeoTag, TAGS.ctr, TAGS.skopeoDigest, TAGS.tenDaysAgo, INDEX_TAG].sort());
    });
});

/**
 * Tag retention (components/upkeep/sh/retention.sh, rendered by `renderRetentionScript`) on real
 * Distribution storage: 3.1.2 (the deployed registry) with busybox's applets only on PATH, as the
 * in-cluster GC job and kind run it in the registry image, and 2.8.3 with curl, as stacks made before
 * registry:3 run on the external host. Tags are pushed with skopeo, and aged by their link files' mtime
 * (`touch -d`), which is what the script reads as the push time with filesystem storage.
 *
 * Each repository stands for one case, under its own rule: keepNewest; keepDays (with a link dated
 * 1970, as Jib's images carry, counted as new); protected patterns; a manifest shared by a kept and a
 * removable tag (3.x removes the tag alone, 2.8.3 keeps it and says why); tags a running workload names
 * by tag or by digest; a repository under no rule. Dry-run removes nothing; apply removes exactly the
 * candidates, the collector then frees their blobs, and verify.sh passes. Without a storage root (as
 * with s3 storage) the ages come from the image configs' `created`, and Jib's 1970 counts as new.
 *
 * Three unrelated images 100 days old, tagged `sha256-<digest of latest>.keep-forever-<n>` as if attached
 * to `latest`, are tags of their own: a rule by age removes them with the real old build, and the collector
 * frees their blobs.
 *
 * Then the in-cluster GC job as synthesized, on the registry pod's stand-in (test/support/registryPodStandIn.ts):
 * it lists the pods' images, hands them to gc.sh on stdin, and retention removes, inside the marker
 * window and in the registry container (busybox: its nc sends the DELETEs), what the rule selects and
 * no pod runs; the collection and the check follow. With monitoring, the pod's Caddy (the pinned build)
 * then serves the run's counts on its metrics port at the counts' path, which promtool accepts, an empty
 * answer before a run and in a new pod; without retention rules that path is a 404 and the pod has no
 * counts' volume.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { PROMETHEUS_TEXT_CONTENT_TYPE } from "../../components/accessPolicy/caddyfile";
import { RETENTION_COUNTS } from "../../components/inCluster/retentionCounts";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import { JOB_METRICS } from "../../components/monitoring/jobMetrics";
import { DISTRIBUTION } from "../../components/shared/facts";
import type { K8sObject } from "../../components/shared/k8sObject";
import { type Retention, renderRetentionScript } from "../../components/upkeep/retention";
import { renderVerifyScript, type VerifyHttpClient } from "../../components/upkeep/verify";
import { type DistributionBinary, deployedRegistry, distributionBinaries } from "../support/distributionBinaries";
import { makeAccount, makeOciImage, type RealRegistry, skopeoCopy, skopeoPushPlainHttp, startRealRegistry } from "../support/realRegistry";
import {
    POD_START_TIMEOUT_MS,
    type RegistryPodStandIn,
    runCronJob,
    startRegistryPodStandIn,
    synthRegistryPod,
} from "../support/registryPodStandIn";
import { privateDir, type RunResult, removeDir, run, runOk } from "../support/serverProcess";

const DAY = 86_400;
const now = () => Math.floor(Date.now() / 1000);

/** Tags pushed per repository, with their age in days (null: the link dated 1970-01-01, Jib's `created`). */
const PUSHES: Record<string, Record<string, number | null>> = {
    "ci/newest/app": { a1: 4, a2: 3, a3: 2, a4: 1 },
    "ci/days/app": { d0: null, d1: 40, d2: 10, d3: 1 },
    "ci/protect/app": { "1.0.0": 60, latest: 60, "build-7": 60, "build-8": 0 },
    "ci/workload/app": { w0: 60, w1: 60, w2: 60, w3: 0 },
    "ci/other/app": { o1: 60, o2: 0 },
    "other/app": { x1: 60 },
};
/** Tags pushed as a second name of another tag's manifest: repository → tag → the tag it shares with. */
const SHARED = { repo: "ci/shared/app", kept: "new", removable: "old", alone: "solo" } as const;

const RETENTION: Retention = {
    mode: "dry-run",
    rules: [
        // The broader prefix: every repository under ci/ that no longer prefix covers keeps 100 tags.
        { prefix: "ci/", keepNewest: 100 },
        { prefix: "ci/newest/", keepNewest: 2 },
        { prefix: "ci/days/", keepDays: 20 },
        { prefix: "ci/protect/", keepNewest: 1 },
        { prefix: "ci/shared/", keepNewest: 1 },
        { prefix: "ci/workload/", keepNewest: 1 },
    ],
    protect: ["latest", "v?[0-9]+\\.[0-9]+\\.[0-9]+"],
};

/** What the rules remove, whatever the version (the shared case is told apart below). */
const REMOVABLE = [
    "ci/newest/app:a1",
    "ci/newest/app:a2",
    "ci/days/app:d1",
    "ci/protect/app:build-7",
    "ci/workload/app:w0",
    "ci/shared/app:solo",
];

/**
 * A scratch directory `prefix…` with busybox's applets under busybox/ (the shell and client the scripts run with in
 * the cluster), and real Distribution of `major` on plain HTTP beside it.
 */
async function retentionRegistry(major: 2 | 3, prefix: string) {
    const work = privateDir(prefix);
    const busybox = path.join(work, "busybox");
    mkdirSync(busybox);
    runOk("busybox", ["--install", "-s", busybox]);
    const binary: DistributionBinary = major === 3 ? deployedRegistry() : distributionBinaries().v2;
    const registry = await startRealRegistry({ caddy: false, registryBinary: binary.path });
    return { work, busybox, binary, registry };
}

const CASES: readonly { readonly major: 2 | 3; readonly client: VerifyHttpClient }[] = [
    { major: 3, client: "busybox-wget" },
    { major: 2, client: "curl" },
];

describe.each(CASES)("retention on Distribution $major with $client", ({ major, client }) => {
    let work: string;
    let busybox: string;
    let registry: RealRegistry;
    let binary: DistributionBinary;
    /** repo:tag → manifest digest, and → layer digest, as pushed. */
    const digests = new Map<string, string>();
    const layers = new Map<string, string>();
    let workloadsFile: string;

    const base = () => `http://127.0.0.1:${registry.registryPort}`;

    function push(repo: string, tag: string, image = makeOciImage(path.join(work, "src", `${repo}-${tag}`.replace(/\W/g, "_")), 2048)) {
        skopeoPushPlainHttp({ run }, image.ref, `docker://127.0.0.1:${registry.registryPort}/${repo}:${tag}`);
        const raw = runOk("skopeo", [
            "inspect",
            "--tls-verify=false",
            "--raw",
            `docker://127.0.0.1:${registry.registryPort}/${repo}:${tag}`,
        ]).stdout;
        const digest = runOk("skopeo", [
            "inspect",
            "--tls-verify=false",
            "--format",
            "{{.Digest}}",
            `docker://127.0.0.1:${registry.registryPort}/${repo}:${tag}`,
        ]).stdout.trim();
        digests.set(`${repo}:${tag}`, digest);
        layers.set(`${repo}:${tag}`, (JSON.parse(raw) as { layers: { digest: string }[] }).layers[0]!.digest);
        return image;
    }

    /** Dates the tag's push: its link file's mtime (null: 1970-01-01). */
    function age(repo: string, tag: string, days: number | null) {
        const link = path.join(registry.dataDir, "docker/registry/v2/repositories", repo, "_manifests/tags", tag, "current/link");
        expect(existsSync(link), link).toBe(true);
        runOk("touch", ["-d", `@${days === null ? 0 : now() - days * DAY - 60}`, link]);
    }

    function tagsOf(repo: string): string[] {
        const r = run("curl", ["-sS", `${base()}/v2/${repo}/tags/list`]);
        return ((JSON.parse(r.stdout) as { tags?: string[] | null }).tags ?? []).sort();
    }

    function allTags(): string[] {
        return [...Object.keys(PUSHES), SHARED.repo, "created/app"].flatMap((repo) => tagsOf(repo).map((t) => `${repo}:${t}`)).sort();
    }

    function runScript(text: string, args: readonly string[] = []): RunResult {
        const file = path.join(work, `script-${Math.random().toString(16).slice(2)}.sh`);
        writeFileSync(file, text);
        if (client === "curl") return run("sh", [file, ...args]);
        return run(path.join(busybox, "sh"), [file, ...args], { env: { PATH: busybox } });
    }

    const retention = (mode: Retention["mode"]) =>
        runScript(
            renderRetentionScript({
                retention: { ...RETENTION, mode },
                base: base(),
                client,
                registryLogs: "the test's registry log",
                storageRoot: registry.dataDir,
                textfileDir: path.join(work, "textfile"),
            }),
            [workloadsFile],
        );

    const blobFile = (digest: string) =>
        path.join(registry.dataDir, "docker/registry/v2/blobs/sha256", digest.slice(7, 9), digest.slice(7), "data");

    beforeAll(async () => {
        ({ work, busybox, binary, registry } = await retentionRegistry(major, "retention-test-"));
        for (const [repo, tags] of Object.entries(PUSHES)) {
            for (const [tag, days] of Object.entries(tags)) {
                push(repo, tag);
                age(repo, tag, days);
            }
        }
        const shared = push(SHARED.repo, SHARED.removable);
        push(SHARED.repo, SHARED.alone);
        push(SHARED.repo, SHARED.kept, shared);
        age(SHARED.repo, SHARED.removable, 60);
        age(SHARED.repo, SHARED.alone, 50);
        age(SHARED.repo, SHARED.kept, 0);
        expect(digests.get(`${SHARED.repo}:${SHARED.kept}`)).toBe(digests.get(`${SHARED.repo}:${SHARED.removable}`));
        // What pods report: an image by tag, and a status imageID by digest (with the runtime's scheme).
        workloadsFile = path.join(work, "workloads");
        writeFileSync(
            workloadsFile,
            [
                "registry.example.test/ci/workload/app:w1",
                `docker-pullable://registry.example.test/ci/workload/app@${digests.get("ci/workload/app:w2")}`,
                "registry.example.test/unrelated/image:w0",
                "",
            ].join("\n"),
        );
    }, 300_000);

    afterAll(async () => {
        await registry?.stop();
        if (work) removeDir(work);
    });

    test("dry-run prints each tag the rules would remove and removes nothing", () => {
        const before = allTags();
        const r = retention("dry-run");
        expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
        const would = [...r.stdout.matchAll(/^retention: would remove (\S+) \(/gm)].map((m) => m[1]).sort();
        expect(would).toEqual([...REMOVABLE, `${SHARED.repo}:${SHARED.removable}`].sort());
        expect(r.stdout).toContain("retention: would remove ci/newest/app:a1 (not among the 2 newest)");
        expect(r.stdout).toMatch(/retention: would remove ci\/days\/app:d1 \(40 days old\)/);
        expect(r.stdout).toContain("retention: dry-run: 7 tags would be removed");
        expect(allTags()).toEqual(before);
        const metrics = runOk("cat", [path.join(work, "textfile", "dso_registry_retention.prom")]).stdout;
        expect(metrics).toContain('dso_registry_retention_removed_tags{mode="dry-run"} 0');
        expect(metrics).toContain('dso_registry_retention_candidate_tags{mode="dry-run"} 7');
    });

    test("apply removes exactly the candidates, keeps the newest, the young, the protected, the unknown-age and the workloads' tags", () => {
        const before = allTags();
        const r = retention("apply");
        expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
        const removed = [...r.stdout.matchAll(/^retention: removed (\S+) \(/gm)].map((m) => m[1]).sort();
        const sharedTag = `${SHARED.repo}:${SHARED.removable}`;
        if (major === 3) {
            expect(removed).toEqual([...REMOVABLE, sharedTag].sort());
            expect(r.stdout).toContain(`retention: removed ${sharedTag} (not among the 1 newest; the tag only`);
        } else {
            expect(removed).toEqual([...REMOVABLE].sort());
            expect(r.stdout).toMatch(new RegExp(`retention: kept ${sharedTag} \\(.*cannot remove a tag alone`));
        }
        const gone = major === 3 ? [...REMOVABLE, sharedTag] : REMOVABLE;
        expect(allTags()).toEqual(before.filter((t) => !gone.includes(t)));
        // Spelled out: what each case keeps.
        expect(tagsOf("ci/newest/app")).toEqual(["a3", "a4"]);
        expect(tagsOf("ci/days/app")).toEqual(["d0", "d2", "d3"]);
        expect(tagsOf("ci/protect/app")).toEqual(["1.0.0", "build-8", "latest"]);
        expect(tagsOf("ci/workload/app")).toEqual(["w1", "w2", "w3"]);
        expect(tagsOf("ci/other/app")).toEqual(["o1", "o2"]);
        expect(tagsOf("other/app")).toEqual(["x1"]);
        expect(tagsOf(SHARED.repo)).toEqual(major === 3 ? [SHARED.kept] : [SHARED.kept, SHARED.removable]);
        const metrics = runOk("cat", [path.join(work, "textfile", "dso_registry_retention.prom")]).stdout;
        expect(metrics).toContain(`dso_registry_retention_removed_tags{mode="apply"} ${gone.length}`);
    });

    test("a second apply finds nothing more to remove", () => {
        const r = retention("apply");
        expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
        expect(r.stdout).not.toContain("retention: removed");
    });

    test("without a storage root (as with a bucket), ages come from the image configs' created, and 1970 (Jib's) counts as new", () => {
        const repo = "created/app";
        const made = (tag: string, created: string) => {
            const image = makeOciImage(path.join(work, "src", `created-${tag}`), 1024, tag);
            runOk("umoci", ["config", "--image", `${image.dir}:${tag}`, "--created", created]);
            push(repo, tag, image);
        };
        made("c-old", new Date((now() - 40 * DAY) * 1000).toISOString());
        made("c-jib", "1970-01-01T00:00:00Z");
        made("c-new", new Date().toISOString());
        const r = runScript(
            renderRetentionScript({
                retention: { mode: "dry-run", rules: [{ prefix: "created/", keepDays: 20 }], protect: [] },
                base: base(),
                client,
                registryLogs: "the test's registry log",
            }),
        );
        expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
        expect([...r.stdout.matchAll(/^retention: would remove (\S+) \((.*)\)$/gm)].map((m) => `${m[1]} (${m[2]})`)).toEqual([
            "created/app:c-old (40 days old)",
        ]);
        expect(tagsOf(repo)).toEqual(["c-jib", "c-new", "c-old"]);
    });

    test("the collector then frees the removed images' blobs, keeps the others', and verify.sh passes", () => {
        for (const t of REMOVABLE) expect(existsSync(blobFile(layers.get(t)!)), t).toBe(true);
        const gc = run(binary.path, ["garbage-collect", path.join(registry.dir, "config.yml")], {
            env: { ...process.env, ...DISTRIBUTION.environment },
        });
        expect(gc.code, gc.stderr).toBe(0);
        for (const t of REMOVABLE) expect(existsSync(blobFile(layers.get(t)!)), t).toBe(false);
        for (const t of ["ci/newest/app:a3", "ci/days/app:d0", "ci/workload/app:w2", `${SHARED.repo}:${SHARED.kept}`, "other/app:x1"]) {
            expect(existsSync(blobFile(layers.get(t)!)), t).toBe(true);
        }
        const verify = runScript(
            renderVerifyScript({
                base: base(),
                client,
                registryLogs: "the test's registry log",
                remedy: "REMEDY",
                blobStore: registry.dataDir,
            }),
        );
        expect(verify.code, `${verify.stdout}\n${verify.stderr}`).toBe(0);
        const tagged = allTags().length;
        expect(verify.stdout).toContain(`verified: ${tagged} tagged images`);
    });
});

describe.each(CASES)("retention's order on Distribution $major with $client: tags pushed within one second", ({ major, client }) => {
    let work: string;
    let busybox: string;
    let registry: RealRegistry;
    beforeAll(async () => {
        ({ work, busybox, registry } = await retentionRegistry(major, "retention-second"));
    }, 120_000);
    afterAll(async () => {
        await registry?.stop();
        if (work) removeDir(work);
    });

    test("keep their push order: the newest is kept, whatever the names", () => {
        const repo = "second/app";
        const second = now() - 3 * DAY;
        // Pushed in this order within one second: "a" first, "c", then "b" last (by name, "a" would sort first).
        for (const [tag, fraction] of [
            ["a", "100000000"],
            ["c", "200000000"],
            ["b", "300000000"],
        ] as const) {
            const image = makeOciImage(path.join(work, `src-${tag}`), 1024);
            skopeoPushPlainHttp({ run }, image.ref, `docker://127.0.0.1:${registry.registryPort}/${repo}:${tag}`);
            const link = path.join(registry.dataDir, "docker/registry/v2/repositories", repo, "_manifests/tags", tag, "current/link");
            runOk("touch", ["-d", `@${second}.${fraction}`, link]);
        }
        const script = path.join(work, "retention.sh");
        writeFileSync(
            script,
            renderRetentionScript({
                retention: { mode: "dry-run", rules: [{ prefix: "second/", keepNewest: 1 }], protect: [] },
                base: `http://127.0.0.1:${registry.registryPort}`,
                client,
                registryLogs: "the test's registry log",
                storageRoot: registry.dataDir,
            }),
        );
        const r = client === "curl" ? run("sh", [script]) : run(path.join(busybox, "sh"), [script], { env: { PATH: busybox } });
        expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
        expect([...r.stdout.matchAll(/^retention: would remove (\S+) /gm)].map((m) => m[1]).sort()).toEqual([
            "second/app:a",
            "second/app:c",
        ]);
    });
});

describe.each(CASES)(
    "retention on Distribution $major with $client: unrelated images tagged as if attached to latest",
    ({ major, client }) => {
        const repo = "impostor/app";
        let work: string;
        let busybox: string;
        let registry: RealRegistry;
        let binary: DistributionBinary;
        /** Tag → its layer's digest, as pushed. */
        const layers = new Map<string, string>();
        let impostors: string[];

        const reference = (tag: string) => `docker://127.0.0.1:${registry.registryPort}/${repo}:${tag}`;
        const blobFile = (digest: string) =>
            path.join(registry.dataDir, "docker/registry/v2/blobs/sha256", digest.slice(7, 9), digest.slice(7), "data");

        /** Pushes an image of its own as `tag`, its link dated `days` ago; returns its manifest's digest. */
        function push(tag: string, days: number): string {
            const image = makeOciImage(path.join(work, "src", tag), 2048);
            skopeoPushPlainHttp({ run }, image.ref, reference(tag));
            const raw = JSON.parse(runOk("skopeo", ["inspect", "--tls-verify=false", "--raw", reference(tag)]).stdout) as {
                layers: { digest: string }[];
            };
            layers.set(tag, raw.layers[0]!.digest);
            const link = path.join(registry.dataDir, "docker/registry/v2/repositories", repo, "_manifests/tags", tag, "current/link");
            runOk("touch", ["-d", `@${now() - days * DAY - 60}`, link]);
            return runOk("skopeo", ["inspect", "--tls-verify=false", "--format", "{{.Digest}}", reference(tag)]).stdout.trim();
        }

        function tags(): string[] {
            const r = run("curl", ["-sS", `http://127.0.0.1:${registry.registryPort}/v2/${repo}/tags/list`]);
            return ((JSON.parse(r.stdout) as { tags?: string[] | null }).tags ?? []).sort();
        }

        beforeAll(async () => {
            ({ work, busybox, binary, registry } = await retentionRegistry(major, "retention-impostor-"));
            const latest = push("latest", 1);
            push("build-1", 100);
            push("build-2", 10);
            impostors = [1, 2, 3].map((n) => `sha256-${latest.slice("sha256:".length)}.keep-forever-${n}`);
            for (const tag of impostors) push(tag, 100);
        }, 300_000);

        afterAll(async () => {
            await registry?.stop();
            if (work) removeDir(work);
        });

        test("apply removes them with the real old build, as tags of their own 100 days old; the collector frees their blobs", () => {
            const script = path.join(work, "retention.sh");
            writeFileSync(
                script,
                renderRetentionScript({
                    retention: { mode: "apply", rules: [{ prefix: "impostor/", keepDays: 30 }], protect: ["latest"] },
                    base: `http://127.0.0.1:${registry.registryPort}`,
                    client,
                    registryLogs: "the test's registry log",
                    storageRoot: registry.dataDir,
                }),
            );
            const r = client === "curl" ? run("sh", [script]) : run(path.join(busybox, "sh"), [script], { env: { PATH: busybox } });
            expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
            const removed = [...r.stdout.matchAll(/^retention: removed (\S+) \((.*)\)$/gm)];
            expect(removed.map((m) => m[1]).sort()).toEqual(["build-1", ...impostors].map((tag) => `${repo}:${tag}`).sort());
            for (const m of removed) expect(m[2], m[1]).toMatch(/^100 days old/);
            expect(tags()).toEqual(["build-2", "latest"]);
            const gc = run(binary.path, ["garbage-collect", path.join(registry.dir, "config.yml")], {
                env: { ...process.env, ...DISTRIBUTION.environment },
            });
            expect(gc.code, gc.stderr).toBe(0);
            for (const tag of ["build-1", ...impostors]) expect(existsSync(blobFile(layers.get(tag)!)), tag).toBe(false);
            for (const tag of ["latest", "build-2"]) expect(existsSync(blobFile(layers.get(tag)!)), tag).toBe(true);
        });
    },
);

describe.each(CASES)(
    "retention's two phases on Distribution $major with $client: what happens between the plan and the window",
    ({ major, client }) => {
        const repo = "race/app";
        /** Kept (younger than the rule's 20 days), and old ones the plan removes. */
        const YOUNG = ["y1", "y2", "y3", "y4", "y5"];
        const OLD = ["o1", "o2", "o3", "o4"];
        let work: string;
        let busybox: string;
        let registry: RealRegistry;
        let script: string;
        let plan: string;
        const digests = new Map<string, string>();
        let applied: RunResult;
        /** Distribution's access log lines written while the delete phase ran. */
        let windowRequests: string[];

        const reference = (tag: string) => `docker://127.0.0.1:${registry.registryPort}/${repo}:${tag}`;
        const digestOf = (tag: string) =>
            runOk("skopeo", ["inspect", "--tls-verify=false", "--format", "{{.Digest}}", reference(tag)]).stdout.trim();
        const tags = () =>
            (
                (
                    JSON.parse(run("curl", ["-sS", `http://127.0.0.1:${registry.registryPort}/v2/${repo}/tags/list`]).stdout) as {
                        tags?: string[] | null;
                    }
                ).tags ?? []
            ).sort();
        const phase = (...args: string[]) =>
            client === "curl" ? run("sh", [script, ...args]) : run(path.join(busybox, "sh"), [script, ...args], { env: { PATH: busybox } });
        const requestLines = (text: string) => text.split("\n").filter((l) => /"(GET|HEAD|DELETE|PUT|POST|PATCH) \/v2\//.test(l));

        beforeAll(async () => {
            ({ work, busybox, registry } = await retentionRegistry(major, "retention-phases-"));
            for (const [tag, days] of [...YOUNG.map((t) => [t, 1] as const), ...OLD.map((t) => [t, 60] as const)]) {
                const image = makeOciImage(path.join(work, "src", tag), 1024);
                skopeoPushPlainHttp({ run }, image.ref, reference(tag));
                digests.set(tag, digestOf(tag));
                const link = path.join(registry.dataDir, "docker/registry/v2/repositories", repo, "_manifests/tags", tag, "current/link");
                runOk("touch", ["-d", `@${now() - days * DAY - 60}`, link]);
            }
            script = path.join(work, "retention.sh");
            writeFileSync(
                script,
                renderRetentionScript({
                    retention: { mode: "apply", rules: [{ prefix: "race/", keepDays: 20 }], protect: [] },
                    base: `http://127.0.0.1:${registry.registryPort}`,
                    client,
                    registryLogs: "the test's registry log",
                    storageRoot: registry.dataDir,
                }),
            );
            plan = path.join(work, "plan");
            // The read phase, while pushes go on: it plans the four old tags' removal and removes nothing.
            const planned = phase("plan", plan);
            expect(planned.code, `${planned.stdout}\n${planned.stderr}`).toBe(0);
            expect(planned.stdout).toContain("retention: plan: 4 tags to remove in 1 of 1 repositories under the rules");
            expect(planned.stdout).not.toContain("retention: removed");
            expect(tags()).toEqual([...OLD, ...YOUNG].sort());
            // Between the plan and the window: o1 is pushed anew (another image), a new tag names o2's manifest,
            // and the kept y1 is moved onto o4's manifest (a rollback).
            const other = makeOciImage(path.join(work, "src", "o1-again"), 1024);
            skopeoPushPlainHttp({ run }, other.ref, reference("o1"));
            runOk("skopeo", ["copy", "--src-tls-verify=false", "--dest-tls-verify=false", reference("o2"), reference("fresh")]);
            runOk("skopeo", ["copy", "--src-tls-verify=false", "--dest-tls-verify=false", reference("o4"), reference("y1")]);
            expect(digestOf("o1")).not.toBe(digests.get("o1"));
            expect(digestOf("fresh")).toBe(digests.get("o2"));
            expect(digestOf("y1")).toBe(digests.get("o4"));
            // The delete phase, as inside the window; what Distribution logged meanwhile.
            const before = requestLines(registry.logs().registry).length;
            applied = phase("apply", plan);
            windowRequests = requestLines(registry.logs().registry).slice(before);
        }, 300_000);

        afterAll(async () => {
            await registry?.stop();
            if (work) removeDir(work);
        });

        test("the plan's removals happen: the old tags that did not change go", () => {
            expect(applied.code, `${applied.stdout}\n${applied.stderr}`).toBe(0);
            const current = tags();
            expect(current).not.toContain("o3");
            expect(applied.stdout).toContain(`retention: removed ${repo}:o3 (60 days old`);
            expect(applied.stdout).toMatch(
                /retention: apply: \d+ tags removed, \d+ kept, of 4 candidates, in 1 repositories under the rules; 0 failures/,
            );
        });

        test("a tag pushed anew between the plan and the window is kept, with its new image", () => {
            expect(tags()).toContain("o1");
            expect(digestOf("o1")).not.toBe(digests.get("o1"));
            expect(applied.stdout).toContain(`retention: kept ${repo}:o1 (it changed since it was listed: HTTP 200,`);
        });

        test("a tag new since the plan onto a planned manifest survives, and the log says why that manifest stays", () => {
            expect(tags()).toContain("fresh");
            expect(digestOf("fresh")).toBe(digests.get("o2"));
            expect(applied.stdout).toContain(
                `retention: kept the manifest ${repo}@${digests.get("o2")}: ${repo}:fresh names it since the plan`,
            );
            // Distribution 3 removes the planned tag alone; 2.8 cannot, and keeps it.
            if (major === 3) expect(tags()).not.toContain("o2");
            else expect(tags()).toContain("o2");
        });

        test("a kept tag moved onto a planned manifest since the plan survives (filesystem storage: its link is read)", () => {
            expect(tags()).toContain("y1");
            expect(digestOf("y1")).toBe(digests.get("o4"));
            expect(applied.stdout).toContain(
                `retention: kept the manifest ${repo}@${digests.get("o4")}: ${repo}:y1 names it since the plan`,
            );
        });

        test("inside the window the script asks nothing about the tags it keeps: a request per planned tag, per repository, per new tag", () => {
            expect(windowRequests.length, registry.logs().registry.slice(-3000)).toBeGreaterThan(0);
            for (const tag of YOUNG) {
                expect(
                    windowRequests.filter((l) => l.includes(`/v2/${repo}/manifests/${tag} `)),
                    tag,
                ).toEqual([]);
            }
            const asked = (method: string, tag: string) =>
                windowRequests.filter((l) => l.includes(`"${method} /v2/${repo}/manifests/${tag} `)).length;
            // HEAD, or busybox wget's --spider (a GET that stops after the headers).
            for (const tag of OLD) expect(asked("HEAD", tag) + asked("GET", tag), tag).toBe(1);
            expect(asked("HEAD", "fresh") + asked("GET", "fresh")).toBe(1);
            expect(windowRequests.filter((l) => l.includes(`/v2/${repo}/tags/list`))).toHaveLength(1);
            // No blob, no config, no catalog: the ages and manifests were read before the window.
            expect(windowRequests.filter((l) => l.includes("/blobs/") || l.includes("/_catalog"))).toEqual([]);
        });
    },
);

/** GET `path` on the sidecar's metrics listener: status, Content-Type and body. */
function scrape(pod: RegistryPodStandIn, urlPath: string): { status: number; type: string; body: string } {
    const r = runOk("curl", ["-sS", "-D", "-", `http://127.0.0.1:${pod.metricsPort}${urlPath}`]);
    const [head = "", body = ""] = r.stdout.split(/\r\n\r\n/, 2);
    const status = Number(head.match(/^HTTP\/\S+ (\d+)/)?.[1]);
    const type = head.match(/^content-type: (.*)$/im)?.[1]?.trim() ?? "";
    return { status, type, body };
}

describe("the in-cluster GC job runs retention in the registry container, inside its window, keeping what pods run", () => {
    let pod: RegistryPodStandIn;
    let objects: K8sObject[];
    let work: string;
    const push = makeAccount("ci-push");
    const repo = "team/app";

    beforeAll(async () => {
        work = privateDir("retention-pod-test-");
        const stack = await synthRegistryPod({
            push,
            pull: makeAccount("cluster-pull"),
            maintenance: { retention: { mode: "apply", rules: [{ prefix: "team/", keepNewest: 1 }], protect: ["latest"] } },
            monitoring: true,
        });
        objects = stack.objects;
        pod = await startRegistryPodStandIn(stack);
        for (const [tag, days] of [
            ["1", 30],
            ["2", 20],
            ["3", 10],
            ["4", 0],
        ] as const) {
            const image = makeOciImage(path.join(work, `src-${tag}`), 1024);
            const r = skopeoCopy(image.ref, `docker://${pod.authority}/${repo}:${tag}`, {
                certDir: pod.certDir,
                creds: push,
                scratch: work,
            });
            expect(r.code, r.stderr).toBe(0);
            const link = `${pod.root}${IN_CLUSTER.dataDir}/docker/registry/v2/repositories/${repo}/_manifests/tags/${tag}/current/link`;
            runOk("touch", ["-d", `@${now() - days * DAY - 60}`, link]);
        }
        // What the cluster's pods name: tag 2 by its reference, as a pod spec writes it.
        writeFileSync(path.join(pod.podDir, "workloads"), `registry-dso.jmann.local/${repo}:2\n`);
    }, POD_START_TIMEOUT_MS);

    afterAll(async () => {
        await pod?.stop();
        if (work) removeDir(work);
    });

    test("before any retention run, the sidecar's counts path answers 200 with no series, as Prometheus's text format", () => {
        const counts = scrape(pod, RETENTION_COUNTS.path);
        expect(counts).toEqual({ status: 200, type: PROMETHEUS_TEXT_CONTENT_TYPE, body: "" });
    });

    test("the job lists the pods, removes what the rule selects and no pod runs, collects, and the check passes", async () => {
        const job = await runCronJob(pod, objects, IN_CLUSTER.gcName);
        expect(job.code, `${job.stdout}\n${job.stderr}\n${pod.logs()}`).toBe(0);
        const removed = [...job.stdout.matchAll(/^retention: removed (\S+) \(/gm)].map((m) => m[1]).sort();
        expect(removed).toEqual([`${repo}:1`, `${repo}:3`]);
        // The tags are read and the plan made before the window opens; the removals come inside it.
        const planned = job.stdout.indexOf("retention: plan: 2 tags to remove in 1 of 1 repositories under the rules");
        const window = job.stdout.indexOf(
            "front read-only (writes get 503, pulls go on, writes in flight have landed); tag retention's removals first",
        );
        expect(planned, job.stdout).toBeGreaterThan(job.stdout.indexOf("tag retention: reading the tags under its rules"));
        expect(window, job.stdout).toBeGreaterThan(planned);
        expect(job.stdout.indexOf("retention: removed ")).toBeGreaterThan(window);
        expect(job.stdout).toContain(
            "retention: apply: 2 tags removed, 2 kept, of 2 candidates, in 1 repositories under the rules; 0 failures",
        );
        expect(job.stdout).toContain("verified: 2 tagged images");
        const calls = pod.kubectlCalls().map((c) => c.replace(/^--namespace dso /, ""));
        expect(calls.some((c) => c.startsWith("get pods --all-namespaces"))).toBe(true);
        expect(calls).toContain(
            `exec -i deployment/registry --container=registry -- /bin/sh ${IN_CLUSTER.configDir}/${IN_CLUSTER.gcStepScript} retention`,
        );
        const tags = runOk("curl", ["-sS", "--cacert", pod.ca.caCertFile, `https://${pod.authority}/v2/${repo}/tags/list`]).stdout;
        expect((JSON.parse(tags) as { tags: string[] }).tags.sort()).toEqual(["2", "4"]);
    }, 300_000);

    test("then the sidecar's Caddy serves the run's counts on its metrics port, which promtool accepts", () => {
        const counts = scrape(pod, RETENTION_COUNTS.path);
        expect(counts.status).toBe(200);
        expect(counts.type).toBe(PROMETHEUS_TEXT_CONTENT_TYPE);
        const check = run("promtool", ["check", "metrics"], { input: counts.body });
        expect(check.code, `${check.stdout}\n${check.stderr}\n${counts.body}`).toBe(0);
        const samples = Object.fromEntries(
            counts.body
                .split("\n")
                .filter((l) => l !== "" && !l.startsWith("#"))
                .map((l) => l.split(" ") as [string, string]),
        );
        expect(Object.keys(samples).sort()).toEqual(
            [JOB_METRICS.retentionCandidates, JOB_METRICS.retentionKept, JOB_METRICS.retentionLastRun, JOB_METRICS.retentionRemoved]
                .map((name) => `${name}{mode="apply"}`)
                .sort(),
        );
        expect(samples[`${JOB_METRICS.retentionRemoved}{mode="apply"}`]).toBe("2");
        expect(samples[`${JOB_METRICS.retentionCandidates}{mode="apply"}`]).toBe("2");
        expect(samples[`${JOB_METRICS.retentionKept}{mode="apply"}`]).toBe("2");
        expect(Math.abs(Number(samples[`${JOB_METRICS.retentionLastRun}{mode="apply"}`]) - now())).toBeLessThan(600);
        // Caddy's own metrics stay where they were.
        expect(scrape(pod, "/metrics").body).toContain("caddy_http_");
    });

    test("a new pod (a rollout) serves no counts until the next run: its emptyDir starts empty", () => {
        pod.rollout();
        expect(scrape(pod, RETENTION_COUNTS.path)).toEqual({ status: 200, type: PROMETHEUS_TEXT_CONTENT_TYPE, body: "" });
    });
});

describe("without retention rules the pod has no counts' volume and its metrics port no counts' path", () => {
    let pod: RegistryPodStandIn;
    let objects: K8sObject[];

    beforeAll(async () => {
        const stack = await synthRegistryPod({ push: makeAccount("ci-push"), pull: makeAccount("cluster-pull"), monitoring: true });
        objects = stack.objects;
        pod = await startRegistryPodStandIn(stack);
    }, POD_START_TIMEOUT_MS);

    afterAll(async () => await pod?.stop());

    test("the Deployment mounts no counts' volume, and the Caddyfile names no counts' path", () => {
        const deployment = objects.find((o) => o.kind === "Deployment" && o.metadata.name === IN_CLUSTER.name);
        expect(JSON.stringify(deployment)).not.toContain(RETENTION_COUNTS.volume);
        const config = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === IN_CLUSTER.configMap) as unknown as {
            data: Record<string, string>;
        };
        expect(config.data.Caddyfile).not.toContain(RETENTION_COUNTS.path);
    });

    test("the sidecar's metrics port answers /metrics and 404 on the counts' path", () => {
        expect(scrape(pod, "/metrics").status).toBe(200);
        expect(scrape(pod, RETENTION_COUNTS.path).status).toBe(404);
    });
});

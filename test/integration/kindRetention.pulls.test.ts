/**
 * Retention by last pull on the kind placement (components/kind: `pull-harvest.sh`, `gc.sh`, the front's
 * harvest in `containers-apply.sh`) on the real Docker engine: the placement's files as the program renders
 * them, its containers from its own script, the pinned Caddy as the front, real Distribution, real pulls
 * through the front by skopeo (by tag and by digest).
 *
 * A rule keeps the tags pulled within 30 days alone. The history is given a start 40 days back (a history
 * that has been recording that long), then the maintenance container harvests the front's real log: the tags
 * pulled (by tag, by digest, and through a front that `containers-apply.sh` then replaced) stay, the one
 * nobody pulled goes, and retention's lines say why. A front removed by hand loses its log: the next harvest
 * says so and records from the new front's start, and retention keeps what it can no longer show unpulled.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
    containersApplyScript,
    containersDeleteScript,
    type KindGarbageCollection,
    type KindLayout,
    kindPaths,
} from "../../components/kind/scripts";
import { type DockerEngine, startDockerEngine } from "../support/dockerEngine";
import { payloadImage, pinnedCaddyImage, registryImage } from "../support/dockerImages";
import { onHost, onHostOk as onHostOkOf, placeKindFiles } from "../support/kindFiles";
import { dockerCliImage } from "../support/kindNode";
import { createNetns, type TestNetns } from "../support/netns";
import { makeAccount, type TestAccount } from "../support/realRegistry";
import { privateDir, removeDir } from "../support/serverProcess";

const DAY = 86_400;
/** Never on its own during the test (the 1st of January at midnight): every collection here is run by hand. */
const GC: KindGarbageCollection = {
    schedule: "0 0 1 1 *",
    deleteUntagged: false,
    retention: { mode: "apply", rules: [{ prefix: "team/", keepPulledWithinDays: 30 }], protect: [] },
};
const FILES = { distribution: "files-1", front: "files-1", watcher: "files-1", upkeep: "files-1", upkeepPulls: true };
const AUTHORITY = "localhost:5002";

let ns: TestNetns;
let engine: DockerEngine;
let scratch = "";
let layout: KindLayout;
let push: TestAccount;
let images: { distribution: string; front: string; watcher: string };
const digests: Record<string, string> = {};

const onHostOk = (script: string) => onHostOkOf(engine, script);
const pulls = () => kindPaths(layout).pulls;
const maintenance = (...args: string[]) => engine.docker(["exec", kindPaths(layout).upkeepName, ...args]);

/** An anonymous pull of the manifest through the front, as a node's containerd makes it: by tag or by digest. */
function pull(reference: string): void {
    const r = ns.run("skopeo", ["inspect", "--raw", "--tls-verify=false", "--no-creds", `docker://${AUTHORITY}/${reference}`]);
    expect(r.code, `${reference}: ${r.stderr}`).toBe(0);
}

/** The status of an anonymous GET of `repo:tag`'s manifest through the front. */
function manifestStatus(repo: string, tag: string): string {
    return ns.run("curl", [
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        "Accept: application/vnd.docker.distribution.manifest.v2+json",
        `http://127.0.0.1:5002/v2/${repo}/manifests/${tag}`,
    ]).stdout;
}

async function frontAnswers(): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (ns.run("curl", ["-s", "-o", "/dev/null", "http://127.0.0.1:5002/v2/team/none/tags/list"]).code !== 0) {
        if (Date.now() > deadline) throw new Error(`the front did not answer\n${engine.docker(["logs", layout.registryName]).stderr}`);
        await new Promise((r) => setTimeout(r, 500));
    }
}

/** A collection run by hand, as docs/kind.md says: its output. */
function collect(): string {
    const r = maintenance("/bin/sh", "/dso/gc.sh");
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    return `${r.stdout}${r.stderr}`;
}

beforeAll(async () => {
    scratch = privateDir("kind-pulls");
    layout = { cluster: "kind", network: "kind", registryName: "kind-registry", port: 5002, dataDir: path.join(scratch, "data") };
    ns = await createNetns({ prefix: "kr", subnet: "198.18.128.0/20" });
    ns.writeEtcFile("hosts", "127.0.0.1 localhost\n");
    engine = await startDockerEngine(ns);
    images = { distribution: registryImage(engine), front: pinnedCaddyImage(engine), watcher: dockerCliImage(engine) };
    push = makeAccount("ci-push");
    placeKindFiles(layout, { push, pull: [makeAccount("cluster-pull")], deletesEnabled: true, gc: GC });
}, 300_000);

afterAll(async () => {
    if (engine && layout) onHost(engine, containersDeleteScript(layout));
    await engine?.stop();
    await ns?.destroy();
    if (scratch) removeDir(scratch);
});

describe("retention by last pull on kind", () => {
    it("runs the maintenance container with the pull history's directory, and the pushes land", async () => {
        const applied = onHostOk(containersApplyScript(layout, images, FILES));
        expect(applied).toContain("changed maintenance (garbage collection, disk guard)");
        const mounts = engine.docker(["inspect", "-f", "{{range .Mounts}}{{.Destination}} {{end}}", kindPaths(layout).upkeepName]);
        expect(mounts.stdout).toContain("/var/lib/dso-registry-pulls");
        await frontAnswers();
        expect(engine.login(AUTHORITY, push).code).toBe(0);
        for (const tag of ["by-tag", "by-digest", "unpulled", "before-replace"]) {
            const ref = payloadImage(engine, `${AUTHORITY}/team/app:${tag}`);
            const pushed = engine.docker(["push", ref]);
            expect(pushed.code, pushed.stderr).toBe(0);
            // From the push's own output: reading the manifest through the front would count as a pull.
            digests[tag] = /digest: (sha256:[0-9a-f]{64})/.exec(pushed.stdout)?.[1] ?? "";
            expect(digests[tag], pushed.stdout).toMatch(/^sha256:[0-9a-f]{64}$/);
        }
    }, 300_000);

    it("keeps the pulls of a front that pulumi up replaces: it is stopped and its log read whole first", () => {
        // A history that has recorded pulls for 40 days: the 30-day rule can tell an unpulled tag.
        mkdirSync(pulls(), { recursive: true });
        writeFileSync(path.join(pulls(), "history"), `since ${Math.floor(Date.now() / 1000) - 40 * DAY}\n`);
        expect(maintenance("/bin/sh", "/dso/pull-harvest.sh").code).toBe(0);
        pull("team/app:before-replace");
        // New front files (a new Caddyfile, say): the front is replaced.
        const applied = onHostOk(containersApplyScript(layout, images, { ...FILES, front: "files-2" }));
        expect(applied).toContain("changed front");
        expect(readFileSync(path.join(pulls(), "harvested"), "utf8")).toMatch(/^[0-9a-f]{64} \d+ stopped\n$/);
        expect(readFileSync(path.join(pulls(), "history"), "utf8")).toMatch(/^team\/app before-replace \d+$/m);
    });

    it("keeps what was pulled by tag or by digest and removes the tag nobody pulled, saying why", async () => {
        await frontAnswers();
        pull("team/app:by-tag");
        pull(`team/app@${digests["by-digest"]}`);
        const out = collect();
        expect(out).toMatch(/pull history: \d+ repository references pulled in the last 30 days/);
        expect(out).toContain("retention: kept team/app:by-tag (pulled less than a day ago)");
        expect(out).toContain("retention: kept team/app:by-digest (pulled less than a day ago, by digest)");
        expect(out).toContain("retention: kept team/app:before-replace (pulled less than a day ago)");
        expect(out).toContain("retention: removed team/app:unpulled (not pulled in 30 days");
        expect(manifestStatus("team/app", "by-tag")).toBe("200");
        expect(manifestStatus("team/app", "by-digest")).toBe("200");
        expect(manifestStatus("team/app", "before-replace")).toBe("200");
        expect(manifestStatus("team/app", "unpulled")).toBe("404");
        // The copy retention read is gone from the Distribution container.
        const copy = engine.docker(["exec", kindPaths(layout).distributionName, "test", "-e", "/tmp/dso-registry-pull-history"]);
        expect(copy.code).not.toBe(0);
    }, 300_000);

    it("starts the history again from a front removed by hand, and retention keeps what it cannot show unpulled", async () => {
        const ref = payloadImage(engine, `${AUTHORITY}/team/app:after-loss`);
        expect(engine.docker(["push", ref]).code).toBe(0);
        expect(engine.docker(["rm", "-f", layout.registryName]).code).toBe(0);
        onHostOk(containersApplyScript(layout, images, { ...FILES, front: "files-2" }));
        await frontAnswers();
        const out = collect();
        expect(out).toContain("pull history: the front was replaced since");
        expect(out).toMatch(/retention: kept team\/app:after-loss \(pulls recorded only since \d{4}-\d{2}-\d{2}, not yet 30 days/);
        expect(manifestStatus("team/app", "after-loss")).toBe("200");
        const since = Number(/^since (\d+)$/m.exec(readFileSync(path.join(pulls(), "history"), "utf8"))?.[1]);
        expect(Date.now() / 1000 - since).toBeLessThan(600);
        // What was recorded before stays.
        expect(readFileSync(path.join(pulls(), "history"), "utf8")).toMatch(/^team\/app by-tag \d+$/m);
        expect(existsSync(path.join(pulls(), "lock"))).toBe(false);
    }, 300_000);
});

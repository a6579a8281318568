/**
 * Deletes and scheduled garbage collection of the kind placement (components/kind: `gc.sh`, the
 * upkeep container in `containers-apply.sh`) on the real Docker engine: the placement's files as
 * the program renders them, its containers from its own script, busybox crond in the upkeep
 * container (the watcher's image) running the collection on its schedule.
 *
 * The push account deletes a tag's manifest through the front (skopeo), an anonymous client cannot; the
 * collection that crond starts removes the deleted image's own layers and keeps every blob of the image
 * still tagged, which pulls by tag and by digest after it. While a collection waits for a write in
 * flight, the marker it makes in `<dataDir>/window` is seen by the front: pushes get 503, pulls go on;
 * afterwards pushes work again. Tag retention runs first in that window, in the Distribution container:
 * of three builds of one image it removes the two older ones.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
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
import { makeAccount, type TestAccount, writeAuthFile } from "../support/realRegistry";
import { privateDir, type RunResult, removeDir } from "../support/serverProcess";

/**
 * Every minute: the test waits for crond's first run. Tag retention covers dev/many/ only: of its
 * repository's three tags it keeps the newest.
 */
const GC: KindGarbageCollection = {
    schedule: "* * * * *",
    deleteUntagged: false,
    retention: { mode: "apply", rules: [{ prefix: "dev/many/", keepNewest: 1 }], protect: [] },
};
const FILES = { distribution: "files-1", front: "files-1", watcher: "files-1", upkeep: "files-1" };
const AUTHORITY = "localhost:5002";

let ns: TestNetns;
let engine: DockerEngine;
let scratch = "";
let layout: KindLayout;
let push: TestAccount;
let images: { distribution: string; front: string; watcher: string };

const onHostOk = (script: string) => onHostOkOf(engine, script);

/** The files the component places in kind.dataDir with scheduled garbage collection, rendered as it renders them. */
function placeFiles(): void {
    placeKindFiles(layout, { push, pull: [makeAccount("cluster-pull")], deletesEnabled: true, gc: GC });
}

/** skopeo on the Docker host (the namespace), with the given auth file or none. */
function skopeo(args: readonly string[]): RunResult {
    return ns.run("skopeo", args, { env: { ...process.env, REGISTRY_AUTH_FILE: path.join(scratch, "no-auth.json") } });
}

/** The manifest of `repo:reference` as an anonymous client reads it: its digest and its layers. */
function manifest(repo: string, reference: string): { code: string; digest?: string; layers: string[] } {
    const headers = path.join(scratch, "headers");
    const r = ns.run("curl", [
        "-sS",
        "-D",
        headers,
        "-w",
        "\n%{http_code}",
        "-H",
        "Accept: application/vnd.docker.distribution.manifest.v2+json",
        `http://127.0.0.1:5002/v2/${repo}/manifests/${reference}`,
    ]);
    const lines = r.stdout.trimEnd().split("\n");
    const code = lines.pop() ?? "";
    if (code !== "200") return { code, layers: [] };
    const body = JSON.parse(lines.join("\n")) as { layers: { digest: string }[] };
    const digest = /^docker-content-digest:\s*(\S+)/im.exec(readFileSync(headers, "utf8"))?.[1];
    return { code, digest, layers: body.layers.map((l) => l.digest) };
}

/** Whether Distribution's storage holds the blob's data. */
function blobStored(digest: string): boolean {
    const hex = digest.replace(/^sha256:/, "");
    return existsSync(path.join(kindPaths(layout).images, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data"));
}

/** The status of a blob upload's start through the front, with the push account's credentials. */
function uploadStatus(): string {
    const auth = writeAuthFile(scratch, AUTHORITY, push);
    const r = skopeo([
        "copy",
        "--insecure-policy",
        "--retry-times",
        "0",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--dest-authfile",
        auth,
        `docker://${AUTHORITY}/dev/kept:1`,
        `docker://${AUTHORITY}/dev/during-window:${Date.now()}`,
    ]);
    return r.code === 0 ? "pushed" : r.stderr;
}

const upkeepLog = () => engine.docker(["logs", kindPaths(layout).upkeepName]);

beforeAll(async () => {
    scratch = privateDir("kind-maintenance");
    layout = { cluster: "kind", network: "kind", registryName: "kind-registry", port: 5002, dataDir: path.join(scratch, "data") };
    ns = await createNetns({ prefix: "km", subnet: "198.19.48.0/20" });
    ns.writeEtcFile("hosts", "127.0.0.1 localhost\n");
    engine = await startDockerEngine(ns);
    images = { distribution: registryImage(engine), front: pinnedCaddyImage(engine), watcher: dockerCliImage(engine) };
    push = makeAccount("ci-push");
    placeFiles();
    writeFileSync(path.join(scratch, "no-auth.json"), "{}");
}, 300_000);

afterAll(async () => {
    if (engine && layout) onHost(engine, containersDeleteScript(layout));
    await engine?.stop();
    await ns?.destroy();
    if (scratch) removeDir(scratch);
});

/**
 * Runs a write (a push, a delete) again while one of crond's every-minute windows refuses it (503, the front's
 * word for the window), for up to two minutes; returns the last result.
 */
async function writeBetweenWindows(write: () => { code: number; stdout: string; stderr: string }) {
    const deadline = Date.now() + 120_000;
    for (;;) {
        const result = write();
        const refusedByWindow = result.code !== 0 && /\b503\b|maintenance window/.test(`${result.stdout}${result.stderr}`);
        if (!refusedByWindow || Date.now() > deadline) return result;
        await new Promise((r) => setTimeout(r, 3000));
    }
}

describe("deletes and scheduled garbage collection of the kind registry", () => {
    /** Where the upkeep container's log stood before the pushes, and when the delete was done. */
    let logBeforePushes = 0;
    let logAfterDelete = 0;
    let gone: { digest?: string; layers: string[] };
    let kept: { digest?: string; layers: string[] };

    it("runs the upkeep container beside the registry's, and the push account's pushes land", async () => {
        const applied = onHostOk(containersApplyScript(layout, images, FILES));
        expect(applied).toContain("changed maintenance (garbage collection, disk guard)");
        const deadline = Date.now() + 30_000;
        // Any answer (401 for /v2/ without credentials): the front runs and reaches Distribution.
        while (ns.run("curl", ["-s", "-o", "/dev/null", "http://127.0.0.1:5002/v2/dev/none/tags/list"]).code !== 0) {
            if (Date.now() > deadline) throw new Error(`the front did not answer\n${engine.docker(["logs", layout.registryName]).stderr}`);
            await new Promise((r) => setTimeout(r, 500));
        }
        expect(engine.login(AUTHORITY, push).code).toBe(0);
        logBeforePushes = upkeepLog().stdout.length;
        // Each push is made again if it meets one of crond's windows (every minute from now on).
        const pushImage = async (ref: string) => {
            payloadImage(engine, ref);
            const pushed = await writeBetweenWindows(() => engine.docker(["push", ref]));
            expect(pushed.code, `${ref}: ${pushed.stdout}${pushed.stderr}`).toBe(0);
        };
        for (const name of ["gone", "kept"]) await pushImage(`${AUTHORITY}/dev/${name}:1`);
        // Three builds of one image, pushed in order: retention keeps the last.
        for (const tag of ["1", "2", "3"]) await pushImage(`${AUTHORITY}/dev/many/app:${tag}`);
        gone = manifest("dev/gone", "1");
        kept = manifest("dev/kept", "1");
        expect(gone.digest).toMatch(/^sha256:/);
        expect(kept.digest).toMatch(/^sha256:/);
        for (const layer of [...gone.layers, ...kept.layers]) expect(blobStored(layer)).toBe(true);
    }, 300_000);

    it("lets the push account delete a tag's manifest through the front, and no anonymous client", async () => {
        const anonymous = skopeo(["delete", "--tls-verify=false", "--no-creds", `docker://${AUTHORITY}/dev/gone:1`]);
        expect(anonymous.code).not.toBe(0);
        expect(anonymous.stderr).toMatch(/unauthorized|authentication required/i);
        expect(manifest("dev/gone", "1").code).toBe("200");
        const auth = writeAuthFile(scratch, AUTHORITY, push);
        const deleted = await writeBetweenWindows(() =>
            skopeo(["delete", "--tls-verify=false", "--authfile", auth, `docker://${AUTHORITY}/dev/gone:1`]),
        );
        expect(deleted.code, deleted.stderr).toBe(0);
        expect(manifest("dev/gone", "1").code).toBe("404");
        logAfterDelete = upkeepLog().stdout.length;
        // The layers stay until a collection.
        for (const layer of gone.layers) expect(blobStored(layer)).toBe(true);
    });

    it("collects on crond's schedule: the deleted image's own layers go, every blob of the kept image stays", async () => {
        // crond runs every minute, so runs may have started while the pushes were still landing (on a loaded
        // machine: one may already have removed the oldest build while the newest was being pushed) or before the
        // delete. A whole run that began after the delete began after every push too: its retention saw every tag
        // and its collection the deleted manifest, so the state after it is what is judged, not which run did it.
        const afterDelete = () => upkeepLog().stdout.slice(logAfterDelete);
        const deadline = Date.now() + 150_000;
        while (!/garbage collection: front read-only[\s\S]*garbage collection done/.test(afterDelete())) {
            if (Date.now() > deadline) throw new Error(`no collection ran\n${upkeepLog().stdout}\n${upkeepLog().stderr}`);
            await new Promise((r) => setTimeout(r, 2000));
        }
        // Between them, the runs removed both older builds by retention, each in its own run's log.
        const log = upkeepLog().stdout.slice(logBeforePushes);
        expect(log).toMatch(/retention: removed dev\/many\/app:1/);
        expect(log).toMatch(/retention: removed dev\/many\/app:2/);
        // Retention ran first, in the Distribution container: the two older builds went, the newest stayed.
        expect(manifest("dev/many/app", "1").code).toBe("404");
        expect(manifest("dev/many/app", "2").code).toBe("404");
        expect(manifest("dev/many/app", "3").code).toBe("200");
        const own = gone.layers.filter((l) => !kept.layers.includes(l));
        expect(own.length).toBeGreaterThan(0);
        for (const layer of own) expect(blobStored(layer), layer).toBe(false);
        for (const layer of kept.layers) expect(blobStored(layer), layer).toBe(true);
        engine.dockerOk(["rmi", `${AUTHORITY}/dev/kept:1`]);
        engine.dockerOk(["pull", `${AUTHORITY}/dev/kept:1`]);
        engine.dockerOk(["pull", `${AUTHORITY}/dev/kept@${kept.digest}`]);
        // No marker is left behind.
        expect(existsSync(path.join(layout.dataDir, "window/gc"))).toBe(false);
    }, 200_000);

    it("holds pushes back with 503 while a collection waits for a write in flight; pulls go on; pushes work after", async () => {
        // Clear of crond's every-minute run, which would find this one's lock (or hold its own) and leave.
        const second = new Date().getSeconds();
        if (second >= 40 || second < 5) await new Promise((r) => setTimeout(r, ((65 - second) % 60) * 1000));
        // A file the registry is still writing, as an upload that streams a layer: touched until released.
        const inFlight = path.join(kindPaths(layout).images, "upload-in-flight");
        writeFileSync(inFlight, "");
        const touching = setInterval(() => utimesSync(inFlight, new Date(), new Date()), 500);
        let collection: ChildProcess | undefined;
        let output = "";
        try {
            // By hand, as docs/kind.md says to run one now.
            collection = spawn("docker", ["exec", kindPaths(layout).upkeepName, "/bin/sh", "/dso/gc.sh"], { env: engine.env });
            collection.stdout?.on("data", (d) => (output += d));
            collection.stderr?.on("data", (d) => (output += d));
            // The window is open and held by the write in flight.
            const deadline = Date.now() + 30_000;
            while (!output.includes("waiting for writes in flight")) {
                if (Date.now() > deadline) throw new Error(`the window did not wait for the write in flight\n${output}`);
                await new Promise((r) => setTimeout(r, 200));
            }
            expect(existsSync(path.join(layout.dataDir, "window/gc"))).toBe(true);
            expect(uploadStatus()).toMatch(/503|read-only maintenance window/);
            expect(manifest("dev/kept", "1").code).toBe("200");
        } finally {
            clearInterval(touching);
            rmSync(inFlight, { force: true });
        }
        const code = await new Promise<number | null>((resolve) => collection!.on("exit", resolve));
        expect(code, output).toBe(0);
        expect(output).toContain("garbage collection done");
        expect(existsSync(path.join(layout.dataDir, "window/gc"))).toBe(false);
        expect(uploadStatus()).toBe("pushed");
    }, 120_000);

    it("removes the upkeep container when garbage collection is turned off", () => {
        const applied = onHostOk(containersApplyScript(layout, images, { ...FILES, upkeep: undefined }));
        expect(applied).toContain("removed maintenance (garbage collection and disk guard off)");
        expect(applied).toContain("unchanged front");
        expect(engine.docker(["inspect", kindPaths(layout).upkeepName]).code).not.toBe(0);
    });
});

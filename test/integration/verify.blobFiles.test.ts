/**
 * The verify check's look at the blob files the front serves from (components/upkeep/sh/blob-files.sh,
 * run by verify.sh with filesystem storage), against real Distribution with the files it wrote: every
 * blob hashed once, a rewritten file or a symbolic link in the blob store reported and failing the
 * check. Run with both HTTP clients the check knows: curl (the external host) and busybox's wget with
 * only busybox's applets on PATH (the registry:2 image, where the in-cluster GC job runs it).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CHECKED_BLOBS_FILE, renderVerifyScript, type VerifyHttpClient } from "../../components/upkeep/verify";
import { pinnedCaddy } from "../support/caddyBinaries";
import { makeOciImage, type RealRegistry, skopeoCopy, startRealRegistry } from "../support/realRegistry";
import { privateDir, type RunResult, removeDir, run, runOk } from "../support/serverProcess";

let registry: RealRegistry;
let work: string;
let busybox: string;

beforeAll(async () => {
    work = privateDir("verify-blob-files-");
    busybox = path.join(work, "busybox");
    mkdirSync(busybox);
    runOk("busybox", ["--install", "-s", busybox]);
    // The front only carries the push; the check reads Distribution and its files.
    registry = await startRealRegistry({ caddyBinary: pinnedCaddy() });
    const image = makeOciImage(path.join(work, "image"), 8192);
    const pushed = skopeoCopy(image.ref, `docker://${registry.authority}/team/app:1`, {
        certDir: registry.certDir,
        creds: registry.push,
        scratch: work,
    });
    expect(pushed.code, pushed.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
    await registry?.stop();
    if (work) removeDir(work);
});

/** The layer's blob: the largest file (a tampered manifest already fails the HTTP part of the check). */
function layerBlob(): [string, string] {
    return [...blobFiles()].sort(([, a], [, b]) => statSync(b).size - statSync(a).size)[0]!;
}

/** The blob data files Distribution wrote, by digest. */
function blobFiles(): Map<string, string> {
    const root = path.join(registry.dataDir, "docker/registry/v2/blobs/sha256");
    const files = new Map<string, string>();
    const found = runOk("find", [root, "-name", "data"]).stdout.trim().split("\n");
    for (const file of found) files.set(path.basename(path.dirname(file)), file);
    return files;
}

function verify(client: VerifyHttpClient): RunResult {
    const script = path.join(work, `verify-${client}.sh`);
    writeFileSync(
        script,
        renderVerifyScript({
            base: `http://127.0.0.1:${registry.registryPort}`,
            client,
            registryLogs: "the test's registry log",
            remedy: "REMEDY",
            blobStore: registry.dataDir,
        }),
    );
    if (client === "curl") return run("sh", [script]);
    return run(path.join(busybox, "sh"), [script], { env: { PATH: busybox } });
}

describe.each(["curl", "busybox-wget"] as const)("verify with %s", (client) => {
    const list = () => path.join(registry.dataDir, CHECKED_BLOBS_FILE);

    beforeAll(() => rmSync(list(), { force: true }));

    test("hashes every blob once, lists the ones that match, and passes", () => {
        const first = verify(client);
        expect(first.code, first.stderr).toBe(0);
        const blobs = blobFiles();
        // The layer, the image config and the manifest (Distribution keeps manifests as blobs too).
        expect(blobs.size).toBe(3);
        expect(first.stdout).toContain(`blob files: 3 blobs match their digests (3 hashed this run), no symbolic links`);
        expect(readFileSync(list(), "utf8").trim().split("\n").sort()).toEqual([...blobs.keys()].sort());
        const second = verify(client);
        expect(second.code, second.stderr).toBe(0);
        expect(second.stdout).toContain("(0 hashed this run)");
    });

    test("a blob file rewritten in place is hashed again and fails the check; put back, it passes", async () => {
        const [digest, file] = layerBlob();
        const original = readFileSync(file);
        // Newer than the list by more than the clock's second, whatever the filesystem's granularity.
        await new Promise((resolve) => setTimeout(resolve, 1100));
        writeFileSync(file, Buffer.concat([original, Buffer.from("tampered")]));
        try {
            const damaged = verify(client);
            expect(damaged.code).toBe(1);
            expect(damaged.stderr).toContain(`DAMAGED ${file}: its content hashes to sha256:`);
            expect(damaged.stderr).toContain("FAILED: 1 damaged files in the blob store");
            expect(readFileSync(list(), "utf8")).not.toContain(digest);
        } finally {
            writeFileSync(file, original);
        }
        const repaired = verify(client);
        expect(repaired.code, repaired.stderr).toBe(0);
        expect(repaired.stdout).toContain("(1 hashed this run)");
    });

    test("a symbolic link in the blob store fails the check, even for a blob listed as checked", () => {
        const [digest, file] = layerBlob();
        const original = readFileSync(file);
        const elsewhere = path.join(work, "elsewhere");
        writeFileSync(elsewhere, original);
        rmSync(file);
        symlinkSync(elsewhere, file);
        try {
            expect(readFileSync(list(), "utf8")).toContain(digest);
            const damaged = verify(client);
            expect(damaged.code).toBe(1);
            expect(damaged.stderr).toContain(`DAMAGED ${file}: a symbolic link in the blob store`);
        } finally {
            rmSync(file);
            writeFileSync(file, original);
        }
        const repaired = verify(client);
        expect(repaired.code, repaired.stderr).toBe(0);
        expect(existsSync(list())).toBe(true);
    });
});

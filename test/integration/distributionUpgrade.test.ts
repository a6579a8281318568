/**
 * The registry moved from Distribution 2.8.3 to 3.x in place and back, on one filesystem storage
 * directory, with the config.yml the program renders and the binaries built from the versions the
 * images ship (tools/distribution, test/support/distributionBinaries.ts), on 127.0.0.1 over plain HTTP:
 *
 * 1. 2.8.3 serves; image A is pushed. 2.8.3 stops.
 * 2. 3.x starts on the same storage: A is served by tag and by digest with the digest 2.8.3 gave it;
 *    image B is pushed.
 * 3. A's tag is deleted; 3.x restarts read-only (the read-only window: docs/decisions/maintenance-window.md)
 *    and 3.x's `registry garbage-collect` removes A's own blobs and keeps B's, which is still served whole.
 * 4. Rollback: 3.x stops, 2.8.3 starts on the same storage: B is served by tag and by digest, a push
 *    works, and 2.8.3's garbage collector finds nothing of 3.x's to delete.
 *
 * The steps run in order and share the storage. The operator's steps: docs/registry-3.md.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import { type DistributionBinary, distributionBinaries } from "../support/distributionBinaries";
import { makeOciImage, type OciImage } from "../support/realRegistry";
import {
    freePort,
    privateDir,
    type RunResult,
    removeDir,
    run,
    runOk,
    type ServerProcess,
    startServer,
    waitForPort,
} from "../support/serverProcess";

/** What the steps share: one storage directory, the running registry, the digests as first pushed. */
let scratch: string;
let storage: string;
let port: number;
let registry: ServerProcess | undefined;
let v2: DistributionBinary;
let v3: DistributionBinary;
let imageA: OciImage;
let imageB: OciImage;
let imageC: OciImage;
const digests: Record<string, string> = {};

/** Distribution 3 exports traces to localhost:4318 unless told not to (its error log says so otherwise). */
const REGISTRY_ENV = { ...process.env, OTEL_TRACES_EXPORTER: "none" };

/** Writes the config.yml the program renders for this storage (the read-only variant for the window); returns its path. */
function writeConfig(binary: DistributionBinary, readOnly: boolean): string {
    const file = path.join(scratch, `config-${binary.version}${readOnly ? "-readonly" : ""}.yml`);
    writeFileSync(
        file,
        renderRegistryConfig({
            addr: `127.0.0.1:${port}`,
            storage: { kind: "filesystem", rootDirectory: storage },
            deletesEnabled: true,
            readOnly,
        }),
    );
    return file;
}

/** Starts `binary` on the rendered config; resolves once it answers /v2/. */
async function startRegistry(binary: DistributionBinary, readOnly = false): Promise<void> {
    registry = startServer(binary.path, ["serve", writeConfig(binary, readOnly)], REGISTRY_ENV);
    await waitForPort(port, 30_000, `registry ${binary.version}`);
    const answer = await fetch(`http://127.0.0.1:${port}/v2/`);
    expect(answer.status, registry.output()).toBe(200);
}

async function stopRegistry(): Promise<void> {
    await registry?.stop();
    registry = undefined;
}

/**
 * `registry garbage-collect` of `binary` on the read-only config, as collect.sh runs it in the window
 * (with the registry read-only or stopped).
 */
function collectGarbage(binary: DistributionBinary): RunResult {
    return run(binary.path, ["garbage-collect", writeConfig(binary, true)], { env: REGISTRY_ENV });
}

const ref = (image: string) => `docker://127.0.0.1:${port}/${image}`;

/** skopeo over plain HTTP, anonymous (Distribution has no auth of its own; the front is not under test). */
function skopeo(args: readonly string[]): RunResult {
    return run("skopeo", ["--insecure-policy", ...args], { env: { ...process.env, REGISTRY_AUTH_FILE: path.join(scratch, "none.json") } });
}

/** Pushes an OCI layout to `image`; returns the manifest digest the registry stored. */
function push(source: OciImage, image: string): string {
    const digestFile = path.join(scratch, "digest");
    const r = skopeo([
        "copy",
        "--retry-times",
        "0",
        "--dest-tls-verify=false",
        "--dest-no-creds",
        "--digestfile",
        digestFile,
        source.ref,
        ref(image),
    ]);
    expect(r.code, r.stderr).toBe(0);
    return readFileSync(digestFile, "utf8").trim();
}

/**
 * Pulls `image` (by tag or `@sha256:…`) into a new OCI layout, which checks every blob's digest on the
 * way; returns the digest of the manifest as the registry served it.
 */
function pull(image: string): string {
    const dir = privateDir("du-pull");
    try {
        const r = skopeo(["copy", "--retry-times", "0", "--src-tls-verify=false", "--src-no-creds", ref(image), `oci:${dir}/layout:x`]);
        expect(r.code, `pull ${image}\n${r.stderr}`).toBe(0);
        const served = skopeo(["inspect", "--tls-verify=false", "--no-creds", "--raw", ref(image)]);
        expect(served.code, served.stderr).toBe(0);
        return `sha256:${createHash("sha256").update(served.stdout).digest("hex")}`;
    } finally {
        removeDir(dir);
    }
}

/** The digests of an image's manifest, config and layers, read from the registry. */
function blobsOf(image: string, manifestDigest: string): string[] {
    const raw = skopeo(["inspect", "--tls-verify=false", "--no-creds", "--raw", ref(image)]);
    expect(raw.code, raw.stderr).toBe(0);
    const manifest = JSON.parse(raw.stdout) as { config: { digest: string }; layers: { digest: string }[] };
    return [manifestDigest, manifest.config.digest, ...manifest.layers.map((layer) => layer.digest)];
}

/** Whether the storage holds a blob's data (Distribution's filesystem layout, the same in 2.x and 3.x). */
function blobStored(digest: string): boolean {
    const hex = digest.slice("sha256:".length);
    return existsSync(path.join(storage, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data"));
}

describe("Distribution 2.8.3 → 3.x in place on the same storage, and back", () => {
    /** Each image's manifest, config and layer digests, as pushed. */
    const blobs = { a: [] as string[], b: [] as string[] };

    beforeAll(async () => {
        ({ v2, v3 } = distributionBinaries());
        scratch = privateDir("du");
        storage = path.join(scratch, "storage");
        port = await freePort();
        imageA = makeOciImage(path.join(scratch, "a"), 8192);
        imageB = makeOciImage(path.join(scratch, "b"), 8192);
        imageC = makeOciImage(path.join(scratch, "c"), 8192);
    }, 600_000);

    afterAll(async () => {
        await stopRegistry();
        if (scratch) removeDir(scratch);
    });

    test("the binaries are the versions the images ship: 2.8.3 and 3.x", () => {
        expect(runOk(v2.path, ["--version"]).stdout).toContain(" v2.8.3");
        expect(v2.version).toBe("2.8.3");
        expect(runOk(v3.path, ["--version"], { env: REGISTRY_ENV }).stdout).toMatch(/ v3\.\d+\.\d+/);
        expect(v3.version).toMatch(/^3\./);
    });

    test("2.8.3 takes the push of image A", async () => {
        await startRegistry(v2);
        digests.a = push(imageA, "team/a:1");
        blobs.a = blobsOf("team/a:1", digests.a);
        expect(blobs.a.every(blobStored)).toBe(true);
        await stopRegistry();
    });

    test("3.x on the same storage serves A by tag and by digest with the digest 2.8.3 gave it, and takes B", async () => {
        await startRegistry(v3);
        expect(pull("team/a:1")).toBe(digests.a);
        expect(pull(`team/a@${digests.a}`)).toBe(digests.a);
        digests.b = push(imageB, "team/b:1");
        blobs.b = blobsOf("team/b:1", digests.b);
        expect(pull(`team/b@${digests.b}`)).toBe(digests.b);
        // A and B share nothing: the collection below must tell them apart.
        expect(blobs.a.filter((digest) => blobs.b.includes(digest))).toEqual([]);
    });

    test("A's tag deleted, 3.x read-only refuses a push, and its garbage collector removes A's blobs and keeps B's", async () => {
        const deleted = skopeo(["delete", "--tls-verify=false", "--no-creds", ref("team/a:1")]);
        expect(deleted.code, deleted.stderr).toBe(0);
        expect(skopeo(["inspect", "--tls-verify=false", "--no-creds", "--raw", ref("team/a:1")]).code).not.toBe(0);
        await stopRegistry();

        await startRegistry(v3, true);
        const refused = skopeo(["copy", "--retry-times", "0", "--dest-tls-verify=false", "--dest-no-creds", imageC.ref, ref("team/c:1")]);
        expect(refused.code).not.toBe(0);
        // Distribution answers every write with 405 while storage.maintenance.readonly is on.
        expect(refused.stderr).toMatch(/StatusCode: 405/);

        expect(blobs.a.every(blobStored)).toBe(true);
        const collected = collectGarbage(v3);
        expect(collected.code, collected.stdout + collected.stderr).toBe(0);
        expect(blobs.a.filter(blobStored)).toEqual([]);
        expect(blobs.b.filter((digest) => !blobStored(digest))).toEqual([]);
        expect(pull("team/b:1")).toBe(digests.b);
        await stopRegistry();
    });

    test("rollback: 2.8.3 on the same storage serves B by tag and by digest and takes a push", async () => {
        await startRegistry(v2);
        expect(pull("team/b:1")).toBe(digests.b);
        expect(pull(`team/b@${digests.b}`)).toBe(digests.b);
        digests.c = push(imageC, "team/c:1");
        expect(pull(`team/c@${digests.c}`)).toBe(digests.c);
        await stopRegistry();
    });

    test("2.8.3's garbage collector runs clean after 3.x's: nothing of B or C is eligible for deletion", async () => {
        const collected = collectGarbage(v2);
        expect(collected.code, collected.stdout + collected.stderr).toBe(0);
        expect(collected.stdout).toMatch(/\b0 blobs and 0 manifests eligible for deletion/);
        expect(blobs.b.filter((digest) => !blobStored(digest))).toEqual([]);
        await startRegistry(v2);
        expect(pull("team/b:1")).toBe(digests.b);
        expect(pull("team/c:1")).toBe(digests.c);
    });
});

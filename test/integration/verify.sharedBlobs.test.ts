/**
 * The verify check (components/upkeep/sh/verify.sh) asks Distribution for each blob of a repository
 * once, however many of the repository's tags name it: builds of one application share most of their
 * layers, and a HEAD per tag and layer would grow with both. Counted on the requests the HTTP client
 * is asked to make (a wrapper on PATH logs every curl call). With both clients the check knows (curl,
 * and busybox's wget with only busybox's applets), a blob that is missing is still reported for every
 * tagged image that names it.
 *
 * The images are laid out as Distribution stores pushed ones (blob data, the repository's layer,
 * revision and tag links) before the registry serves its first request.
 */
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderVerifyScript, type VerifyHttpClient } from "../../components/upkeep/verify";
import { type RealRegistry, startRealRegistry } from "../support/realRegistry";
import { privateDir, removeDir, run, runOk } from "../support/serverProcess";

/** Tags of team/app: one image each, all on the same layer. */
const TAGS = 6;

let registry: RealRegistry;
let work: string;
let busybox: string;

const hex = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

/** Lays out `tags` images in `repo`, each with a config of its own on one shared layer; the layer's blob only when `withLayer`. */
function layOut(repo: string, tags: number, withLayer: boolean): string {
    const root = path.join(registry.dataDir, "docker/registry/v2");
    const blob = (data: string | Buffer) => {
        const d = hex(data);
        mkdirSync(path.join(root, "blobs/sha256", d.slice(0, 2), d), { recursive: true });
        writeFileSync(path.join(root, "blobs/sha256", d.slice(0, 2), d, "data"), data);
        return d;
    };
    const link = (rel: string, d: string) => {
        const file = path.join(root, "repositories", repo, rel, "link");
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, `sha256:${d}`);
    };
    const layer = randomBytes(2048);
    const layerDigest = withLayer ? blob(layer) : hex(layer);
    if (withLayer) link(`_layers/sha256/${layerDigest}`, layerDigest);
    for (let t = 0; t < tags; t++) {
        const config = JSON.stringify({
            architecture: "amd64",
            os: "linux",
            config: { Env: [`BUILD=${t}`] },
            rootfs: { type: "layers", diff_ids: [] },
        });
        const configDigest = blob(config);
        link(`_layers/sha256/${configDigest}`, configDigest);
        const manifest = JSON.stringify({
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha256:${configDigest}`, size: config.length },
            layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: `sha256:${layerDigest}`, size: layer.length }],
        });
        const manifestDigest = blob(manifest);
        link(`_manifests/revisions/sha256/${manifestDigest}`, manifestDigest);
        link(`_manifests/tags/b${t}/index/sha256/${manifestDigest}`, manifestDigest);
        link(`_manifests/tags/b${t}/current`, manifestDigest);
    }
    return layerDigest;
}

beforeAll(async () => {
    work = privateDir("verify-shared-blobs-");
    busybox = path.join(work, "busybox");
    mkdirSync(busybox);
    runOk("busybox", ["--install", "-s", busybox]);
    registry = await startRealRegistry({ caddy: false });
    layOut("team/app", TAGS, true);
    layOut("team/broken", 2, false);
}, 120_000);

afterAll(async () => {
    await registry?.stop();
    if (work) removeDir(work);
});

/**
 * Runs the check with `client`; with curl, behind a wrapper on PATH that logs each call's arguments
 * (busybox's sh runs its own wget applet whatever PATH says, so its calls are not counted).
 */
function verify(client: VerifyHttpClient) {
    const script = path.join(work, `verify-${client}.sh`);
    writeFileSync(
        script,
        renderVerifyScript({
            base: `http://127.0.0.1:${registry.registryPort}`,
            client,
            registryLogs: "the test's registry log",
            remedy: "REMEDY",
        }),
    );
    if (client === "busybox-wget") return { ...run(path.join(busybox, "sh"), [script], { env: { PATH: busybox } }), calls: undefined };
    const wrappers = path.join(work, "wrap");
    const log = path.join(work, "calls");
    rmSync(log, { force: true });
    mkdirSync(wrappers, { recursive: true });
    const real = runOk("sh", ["-c", "command -v curl"]).stdout.trim();
    writeFileSync(path.join(wrappers, "curl"), `#!/bin/sh\necho "$*" >>'${log}'\nexec '${real}' "$@"\n`);
    chmodSync(path.join(wrappers, "curl"), 0o755);
    const r = run("sh", [script], { env: { ...process.env, PATH: `${wrappers}:${process.env.PATH}` } });
    return { ...r, calls: readFileSync(log, "utf8").split("\n").filter(Boolean) };
}

describe.each(["curl", "busybox-wget"] as const)("verify with %s", (client) => {
    test("asks for each blob of a repository once, and names every image a missing blob breaks", () => {
        const r = verify(client);
        if (r.calls) {
            const heads = (repo: string) => r.calls.filter((c) => c.includes(`/v2/${repo}/blobs/`));
            // team/app: 6 configs and the one layer they share; one HEAD each, not one per tag and layer.
            expect(heads("team/app"), r.calls.join("\n")).toHaveLength(TAGS + 1);
            expect(heads("team/broken")).toHaveLength(3);
            expect(r.calls.filter((c) => c.includes("/v2/team/app/manifests/"))).toHaveLength(TAGS);
        }
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/^MISSING team\/broken:b0: blob sha256:[0-9a-f]{64} \(HTTP 404\)$/m);
        expect(r.stderr).toMatch(/^MISSING team\/broken:b1: blob sha256:[0-9a-f]{64} \(HTTP 404\)$/m);
        expect(r.stderr).toContain("FAILED: these tagged images are not served whole: team/broken:b0 team/broken:b1");
        expect(r.stderr).not.toContain("team/app");
    });
});

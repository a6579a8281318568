/**
 * The rollback of the registry's image replayed on the external host: the prod stack's registry steps
 * (purge marker, data directory, Distribution's config files, the container, the upkeep scripts) run
 * over SSH against a real Docker engine in a test network namespace that plays the host, as
 * test/integration/externalRegistryHost.scripts.test.ts runs them. Config A's steps deploy Distribution
 * 3.x (listening on its unix socket, no published port); an image is pushed through the socket with the
 * registry API; then config B (`registry.image` back to 2.8.3, built from its own version) is deployed
 * from its plan, in the plan's order (test/support/replay.ts), and finally B's destroy (purge off).
 *
 * Checked: no step fails; the container runs B's image; every blob and manifest pushed before is served
 * (GET 200 through the socket) after the change; the data directory's files are the same bytes; B's image
 * takes a push; after the destroy the container is gone and the data stays.
 *
 * The two changes forward (a bump within the default's line, the upgrade from 2.8.3) are transitions of
 * the lifecycle table, run by the real engine on the prod test hosts with the same checks through the
 * host's Caddy (test/engine/prodPlans.test.ts); the rollback is not one of them. Not replayed here: the
 * caches, Caddy's files and reload and the post-deploy check (they need the front).
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultHostLayout, hostPaths } from "../../components/externalHost/scripts";
import { DEPLOYED_REGISTRY_IMAGE } from "../support/distributionBinaries";
import { type DockerEngine, startDockerEngine } from "../support/dockerEngine";
import { pinnedCaddyImage, registryImage } from "../support/dockerImages";
import { createNetns, type TestNetns } from "../support/netns";
import { describePlan, planOf, type Step } from "../support/plan";
import { asRoot, stepScripts } from "../support/replay";
import { privateDir, removeDir } from "../support/serverProcess";
import { type SshServer, startSshServer } from "../support/sshServer";
import { committedState, edited, type Raw, run } from "../support/transitions";

const layout = defaultHostLayout("/srv/data/registry");
const paths = hostPaths(layout);
const CONTAINER = "dso-registry";
/** The last Distribution 2, what stacks made before registry:3 run. */
const DISTRIBUTION_2_IMAGE = "registry:2.8.3";
const CHANGES = [{ name: "registry rolled back to Distribution 2.8.3", from: DEPLOYED_REGISTRY_IMAGE, to: DISTRIBUTION_2_IMAGE }] as const;
const REPOSITORY = "team/app";
/** The host's registry steps (not the caches, Caddy or the check, which need what this test does not start). */
const isRegistryStep = (name: string) =>
    /^registry-host-(purge-marker|packages-data-dir|container-.*|maintenance-.*-script-write)$/.test(name);

let ns: TestNetns;
let engine: DockerEngine;
let ssh: SshServer;
let scratch: string;

const onDisk = (p: string) => path.join(ssh.root, p);

/** Runs the registry steps of a plan over SSH; returns how many scripts ran. */
function replay(steps: readonly Step[], context: string): number {
    let ran = 0;
    for (const step of steps.filter((s) => isRegistryStep(s.name))) {
        for (const s of stepScripts(step)) {
            const r = ssh.runScript(asRoot(s.script), s.stdin ?? "");
            if (r.code !== 0) throw new Error(`${s.what} failed (${r.code}):\n${r.stdout}\n${r.stderr}\n${context}`);
            ran++;
        }
    }
    return ran;
}

/** A request to Distribution through its unix socket, as Caddy makes it; returns status and headers. */
function api(method: string, url: string, extra: string[] = []): { status: string; headers: string } {
    const r = ns.run("curl", [
        "-sS",
        "-X",
        method,
        "-D",
        "-",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--unix-socket",
        onDisk(paths.registrySocket),
        ...extra,
        `http://localhost${url}`,
    ]);
    return { status: r.stdout.trim().split("\n").at(-1)!, headers: r.stdout };
}

async function waitForApi(): Promise<void> {
    for (let i = 0; i < 150; i++) {
        if (existsSync(onDisk(paths.registrySocket)) && api("GET", "/v2/").status === "200") return;
        await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`Distribution did not answer on its socket\n${engine.docker(["logs", "--tail", "20", CONTAINER]).stderr}`);
}

/** Pushes one blob (monolithic upload) and returns its digest. */
function pushBlob(body: Buffer): string {
    const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
    const started = api("POST", `/v2/${REPOSITORY}/blobs/uploads/`);
    expect(started.status, started.headers).toBe("202");
    const location = /^location:\s*(\S+)/im.exec(started.headers)![1]!.replace(/^https?:\/\/[^/]+/, "");
    const file = path.join(scratch, digest.slice(7));
    writeFileSync(file, body);
    const sep = location.includes("?") ? "&" : "?";
    const done = api("PUT", `${location}${sep}digest=${digest}`, [
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        `@${file}`,
    ]);
    expect(done.status, done.headers).toBe("201");
    return digest;
}

/** Pushes a small image (config + one layer, OCI manifest) as REPOSITORY:1; returns what must be served. */
function pushImage(): string[] {
    const layer = Buffer.from(`a layer pushed before the bump ${Date.now()}\n`.repeat(100));
    const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }));
    const layerDigest = pushBlob(layer);
    const configDigest = pushBlob(config);
    const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layerDigest, size: layer.length }],
    });
    const file = path.join(scratch, "manifest.json");
    writeFileSync(file, manifest);
    const put = api("PUT", `/v2/${REPOSITORY}/manifests/1`, [
        "-H",
        "Content-Type: application/vnd.oci.image.manifest.v1+json",
        "--data-binary",
        `@${file}`,
    ]);
    expect(put.status, put.headers).toBe("201");
    const manifestDigest = `sha256:${createHash("sha256").update(manifest).digest("hex")}`;
    return [
        `/v2/${REPOSITORY}/manifests/1`,
        `/v2/${REPOSITORY}/manifests/${manifestDigest}`,
        `/v2/${REPOSITORY}/blobs/${layerDigest}`,
        `/v2/${REPOSITORY}/blobs/${configDigest}`,
    ];
}

/** Every file under a directory with its bytes' digest, to compare the data directory before and after. */
function tree(dir: string): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (d: string) => {
        for (const e of readdirSync(d)) {
            const p = path.join(d, e);
            if (statSync(p).isDirectory()) walk(p);
            else out[path.relative(dir, p)] = createHash("sha256").update(readFileSync(p)).digest("hex");
        }
    };
    walk(dir);
    return out;
}

const ACCEPT = ["-H", "Accept: application/vnd.oci.image.manifest.v1+json"];
const imageOf = (name: string) => engine.docker(["inspect", "-f", "{{.Config.Image}}", name]).stdout.trim();

beforeAll(async () => {
    scratch = privateDir("lifecycle-images");
    ns = await createNetns({ prefix: "lci", subnet: "198.19.176.0/20" });
    engine = await startDockerEngine(ns);
    registryImage(engine);
    registryImage(engine, DISTRIBUTION_2_IMAGE.replace(/^registry:/, ""));
    // The metrics relay beside the registry (monitoring is on in the prod stack).
    pinnedCaddyImage(engine);
    ssh = await startSshServer({ netns: ns, env: { DOCKER_HOST: engine.host, PATH: "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin" } });
}, 300_000);

afterAll(async () => {
    await ssh?.stop();
    await engine?.stop();
    await ns?.destroy();
    if (scratch) removeDir(scratch);
}, 120_000);

const prod = committedState("prod");

describe.each(CHANGES)("prod, $name ($from → $to): the host's registry steps replayed over SSH on a real Docker engine", (change) => {
    afterAll(() => removeDir(onDisk(layout.dataDir)));

    it("runs every step, runs the new image, serves every image pushed before, keeps the data; the destroy keeps it too", async () => {
        const OLD_IMAGE = change.from;
        const NEW_IMAGE = change.to;
        const from = edited(prod, (r) => Object.assign(r.registry as Raw, { image: OLD_IMAGE }));
        const to = edited(prod, (r) => Object.assign(r.registry as Raw, { image: NEW_IMAGE }));
        const before = await run("prod", from);
        const after = await run("prod", to);

        expect(replay(planOf([], before.resources).steps, "deploying A"), "A's registry steps").toBeGreaterThan(0);
        await waitForApi();
        expect(imageOf(CONTAINER)).toBe(OLD_IMAGE);
        const served = pushImage();
        for (const url of served) expect([url, api("GET", url, ACCEPT).status]).toEqual([url, "200"]);
        const data = tree(onDisk(layout.dataDir));
        expect(Object.keys(data).length, "the pushed image's files").toBeGreaterThan(0);

        const plan = planOf(before.resources, after.resources);
        console.log(`${change.name}: ${describePlan(plan)}`);
        expect(replay(plan.steps, describePlan(plan)), "the bump's registry steps").toBeGreaterThan(0);
        await waitForApi();
        expect(imageOf(CONTAINER), "the container runs the new image").toBe(NEW_IMAGE);
        for (const url of served) expect([url, api("GET", url, ACCEPT).status]).toEqual([url, "200"]);
        expect(tree(onDisk(layout.dataDir)), "the data directory's files").toEqual(data);
        // The new image takes writes on the same storage, and still serves what came before by digest.
        for (const url of pushImage()) expect([url, api("GET", url, ACCEPT).status]).toEqual([url, "200"]);
        for (const url of served.filter((u) => u.includes("sha256:"))) expect([url, api("GET", url, ACCEPT).status]).toEqual([url, "200"]);
        const written = tree(onDisk(layout.dataDir));

        const destroy = planOf(after.resources, undefined);
        console.log(`destroy: ${describePlan(destroy)}`);
        replay(destroy.steps, describePlan(destroy));
        expect(engine.docker(["inspect", CONTAINER]).code, "the container after destroy").not.toBe(0);
        expect(tree(onDisk(layout.dataDir)), "the data after destroy (purge off)").toEqual(written);
    });
});

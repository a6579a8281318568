/**
 * Scale-out: the in-cluster registry with 3 replicas on one bucket behind the Ingress, with the real
 * programs (test/support/registryReplicas.ts): per replica, the synthesized Deployment's pod run as
 * specified (Distribution at the version under test, the pinned Caddy); nginx as the Ingress,
 * balancing per request over the three fronts; an S3 server that checks signatures
 * (test/support/s3Server.ts). Everything comes from a synth of an in-cluster stack with
 * `registry.replicas: 3`, s3 storage and garbage collection on, once per Distribution version the
 * program ships (2.8.3, the stacks' image, and 3.x), each on a bucket of its own.
 *
 * Proven per version:
 * - a push through the Ingress spreads its requests over every replica (an upload started on one
 *   replica goes on on another: the shared `http.secret`), and the image pulls by digest, whole,
 *   through each replica's own front;
 * - concurrent pushes through the Ingress, of distinct images and of images sharing a layer, all land
 *   and pull back whole through every replica, and leave no upload behind in the bucket;
 * - the GC job's script as rendered, whose window for pods that may overlap is the Deployment's
 *   template switched read-only and every replica rolled: held inside the window, writes get 503 from
 *   every replica's front and 405 from every Distribution, a push through the Ingress is refused, and
 *   pulls go on; afterwards a deleted image's blobs are gone from the bucket and every replica answers
 *   404 for them (no cache remembers them), every other image pulls whole through every replica, and
 *   pushes land again.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import type { K8sObject } from "../../components/shared/k8sObject";
import { type DistributionBinary, distributionBinaries } from "../support/distributionBinaries";
import { makeAccount, makeOciImage, makeTestCa, skopeoCopy, skopeoDelete, type TestCa, writeAuthFile } from "../support/realRegistry";
import { type JobRun, POD_START_TIMEOUT_MS, runCronJob } from "../support/registryPodStandIn";
import { REPLICAS_HOST, type RegistryReplicas, startRegistryReplicas, synthReplicaObjects } from "../support/registryReplicas";
import { type S3Server, startS3Server } from "../support/s3Server";
import { privateDir, removeDir, runOk } from "../support/serverProcess";

const REPLICAS = 3;
const ROOT = "registry/docker/registry/v2";
const BINARIES = distributionBinaries();
const VERSIONS: readonly DistributionBinary[] = [BINARIES.v2, BINARIES.v3];
const bucketOf = (binary: DistributionBinary) => `replicas-${binary.version.replace(/\./g, "-")}`;
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

let s3: S3Server;
let ca: TestCa;
let scratch: string;
const push = makeAccount("ci-push");

beforeAll(async () => {
    scratch = privateDir("replicas-test");
    ca = makeTestCa(path.join(scratch, "ca"), [REPLICAS_HOST]);
    s3 = await startS3Server(VERSIONS.map(bucketOf));
});

afterAll(async () => {
    await s3?.stop();
    if (scratch) removeDir(scratch);
});

/** The in-cluster stack of this test: 3 replicas on the version's bucket, garbage collection on. */
function synthObjects(binary: DistributionBinary): Promise<K8sObject[]> {
    return synthReplicaObjects({
        version: binary.version,
        replicas: REPLICAS,
        bucket: bucketOf(binary),
        endpoint: s3.endpoint,
        s3: s3.credentials,
        push,
        ca,
        garbageCollection: true,
    });
}

const sha256 = (bytes: Buffer | string) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
const blobKey = (digest: string) => `${ROOT}/blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}/data`;

/** An image in an OCI layout: its reference for skopeo, its manifest digest and the digests of its blobs. */
interface Image {
    readonly ref: string;
    readonly digest: string;
    readonly blobs: readonly string[];
}

function imageOf(layout: string): Image {
    const digest = JSON.parse(readFileSync(path.join(layout, "index.json"), "utf8")).manifests[0].digest as string;
    const manifest = JSON.parse(readFileSync(path.join(layout, "blobs/sha256", digest.slice(7)), "utf8"));
    return {
        ref: `oci:${layout}:latest`,
        digest,
        blobs: [manifest.config.digest, ...manifest.layers.map((l: { digest: string }) => l.digest)],
    };
}

function newImage(name: string, payloadBytes = 64 * 1024): Image {
    return imageOf(makeOciImage(path.join(scratch, "images", name), payloadBytes).dir);
}

/** Images with the same layer as `base` and a config of their own (a label), so each has its own manifest. */
function sharingLayer(base: Image, names: readonly string[]): Image[] {
    const baseLayout = base.ref.slice("oci:".length, -":latest".length);
    return names.map((name) => {
        const layout = path.join(scratch, "images", name, "layout");
        cpSync(baseLayout, layout, { recursive: true });
        runOk("umoci", ["config", "--image", `${layout}:latest`, "--config.label", `dso-registry.test=${name}`]);
        return imageOf(layout);
    });
}

/** A push with skopeo, not waited for: several run at once. */
function pushAsync(replicas: RegistryReplicas, image: Image, dest: string): Promise<{ code: number | null; output: string }> {
    const auth = writeAuthFile(path.join(scratch, "auth"), replicas.authority, push);
    const child = spawn(
        "skopeo",
        [
            "--insecure-policy",
            "copy",
            "--retry-times",
            "0",
            "--dest-cert-dir",
            replicas.certDir,
            "--dest-authfile",
            auth,
            image.ref,
            `docker://${replicas.authority}/${dest}`,
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    return new Promise((resolve) => child.once("close", (code) => resolve({ code, output })));
}

/** What `url` answers to a GET (plain HTTP, anonymous, on a replica's own ports). */
async function get(url: string, accept?: string): Promise<{ status: number; body: Buffer }> {
    const response = await fetch(url, { headers: accept ? { Accept: accept } : {} });
    return { status: response.status, body: Buffer.from(await response.arrayBuffer()) };
}

/**
 * Pulls `repo@digest` through replica `i`'s front, anonymously: the manifest and every blob, each
 * checked against its digest. Returns what did not come back whole (empty when all did).
 */
async function pullProblems(replicas: RegistryReplicas, i: number, repo: string, image: Image): Promise<string[]> {
    const base = `http://127.0.0.1:${replicas.replicas[i]!.front}/v2/${repo}`;
    const manifest = await get(`${base}/manifests/${image.digest}`, OCI_MANIFEST);
    if (manifest.status !== 200) return [`replica ${i}: ${repo}@${image.digest} answered ${manifest.status}`];
    const problems = sha256(manifest.body) === image.digest ? [] : [`replica ${i}: ${repo}'s manifest has another digest`];
    for (const blob of image.blobs) {
        const answer = await get(`${base}/blobs/${blob}`);
        if (answer.status !== 200 || sha256(answer.body) !== blob)
            problems.push(`replica ${i}: ${repo} blob ${blob} answered ${answer.status}`);
    }
    return problems;
}

/** `pullProblems` through every replica. */
async function pullProblemsEverywhere(replicas: RegistryReplicas, repo: string, image: Image): Promise<string[]> {
    const problems: string[] = [];
    for (let i = 0; i < REPLICAS; i++) problems.push(...(await pullProblems(replicas, i, repo, image)));
    return problems;
}

/** An upload's start, with the push account, at `origin` (a front, or Distribution itself). */
async function startUpload(origin: string, repo: string): Promise<number> {
    const authorization = `Basic ${Buffer.from(`${push.username}:${push.password}`).toString("base64")}`;
    const response = await fetch(`${origin}/v2/${repo}/blobs/uploads/`, { method: "POST", headers: { Authorization: authorization } });
    await response.arrayBuffer();
    return response.status;
}

/** Until the kubectl stand-in of `dir` has logged `count` calls containing `call`. */
async function waitForCalls(dir: string, call: string, count: number, job: Promise<JobRun>): Promise<void> {
    let ended: JobRun | undefined;
    void job.then((run) => (ended = run));
    const calls = () =>
        existsSync(path.join(dir, "kubectl.log")) ? readFileSync(path.join(dir, "kubectl.log"), "utf8").split(call).length - 1 : 0;
    for (let i = 0; i < 1200; i++) {
        if (calls() >= count) return;
        if (ended) throw new Error(`the job ended before ${count} calls of${call}:\n${ended.output}`);
        await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${count} calls of${call}`);
}

async function waitFor(file: string, what: string, job: Promise<JobRun>): Promise<void> {
    let ended: JobRun | undefined;
    void job.then((run) => (ended = run));
    for (let i = 0; i < 1200; i++) {
        if (existsSync(file)) return;
        if (ended) throw new Error(`the job ended before ${what}:\n${ended.output}`);
        await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
}

describe.each(VERSIONS.map((binary) => [binary.version, binary] as const))(
    "3 replicas on shared S3 behind the Ingress, Distribution %s",
    (_version, binary) => {
        let replicas: RegistryReplicas;
        let objects: K8sObject[];
        const pushed = new Map<string, Image>();
        const certDir = () => replicas.certDir;

        beforeAll(async () => {
            objects = await synthObjects(binary);
            replicas = await startRegistryReplicas({
                objects,
                count: REPLICAS,
                binary,
                bucketPort: Number(new URL(s3.endpoint).port),
                ca,
            });
        }, POD_START_TIMEOUT_MS);

        afterAll(async () => {
            await replicas?.stop();
        });

        test("a push through the Ingress is spread over every replica, uploads go on across replicas, and the image pulls whole through each", async () => {
            const image = newImage(`spread-${binary.version}`);
            const pushedImage = skopeoCopy(image.ref, `docker://${replicas.authority}/team/spread:1`, { certDir: certDir(), creds: push });
            expect(pushedImage.code, `${pushedImage.stderr}\n${replicas.logs()}`).toBe(0);
            pushed.set("team/spread", image);
            const requests = replicas.replicas.map((_, i) => replicas.frontRequests(i));
            expect(requests.map((r) => r.length > 0)).toEqual([true, true, true]);
            // An upload's requests name its id: /v2/<repo>/blobs/uploads/<id>.
            const servedBy = new Map<string, Set<number>>();
            requests.forEach((list, i) => {
                for (const r of list) {
                    const id = /\/blobs\/uploads\/([0-9a-f-]{36})/.exec(r.uri)?.[1];
                    if (id) servedBy.set(id, (servedBy.get(id) ?? new Set()).add(i));
                }
            });
            expect([...servedBy.values()].some((replicasOfUpload) => replicasOfUpload.size > 1)).toBe(true);
            expect(await pullProblemsEverywhere(replicas, "team/spread", image)).toEqual([]);
        });

        test("concurrent pushes of distinct images and of images sharing a layer all land, pull back whole through every replica, and leave no upload behind", async () => {
            const distinct = [1, 2, 3].map((k) => newImage(`distinct-${k}-${binary.version}`, 256 * 1024));
            const base = newImage(`base-${binary.version}`, 1024 * 1024);
            const shared = sharingLayer(
                base,
                [1, 2, 3].map((k) => `shared-${k}-${binary.version}`),
            );
            expect(new Set(shared.map((s) => s.blobs[1])).size).toBe(1);
            const targets: [string, Image][] = [
                ["team/distinct-1", distinct[0]!],
                ["team/distinct-2", distinct[1]!],
                ["team/distinct-3", distinct[2]!],
                // The same layer into one repository under two tags, and into another repository, at once.
                ["team/shared", shared[0]!],
                ["team/shared", shared[1]!],
                ["team/shared-elsewhere", shared[2]!],
            ];
            const results = await Promise.all(targets.map(([repo, image], k) => pushAsync(replicas, image, `${repo}:${k}`)));
            expect(results.filter((r) => r.code !== 0).map((r) => r.output)).toEqual([]);
            const problems: string[] = [];
            for (const [repo, image] of targets) {
                pushed.set(repo === "team/shared" && image === shared[1] ? "team/shared#2" : repo, image);
                problems.push(...(await pullProblemsEverywhere(replicas, repo, image)));
            }
            expect(problems).toEqual([]);
            const keys = await s3.listKeys(bucketOf(binary), `${ROOT}/repositories/`);
            expect(keys.filter((k) => k.includes("/_uploads/"))).toEqual([]);
        });

        test("garbage collection holds every replica read-only for its window and removes only a deleted image's blobs", async () => {
            const gone = newImage(`gone-${binary.version}`);
            expect(skopeoCopy(gone.ref, `docker://${replicas.authority}/team/gone:1`, { certDir: certDir(), creds: push }).code).toBe(0);
            const deleted = skopeoDelete(`docker://${replicas.authority}/team/gone@${gone.digest}`, { certDir: certDir(), creds: push });
            expect(deleted.code, deleted.stderr).toBe(0);
            const startsBefore = replicas.starts();

            const hold = path.join(replicas.dir, "hold-gc");
            writeFileSync(hold, "");
            // An old pod still terminating when the rollout into the window returns (it may finish a
            // write it took before): the collection waits for it.
            const terminating = path.join(replicas.dir, "terminating");
            writeFileSync(terminating, "");
            const job = runCronJob(replicas, objects, IN_CLUSTER.gcName);
            let inWindow: { front: number[]; distribution: number[]; pulls: string[]; push: number | null };
            try {
                await waitForCalls(replicas.dir, " get pods ", 3, job);
                expect(existsSync(path.join(replicas.dir, "holding-gc"))).toBe(false);
                rmSync(terminating);
                await waitFor(path.join(replicas.dir, "holding-gc"), "the collection", job);
                const front: number[] = [];
                const distribution: number[] = [];
                for (const r of replicas.replicas) {
                    front.push(await startUpload(`http://127.0.0.1:${r.front}`, "team/during-gc"));
                    distribution.push(await startUpload(`http://127.0.0.1:${r.registry}`, "team/during-gc"));
                }
                const spread = pushed.get("team/spread")!;
                const during = newImage(`during-${binary.version}`);
                inWindow = {
                    front,
                    distribution,
                    pulls: await pullProblemsEverywhere(replicas, "team/spread", spread),
                    push: (await pushAsync(replicas, during, "team/during-gc:1")).code,
                };
            } finally {
                rmSync(terminating, { force: true });
                rmSync(hold, { force: true });
            }
            const run = await job;
            expect(inWindow.front).toEqual([503, 503, 503]);
            expect(inWindow.distribution).toEqual([405, 405, 405]);
            expect(inWindow.pulls).toEqual([]);
            expect(inWindow.push).not.toBe(0);
            expect(run.code, `${run.output}\n${replicas.logs()}`).toBe(0);
            // Two rollouts: into the window and out of it, each replica restarted by each.
            expect(replicas.starts()).toEqual(startsBefore.map((n) => n + 2));

            const blobs = await s3.listKeys(bucketOf(binary), `${ROOT}/blobs/`);
            expect(blobs.filter((k) => gone.blobs.includes(`sha256:${k.split("/").at(-2)}`))).toEqual([]);
            const kept = [...new Set([...pushed.values()].flatMap((image) => image.blobs))];
            expect(kept.filter((digest) => !blobs.includes(blobKey(digest)))).toEqual([]);
            for (const r of replicas.replicas) {
                expect((await get(`http://127.0.0.1:${r.front}/v2/team/gone/blobs/${gone.blobs[1]}`)).status).toBe(404);
            }
            const problems: string[] = [];
            for (const [key, image] of pushed) problems.push(...(await pullProblemsEverywhere(replicas, key.split("#")[0]!, image)));
            expect(problems).toEqual([]);
            const after = newImage(`after-${binary.version}`);
            const landed = await pushAsync(replicas, after, "team/after-gc:1");
            expect(landed.code, landed.output).toBe(0);
        });
    },
);

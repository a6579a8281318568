/**
 * Scale-out as real pods: the `local` (microk8s) stack with `registry.replicas: 3` on S3 storage, under the real
 * Pulumi engine and Kubernetes provider, on two nodes whose pods really run (test/support/kubeNode.ts: containerd,
 * the kubelet and kube-proxy on each, CoreDNS, the nodes routing each other's pods). The object store is versitygw
 * (test/support/s3Server.ts), which checks every signature, listening on this machine's end of the first node's
 * link: the pods of both nodes reach it as they reach a MinIO or an S3 endpoint outside the cluster. The Maven repository is served elsewhere (`mavenRegistry.host` another
 * name), since Maven's volume cannot be shared by replicas. What is checked:
 *
 * - `up` completes with three registry pods ready by their own probes, spread over both nodes, the Deployment
 *   rolling (`maxSurge: 1, maxUnavailable: 0`) and the disruption budget in place;
 * - an upload whose requests land on three different pods (its start on one, its chunks on each, its commit on
 *   the last: the connection taken to each pod's own address) completes, the manifest put on another pod, and
 *   each pod serves the same manifest digest and the same blob bytes, anonymously;
 * - an image pushed with skopeo through the Service runs as a pod on each node: each kubelet pulled it;
 * - an `up` that changes the pod template (an annotation) and Distribution's config while skopeo pushes and a
 *   probe pulls without pause: no push fails, no pull goes unanswered, `up` returns only when every pod is of the
 *   new template and available, and every push that landed pulls back blob for blob (a stopping pod hands its
 *   clients over: components/inCluster/deployment.ts, FRONT_STOP_DELAY_SECONDS);
 * - the pods a push streams through (the node's loopback slowed so that the push is under way; every pod the
 *   node's relay holds a connection to, by the node's conntrack table) deleted under it, gracefully and then
 *   forcibly: the push lands, or where a pod died under it CI's retry of the step lands it on another pod, and
 *   the image pulls back whole;
 * - a garbage collection (the GC Job the CronJob makes: its window rolls every replica read-only and back) while
 *   skopeo pushes: every push either lands or is refused as the window says, nothing that landed is lost, and
 *   the job's own check (verify.sh) finds every tagged image whole, those pushed through deleted pods among them;
 * - draining the node that holds two of the pods: the eviction API takes one pod at a time (the next eviction is
 *   refused by the budget until the first one's replacement serves on the other node), the drain completes, and
 *   pulls through the Service go on without one unanswered;
 * - a second `up` plans nothing, and `destroy` removes every pod of the stack, leaving the bucket's data.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import { ociArchivePath, payloadImage } from "../support/dockerImages";
import type { FakeJenkins } from "../support/fakeJenkins";
import type { ClusterNode, RealCluster } from "../support/kubeNode";
import {
    LOCAL_REGISTRY,
    NODE_AUTH_FILE,
    NODE_CERT_DIR,
    nodeImageArchives,
    pushFromNode,
    runPodOfImage,
    startLocalStackNode,
    startNodeRelay,
    writeNodeClientFiles,
} from "../support/localNode";
import { initLocalStack, LOCAL_STACK, localStackWorkspace, nodePushLoop } from "../support/localStackOnNode";
import { startNodeProbe, unanswered } from "../support/nodeProbe";
import { engineSet, PROJECT_DIR, type Workspace, writeStackValues } from "../support/pulumiEngine";
import { expectLandedPullBackWhole, type Push, type PushLoop } from "../support/pushLoop";
import { type S3Server, startS3Server } from "../support/s3Server";
import { privateDir, removeDir, run, type ServerProcess } from "../support/serverProcess";

const STACK = LOCAL_STACK;
const REGISTRY = LOCAL_REGISTRY;
const REPLICAS = 3;
const BUCKET = "registry";
const CA_FILE = `${NODE_CERT_DIR}/ca.crt`;
/** curl's config on the node with the push account (`user = "name:password"`): nothing secret on a command line. */
const CURL_AUTH = "/root/push-curl.conf";
const jenkinsToken = `token-${randomBytes(12).toString("hex")}`;

let cluster: RealCluster;
let jenkins: FakeJenkins;
let ws: Workspace;
let s3: S3Server;
/** On each node, the ingress's part: the node's 127.0.0.1:443 to the registry's TLS Service. */
const relays: ServerProcess[] = [];
let scratch: string;
let prefix: string;
/** The TLS Service's address, which the relay connects to. */
let serviceIp: string;
let pushLoop: PushLoop | undefined;
/** The push loop of the node (its images made once). */
const loopOfNode = () => {
    pushLoop ??= nodePushLoop(cluster, scratch, prefix);
    return pushLoop;
};

type Pod = {
    metadata: { name: string; uid: string; deletionTimestamp?: string };
    spec: { nodeName?: string };
    status: { phase: string; podIP?: string; conditions?: { type: string; status: string }[] };
};
type Deployment = {
    metadata: { generation: number };
    spec: { strategy: { type: string; rollingUpdate?: Record<string, unknown> } };
    status: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; availableReplicas?: number };
};

const kubectl = (...args: string[]) =>
    run(path.join(engineSet(), "bin/kubectl"), ["--kubeconfig", cluster.kube.kubeconfig, ...args], { input: "" });
const onNode = (command: string, args: readonly string[], input?: string) => cluster.node.run(command, args, { input });
const ready = (pod: Pod) => pod.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
/** The registry's pods, those on their way out too. */
const registryPods = async () =>
    (
        await cluster.kube.get<{ items: Pod[] }>(
            `/api/v1/namespaces/dso/pods?labelSelector=${encodeURIComponent("app.kubernetes.io/component=registry,app.kubernetes.io/name=registry")}`,
        )
    )?.items ?? [];
const deployment = () => cluster.kube.get<Deployment>("/apis/apps/v1/namespaces/dso/deployments/registry");

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 180_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s\n${cluster.logs(15)}`);
        await new Promise((r) => setTimeout(r, 1000));
    }
}

/** The committed local stack's values, with three replicas on the test's bucket and Maven served elsewhere. */
function replicaStackValues(): Record<string, unknown> {
    const committed = parse(readFileSync(path.join(PROJECT_DIR, `Pulumi.${STACK}.yaml`), "utf8")) as { config: Record<string, unknown> };
    const values = Object.fromEntries(Object.entries(committed.config).map(([k, v]) => [k.replace(/^dso-registry:/, ""), v])) as Record<
        string,
        Record<string, unknown>
    >;
    const registry = values.registry as Record<string, unknown>;
    return {
        ...values,
        mavenRegistry: { ...values.mavenRegistry, host: "maven.jmann.local", reuseContainerCredentials: false },
        jenkins: { ...values.jenkins, url: jenkins.url },
        registry: {
            ...registry,
            replicas: REPLICAS,
            storage: { kind: "s3", s3: { bucket: BUCKET, endpoint: s3.endpoint } },
        },
    };
}

const up = async (what: string) => {
    const r = await ws.pulumi(["up", "--yes", "--skip-preview", "-s", STACK], { timeoutMs: 15 * 60_000 });
    expect(r.code, `${what}\n${r.stdout.slice(-10_000)}${r.stderr}\n${cluster.logs(20)}`).toBe(0);
    return r;
};

/** skopeo on the node pulling `ref` into an OCI layout on the node: it checks every blob's digest. */
const pullOnNode = (ref: string, dest: string) => onNode("skopeo", ["copy", "--src-cert-dir", NODE_CERT_DIR, ref, dest]);

/**
 * curl on the node to the registry by its name, with the connection taken to `podIp`'s TLS port (the sidecar's
 * Caddy): `-D -` prints the answer's headers; with `auth`, the push account from CURL_AUTH.
 */
function curlPod(podIp: string, args: readonly string[], auth = true) {
    return onNode("curl", [
        "-sS",
        "--max-time",
        "60",
        ...(auth ? ["-K", CURL_AUTH] : []),
        "--cacert",
        CA_FILE,
        "--connect-to",
        `${REGISTRY}:443:${podIp}:${IN_CLUSTER.tlsPort}`,
        ...args,
    ]);
}
/**
 * The final answer's head in curl's `-D -` output. Interim answers come before it: over HTTP/1.1 (the front's
 * only protocol) curl sends `Expect: 100-continue` with a body over 1 MiB and prints the `100 Continue` it gets.
 */
const finalHead = (headers: string) =>
    headers
        .split(/\r?\n\r?\n/)
        .filter((head) => head.trim() !== "")
        .at(-1) ?? "";
const status = (headers: string) => Number(/^HTTP\/[\d.]+ (\d{3})/m.exec(finalHead(headers))?.[1] ?? 0);
const header = (headers: string, name: string) => new RegExp(`^${name}: *(.*?)\\r?$`, "im").exec(finalHead(headers))?.[1] ?? "";
const sha256 = (data: Buffer) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

/** The upload URL of an answer's Location, as a URL by the registry's name. */
const uploadUrl = (location: string) => {
    const u = new URL(location, `https://${REGISTRY}`);
    return `https://${REGISTRY}${u.pathname}${u.search}`;
};

/** Writes `data` to a file in the scratch directory (which the node sees) and returns its path. */
function scratchFile(name: string, data: Buffer | string): string {
    const file = path.join(scratch, name);
    writeFileSync(file, data);
    return file;
}

/** The addresses of the pods the node's relay holds open connections to (its connections to the TLS Service, after kube-proxy's rewrite). */
function relayPodIps(): string[] {
    const table = onNode("cat", ["/proc/net/nf_conntrack"]).stdout;
    const ips = new Set<string>();
    for (const line of table.split("\n")) {
        const m = new RegExp(
            `ESTABLISHED src=\\S+ dst=${serviceIp.replaceAll(".", "\\.")} sport=\\d+ dport=443 .*?src=(\\S+) dst=\\S+ sport=${IN_CLUSTER.tlsPort} `,
        ).exec(line);
        if (m) ips.add(m[1] as string);
    }
    return [...ips];
}

/** The pod whose caddy's access log shows an upload to `repository` (the pod a connection through the Service reached). */
async function podServingUpload(repository: string): Promise<Pod | undefined> {
    for (const pod of await registryPods()) {
        const log = kubectl("logs", "-n", "dso", pod.metadata.name, "-c", "caddy").stdout;
        if (log.split("\n").some((line) => line.includes(`/v2/${repository}/blobs/uploads/`))) return pod;
    }
    return undefined;
}

beforeAll(async () => {
    scratch = privateDir("replica-pods");
    cluster = await startLocalStackNode(4, undefined, 2);
    s3 = await startS3Server([BUCKET], cluster.node.hostAddress);
    ({ jenkins, ws } = await localStackWorkspace(cluster, jenkinsToken));
}, 10 * 60_000);

afterAll(async () => {
    onNode("tc", ["qdisc", "del", "dev", "lo", "root"]);
    for (const relay of relays) await relay.stop();
    ws?.close();
    await jenkins?.close();
    await cluster?.stop();
    await s3?.stop();
    if (scratch) removeDir(scratch);
});

describe("three registry replicas on S3 storage, as pods on two real nodes, under the real engine", () => {
    it(
        "`up` completes with three pods ready, the Deployment rolling one pod at a time and the disruption budget in place",
        async () => {
            await initLocalStack(ws, jenkins, jenkinsToken);
            writeStackValues(ws, STACK, replicaStackValues());
            // The Maven repository served elsewhere has a deploy account of its own.
            await ws.pulumiOk(["config", "set", "--secret", "dso-registry:mavenRegistryPassword", "-s", STACK], {
                input: randomBytes(18).toString("base64url"),
            });
            await ws.pulumiOk(["config", "set", "--secret", "dso-registry:s3AccessKeyId", "-s", STACK], {
                input: s3.credentials.accessKeyId,
            });
            await ws.pulumiOk(["config", "set", "--secret", "dso-registry:s3SecretAccessKey", "-s", STACK], {
                input: s3.credentials.secretAccessKey,
            });
            const r = await ws.pulumi(["up", "--yes", "-s", STACK], { timeoutMs: 15 * 60_000 });
            expect(r.code, `${r.stdout.slice(-10_000)}${r.stderr}\n${cluster.logs(20)}`).toBe(0);
            const pods = await registryPods();
            expect(pods.map(ready)).toEqual(Array(REPLICAS).fill(true));
            // Spread over the nodes (the Deployment's topology spread on the node's name): two on one, one on the other.
            const perNode = cluster.nodes.map((n) => pods.filter((p) => p.spec.nodeName === n.name).length).sort();
            expect(perNode).toEqual([1, 2]);
            expect(new Set(pods.map((p) => p.status.podIP)).size).toBe(REPLICAS);
            const d = await deployment();
            expect(d?.spec.strategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
            expect(d?.status).toMatchObject({ replicas: REPLICAS, availableReplicas: REPLICAS });
            const budget = await cluster.kube.get<{ spec: { maxUnavailable: number } }>(
                "/apis/policy/v1/namespaces/dso/poddisruptionbudgets/registry",
            );
            expect(budget?.spec.maxUnavailable).toBe(1);

            // The clients on the first node: the stack's CA, the push account (files, never a command line); and on
            // each node the ingress's part: the node's 127.0.0.1:443 to the registry's TLS Service (each connection
            // to one pod), where the node trust's hosts entry sends the kubelet's pulls.
            const push = (await ws.output(STACK, "pushCredentials")) as { username: string; password: string };
            writeNodeClientFiles(cluster.node, (await ws.output(STACK, "caCertPem")) as string, push);
            onNode("sh", ["-c", `umask 077 && cat > ${CURL_AUTH}`], `user = "${push.username}:${push.password}"\n`);
            const service = await cluster.kube.get<{ spec: { clusterIP: string } }>("/api/v1/namespaces/dso/services/registry-tls");
            for (const node of cluster.nodes) relays.push(startNodeRelay(node.host, service!.spec.clusterIP));
            serviceIp = service!.spec.clusterIP;
            await until(
                "the registry's front on the node's 443",
                async () =>
                    onNode("curl", [
                        "-s",
                        "-o",
                        "/dev/null",
                        "-w",
                        "%{http_code}",
                        "--max-time",
                        "5",
                        "--cacert",
                        CA_FILE,
                        `https://${REGISTRY}/v2/`,
                    ]).stdout === "401",
            );
            prefix = (await ws.output(STACK, "imagePrefix")) as string;
        },
        20 * 60_000,
    );

    it("an upload whose start, chunks and commit land on three different pods completes, and every pod serves the image whole", async () => {
        const ips = (await registryPods()).map((p) => p.status.podIP as string);
        expect(ips).toHaveLength(3);
        const repository = `${prefix.slice(REGISTRY.length + 1)}/spread`;
        const layer = randomBytes(3 * 1024 * 1024 + 17);
        const layerDigest = sha256(layer);
        const chunks = [layer.subarray(0, 1024 * 1024), layer.subarray(1024 * 1024, 2 * 1024 * 1024), layer.subarray(2 * 1024 * 1024)];

        // Started on the first pod.
        const started = curlPod(ips[0]!, [
            "-X",
            "POST",
            "-D",
            "-",
            "-o",
            "/dev/null",
            `https://${REGISTRY}/v2/${repository}/blobs/uploads/`,
        ]);
        expect(status(started.stdout), started.stdout + started.stderr).toBe(202);
        let location = uploadUrl(header(started.stdout, "Location"));
        // A chunk on each pod in turn.
        let offset = 0;
        for (const [i, chunk] of chunks.entries()) {
            const file = scratchFile(`chunk-${i}`, chunk);
            const patched = curlPod(ips[i]!, [
                "-X",
                "PATCH",
                "-D",
                "-",
                "-o",
                "/dev/null",
                "-H",
                "Content-Type: application/octet-stream",
                "-H",
                `Content-Range: ${offset}-${offset + chunk.length - 1}`,
                "--data-binary",
                `@${file}`,
                location,
            ]);
            expect([i, status(patched.stdout)], patched.stdout + patched.stderr).toEqual([i, 202]);
            offset += chunk.length;
            expect(header(patched.stdout, "Range")).toBe(`0-${offset - 1}`);
            location = uploadUrl(header(patched.stdout, "Location"));
        }
        // Committed on the last.
        const committed = curlPod(ips[2]!, [
            "-X",
            "PUT",
            "-D",
            "-",
            "-o",
            "/dev/null",
            `${location}${location.includes("?") ? "&" : "?"}digest=${layerDigest}`,
        ]);
        expect(status(committed.stdout), committed.stdout + committed.stderr).toBe(201);

        // The config blob in one request on the second pod, the manifest on the third.
        const config = Buffer.from(
            JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [layerDigest] } }),
        );
        const configDigest = sha256(config);
        const configFile = scratchFile("config.json", config);
        const monolithic = curlPod(ips[1]!, [
            "-X",
            "POST",
            "-D",
            "-",
            "-o",
            "/dev/null",
            `https://${REGISTRY}/v2/${repository}/blobs/uploads/`,
        ]);
        const configLocation = uploadUrl(header(monolithic.stdout, "Location"));
        const configPut = curlPod(ips[1]!, [
            "-X",
            "PUT",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            `@${configFile}`,
            `${configLocation}${configLocation.includes("?") ? "&" : "?"}digest=${configDigest}`,
        ]);
        expect(status(configPut.stdout), configPut.stdout + configPut.stderr).toBe(201);
        const manifest = Buffer.from(
            JSON.stringify({
                schemaVersion: 2,
                mediaType: "application/vnd.oci.image.manifest.v1+json",
                config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length },
                layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layerDigest, size: layer.length }],
            }),
        );
        const manifestFile = scratchFile("manifest.json", manifest);
        const manifestPut = curlPod(ips[2]!, [
            "-X",
            "PUT",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-H",
            "Content-Type: application/vnd.oci.image.manifest.v1+json",
            "--data-binary",
            `@${manifestFile}`,
            `https://${REGISTRY}/v2/${repository}/manifests/1`,
        ]);
        expect(status(manifestPut.stdout), manifestPut.stdout + manifestPut.stderr).toBe(201);

        // Every pod, anonymously: the same manifest digest, and the layer's bytes.
        for (const ip of ips) {
            const got = curlPod(
                ip,
                [
                    "-D",
                    "-",
                    "-o",
                    path.join(scratch, `manifest-from-${ip}`),
                    "-H",
                    "Accept: application/vnd.oci.image.manifest.v1+json",
                    `https://${REGISTRY}/v2/${repository}/manifests/1`,
                ],
                false,
            );
            expect([ip, status(got.stdout)], got.stdout + got.stderr).toEqual([ip, 200]);
            expect([ip, header(got.stdout, "Docker-Content-Digest")]).toEqual([ip, sha256(manifest)]);
            const blob = path.join(scratch, `layer-from-${ip}`);
            const fetched = curlPod(
                ip,
                ["-L", "-o", blob, "-w", "%{http_code}", `https://${REGISTRY}/v2/${repository}/blobs/${layerDigest}`],
                false,
            );
            expect([ip, fetched.stdout], fetched.stderr).toEqual([ip, "200"]);
            expect([ip, sha256(readFileSync(blob))]).toEqual([ip, layerDigest]);
        }
    });

    it(
        "an image pushed with skopeo through the Service runs as a pod on each node: each kubelet pulled it from the replicas",
        async () => {
            const image = `${prefix}/hello:1`;
            const pushed = pushFromNode(cluster, scratch, image);
            expect(pushed.code, pushed.stderr).toBe(0);
            for (const [i, node] of cluster.nodes.entries()) {
                const pod = await runPodOfImage(cluster, `hello-${i + 1}`, image, 180_000, node);
                expect(pod.log, node.name).toContain("payload");
                expect(pod.nodeImages, node.name).toContain(image);
            }
        },
        5 * 60_000,
    );

    it(
        "an `up` that changes the pod template (an annotation) and Distribution's config while skopeo pushes and a probe pulls without pause: nothing fails, `up` returns once every pod is new and available, and every push pulls back whole",
        async () => {
            const what = "rollout";
            const before = new Set((await registryPods()).map((p) => p.metadata.uid));
            writeStackValues(ws, STACK, rolled(replicaStackValues()));
            const probe = startNodeProbe(
                cluster,
                scratch,
                label(what),
                `https://${REGISTRY}/v2/${prefix.slice(REGISTRY.length + 1)}/hello/manifests/1`,
                CA_FILE,
            );
            let atReturn: { d: Deployment | undefined; pods: Pod[] } = { d: undefined, pods: [] };
            let pushes: Push[] = [];
            const loop = loopOfNode();
            try {
                await until("the probe answered before the rollout", async () => probe.probes().some((p) => p.code === "200"), 60_000);
                ({ pushes } = await loop.during(label(what), async () => {
                    await up(what);
                    atReturn = { d: await deployment(), pods: await registryPods() };
                }));
            } finally {
                await probe.stop();
            }
            const { failed, windowMs } = unanswered(probe.probes());
            console.log(
                `rollout of ${REPLICAS} replicas (${what}): ${probe.probes().length} probes, ${failed.length} unanswered over ${windowMs} ms; ${pushes.length} pushes, ${pushes.filter((p) => p.code !== 0).length} failed`,
            );
            expect(failed, JSON.stringify(failed)).toEqual([]);
            expect(pushes.filter((p) => p.code !== 0).map((p) => p.out)).toEqual([]);
            expect(pushes.length).toBeGreaterThan(1);
            // At `up`'s return: every pod of the new template, available; none of the old ones.
            expect(atReturn.d?.status).toMatchObject({
                observedGeneration: atReturn.d?.metadata.generation,
                replicas: REPLICAS,
                updatedReplicas: REPLICAS,
                availableReplicas: REPLICAS,
            });
            const live = atReturn.pods.filter((p) => !p.metadata.deletionTimestamp);
            expect(live.map((p) => [before.has(p.metadata.uid), ready(p)])).toEqual(Array(REPLICAS).fill([false, true]));
            expectLandedPullBackWhole(loop, pushes, path.join(scratch, `pulled-${label(what)}`), pullOnNode);
        },
        25 * 60_000,
    );

    it(
        "the pods a push streams through deleted under it, gracefully and then forcibly: the push lands (or CI's retry of the step does, on another pod) and pulls back whole",
        async () => {
            // The node's loopback (skopeo to the relay) slowed, so that a push of 48 MiB takes seconds.
            const slowed = onNode("tc", [
                "qdisc",
                "add",
                "dev",
                "lo",
                "root",
                "tbf",
                "rate",
                "64mbit",
                // Above the loopback's 64 KiB packets, or they would never pass.
                "burst",
                "1mb",
                "limit",
                "8mb",
            ]);
            expect(slowed.code, slowed.stderr).toBe(0);
            try {
                for (const how of ["gracefully", "forcibly"] as const) {
                    const repository = `${prefix.slice(REGISTRY.length + 1)}/deleted-${how}`;
                    const ref = `${REGISTRY}/${repository}:1`;
                    const archives = nodeImageArchives(scratch);
                    payloadImage(archives, ref, { payloadBytes: 48 * 1024 * 1024 });
                    const out = path.join(scratch, `push-${how}.out`);
                    const pushing = cluster.node.startServer("sh", [
                        "-c",
                        'skopeo copy --retry-times 3 --dest-cert-dir "$1" --dest-authfile "$2" "$3" "$4" > "$5" 2>&1; echo "exit $?" >> "$5"',
                        "push",
                        NODE_CERT_DIR,
                        NODE_AUTH_FILE,
                        `oci-archive:${ociArchivePath(archives, ref)}`,
                        `docker://${ref}`,
                        out,
                    ]);
                    try {
                        let serving: Pod | undefined;
                        await until(
                            `the pod taking the push (${how})`,
                            async () => {
                                serving = await podServingUpload(repository);
                                return serving !== undefined;
                            },
                            60_000,
                        );
                        const pushedSoFar = readFileSync(out, "utf8");
                        expect(pushedSoFar, "the push ended before its pod was deleted").not.toMatch(/^exit /m);
                        // Every pod the node's relay holds a connection to (the node's conntrack table): the push's
                        // connections, the one streaming the layer among them, whichever pod took it.
                        const pods = await registryPods();
                        const holding = relayPodIps();
                        // (The pod that logged the upload's start need not be among them: skopeo may stream on another connection.)
                        expect(holding.length, `the relay's connections, the upload started on ${serving?.metadata.name}`).toBeGreaterThan(
                            0,
                        );
                        const victims = pods.filter((p) => holding.includes(p.status.podIP as string)).map((p) => p.metadata.name);
                        const deleted = kubectl(
                            "delete",
                            "pod",
                            "-n",
                            "dso",
                            ...victims,
                            "--wait=false",
                            ...(how === "forcibly" ? ["--grace-period=0", "--force"] : []),
                        );
                        expect(deleted.code, deleted.stderr).toBe(0);
                        console.log(`deleted ${how} while the push streamed: ${victims.join(", ")} of ${pods.length}`);
                        await until(`the push's end (${how})`, async () => /^exit /m.test(readFileSync(out, "utf8")), 5 * 60_000);
                    } finally {
                        await pushing.stop();
                    }
                    const log = readFileSync(out, "utf8");
                    console.log(`push through a pod deleted ${how}:\n${log}`);
                    if (how === "gracefully") {
                        // The pod finished what it had taken and handed the client over: the push landed at once.
                        expect(log).toMatch(/^exit 0$/m);
                    } else if (!/^exit 0$/m.test(log)) {
                        // The pod died under the upload: the push fails, and CI's retry of the step lands it on another pod.
                        const again = cluster.node.run("skopeo", [
                            "copy",
                            "--dest-cert-dir",
                            NODE_CERT_DIR,
                            "--dest-authfile",
                            NODE_AUTH_FILE,
                            `oci-archive:${ociArchivePath(archives, ref)}`,
                            `docker://${ref}`,
                        ]);
                        expect(again.code, again.stderr).toBe(0);
                    }
                    const pulled = pullOnNode(`docker://${ref}`, `oci:${path.join(scratch, `pulled-deleted-${how}`)}:1`);
                    expect(pulled.code, pulled.stderr).toBe(0);
                }
            } finally {
                onNode("tc", ["qdisc", "del", "dev", "lo", "root"]);
            }
            await until(
                "three pods ready again",
                async () => (await registryPods()).filter((p) => !p.metadata.deletionTimestamp && ready(p)).length === REPLICAS,
            );
        },
        20 * 60_000,
    );

    it(
        "garbage collection with three replicas (the GC Job the CronJob makes, its window rolling every replica read-only and back) while skopeo pushes: every push lands or is refused by the window, and nothing that landed is lost",
        async () => {
            writeStackValues(ws, STACK, withGc(rolled(replicaStackValues())));
            await up("garbage collection on");
            const rollout = kubectl("rollout", "status", "-n", "dso", "deployment/registry", "--timeout=300s");
            expect(rollout.code, rollout.stdout + rollout.stderr).toBe(0);
            const loop = loopOfNode();
            type Job = { status: { succeeded?: number; failed?: number } };
            const { pushes } = await loop.during("gc", async () => {
                const created = kubectl("create", "job", "-n", "dso", "--from=cronjob/registry-gc", "gc-now");
                expect(created.code, created.stderr).toBe(0);
                await until(
                    "the GC Job's end",
                    async () => {
                        const s = (await cluster.kube.get<Job>("/apis/batch/v1/namespaces/dso/jobs/gc-now"))?.status;
                        return (s?.succeeded ?? 0) + (s?.failed ?? 0) > 0;
                    },
                    10 * 60_000,
                );
                // Pushes after the window, too: the loop keeps going for a while.
                await new Promise((r) => setTimeout(r, 20_000));
            });
            const logs = kubectl("logs", "-n", "dso", "job/gc-now");
            // The job's own check ran after the collection: every tagged image served whole, those pushed through
            // the deleted pods among them.
            expect(logs.stdout).toContain("checking every tagged image");
            expect(
                (await cluster.kube.get<Job>("/apis/batch/v1/namespaces/dso/jobs/gc-now"))?.status.succeeded,
                logs.stdout + logs.stderr,
            ).toBe(1);
            const refused = pushes.filter((p) => p.code !== 0);
            console.log(`garbage collection with ${REPLICAS} replicas: ${pushes.length} pushes, ${refused.length} refused in the window`);
            for (const p of refused) expect(p.out).toMatch(/read-only|maintenance|\b503\b|\b405\b|unavailable/i);
            expectLandedPullBackWhole(loop, pushes, path.join(scratch, "pulled-gc"), pullOnNode);
            expect(pushes.at(-1)?.code).toBe(0);
        },
        25 * 60_000,
    );

    it(
        "draining the node that holds two pods honours the disruption budget: one pod is evicted at a time, each replacement serves on the other node before the next goes, the drain completes, and pulls go on",
        async () => {
            const before = await registryPods();
            const drained = cluster.nodes
                .map((n) => ({ node: n, pods: before.filter((p) => p.spec.nodeName === n.name) }))
                .sort((a, b) => b.pods.length - a.pods.length)[0] as { node: ClusterNode; pods: Pod[] };
            const other = cluster.nodes.find((n) => n.name !== drained.node.name) as ClusterNode;
            expect(drained.pods).toHaveLength(2);
            const probe = startNodeProbe(
                cluster,
                scratch,
                "drain",
                `https://${REGISTRY}/v2/${prefix.slice(REGISTRY.length + 1)}/hello/manifests/1`,
                CA_FILE,
            );
            let drain: ReturnType<typeof kubectl>;
            try {
                await until("the probe answered before the drain", async () => probe.probes().some((p) => p.code === "200"), 60_000);
                drain = kubectl(
                    "drain",
                    drained.node.name,
                    "--pod-selector=app.kubernetes.io/component=registry,app.kubernetes.io/name=registry",
                    "--ignore-daemonsets",
                    "--delete-emptydir-data",
                    "--timeout=300s",
                );
                // A few seconds more of the probe after the last pod went.
                await new Promise((r) => setTimeout(r, 3000));
            } finally {
                const uncordoned = kubectl("uncordon", drained.node.name);
                expect(uncordoned.code, uncordoned.stderr).toBe(0);
                await probe.stop();
            }
            console.log(`drain of ${drained.node.name}: ${drain.stdout}${drain.stderr}`);
            expect(drain.code, drain.stdout + drain.stderr).toBe(0);
            // Both pods evicted; the second eviction, asked for while the first pod's replacement was not yet
            // serving, refused by the budget and retried.
            for (const pod of drained.pods) expect(drain.stdout + drain.stderr).toContain(`evicting pod dso/${pod.metadata.name}`);
            expect(drain.stdout + drain.stderr).toMatch(/disruption budget/i);
            // Every pod serves on the other node once the last replacement is ready.
            const serving = async () => (await registryPods()).filter((p) => !p.metadata.deletionTimestamp && ready(p));
            await until("three pods ready on the other node", async () => (await serving()).length === REPLICAS);
            expect((await serving()).map((p) => p.spec.nodeName)).toEqual(Array(REPLICAS).fill(other.name));
            const { failed, windowMs } = unanswered(probe.probes());
            console.log(`drain: ${probe.probes().length} probes, ${failed.length} unanswered over ${windowMs} ms`);
            expect(failed, JSON.stringify(failed)).toEqual([]);
        },
        10 * 60_000,
    );

    it(
        "a second `up` plans nothing, and `destroy` ends every pod of the stack and leaves the bucket's images",
        async () => {
            const again = await ws.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK]);
            expect(again.code, again.stdout.slice(-10_000) + again.stderr).toBe(0);
            const destroyed = await ws.pulumi(["destroy", "--yes", "-s", STACK], { timeoutMs: 15 * 60_000 });
            expect(destroyed.code, destroyed.stdout.slice(-10_000) + destroyed.stderr).toBe(0);
            await until("no pod of the stack left", async () => (await registryPods()).length === 0);
            const keys = await s3.listKeys(BUCKET, "registry/docker/registry/v2/repositories/");
            expect(keys.some((k) => k.includes("/hello/_manifests/tags/1/"))).toBe(true);
        },
        20 * 60_000,
    );
});

/** A label for a repository or a file from a test's words. */
const label = (words: string) => words.toLowerCase().replace(/\W+/g, "-");

/** The rollout's change: a pod annotation and a field of Distribution's config. */
function rolled(values: Record<string, unknown>): Record<string, unknown> {
    return {
        ...values,
        inCluster: { ...(values.inCluster as object), pod: { annotations: { rolled: "once" } } },
        registry: { ...(values.registry as object), distributionConfig: { log: { fields: { rolled: "once" } } } },
    };
}

/** Garbage collection on. */
function withGc(values: Record<string, unknown>): Record<string, unknown> {
    const registry = values.registry as Record<string, unknown>;
    return { ...values, registry: { ...registry, maintenance: { garbageCollection: { enabled: true } } } };
}

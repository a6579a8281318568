/**
 * An `up` that rolls the in-cluster registry's pod returns only once the new pod serves: the local stack under
 * the real engine on a node whose pods run (test/support/kubeNode.ts), its Deployment `Recreate` (the data
 * claim), so no pod serves between the old pod's stop and the new pod's readiness. A probe on the node asks the
 * registry for a pushed image's manifest, anonymously and by the registry's name, every 200 ms while `up` rolls
 * the pod (a new pod annotation, `inCluster.pod.annotations`); when `up` returns, the Deployment's status counts
 * the current template's pod available and the only registry pod is the new one, ready; every probe begun after
 * that is answered. components/inCluster/deployment.ts (`rolloutWait`) says what `up` waits for and why the
 * provider's own Deployment await is not enough.
 *
 * What stands in, as in localPods.test.ts: microk8s's ingress controller, by a TCP relay on the node's
 * 127.0.0.1:443 to the `registry-tls` Service (kube-proxy's rules take it to the pod's Caddy).
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeJenkins, startFakeJenkins } from "../support/fakeJenkins";
import type { RealCluster } from "../support/kubeNode";
import { LOCAL_REGISTRY, NODE_AUTH_FILE, NODE_CERT_DIR, pushFromNode, startLocalStackNode } from "../support/localNode";
import { openWorkspace, PROJECT_DIR, type Workspace } from "../support/pulumiEngine";
import { privateDir, removeDir, type ServerProcess } from "../support/serverProcess";

const STACK = "local";
const REGISTRY = LOCAL_REGISTRY;
const jenkinsToken = `token-${randomBytes(12).toString("hex")}`;

let cluster: RealCluster;
let jenkins: FakeJenkins;
let ws: Workspace;
let relay: ServerProcess | undefined;
let scratch: string;

type Pod = { metadata: { uid: string }; status: { conditions?: { type: string; status: string }[] } };
type Deployment = {
    metadata: { generation: number };
    status: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; availableReplicas?: number };
};

const registryPods = async () =>
    (
        await cluster.kube.get<{ items: Pod[] }>(
            `/api/v1/namespaces/dso/pods?labelSelector=${encodeURIComponent("app.kubernetes.io/component=registry,app.kubernetes.io/name=registry")}`,
        )
    )?.items ?? [];
const ready = (pod: Pod) => pod.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

/** Waits until `check` holds, polling; fails with `what` and the node's logs. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 180_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s\n${cluster.logs(15)}`);
        await new Promise((r) => setTimeout(r, 1000));
    }
}

/**
 * The probe, a shell script run on the node: until the stop file exists, a GET of `url` (accepting OCI and
 * Docker manifests) with the stack's CA, at most 2 s each, 200 ms apart; each probe appends the times it began
 * and ended (ms since the epoch) and the HTTP status (000: no answer) to the results file.
 */
const PROBE = `#!/bin/sh
set -u
url=$1 ca=$2 results=$3 stop=$4
while [ ! -e "$stop" ]; do
  began=$(date +%s%3N)
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$ca" \\
    -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' "$url")
  echo "$began $(date +%s%3N) $code" >> "$results"
  sleep 0.2
done
`;

interface Probe {
    readonly began: number;
    readonly ended: number;
    readonly code: string;
}

beforeAll(async () => {
    scratch = privateDir("registry-rollout");
    cluster = await startLocalStackNode(8);
    jenkins = await startFakeJenkins({ user: "admin", apiToken: jenkinsToken });
    ws = openWorkspace({ stackFiles: [STACK], env: { KUBECONFIG: cluster.kube.kubeconfig } });
}, 10 * 60_000);

afterAll(async () => {
    await relay?.stop();
    ws?.close();
    await jenkins?.close();
    await cluster?.stop();
    if (scratch) removeDir(scratch);
});

describe("an `up` that rolls the in-cluster registry's pod, real engine, on a node whose pods run", () => {
    it(
        "the stack is up and an image pushed through the registry's TLS front",
        async () => {
            await ws.pulumiOk(["stack", "init", STACK]);
            await ws.pulumiOk(["config", "set", "--path", "dso-registry:jenkins.url", jenkins.url, "-s", STACK]);
            await ws.pulumiOk(["config", "set", "--secret", "dso-registry:jenkinsApiToken", "-s", STACK], { input: jenkinsToken });
            const up = await ws.pulumi(["up", "--yes", "--skip-preview", "-s", STACK], { timeoutMs: 15 * 60_000 });
            expect(up.code, `${up.stdout.slice(-10_000)}${up.stderr}\n${cluster.logs(20)}`).toBe(0);

            const ca = (await ws.output(STACK, "caCertPem")) as string;
            cluster.node.run("sh", ["-c", `mkdir -p ${NODE_CERT_DIR} && cat > ${NODE_CERT_DIR}/ca.crt`], { input: ca });
            const service = await cluster.kube.get<{ spec: { clusterIP: string } }>("/api/v1/namespaces/dso/services/registry-tls");
            relay = cluster.node.startServer(process.execPath, [
                path.join(PROJECT_DIR, "node_modules/tsx/dist/cli.mjs"),
                path.join(PROJECT_DIR, "test/support/serviceProxyMain.ts"),
                "127.0.0.1",
                "443",
                service!.spec.clusterIP,
                "443",
            ]);
            const push = (await ws.output(STACK, "pushCredentials")) as { username: string; password: string };
            const auth = Buffer.from(`${push.username}:${push.password}`).toString("base64");
            cluster.node.run("sh", ["-c", `umask 077 && cat > ${NODE_AUTH_FILE}`], {
                input: JSON.stringify({ auths: { [REGISTRY]: { auth } } }),
            });
            const prefix = (await ws.output(STACK, "imagePrefix")) as string;
            await until(
                "a push through the registry's front",
                async () => pushFromNode(cluster, scratch, `${prefix}/rollout:1`).code === 0,
            );
        },
        20 * 60_000,
    );

    it(
        "returns once the new pod serves: the Deployment's status counts it available, the old pod is gone, and every probe begun after `up` returned is answered",
        async () => {
            const [oldPod] = await registryPods();
            expect(oldPod).toBeDefined();
            const prefix = (await ws.output(STACK, "imagePrefix")) as string;
            const manifest = `https://${REGISTRY}/v2/${prefix.slice(REGISTRY.length + 1)}/rollout/manifests/1`;
            const script = path.join(scratch, "probe.sh");
            const results = path.join(scratch, "probes");
            const stop = path.join(scratch, "probes-stop");
            writeFileSync(script, PROBE, { mode: 0o755 });
            const probes = (): Probe[] =>
                existsSync(results)
                    ? readFileSync(results, "utf8")
                          .trim()
                          .split("\n")
                          .map((line) => line.split(" "))
                          .map(([began, ended, code]) => ({ began: Number(began), ended: Number(ended), code: code ?? "" }))
                    : [];
            const probe = cluster.node.startServer("sh", [script, manifest, `${NODE_CERT_DIR}/ca.crt`, results, stop]);
            let upEnded = 0;
            let atReturn: { deployment: Deployment | undefined; pods: Pod[] } = { deployment: undefined, pods: [] };
            try {
                await until("the probe answered before the rollout", async () => probes().some((p) => p.code === "200"), 60_000);
                await ws.pulumiOk(["config", "set", "--path", "dso-registry:inCluster.pod.annotations.rolled", "once", "-s", STACK]);
                const up = await ws.pulumi(["up", "--yes", "--skip-preview", "-s", STACK], { timeoutMs: 15 * 60_000 });
                upEnded = Date.now();
                atReturn = {
                    deployment: await cluster.kube.get<Deployment>("/apis/apps/v1/namespaces/dso/deployments/registry"),
                    pods: await registryPods(),
                };
                expect(up.code, `${up.stdout.slice(-10_000)}${up.stderr}\n${cluster.logs(20)}`).toBe(0);
                // Probes for 5 s after `up` returned.
                await until("5 s of probes after `up`", async () => probes().some((p) => p.began > upEnded + 5000), 60_000);
            } finally {
                writeFileSync(stop, "");
                await probe.stop();
            }

            // When `up` returned: the controller had observed the new spec, its one pod of the current template was
            // available and no other pod was counted; that pod was the only registry pod, a new one, ready.
            const { deployment, pods } = atReturn;
            expect({ ...deployment?.status, generation: deployment?.metadata.generation }).toMatchObject({
                observedGeneration: deployment?.metadata.generation,
                replicas: 1,
                updatedReplicas: 1,
                availableReplicas: 1,
            });
            expect(pods.map((p) => [p.metadata.uid === oldPod!.metadata.uid, ready(p)])).toEqual([[false, true]]);

            // What the probe saw: the rollout's window without answers came before `up` returned, none after.
            const all = probes();
            const summary = all.map((p) => `${p.began - upEnded} ms: ${p.code}`).join("\n");
            expect(
                all.some((p) => p.began < upEnded && p.code !== "200"),
                `the rollout left a window without answers while \`up\` ran\n${summary}`,
            ).toBe(true);
            expect(
                all.filter((p) => p.began >= upEnded && p.code !== "200"),
                summary,
            ).toEqual([]);
            const failed = all.filter((p) => p.code !== "200");
            console.log(
                `rollout: ${failed.length} probes unanswered, the last begun ${upEnded - Math.max(...failed.map((p) => p.began))} ms before \`up\` returned`,
            );
        },
        20 * 60_000,
    );
});

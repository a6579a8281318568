/**
 * The `local` (microk8s) stack under the real Pulumi engine on a node whose pods really run: a kubelet with
 * containerd, runc and CNI (test/support/kubeNode.ts), not kwok. `pulumi up` waits for the registry's
 * Deployment as the kubelet makes it ready by its own probes; then what only a kubelet decides is checked:
 *
 * - every container of the registry pod runs as the pod's security context says (user and group 65532, no
 *   capability but Caddy's NET_BIND_SERVICE, a read-only root file system), and its claim, a directory of the
 *   node made as microk8s's hostpath provisioner makes it, is written as that user;
 * - pods resolve the registry's name to its TLS Service through the cluster's CoreDNS, by the block `up` added
 *   to the Corefile, and reach the front by that name and by registry.dso.svc;
 * - the node-trust DaemonSet's pod wrote the registry's hosts.toml and CA where the node's containerd reads
 *   them (microk8s's certs.d) and the registry's name into the node's /etc/hosts;
 * - an image pushed with the push account through the registry's TLS front (the sidecar's Caddy, by the name
 *   and CA the stack gives) lands on the claim, and a pod whose image is that one, by the name
 *   `stack output imagePrefix` gives, runs: the kubelet's containerd pulled it through the node's trust;
 * - the registry's pod deleted, its replacement serves the same image;
 * - an `up` that rolls the registry's pod (a new pod annotation) returns only once the new pod serves: a probe on
 *   the node asks for a manifest every 200 ms, the Deployment's status at `up`'s return counts the new pod
 *   available, and every probe begun after `up` returned is answered (components/inCluster/deployment.ts,
 *   `rolloutWait`, says why the provider's own Deployment await is not enough with `Recreate`);
 * - garbage collection turned on: a Job made from the CronJob runs to completion in a pod, with its
 *   ServiceAccount's rights (kubectl exec into the registry's pod through the API server and the kubelet);
 *   the registry serves the image pushed before and takes a push after it;
 * - backups turned on (to a claim of their own): the pod gains its restic container, a Job made from the
 *   CronJob runs both passes and retention in it, and the repository, read on the node with the password
 *   set as a secret, holds one complete snapshot with the image pushed before;
 * - a rotation (`containerRegistry.rotation` bumped as the runbook says) while skopeo pushes in a loop with
 *   the old password: pushes land until the old pod stops (the Deployment is `Recreate`), fail while no pod
 *   serves, and land again on the new pod, inside the rotation's overlap, never refused for their
 *   credential; the new password, read from Jenkins as the next build reads it, pushes; the overlap turned
 *   off (the runbook's cut for a leaked password), the old password is refused;
 * - `registry.tls.mode` switched to cert-manager once its controllers run: cert-manager issues the chain,
 *   the registry's pod serves cert-manager's certificate, the node-trust pod writes the new CA, and the
 *   kubelet pulls an image pushed after the switch;
 * - docs/runbooks.md's cluster commands, read from the page and run with kubectl as an operator runs them:
 *   Registry down's looks and its curl, Disk full's `du`, TLS renewal failed's probe and Secret lines and its
 *   restart, the GC and backup Jobs made by the page's commands and their logs read by its lines;
 * - monitoring (on by default) as a cluster's Prometheus sees it: Debian's Prometheus on the node scrapes the
 *   pods an annotation-driven pod job finds and the disk figures' job docs/monitoring.md gives, with the
 *   rules of the stack's ConfigMap; the kubelet has no stats of the hostPath claim, the pod's own figures
 *   stand in; the claim's directory made a 64 MiB file system and filled past refusePercent by real pushes,
 *   the guard refuses (507) and DsoRegistryUploadsRefusedDiskFull fires once from the pod's series; the
 *   registry scaled to nothing fires DsoRegistryMetricsAbsent for its Caddy and its disk figures, while the
 *   certificate probe's series and cert-manager's (its controller's metrics), still scraped, are not missing;
 * - a second `up` plans nothing, and `destroy` ends every pod of the stack.
 *
 * The stack runs with its pull-through cache for docker.io, whose upstream nothing here reaches (the node's
 * pods' traffic anywhere else is refused): `up` completes all the same, with the cache's pod ready, serving
 * what it holds read-only (its start script, docs/mirrors.md).
 *
 * What stands in: microk8s's ingress controller, which listens on each node's 443 and terminates TLS with the
 * registry's certificate. Here a TCP relay on the node's 127.0.0.1:443 passes connections to the `registry-tls`
 * Service (kube-proxy's rules take them to the sidecar's Caddy, which serves the same certificate for the same
 * name). An ingress controller of its own is another change (docs/engine.md). The images are built here
 * (no registry can be reached) under the names the stack pins; the upkeep jobs' `alpine/kubectl` is busybox
 * and the engine set's kubectl, the backup container's `restic/restic` busybox and Debian's restic.
 */
import { randomBytes, X509Certificate } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ABSENCE_FOR, ABSENCE_WINDOW } from "../../components/monitoring/alertRules";
import { BACKUP_TAG } from "../../components/upkeep/backup";
import { type CertManager, installCertManager } from "../support/certManager";
import { ociArchivePath } from "../support/dockerImages";
import { docsBlock } from "../support/docsBlocks";
import type { FakeJenkins } from "../support/fakeJenkins";
import type { RealCluster } from "../support/kubeNode";
import {
    LOCAL_REGISTRY,
    LOCAL_VOLUMES,
    MICROK8S_CERTS_D,
    nodeImageArchives,
    pushFromNode as pushImageFromNode,
    runPodOfImage,
    startLocalStackNode,
    startNodeRelay,
    writeNodeClientFiles,
} from "../support/localNode";
import { initLocalStack, LOCAL_STACK, localStackWorkspace, nodePushLoop } from "../support/localStackOnNode";
import { startNodeProbe, unanswered } from "../support/nodeProbe";
import { startPodDiscovery, withFileDiscovery } from "../support/podDiscovery";
import { engineSet, type Workspace } from "../support/pulumiEngine";
import { type Push, pushLoopSummary } from "../support/pushLoop";
import { durationSeconds, type RealPrometheus, startPrometheus } from "../support/realPrometheus";
import { fillPlaceholders, runbookCommand } from "../support/runbooks";
import { freePort, privateDir, removeDir, run, type ServerProcess } from "../support/serverProcess";

const STACK = LOCAL_STACK;
const REGISTRY = LOCAL_REGISTRY;
const VOLUMES = LOCAL_VOLUMES;
const VOLUME_COUNT = 8;
/** What skopeo prints when the registry refuses the push account's password. */
const CREDENTIAL_REFUSED = /unauthorized|authentication required|invalid username\/password|\b401\b/i;
const jenkinsToken = `token-${randomBytes(12).toString("hex")}`;

let cluster: RealCluster;
let jenkins: FakeJenkins;
let ws: Workspace;
let relay: ServerProcess | undefined;
let scratch: string;
let certManager: CertManager | undefined;
let prometheus: RealPrometheus | undefined;
let discovery: { stop(): void } | undefined;
/** Where cert-manager's controllers serve their metrics, once installed. */
let certManagerMetrics: string | undefined;
/** The node's directory of the registry's claim, once a small file system is mounted on it. */
let dataMount: string | undefined;

type Pod = {
    metadata: { name: string; uid: string; labels?: Record<string, string> };
    spec: { nodeName?: string; volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[] };
    status: {
        phase: string;
        podIP?: string;
        conditions?: { type: string; status: string }[];
        containerStatuses?: { name: string; ready: boolean; restartCount: number; containerID?: string; state: Record<string, unknown> }[];
    };
};

type Deployment = {
    metadata: { generation: number };
    status: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; availableReplicas?: number };
};

const kubectl = (...args: string[]) =>
    run(path.join(engineSet(), "bin/kubectl"), ["--kubeconfig", cluster.kube.kubeconfig, ...args], { input: "" });
const onNode = (command: string, args: readonly string[], input?: string) => cluster.node.run(command, args, { input });
/**
 * docs/runbooks.md's command of `section` that starts with `start` (placeholders filled), run as the operator
 * runs it: a shell line on this machine, with the engine set's kubectl and the cluster's kubeconfig.
 */
function runbookKubectl(section: string, start: string, values: Record<string, string> = {}): { code: number; out: string } {
    const line = fillPlaceholders(runbookCommand(section, start), values);
    const r = run("sh", ["-c", line], {
        input: "",
        env: { ...process.env, PATH: `${path.join(engineSet(), "bin")}:${process.env.PATH}`, KUBECONFIG: cluster.kube.kubeconfig },
    });
    return { code: r.code, out: `${r.stdout}${r.stderr}` };
}
/** The same, which must exit 0: its output. */
function runbookKubectlOk(section: string, start: string, values: Record<string, string> = {}): string {
    const r = runbookKubectl(section, start, values);
    expect(r.code, `${section}: ${start}…\n${r.out}`).toBe(0);
    return r.out;
}
const pods = async (namespace: string, selector: string) =>
    (await cluster.kube.get<{ items: Pod[] }>(`/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(selector)}`))
        ?.items ?? [];
const registryPods = () => pods("dso", "app.kubernetes.io/component=registry,app.kubernetes.io/name=registry");
const ready = (pod: Pod) => pod.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

/** Builds a new image `ref` and pushes it from the node with the push account and the stack's CA. */
const pushFromNode = (ref: string, payloadBytes?: number) => pushImageFromNode(cluster, scratch, ref, { payloadBytes });

/** What skopeo prints when nothing answered at all: kube-proxy not yet sending the Service to a new pod. */
const NO_ANSWER = /: EOF|TLS handshake timeout|connection refused|connection reset/;

/**
 * `attempt` (a skopeo run through the node's 443) once a pod answers: kube-proxy may take a moment to
 * send the Service's address to a new pod, so a connection cut or timed out is tried again (for at most a
 * minute); any answer is the result, judged by the caller.
 */
async function answered<T extends { readonly stderr: string }>(attempt: () => T): Promise<T> {
    let last = attempt();
    const deadline = Date.now() + 60_000;
    while (NO_ANSWER.test(last.stderr) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 2000));
        last = attempt();
    }
    return last;
}
const imageArchives = () => nodeImageArchives(scratch);

/** Waits until `check` holds, polling; fails with `what` and the node's logs. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 180_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s\n${cluster.logs(15)}`);
        await new Promise((r) => setTimeout(r, 1000));
    }
}

/** A Job made from CronJob `cronJob` of the stack's namespace by docs/runbooks.md's command (`create`), run to its end. */
async function runJobFromCronJob(
    cronJob: string,
    create: { readonly section: string; readonly start: string },
): Promise<{ name: string; succeeded: number | undefined; serviceAccountName: string | undefined; logs: string }> {
    const cronJobs = kubectl("get", "cronjobs", "-n", "dso", "-o", "name");
    expect(cronJobs.stdout.split("\n"), cronJobs.stderr).toContain(`cronjob.batch/${cronJob}`);
    // The registry's rollout complete first: a Job started while the Deployment still rolls may exec into a
    // pod on its way out (the GC job failed so once, on a loaded machine).
    const rollout = kubectl("rollout", "status", "-n", "dso", "deployment/registry", "--timeout=300s");
    expect(rollout.code, rollout.stdout + rollout.stderr).toBe(0);
    // The Job made as the runbook makes it: its command, read from the page; the Job's name is its last word.
    const name = runbookCommand(create.section, create.start).split(" ").at(-1) as string;
    runbookKubectlOk(create.section, create.start);
    type Job = { status: { succeeded?: number; failed?: number } };
    const job = () => cluster.kube.get<Job>(`/apis/batch/v1/namespaces/dso/jobs/${name}`);
    await until(`Job ${name} finished`, async () => {
        const status = (await job())?.status;
        return (status?.succeeded ?? 0) + (status?.failed ?? 0) > 0;
    });
    const logs = kubectl("logs", "-n", "dso", `job/${name}`);
    const [pod] = await pods("dso", `job-name=${name}`);
    const succeeded = (await job())?.status.succeeded;
    // On failure, what the namespace's pods and events were, for the message.
    const context =
        succeeded === 1
            ? ""
            : `\n--- pods:\n${kubectl("get", "pods", "-n", "dso", "-o", "wide").stdout}--- events:\n${kubectl("get", "events", "-n", "dso", "--sort-by=.lastTimestamp").stdout.split("\n").slice(-40).join("\n")}`;
    return {
        name,
        succeeded,
        serviceAccountName: (pod as unknown as { spec: { serviceAccountName?: string } } | undefined)?.spec.serviceAccountName,
        logs: `${logs.stdout}${logs.stderr}${context}`,
    };
}

/** The node's process of a container, from its containerd task. */
function containerProcess(containerId: string): { uid: string; gid: string; capEff: string; groups: string } {
    const id = containerId.replace(/^containerd:\/\//, "");
    const tasks = onNode("ctr", ["-n", "k8s.io", "tasks", "ls"]);
    const pid = tasks.stdout
        .split("\n")
        .find((l) => l.startsWith(id))
        ?.split(/\s+/)[1];
    expect(pid, `task of ${id}:\n${tasks.stdout}`).toMatch(/^\d+$/);
    const status = onNode("cat", [`/proc/${pid}/status`]).stdout;
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, "m").exec(status)?.[1]?.trim() ?? "";
    return { uid: field("Uid"), gid: field("Gid"), capEff: field("CapEff"), groups: field("Groups") };
}

beforeAll(async () => {
    scratch = privateDir("local-pods");
    cluster = await startLocalStackNode(VOLUME_COUNT);
    ({ jenkins, ws } = await localStackWorkspace(cluster, jenkinsToken));
}, 10 * 60_000);

afterAll(async () => {
    discovery?.stop();
    await prometheus?.stop();
    // Lazily: the registry's pod may still hold it until the node stops.
    if (dataMount) onNode("umount", ["-l", dataMount]);
    await relay?.stop();
    await certManager?.stop();
    ws?.close();
    await jenkins?.close();
    await cluster?.stop();
    if (scratch) removeDir(scratch);
});

describe("local stack, real engine, on a node whose pods run", () => {
    it(
        "`up` completes once the kubelet has the registry's pods ready by their own probes",
        async () => {
            await initLocalStack(ws, jenkins, jenkinsToken);
            const up = await ws.pulumi(["up", "--yes", "-s", STACK], { timeoutMs: 15 * 60_000 });
            expect(up.code, `${up.stdout.slice(-10_000)}${up.stderr}\n${cluster.logs(20)}`).toBe(0);
            // The docker.io cache, whose upstream nothing here reaches: ready by its own probe, serving read-only.
            const caches = await pods("dso", "app.kubernetes.io/name=registry-mirror");
            expect(caches.map((c) => [c.metadata.labels?.["app.kubernetes.io/instance"], ready(c)])).toEqual([
                ["registry-mirror-docker-io", true],
            ]);
            expect(kubectl("logs", "-n", "dso", caches[0]!.metadata.name).stdout).toContain(
                "does not answer: serving what this cache holds, read-only",
            );
            const [pod, ...others] = await registryPods();
            expect(others).toEqual([]);
            expect(pod?.spec.nodeName).toBe(cluster.nodeName);
            expect(ready(pod!)).toBe(true);
            expect(pod?.status.containerStatuses?.map((c) => [c.name, c.ready, c.restartCount]).sort()).toEqual([
                ["caddy", true, 0],
                // The disk guard (registry.diskGuard, on by default): the registry's image, its check on the claim.
                ["disk-guard", true, 0],
                ["maven", true, 0],
                ["registry", true, 0],
            ]);
            expect(pod?.status.podIP).toMatch(/^198\.19\.254\.\d+$/);
            // The certificate probe runs too.
            const probes = await pods("dso", "app.kubernetes.io/component=certificate-probe");
            expect(probes.map(ready)).toEqual([true]);
        },
        20 * 60_000,
    );

    it("the registry's containers run as the security context says, on a read-only root, the claim writable", async () => {
        const [pod] = await registryPods();
        for (const container of pod!.status.containerStatuses!) {
            const proc = containerProcess(container.containerID!);
            // Real, effective, saved and file-system ids: all the pod's user and group.
            expect([container.name, proc.uid, proc.gid]).toEqual([
                container.name,
                "65532\t65532\t65532\t65532",
                "65532\t65532\t65532\t65532",
            ]);
            // The pod's fsGroup among its groups.
            expect([container.name, proc.groups.split(/\s+/).includes("65532")]).toEqual([container.name, true]);
            // No capability at all, but Caddy's NET_BIND_SERVICE (bit 10), which only lets it bind low ports.
            expect([container.name, proc.capEff]).toEqual([
                container.name,
                container.name === "caddy" ? "0000000000000400" : "0000000000000000",
            ]);
        }
        const exec = (container: string, script: string) =>
            kubectl("exec", "-n", "dso", pod!.metadata.name, "-c", container, "--", "sh", "-c", script);
        const root = exec("registry", "touch /written-by-test");
        expect(root.code).not.toBe(0);
        expect(root.stderr).toMatch(/Read-only file system/);
        const claim = exec(
            "registry",
            "touch /var/lib/registry/.written-by-test && ls -ln /var/lib/registry/.written-by-test && rm /var/lib/registry/.written-by-test",
        );
        expect(claim.code, claim.stderr).toBe(0);
        expect(claim.stdout).toMatch(/ 65532 +65532 /);
        // Caddy reads the registry's data read-only.
        expect(exec("caddy", "touch /var/lib/registry/x").stderr).toMatch(/Read-only file system/);
    });

    it("the node-trust DaemonSet's pod wrote the registry's hosts.toml and CA where the node's containerd reads them, and its name into /etc/hosts", async () => {
        const trust = await pods("dso-node-trust", "app.kubernetes.io/name=dso-node-trust");
        expect(trust.map((p) => [p.spec.nodeName, ready(p)])).toEqual([[cluster.nodeName, true]]);
        const hostsToml = cluster.node.readFile(`${MICROK8S_CERTS_D}/${REGISTRY}/hosts.toml`);
        expect(hostsToml).toContain(`https://${REGISTRY}`);
        const ca = (await ws.output(STACK, "caCertPem")) as string;
        const caFiles = onNode("sh", ["-c", `cat ${MICROK8S_CERTS_D}/${REGISTRY}/*.crt`]);
        expect(caFiles.stdout.trim()).toBe(ca.trim());
        expect(cluster.node.readFile("/etc/hosts")).toMatch(new RegExp(`^127\\.0\\.0\\.1\\s+${REGISTRY.replaceAll(".", "\\.")}$`, "m"));
    });

    it(
        "pods resolve the registry's name to its TLS Service through the cluster's CoreDNS (the Corefile block `up` wrote) and reach the front by it, and by registry.dso.svc",
        async () => {
            const service = await cluster.kube.get<{ spec: { clusterIP: string } }>("/api/v1/namespaces/dso/services/registry-tls");
            const ip = service!.spec.clusterIP;
            // CoreDNS reads the Corefile again once the kubelet has the ConfigMap's new content in the pod (up to a minute or so).
            const script = [
                `for i in $(seq 1 90); do nslookup ${REGISTRY} 2>/dev/null | grep -q "${ip}" && break; sleep 2; done`,
                `nslookup ${REGISTRY}`,
                `wget -q -S -O /dev/null https://${REGISTRY}/v2/ 2>&1`,
                "wget -q -S -O /dev/null http://registry.dso.svc.cluster.local:5000/v2/ 2>&1",
                "true",
            ].join("; ");
            expect(
                kubectl("run", "dns-check", "-n", "default", "--image=busybox:1.37.0", "--restart=Never", "--", "sh", "-c", script).code,
            ).toBe(0);
            await until(
                "the DNS check's pod finished",
                async () => (await cluster.kube.get<Pod>("/api/v1/namespaces/default/pods/dns-check"))?.status.phase === "Succeeded",
                300_000,
            );
            const out = kubectl("logs", "-n", "default", "dns-check").stdout;
            expect(out).toMatch(new RegExp(`Address:\\s+${ip.replaceAll(".", "\\.")}`));
            // The front's challenge, by the registry's name (TLS, the sidecar's Caddy) and by the Service's name (plain HTTP inside).
            expect(out.match(/HTTP\/1\.1 401/g)?.length, out).toBe(2);
            expect(kubectl("delete", "pod", "-n", "default", "dns-check", "--wait=false").code).toBe(0);
        },
        10 * 60_000,
    );

    it(
        "an image pushed through the registry's TLS front lands on the claim, and a pod of that image runs: the kubelet pulled it through the node's trust",
        async () => {
            // The CA the stack made and the push account (files: nothing secret on a command line), for the clients on the node.
            const ca = (await ws.output(STACK, "caCertPem")) as string;
            const push = (await ws.output(STACK, "pushCredentials")) as { username: string; password: string };
            writeNodeClientFiles(cluster.node, ca, push);
            // The ingress's part (see the header): the node's 127.0.0.1:443 to the registry's TLS Service.
            const service = await cluster.kube.get<{ spec: { clusterIP: string } }>("/api/v1/namespaces/dso/services/registry-tls");
            relay = startNodeRelay(cluster.node, service!.spec.clusterIP);
            // By the registry's name (the node's /etc/hosts), with its CA: the front's challenge.
            const v2 = () =>
                onNode("curl", [
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--max-time",
                    "5",
                    "--cacert",
                    "/root/push-certs/ca.crt",
                    `https://${REGISTRY}/v2/`,
                ]);
            await until("the registry's front on the node's 443", async () => v2().stdout === "401");

            const prefix = (await ws.output(STACK, "imagePrefix")) as string;
            expect(prefix).toBe(`${REGISTRY}/docker-internal/p2c`);
            const image = `${prefix}/hello:1`;
            const pushed = pushFromNode(image, 256 * 1024);
            expect(pushed.code, pushed.stderr).toBe(0);
            const archives = imageArchives();
            const anonymous = onNode("skopeo", [
                "copy",
                "--dest-cert-dir",
                "/root/push-certs",
                `oci-archive:${ociArchivePath(archives, image)}`,
                `docker://${prefix}/anonymous:1`,
            ]);
            expect(anonymous.code, "an anonymous push is refused").not.toBe(0);
            // The registry's data is on the claim's directory of the node.
            const stored = onNode("sh", [
                "-c",
                `find ${VOLUMES} -path '*/repositories/docker-internal/p2c/hello/_manifests/tags/1/current/link'`,
            ]);
            expect(stored.stdout.trim(), stored.stderr).not.toBe("");

            // The kubelet pulls the image anonymously, by the name the stack gives, through the node's trust.
            const pulled = await runPodOfImage(cluster, "pulled", image);
            expect(pulled.log).toMatch(/262144 .*\/payload/);
            expect(pulled.nodeImages).toContain(image);
        },
        10 * 60_000,
    );

    it(
        "the registry's pod deleted, its replacement is ready and serves the same image",
        async () => {
            const [before] = await registryPods();
            expect(kubectl("delete", "pod", "-n", "dso", before!.metadata.name, "--wait=false").code).toBe(0);
            await until("a new registry pod ready", async () => {
                const now = await registryPods();
                return now.length === 1 && now[0]!.metadata.uid !== before!.metadata.uid && ready(now[0]!);
            });
            const prefix = (await ws.output(STACK, "imagePrefix")) as string;
            const inspect = () => onNode("skopeo", ["inspect", "--cert-dir", "/root/push-certs", `docker://${prefix}/hello:1`]);
            const inspected = await answered(inspect);
            expect(inspected.code, inspected.stderr).toBe(0);
            expect(JSON.parse(inspected.stdout).Name).toBe(`${prefix}/hello`);

            // Registry down, in the cluster: the runbook's four looks, each at what it names.
            const section = "Registry down";
            expect(runbookKubectlOk(section, "kubectl -n dso get deploy,pods")).toMatch(
                /deployment\.apps\/registry\s+1\/1[\s\S]*pod\/registry-\S+\s+\d\/\d\s+Running/,
            );
            const described = runbookKubectlOk(section, "kubectl -n dso describe pod");
            for (const container of ["registry", "caddy"]) expect(described).toMatch(new RegExp(`^\\s+${container}:$`, "m"));
            expect(described).toMatch(/^Events:/m);
            runbookKubectlOk(section, "kubectl -n dso logs deploy/registry -c registry");
            expect(runbookKubectlOk(section, "kubectl -n dso logs deploy/registry -c caddy")).toMatch(/"level"/);
            // It worked when: the runbook's curl, from the node (by the registry's name, trusting the stack's CA), answers 401.
            const curl = fillPlaceholders(runbookCommand(section, "curl -sS"), { registry: REGISTRY });
            expect(onNode("sh", ["-c", `CURL_CA_BUNDLE=/root/push-certs/ca.crt ${curl}`]).stdout.trim()).toBe("401");
            // Disk full, in the cluster: what the registry's volume holds.
            expect(runbookKubectlOk("Disk full", "kubectl -n dso exec deploy/registry -c registry -- du -sh")).toMatch(
                /\s\/var\/lib\/registry$/m,
            );
        },
        10 * 60_000,
    );

    it(
        "TLS renewal failed, in the cluster: the runbook's probe and Secret lines agree on the certificate served; its restart rolls the registry, after which the probe still sees the Secret's",
        async () => {
            const section = "TLS renewal failed";
            const notAfterOfSecret = () => {
                const out = runbookKubectlOk(section, "kubectl -n dso get secret registry-tls");
                expect(out).toContain(`DNS:${REGISTRY}`);
                return Date.parse((out.match(/^notAfter=(.*)$/m) as RegExpMatchArray)[1] as string) / 1000;
            };
            const probed = async () => {
                let out = "";
                await until("the probe's handshake", async () => {
                    out = runbookKubectl(section, "kubectl -n dso exec deploy/registry-certificate-probe").out;
                    return /^probe_success 1$/m.test(out);
                });
                return Number((out.match(/^probe_ssl_earliest_cert_expiry (\S+)$/m) as RegExpMatchArray)[1]);
            };
            expect(await probed()).toBe(notAfterOfSecret());
            const restart = runbookCommand(section, "kubectl -n dso rollout restart");
            expect(restart).toBe("kubectl -n dso rollout restart deployment/registry");
            const [before] = await registryPods();
            runbookKubectlOk(section, restart);
            const rollout = kubectl("rollout", "status", "-n", "dso", "deployment/registry", "--timeout=300s");
            expect(rollout.code, rollout.stdout + rollout.stderr).toBe(0);
            await until("only the restarted registry pod, ready", async () => {
                const now = await registryPods();
                return now.length === 1 && now[0]!.metadata.uid !== before!.metadata.uid && ready(now[0]!);
            });
            expect(await probed()).toBe(notAfterOfSecret());
        },
        10 * 60_000,
    );

    it(
        "an `up` that rolls the registry's pod returns once the new pod serves: the Deployment's status counts it available, the old pod is gone, and every probe begun after `up` returned is answered",
        async () => {
            const [oldPod] = await registryPods();
            expect(oldPod).toBeDefined();
            const prefix = (await ws.output(STACK, "imagePrefix")) as string;
            const manifest = `https://${REGISTRY}/v2/${prefix.slice(REGISTRY.length + 1)}/hello/manifests/1`;
            const probe = startNodeProbe(cluster, scratch, "rollout", manifest, "/root/push-certs/ca.crt");
            const probes = () => probe.probes();
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
            const { failed, windowMs } = unanswered(all);
            console.log(
                `rollout: ${failed.length} probes unanswered over ${windowMs} ms, the last begun ${upEnded - Math.max(...failed.map((p) => p.began))} ms before \`up\` returned`,
            );
        },
        20 * 60_000,
    );

    it(
        "garbage collection on: its Job, started from the CronJob `up` made, runs to completion in a pod with its ServiceAccount, and the registry serves and takes pushes after it",
        async () => {
            await ws.pulumiOk([
                "config",
                "set",
                "--path",
                "dso-registry:registry.maintenance.garbageCollection.enabled",
                "true",
                "-s",
                STACK,
            ]);
            const up = await ws.pulumi(["up", "--yes", "--skip-preview", "-s", STACK], { timeoutMs: 15 * 60_000 });
            expect(up.code, `${up.stdout.slice(-10_000)}${up.stderr}\n${cluster.logs(20)}`).toBe(0);
            // Only the pod of the new template, ready. Once, on a loaded machine, the job's `kubectl exec
            // deployment/registry` right after this `up` found the replaced pod, Succeeded, and failed
            // (docs/engine.md, what the real node showed).
            await until("only the registry's new pod", async () => {
                const now = await registryPods();
                return now.length === 1 && ready(now[0]!);
            });
            // Disk full's "what frees space", as the runbook says it in the cluster.
            const job = await runJobFromCronJob("registry-gc", {
                section: "Disk full",
                start: "kubectl -n dso create job --from=cronjob/registry-gc",
            });
            expect(job.succeeded, job.logs).toBe(1);
            expect(job.serviceAccountName).toBe("registry-gc");
            // Garbage collection or verify failed: the runbook's look at the job's log.
            expect(
                runbookKubectlOk("Garbage collection or verify failed", "kubectl -n dso logs job/", {
                    "the failed registry-gc job": job.name,
                }),
            ).toMatch(/verified: \d+ tagged images?, \d+ blobs?, all served/);
            // The image pushed before is served whole, and the window is over: a push is taken.
            const prefix = (await ws.output(STACK, "imagePrefix")) as string;
            const inspect = () => onNode("skopeo", ["inspect", "--cert-dir", "/root/push-certs", `docker://${prefix}/hello:1`]);
            const inspected = await answered(inspect);
            expect(inspected.code, inspected.stderr).toBe(0);
            const pushed = pushFromNode(`${prefix}/after-gc:1`);
            expect(pushed.code, pushed.stderr).toBe(0);
        },
        20 * 60_000,
    );

    it(
        "backups on: the backup Job, started from the CronJob `up` made, runs to completion in a pod with its ServiceAccount, and its snapshot on the backup claim holds the registry's data",
        async () => {
            const password = randomBytes(18).toString("base64url");
            await ws.pulumiOk(["config", "set", "--secret", "dso-registry:backupRepositoryPassword", "-s", STACK], { input: password });
            for (const [key, value] of [
                ["enabled", "true"],
                ["destination.kind", "volume"],
                ["destination.size", "1Gi"],
            ]) {
                await ws.pulumiOk(["config", "set", "--path", `dso-registry:registry.maintenance.backup.${key}`, value!, "-s", STACK]);
            }
            const up = await ws.pulumi(["up", "--yes", "--skip-preview", "-s", STACK], { timeoutMs: 15 * 60_000 });
            expect(up.code, `${up.stdout.slice(-10_000)}${up.stderr}\n${cluster.logs(20)}`).toBe(0);
            // The pod gains its backup container: only the pod of the new template, ready, with it.
            await until("only the registry's new pod, with its backup container", async () => {
                const now = await registryPods();
                return now.length === 1 && ready(now[0]!) && (now[0]!.status.containerStatuses ?? []).some((c) => c.name === "backup");
            });
            // Backup failing, in the cluster: the runbook's commands, its run made by its own command.
            const job = await runJobFromCronJob("registry-backup", {
                section: "Backup failing",
                start: "kubectl -n dso create job --from=cronjob/registry-backup",
            });
            expect(job.succeeded, job.logs).toBe(1);
            expect(job.serviceAccountName).toBe("registry-backup");
            expect(runbookKubectlOk("Backup failing", "kubectl -n dso get cronjob registry-backup")).toMatch(/^registry-backup\s/m);
            expect(runbookKubectlOk("Backup failing", "kubectl -n dso get jobs -l app.kubernetes.io/component=backup")).toMatch(
                new RegExp(`^${job.name}\\s+(Complete|1/1)`, "m"),
            );
            expect(runbookKubectlOk("Backup failing", "kubectl -n dso logs job/", { "the failed job": job.name })).toMatch(
                /backup done: snapshot/,
            );
            expect(job.logs).toMatch(/registry writable again after \d+ s read-only/);
            expect(job.logs).toMatch(/backup done: snapshot [0-9a-f]+ in PVC registry-backup/);

            // The repository, read on the node with restic and the password set above: one complete snapshot
            // (the writable pass's is forgotten), holding the image pushed before.
            const claim = await cluster.kube.get<{ spec: { volumeName: string } }>(
                "/api/v1/namespaces/dso/persistentvolumeclaims/registry-backup",
            );
            const volume = await cluster.kube.get<{ spec: { hostPath: { path: string } } }>(
                `/api/v1/persistentvolumes/${claim!.spec.volumeName}`,
            );
            const repository = `${volume!.spec.hostPath.path}/repository`;
            const passwordFile = path.join(scratch, "restic-password");
            writeFileSync(passwordFile, password, { mode: 0o600 });
            const restic = (...args: string[]) =>
                onNode("restic", ["--no-cache", "-r", repository, "--password-file", passwordFile, ...args]);
            const snapshots = restic("snapshots", "--json");
            expect(snapshots.code, snapshots.stderr).toBe(0);
            const list = JSON.parse(snapshots.stdout) as { tags?: string[]; paths: string[] }[];
            expect(list.map((s) => s.tags)).toEqual([[BACKUP_TAG]]);
            expect(list[0]!.paths).toContain("/var/lib/registry");
            const files = restic("ls", "latest");
            expect(files.code, files.stderr).toBe(0);
            expect(files.stdout).toContain("/docker/registry/v2/repositories/docker-internal/p2c/hello/_manifests/tags/1/current/link");
            // The window is over: a push is taken.
            const prefix = (await ws.output(STACK, "imagePrefix")) as string;
            const pushed = pushFromNode(`${prefix}/after-backup:1`);
            expect(pushed.code, pushed.stderr).toBe(0);
        },
        20 * 60_000,
    );

    it(
        "a rotation `up` rolls the registry's pod: a push loop with the old password lands on the old pod and, inside the overlap, on the new one, never refused for its credential; the new password from Jenkins pushes; the overlap turned off, the old password is refused",
        async () => {
            const before = jenkins.credentials.get("container-registry")?.fields.password;
            expect(before).toBeDefined();
            const prefix = (await ws.output(STACK, "imagePrefix")) as string;
            const [oldPod] = await registryPods();
            const loop = nodePushLoop(cluster, scratch, prefix);
            const results = path.join(scratch, "loop-rotation");
            let upEnded = 0;
            const { result: up, pushes } = await loop.during("rotation", async () => {
                await ws.pulumiOk(["config", "set", "--path", "dso-registry:containerRegistry.rotation", "2", "-s", STACK]);
                const result = await ws.pulumi(["up", "--yes", "--skip-preview", "-s", STACK], { timeoutMs: 15 * 60_000 });
                upEnded = Date.now();
                // The loop goes on until a push begun after the `up` (the new pod, the old password) has landed.
                await until("a push with the old password landed on the new pod", async () =>
                    readdirSync(results).some(
                        (f) =>
                            f.endsWith(".ref") &&
                            statSync(path.join(results, f)).mtimeMs > upEnded &&
                            readFileSync(path.join(results, f.replace(/\.ref$/, ".code")), { encoding: "utf8", flag: "a+" }).trim() === "0",
                    ),
                );
                return result;
            });
            expect(up.code, `${up.stdout.slice(-10_000)}${up.stderr}\n${cluster.logs(20)}`).toBe(0);
            const [newPod, ...others] = await registryPods();
            expect(others).toEqual([]);
            expect(newPod!.metadata.uid).not.toBe(oldPod!.metadata.uid);

            // Every push: landed (the old pod, or the new one inside the overlap), or cut while no pod served (the
            // Recreate strategy's gap); none refused for its credential.
            const summary = pushLoopSummary("rotation", pushes);
            const refusedForCredential = (p: Push) => p.code !== 0 && CREDENTIAL_REFUSED.test(p.out);
            expect(pushes.filter(refusedForCredential), summary).toEqual([]);
            const began = (p: Push) => statSync(path.join(results, `${p.n}.ref`)).mtimeMs;
            expect(
                pushes.some((p) => p.code === 0 && began(p) < upEnded),
                summary,
            ).toBe(true);
            expect(
                pushes.some((p) => p.code === 0 && began(p) > upEnded),
                summary,
            ).toBe(true);
            // How long nothing served the loop: the longest run of pushes that did not land.
            const ended = (p: Push) => statSync(path.join(results, `${p.n}.code`)).mtimeMs;
            let gap = 0;
            for (let i = 1; i < pushes.length; i++) {
                if (pushes[i]!.code !== 0) continue;
                const last = pushes
                    .slice(0, i)
                    .filter((p) => p.code === 0)
                    .at(-1);
                if (last) gap = Math.max(gap, ended(pushes[i]!) - ended(last));
            }
            console.log(`rotation: no pod served pushes for at most ${(gap / 1000).toFixed(1)} s; the old password was refused by none`);

            // The pipeline's next build reads the credential from Jenkins: the new password, which pushes.
            const after = jenkins.credentials.get("container-registry")?.fields.password;
            expect(after).toBeDefined();
            expect(after).not.toBe(before);
            const push = (await ws.output(STACK, "pushCredentials")) as { username: string; password: string };
            expect(push.password).toBe(after);
            const authFile = (password: string) => {
                const auth = Buffer.from(`${push.username}:${password}`).toString("base64");
                onNode("sh", ["-c", "umask 077 && cat > /root/push-auth.json"], JSON.stringify({ auths: { [REGISTRY]: { auth } } }));
            };
            authFile(after!);
            const pushed = pushFromNode(`${prefix}/after-rotation:1`);
            expect(pushed.code, pushed.stderr).toBe(0);

            // The runbook's cut for a leaked password: the overlap turned off, the next `up` drops the previous
            // password from the front, and it is refused; the new one still pushes.
            await ws.pulumiOk(["config", "set", "--path", "dso-registry:containerRegistry.rotationOverlapHours", "0", "-s", STACK]);
            const cut = await ws.pulumi(["up", "--yes", "--skip-preview", "-s", STACK], { timeoutMs: 15 * 60_000 });
            expect(cut.code, `${cut.stdout.slice(-10_000)}${cut.stderr}`).toBe(0);
            try {
                authFile(before!);
                const refused = await answered(() => pushFromNode(`${prefix}/old-after-cut:1`));
                expect(refused.code).not.toBe(0);
                expect(refused.stderr + refused.stdout).toMatch(CREDENTIAL_REFUSED);
            } finally {
                // The later tests push with the node's auth file: the current password.
                authFile(after!);
            }
            const again = await answered(() => pushFromNode(`${prefix}/new-after-cut:1`));
            expect(again.code, again.stderr).toBe(0);
        },
        20 * 60_000,
    );

    it(
        "`registry.tls.mode` switched to cert-manager where its controllers run: cert-manager issues the chain, the registry's pod serves its certificate, the node trusts its CA, and the kubelet pulls through it",
        async () => {
            // Its metrics where a Prometheus on the node reaches them (the monitoring test scrapes them).
            certManagerMetrics = `${cluster.node.hostAddress}:${await freePort()}`;
            certManager = await installCertManager(cluster.kube, certManagerMetrics);
            await ws.pulumiOk(["config", "set", "--path", "dso-registry:registry.tls.mode", "cert-manager", "-s", STACK]);
            const up = await ws.pulumi(["up", "--yes", "--skip-preview", "-s", STACK], { timeoutMs: 15 * 60_000 });
            expect(up.code, `${up.stdout.slice(-10_000)}${up.stderr}\n--- cert-manager:\n${certManager.output().slice(-5000)}`).toBe(0);
            const secretPem = async (name: string, key: string) => {
                const s = await cluster.kube.get<{ data: Record<string, string> }>(`/api/v1/namespaces/dso/secrets/${name}`);
                return s ? Buffer.from(s.data[key] ?? "", "base64").toString("utf8") : "";
            };
            const ca = await secretPem("dso-registry-ca", "tls.crt");
            expect(new X509Certificate(ca).ca).toBe(true);
            expect(((await ws.output(STACK, "caCertPem")) as string).trim()).toBe(ca.trim());
            await until("only the registry's new pod", async () => {
                const now = await registryPods();
                return now.length === 1 && ready(now[0]!);
            });
            // The node's trust: the DaemonSet's pod writes the new CA where the node's containerd reads it.
            await until("the node's containerd trusting cert-manager's CA", async () => {
                const files = onNode("sh", ["-c", `cat ${MICROK8S_CERTS_D}/${REGISTRY}/*.crt`]);
                return files.stdout.trim() === ca.trim();
            });
            // What the front serves (through the node's 443): cert-manager's certificate for the registry's name, by its CA.
            onNode("sh", ["-c", "cat > /root/push-certs/ca.crt"], ca);
            // kube-proxy may take a moment to send the Service's address to the new pod: asked again until it answers.
            const serve = () =>
                onNode("sh", [
                    "-c",
                    `openssl s_client -connect 127.0.0.1:443 -servername ${REGISTRY} </dev/null 2>/dev/null | openssl x509`,
                ]);
            await until("the front answering TLS on the node's 443", async () => serve().code === 0, 60_000);
            const served = serve();
            expect(served.code, served.stderr).toBe(0);
            const certificate = new X509Certificate(served.stdout);
            const describeCert = (c: X509Certificate) =>
                `${c.subject ?? ""} ${c.subjectAltName ?? ""} issued by ${c.issuer ?? ""} from ${c.validFrom} serial ${c.serialNumber}`.replaceAll(
                    "\n",
                    ",",
                );
            const inSecret = new X509Certificate(await secretPem("registry-tls", "tls.crt"));
            expect(
                certificate.checkIssued(new X509Certificate(ca)),
                `served: ${describeCert(certificate)}\nCA: ${describeCert(new X509Certificate(ca))}\nSecret registry-tls: ${describeCert(inSecret)}\nregistry pods: ${kubectl("get", "pods", "-n", "dso", "-o", "custom-columns=N:.metadata.name,C:.metadata.creationTimestamp,S:.status.startTime").stdout}\nreplica sets: ${kubectl("get", "rs", "-n", "dso", "-o", "custom-columns=N:.metadata.name,C:.metadata.creationTimestamp,R:.spec.replicas").stdout}\ncertificate: ${kubectl("get", "certificate", "-n", "dso", "registry-tls", "-o", "jsonpath={.status}").stdout}`,
            ).toBe(true);
            expect(certificate.checkHost(REGISTRY)).toBe(REGISTRY);
            // (Not necessarily the Secret's certificate of now: the program's former Secret of that name is deleted at
            // the end of the `up`, and cert-manager writes it again, from the same CA, for pods started later.)

            // A push with the new CA, then the kubelet pulls it through the node's new trust.
            const prefix = (await ws.output(STACK, "imagePrefix")) as string;
            const image = `${prefix}/after-cert-manager:1`;
            const pushed = pushFromNode(image, 64 * 1024);
            expect(pushed.code, pushed.stderr).toBe(0);
            const pulled = await runPodOfImage(cluster, "pulled-cm", image);
            expect(pulled.log).toMatch(/65536 .*\/payload/);
            expect(pulled.nodeImages).toContain(image);
        },
        20 * 60_000,
    );

    it(
        "monitoring on the real kubelet: a real Prometheus finds the pods as a pod scrape job does; the kubelet has no stats of the hostPath claim, the pod's own figures stand in; real pushes past refusePercent fire the refusal's alert; the registry scaled to nothing fires the metrics-absent alert",
        async () => {
            // Prometheus on the node, reaching the pods as a cluster's Prometheus does: the usual annotation-driven
            // pod job, and the disk figures' job as docs/monitoring.md gives it. Debian's Prometheus has no
            // Kubernetes discovery: the pods are listed from the API server into a file with the meta labels that
            // discovery gives (test/support/podDiscovery.ts), and both jobs' relabelings run as written.
            const dir = path.join(scratch, "prometheus");
            mkdirSync(dir);
            const rules = kubectl(
                "get",
                "configmap",
                "-n",
                "dso",
                "dso-registry-alert-rules",
                "-o",
                "jsonpath={.data.dso-registry\\.rules\\.yml}",
            );
            expect(rules.stdout, rules.stderr).toContain("DsoRegistryMetricsAbsent");
            const rulesFile = path.join(dir, "rules.yml");
            writeFileSync(rulesFile, rules.stdout);
            const targets = path.join(dir, "pods.json");
            discovery = await startPodDiscovery(cluster.kube, "dso", targets);
            const podsJob = withFileDiscovery(
                {
                    job_name: "kubernetes-pods",
                    kubernetes_sd_configs: [{ role: "pod" }],
                    relabel_configs: [
                        { source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], regex: "true", action: "keep" },
                        {
                            source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_path"],
                            regex: "(.+)",
                            target_label: "__metrics_path__",
                        },
                        {
                            source_labels: ["__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"],
                            regex: "([^:]+)(?::\\d+)?;(\\d+)",
                            replacement: "$1:$2",
                            target_label: "__address__",
                        },
                        { source_labels: ["__meta_kubernetes_namespace"], target_label: "namespace" },
                        { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
                    ],
                },
                targets,
            );
            const [diskJob] = parse(docsBlock("monitoring.md", "yaml", "dso-registry-disk-figures")) as Record<string, unknown>[];
            // cert-manager's controller, as a cluster's Prometheus scrapes its pod's port 9402.
            const certManagerJob = { job_name: "cert-manager", static_configs: [{ targets: [certManagerMetrics!] }] };
            prometheus = await startPrometheus({
                dir,
                rulesFile,
                scrapeConfigs: [podsJob, withFileDiscovery(diskJob!, targets), certManagerJob],
                inside: cluster.node,
            });
            const p = prometheus;

            // Every source the pods give is scraped: Caddy's series, the disk figures, the certificate probe's.
            const [before] = await registryPods();
            const podName = before!.metadata.name;
            await p.eventually(`caddy_http_requests_in_flight{namespace="dso",pod="${podName}"}`, 120_000);
            await p.eventually(`dso_registry_data_size_bytes{namespace="dso",pod="${podName}"}`, 120_000);
            await p.eventually('probe_success{namespace="dso"} == 1', 120_000);
            // The registry's Certificate, Ready, as cert-manager's controller reports it.
            await p.eventually('certmanager_certificate_ready_status{namespace="dso",condition="True"} == 1', 120_000);
            // The runbook's look at the figures, in the pod.
            expect(runbookKubectlOk("Metrics missing", "kubectl -n dso exec deploy/registry -c disk-guard")).toContain(
                "dso_registry_data_size_bytes",
            );
            // The kubelet measures no hostPath volume: nothing of the registry's claim among its series.
            const kubeletMetrics = kubectl("get", "--raw", `/api/v1/nodes/${cluster.nodeName}/proxy/metrics`);
            expect(kubeletMetrics.code, kubeletMetrics.stderr).toBe(0);
            expect(kubeletMetrics.stdout).toContain("kubelet_running_pods");
            expect(kubeletMetrics.stdout).not.toMatch(/kubelet_volume_stats_\w+\{[^}]*persistentvolumeclaim="registry-data"/);

            // The claim's directory becomes a small file system of its own (as a small disk would be), and the
            // pod is replaced to mount it.
            const claim = await cluster.kube.get<{ spec: { volumeName: string } }>(
                "/api/v1/namespaces/dso/persistentvolumeclaims/registry-data",
            );
            const volume = await cluster.kube.get<{ spec: { hostPath: { path: string } } }>(
                `/api/v1/persistentvolumes/${claim!.spec.volumeName}`,
            );
            dataMount = volume!.spec.hostPath.path;
            const mounted = onNode("mount", ["-t", "tmpfs", "-o", "size=64m,mode=0777", "dso-test-registry-data", dataMount]);
            expect(mounted.code, mounted.stderr).toBe(0);
            expect(kubectl("delete", "pod", "-n", "dso", podName, "--wait=true").code).toBe(0);
            await until("the registry's new pod ready", async () =>
                (await registryPods()).some((pod) => pod.metadata.name !== podName && ready(pod)),
            );
            const [pod] = await registryPods();
            const labels = { namespace: "dso", pod: pod!.metadata.name };
            const [size] = await p.eventually(
                `dso_registry_data_size_bytes{namespace="dso",pod="${labels.pod}"} == ${64 * 2 ** 20}`,
                180_000,
            );
            expect(size!.value).toBe(64 * 2 ** 20);

            // Real pushes to about 94% used: the guard's next check (every minute) refuses, and the alert says so, once.
            const df = onNode("df", ["-P", "-B1", dataMount]).stdout.trim().split("\n")[1]!.split(/\s+/);
            const used = Number(df[1]) - Number(df[3]);
            const filler = await answered(() => pushFromNode(`${REGISTRY}/team/filler:1`, Math.floor(Number(df[1]) * 0.94) - used));
            expect(filler.code, filler.stderr).toBe(0);
            const refusedAlert = await p.waitForAlert("DsoRegistryUploadsRefusedDiskFull", labels, "firing", 180_000);
            expect(refusedAlert.annotations.runbook_url).toBe("docs/runbooks.md#disk-full");
            expect(await p.alertsNamed("DsoRegistryUploadsRefusedDiskFull")).toHaveLength(1);
            await p.waitForAlert("DsoRegistryDiskAlmostFull", labels, "pending", 60_000);
            const refusedPush = pushFromNode(`${REGISTRY}/team/refused:1`);
            expect(refusedPush.code).not.toBe(0);
            expect(refusedPush.stderr).toContain("507 Insufficient Storage");

            // The registry scaled to nothing: its own series go, and the absence of each is an alert of its own;
            // the certificate probe's pod, still scraped, is not missing; kube-state-metrics does not run here.
            const window = (durationSeconds(ABSENCE_WINDOW) + durationSeconds(ABSENCE_FOR) + 90) * 1000;
            expect(kubectl("scale", "deployment/registry", "-n", "dso", "--replicas=0").code).toBe(0);
            for (const missing of ["caddy", "data-disk"]) {
                await p.waitForAlert("DsoRegistryMetricsAbsent", { missing, namespace: "dso" }, "firing", window);
            }
            await p.waitForAlert("DsoRegistryMetricsAbsent", { missing: "kube-state-metrics" }, "firing", window);
            for (const missing of ["certificate-probe", "cert-manager"]) {
                expect(await p.alertsNamed("DsoRegistryMetricsAbsent", { missing })).toEqual([]);
            }
            expect(kubectl("scale", "deployment/registry", "-n", "dso", "--replicas=1").code).toBe(0);
            await until("the registry's pod ready again", async () => (await registryPods()).some(ready));
        },
        20 * 60_000,
    );

    it(
        "a second `up` plans nothing, and `destroy` ends every pod of the stack",
        async () => {
            const again = await ws.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK]);
            expect(again.code, again.stdout.slice(-10_000) + again.stderr).toBe(0);
            const destroyed = await ws.pulumi(["destroy", "--yes", "-s", STACK], { timeoutMs: 15 * 60_000 });
            expect(destroyed.code, destroyed.stdout.slice(-10_000) + destroyed.stderr).toBe(0);
            await until("no pod of the stack left", async () => (await pods("dso", "app.kubernetes.io/part-of=dso-registry")).length === 0);
            await until(
                "no node-trust pod left",
                async () =>
                    ((await cluster.kube.get<{ items: Pod[] }>("/api/v1/namespaces/dso-node-trust/pods"))?.items ?? []).length === 0,
            );
        },
        20 * 60_000,
    );
});

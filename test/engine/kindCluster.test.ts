/// <reference lib="dom" />
/**
 * A real `kind create cluster` (test/support/kindCluster.ts): the kind CLI built from its module, a node image
 * built here from Debian's packages and the engine set (test/support/kindNodeImage.ts), a private Docker
 * engine in a test network namespace. The node runs systemd, containerd, the kubelet and kubeadm's control
 * plane as kind's nodes do; the test checks that the node is Ready, that the kube-system pods kubeadm starts
 * run, that an image loaded with `kind load image-archive` runs as a pod, that the pod resolves a Service's
 * name through the cluster's CoreDNS and reaches the API server through its Service. The cluster is made with
 * docs/examples/kind-cluster.yaml's node (the label `ingress-ready=true`, the node's :80 on 127.0.0.1:8080),
 * and Traefik runs in it as its ingress controller (test/support/kindTraefik.ts). Then the committed `kind`
 * stack on that cluster: the README's kind quick start as written, an image pushed through the front running
 * by both of its names, the web UI in Chromium at http://localhost:8080/registry/ (its Deployment in hostk8s
 * behind Traefik, /v2 through the ExternalName Service to the front: one origin, no preflight), the UI's
 * Deployment rolled on an image change while the API answers every request, a delete from the UI with the
 * push account and refused without, the UI moved to the front (kind.ui.servedBy front) and back with no image
 * lost, a second `up` that plans nothing, and a `destroy` after which the cluster's objects (Traefik's among
 * them, untouched) and the node's containerd files are what they were before the first `up`; and that
 * `stop()` leaves nothing behind.
 *
 * The README's kind quick start (README.md, "A kind cluster on your machine"), line by line:
 * - `kind create cluster --name kind --config docs/examples/kind-cluster.yaml`: differs. The cluster is made by
 *   startKindCluster with a config of its own around the example's control-plane node (its label and port
 *   mapping, read from the file): the node image built here (`--image`; kind's own cannot be pulled), the API on
 *   the test namespace's address, no default CNI (kindnetd cannot be pulled) and the kubeadm patches this
 *   machine needs.
 * - `helm repo add traefik …` and `helm install traefik …`: differ (no chart can be fetched). Traefik built from
 *   its module runs as the chart's values say: a pod on the node labelled `ingress-ready=true`, its web entry
 *   point on the node's :80 through a hostPort, its IngressClass the default, ExternalName Services allowed.
 * - `npx pulumi stack init kind`, `npx pulumi up`, `npx pulumi stack output --show-secrets pushCredentials`:
 *   verbatim. Between the first two the test sets `kind.dataDir` to a directory of its own (the default is
 *   under the home directory).
 * - `docker login localhost:5002 -u ci-push`: with `--password-stdin` added, the password on stdin (there is
 *   no terminal to type it at).
 * - `docker pull alpine:3.20 && docker tag …`: the pull cannot run (no Docker Hub); `alpine:3.20` is a
 *   busybox image built here under that name, then `docker tag alpine:3.20 localhost:5002/dev/alpine:3.20`
 *   and `docker push localhost:5002/dev/alpine:3.20` run verbatim.
 * - `kubectl run hello --restart=Never --image=localhost:5002/dev/alpine:3.20 -- echo pulled from the
 *   registry` and `kubectl logs hello`: verbatim, with a `kubectl wait` for the pod to finish between them.
 * Every command runs in the workspace's shell (test/support/pulumiEngine.ts): the engine set's kubectl and
 * pulumi, KUBECONFIG the cluster's (context `kind-kind`), DOCKER_HOST the private engine.
 *
 * The web UI: joxit/docker-registry-ui cannot be pulled, so its image is a stand-in built here and loaded into
 * the node, busybox httpd serving test/support/registryUiStandIn (a page that makes the requests the real UI
 * 2.x makes to `/v2/` and shows the catalog, tags and digests) with the settings the stack gives its
 * Deployment in its environment, written into the page by the image's entrypoint as the real image does, and
 * started through `/docker-entrypoint.sh` as the Deployment's command starts the real one. Chromium (Debian's,
 * headless, driven by puppeteer-core over a pipe) runs inside the test's network namespace, where
 * localhost:8080 is the node's port 80 (Traefik) and localhost:5002 the front's published port: the page goes
 * browser → Traefik → the UI's pod, and its `/v2/` requests browser → Traefik → the front → Distribution.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as YAML from "yaml";
import type { DockerClient } from "../support/dockerEngine";
import { busyboxImage, kubectlImage, payloadImage, pinnedCaddyImage, registryImage, registryUiStandInImage } from "../support/dockerImages";
import { type KindCluster, startKindCluster } from "../support/kindCluster";
import { runKindRecipeRegistry } from "../support/kindFiles";
import { dockerCliImage } from "../support/kindNode";
import { KIND_NODE_KUBE_VERSION } from "../support/kindNodeImage";
import { startTraefikInKind } from "../support/kindTraefik";
import { engineSet, openWorkspace, type Workspace } from "../support/pulumiEngine";
import { privateDir, removeDir, run } from "../support/serverProcess";
import { PROJECT_DIR } from "../support/synthCli";
import { type WatchedPage, watchPage } from "../support/uiBrowser";

/** The committed kind stack's `kind.clusterName` (its context `kind-kind`). */
const NAME = "kind";
const NODE = `${NAME}-control-plane`;
const STACK = "kind";
/** The image a pod runs, built in the Docker engine and loaded into the node with kind. */
const PROBE_IMAGE = "dso-test/probe:1";
/** The UI's image as the stack pins it (registry.ui.image's default), a stand-in built here. */
const UI_IMAGE = "joxit/docker-registry-ui:2.6.0";
/** The UI's origin and address as the README and docs/kind.md give them: the cluster's ingress, through the node's port mapping. */
const UI_ORIGIN = "http://localhost:8080";
const UI_URL = `${UI_ORIGIN}/registry/`;
/** The registry's containers on the Docker host; the UI's runs there only with kind.ui.servedBy front. */
const CONTAINERS = ["kind-registry", "kind-registry-distribution", "kind-registry-node-watcher"];
const UI_CONTAINER = "kind-registry-ui";
/** A second build of the UI's stand-in, for the Deployment's roll. */
const UI_IMAGE_NEXT = "joxit/docker-registry-ui:2.6.0-next";
/**
 * docs/examples/kind-cluster.yaml's control-plane node, as startKindCluster takes it: the label the ingress
 * controller is placed by and the node's :80 on the Docker host's 127.0.0.1:8080, as the README's cluster has them.
 */
function exampleControlPlane(): string[] {
    const example = YAML.parse(readFileSync(path.join(PROJECT_DIR, "docs/examples/kind-cluster.yaml"), "utf8")) as {
        nodes: { role: string }[];
    };
    const [node] = example.nodes;
    if (!node || node.role !== "control-plane" || example.nodes.length !== 1)
        throw new Error("the example config has one control-plane node");
    const { role: _role, ...rest } = node;
    return YAML.stringify(rest).trimEnd().split("\n");
}
const APP = "dev/app:1";
const CHROMIUM = "/usr/bin/chromium";
/**
 * What the destroy check compares: namespaces and the namespaced kinds a stack of this project writes, with
 * what they make (ReplicaSets, Pods). Events, Endpoints(Slices) and Leases change on their own and are left out.
 */
const OBJECT_KINDS = [
    "namespaces",
    "configmaps",
    "secrets",
    "serviceaccounts",
    "services",
    "deployments",
    "replicasets",
    "pods",
    "daemonsets",
    "jobs",
    "cronjobs",
    "ingresses",
    "networkpolicies",
    "roles",
    "rolebindings",
    "persistentvolumeclaims",
];

let cluster: KindCluster;
let scratch: string;
let ws: Workspace | undefined;
/** The developer's docker CLI on the Docker host: its own logins. */
let developer: DockerClient;
/** The cluster's objects and the node's containerd files before the first `up`. */
let before: { objects: string[]; nodeFiles: string[] };

/** Tries `check` every second until it returns true or `timeoutMs` passes; then fails with `describe()`. */
async function eventually(what: string, check: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
        if (Date.now() > deadline) throw new Error(`${what} did not happen in ${timeoutMs / 1000} s\n${describe()}`);
        await new Promise((r) => setTimeout(r, 1000));
    }
}

const pods = () => cluster.kubectl(["get", "pods", "-A", "-o", "wide"]).stdout;

beforeAll(async () => {
    scratch = privateDir("kind-cluster-test");
    const started = Date.now();
    cluster = await startKindCluster({ name: NAME, controlPlane: exampleControlPlane() });
    console.log(
        `kind cluster: node image ${cluster.timings.image} s (built, or loaded from the cache), kind create cluster ${cluster.timings.create} s, all ${Math.round((Date.now() - started) / 1000)} s`,
    );
}, 30 * 60_000);

afterAll(async () => {
    await browser?.close();
    ws?.close();
    await cluster?.stop();
    if (scratch) removeDir(scratch);
});

describe("kind create cluster, real", () => {
    it("the node is Ready with the engine set's kubelet on Debian's containerd", () => {
        const nodes = JSON.parse(cluster.kubectl(["get", "nodes", "-o", "json"]).stdout) as {
            items: {
                metadata: { name: string };
                status: { nodeInfo: Record<string, string>; conditions: { type: string; status: string }[] };
            }[];
        };
        expect(nodes.items.map((n) => n.metadata.name)).toEqual([`${NAME}-control-plane`]);
        const [node] = nodes.items;
        expect(node?.status.conditions.find((c) => c.type === "Ready")?.status).toBe("True");
        expect(node?.status.nodeInfo.kubeletVersion).toBe(KIND_NODE_KUBE_VERSION);
        expect(node?.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\/1\.6\./);
        // kind's own record of the cluster: the node container, labelled as kind labels it.
        expect(cluster.kind(["get", "nodes", "--name", NAME]).stdout.trim()).toBe(`${NAME}-control-plane`);
        expect(cluster.kubectl(["config", "current-context"]).stdout.trim()).toBe(`kind-${NAME}`);
    });

    it("kubeadm's control plane, kube-proxy and CoreDNS run as pods", async () => {
        await eventually(
            "every kube-system pod Ready",
            () => {
                const list = JSON.parse(cluster.kubectl(["get", "pods", "-n", "kube-system", "-o", "json"]).stdout || '{"items":[]}') as {
                    items: { metadata: { name: string }; status: { conditions?: { type: string; status: string }[] } }[];
                };
                const ready = list.items.filter((p) => p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
                return list.items.length >= 7 && ready.length === list.items.length;
            },
            180_000,
            pods,
        );
        const names = cluster.kubectl(["get", "pods", "-n", "kube-system", "-o", "name"]).stdout;
        for (const component of ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "coredns"])
            expect(names).toContain(`pod/${component}-`);
    }, 240_000);

    it("an image loaded with `kind load image-archive` runs as a pod, which resolves Services through CoreDNS", async () => {
        // busybox for nslookup, and the engine set's kubectl for the API server: busybox's own TLS client offers
        // only SHA-1 signatures in TLS 1.2, which Go servers refuse from Go 1.25 on (Kubernetes 1.37 among them).
        kubectlImage(cluster.engine, path.join(engineSet(), "bin", "kubectl"), PROBE_IMAGE);
        const archive = path.join(scratch, "probe.tar");
        cluster.engine.dockerOk(["save", "-o", archive, PROBE_IMAGE]);
        const loaded = cluster.kind(["load", "image-archive", archive, "--name", NAME]);
        expect(loaded.code, loaded.stdout + loaded.stderr).toBe(0);
        const created = cluster.kubectl([
            "run",
            "probe",
            `--image=docker.io/${PROBE_IMAGE}`,
            "--image-pull-policy=Never",
            "--restart=Never",
            "--command",
            "--",
            "sleep",
            "3600",
        ]);
        expect(created.code, created.stderr).toBe(0);
        const waited = cluster.kubectl(["wait", "--for=condition=Ready", "pod/probe", "--timeout=120s"]);
        expect(waited.code, `${waited.stderr}\n${pods()}`).toBe(0);
        // The cluster's DNS answers for a Service, and the API server answers through its Service.
        const lookup = cluster.kubectl(["exec", "probe", "--", "nslookup", "kubernetes.default.svc.cluster.local"]);
        expect(lookup.stdout, lookup.stderr).toMatch(/Address:\s*10\.96\.0\.1\b/);
        // With the pod's ServiceAccount token, verifying the API server's certificate for the Service's name.
        const sa = "/var/run/secrets/kubernetes.io/serviceaccount";
        const version = cluster.kubectl([
            "exec",
            "probe",
            "--",
            "sh",
            "-c",
            `kubectl --server=https://kubernetes.default.svc --certificate-authority=${sa}/ca.crt --token="$(cat ${sa}/token)" get --raw /version`,
        ]);
        expect(version.stdout, version.stderr).toMatch(new RegExp(`"gitVersion":\\s*"${KIND_NODE_KUBE_VERSION.replaceAll(".", "\\.")}"`));
    }, 300_000);
});

let browser: Browser | undefined;

/** A page of the web UI in a fresh browser context, and what the browser did for it (preflights among its requests). */
interface Visit extends WatchedPage {
    readonly page: Page;
    /** The main document's status. */
    readonly status: number | undefined;
    close(): Promise<void>;
}

/**
 * Opens UI_URL in Chromium (Debian's, headless, inside the test's network namespace, where localhost:8080 is the
 * node's port 80 and localhost:5002 the front), in a fresh context: no credentials remembered. A login prompt is
 * answered with `account`, as a person types it, or dismissed ("Cancel") without one.
 */
async function visit(account?: { username: string; password: string }): Promise<Visit> {
    if (!browser) {
        const launcher = path.join(scratch, "chromium-in-netns");
        const [command, args] = cluster.netns.wrap(CHROMIUM, []);
        writeFileSync(launcher, `#!/bin/sh\nexec ${[command, ...args].join(" ")} "$@"\n`, { mode: 0o755 });
        browser = await puppeteer.launch({
            executablePath: launcher,
            headless: true,
            pipe: true,
            args: ["--no-sandbox", "--headless=new"],
            userDataDir: path.join(scratch, "chromium-profile"),
        });
        const pid = browser.process()?.pid;
        if (statSync(`/proc/${pid}/ns/net`).ino !== statSync(`/run/netns/${cluster.netns.name}`).ino)
            throw new Error("Chromium is not in the test's network namespace");
    }
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    const seen = await watchPage(page, account);
    const response = await page.goto(UI_URL, { waitUntil: "load" });
    await page.waitForFunction(() => document.getElementById("status")?.textContent !== "loading", { timeout: 30_000 });
    return { page, status: response?.status(), ...seen, close: () => context.close() };
}

/** What the UI's page recorded of its requests. */
function uiLog(page: Page): Promise<{ method: string; url: string; status: number }[]> {
    return page.evaluate(() => (window as unknown as { uiLog: { method: string; url: string; status: number }[] }).uiLog);
}

/** Deletes `name:tag` with the UI's delete; the DELETE's final status and every request the UI made. */
async function deleteThroughUi(page: Page, name: string, tag: string) {
    const status = await page.evaluate(
        (n, t) => (window as unknown as { deleteImage(n: string, t: string): Promise<number> }).deleteImage(n, t),
        name,
        tag,
    );
    return { status, log: await uiLog(page) };
}

/** The status of a GET inside the test's network namespace. */
function httpStatus(url: string): number {
    return Number(cluster.netns.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", url]).stdout);
}

/** The UI's pods in hostk8s: name and image. */
function uiPods(): { name: string; image: string }[] {
    const r = cluster.kubectl([
        "get",
        "pods",
        "-n",
        "hostk8s",
        "-l",
        "app.kubernetes.io/name=registry-ui",
        "--field-selector=status.phase=Running",
        "-o",
        "json",
    ]);
    if (r.code !== 0) throw new Error(r.stderr);
    const items = (
        JSON.parse(r.stdout) as {
            items: { metadata: { name: string; deletionTimestamp?: string }; spec: { containers: { image: string }[] } }[];
        }
    ).items;
    return items
        .filter((p) => !p.metadata.deletionTimestamp)
        .map((p) => ({ name: p.metadata.name, image: p.spec.containers[0]?.image ?? "" }));
}

/**
 * GETs each of `urls` in turn, every 200 ms, from inside the test's network namespace, until `stop()`: a
 * shell loop of curl, one line per answer (`<url> <code>`, 000 for no answer), so nothing here blocks the
 * test's own event loop while Pulumi runs.
 */
function startProbeLoop(urls: readonly string[]): { stop(): Promise<{ url: string; code: string }[]> } {
    const file = path.join(scratch, `probe-${Date.now()}.log`);
    const script = `while :; do for u in "$@"; do printf '%s %s\\n' "$u" "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$u")" >> ${file}; done; sleep 0.2; done`;
    const [command, args] = cluster.netns.wrap("sh", ["-c", script, "probe", ...urls]);
    const child = spawn(command, args, { stdio: "ignore", detached: true });
    return {
        async stop() {
            if (child.pid) process.kill(-child.pid, "SIGTERM");
            await new Promise((r) => setTimeout(r, 500));
            const text = existsSync(file) ? readFileSync(file, "utf8") : "";
            return text
                .split("\n")
                .filter(Boolean)
                .map((line) => {
                    const [url = "", code = ""] = line.split(" ");
                    return { url, code };
                });
        },
    };
}

/** Loads an image of the Docker host into the node's containerd (`kind load image-archive`). */
function loadIntoNode(ref: string): void {
    const archive = path.join(scratch, `${ref.replace(/[^A-Za-z0-9._-]/g, "_")}.tar`);
    cluster.engine.dockerOk(["save", "-o", archive, ref]);
    const loaded = cluster.kind(["load", "image-archive", archive, "--name", NAME]);
    if (loaded.code !== 0) throw new Error(`kind load image-archive ${ref}: ${loaded.stdout}${loaded.stderr}`);
}

/** Every object of OBJECT_KINDS in the cluster, as "Kind namespace/name uid", sorted. */
function clusterObjects(): string[] {
    const r = cluster.kubectl(["get", OBJECT_KINDS.join(","), "-A", "-o", "json"]);
    if (r.code !== 0) throw new Error(`kubectl get: ${r.stderr}`);
    const { items } = JSON.parse(r.stdout) as { items: { kind: string; metadata: { namespace?: string; name: string; uid: string } }[] };
    return items.map((i) => `${i.kind} ${i.metadata.namespace ?? ""}/${i.metadata.name} ${i.metadata.uid}`).sort();
}

/** The node's containerd files: each directory under /etc/containerd/certs.d, each file's digest there, and config.toml's. */
function nodeFiles(): string[] {
    const r = cluster.engine.docker([
        "exec",
        NODE,
        "sh",
        "-c",
        "{ find /etc/containerd/certs.d -type d -exec printf '%s/\\n' {} +; find /etc/containerd/certs.d -type f -exec sha256sum {} +; } 2>/dev/null; sha256sum /etc/containerd/config.toml",
    ]);
    if (r.code !== 0) throw new Error(`docker exec ${NODE}: ${r.stderr}`);
    return r.stdout.trim().split("\n").sort();
}

/** Whether a container of the Docker host runs; undefined when it is gone. */
function running(name: string): boolean | undefined {
    const r = cluster.engine.docker(["inspect", "-f", "{{.State.Running}}", name]);
    return r.code === 0 ? r.stdout.trim() === "true" : undefined;
}

/** `kind` of a Kubernetes resource type ("kubernetes:networking.k8s.io/v1:Ingress") as kubectl names it ("ingresses"). */
const plural = (type: string) => {
    const kind = (type.split(":").pop() ?? "").toLowerCase();
    return kind.endsWith("s") ? `${kind}es` : `${kind}s`;
};

describe("the kind stack on the real cluster", () => {
    beforeAll(async () => {
        // The images the stack pins, on the Docker host: registry.image, registry.caddyImage, kind.watcherImage.
        registryImage(cluster.engine);
        pinnedCaddyImage(cluster.engine);
        dockerCliImage(cluster.engine);
        // registry.ui.image: the UI's stand-in, in the node's containerd for the UI's Deployment (no registry to
        // pull it from), and on the Docker host for kind.ui.servedBy front; a second build for the Deployment's roll.
        for (const ref of [UI_IMAGE, UI_IMAGE_NEXT]) {
            registryUiStandInImage(cluster.engine, ref);
            loadIntoNode(ref);
        }
        // The README's `helm install traefik …` (no chart can be fetched here): Traefik built from its module, as
        // a pod on the labelled node with a hostPort, its class the default, ExternalName Services allowed.
        await startTraefikInKind(cluster);
        // The README's `docker pull alpine:3.20`, without Docker Hub.
        busyboxImage(cluster.engine, "alpine:3.20");
        developer = cluster.engine.client();
        const dataDir = path.join(scratch, "dso-registry-kind");
        mkdirSync(dataDir);
        ws = openWorkspace({
            stackFiles: [STACK],
            env: { KUBECONFIG: cluster.kubeconfig, DOCKER_HOST: cluster.engine.host, DOCKER_CONFIG: cluster.engine.client().configDir },
        });
        before = { objects: clusterObjects(), nodeFiles: nodeFiles() };
    }, 10 * 60_000);

    it(
        "the README's kind quick start, run as written: up, a push and a pod that runs the pushed image",
        async () => {
            const w = ws as Workspace;
            const sh = async (line: string, input?: string) => {
                const r = await w.shell(line, input === undefined ? {} : { input });
                expect(r.code, `${line}\n${r.stdout}${r.stderr}`).toBe(0);
                return r;
            };
            await sh(`npx pulumi stack init ${STACK}`);
            await w.pulumiOk([
                "config",
                "set",
                "--path",
                "dso-registry:kind.dataDir",
                path.join(scratch, "dso-registry-kind"),
                "-s",
                STACK,
            ]);
            await sh("npx pulumi up");
            for (const name of CONTAINERS) expect(running(name), name).toBe(true);

            const shown = await sh("npx pulumi stack output --show-secrets pushCredentials");
            const push = JSON.parse(shown.stdout) as { username: string; password: string };
            expect(push.username).toBe("ci-push");
            await sh("docker login localhost:5002 -u ci-push --password-stdin", push.password);
            await sh("docker tag alpine:3.20 localhost:5002/dev/alpine:3.20");
            await sh("docker push localhost:5002/dev/alpine:3.20");
            await sh("kubectl run hello --restart=Never --image=localhost:5002/dev/alpine:3.20 -- echo pulled from the registry");
            await sh("kubectl wait --for=jsonpath='{.status.phase}'=Succeeded pod/hello --timeout=120s");
            const logs = await sh("kubectl logs hello");
            expect(logs.stdout.trim()).toBe("pulled from the registry");

            // What up did in the node and the cluster (docs/kind.md): the hosts.toml files, the KEP-1755 ConfigMap.
            for (const dir of ["localhost:5002", "kind-registry:5002"]) {
                const hosts = cluster.engine.docker(["exec", NODE, "cat", `/etc/containerd/certs.d/${dir}/hosts.toml`]);
                expect(hosts.stdout, hosts.stderr).toContain('[host."http://kind-registry:5002"]');
            }
            const configMap = cluster.kubectl(["get", "configmap", "-n", "kube-public", "local-registry-hosting", "-o", "json"]);
            expect(configMap.code, configMap.stderr).toBe(0);
            const hosting = YAML.parse(
                (JSON.parse(configMap.stdout) as { data: Record<string, string> }).data["localRegistryHosting.v1"] ?? "",
            );
            expect(hosting).toMatchObject({ host: "localhost:5002", hostFromContainerRuntime: "kind-registry:5002" });
            // The destroy check sees what up made: the KEP-1755 ConfigMap, the UI's objects in hostk8s (its namespace,
            // Deployment, Services, Ingress, and what the Deployment makes), the node's hosts.toml files.
            const made = clusterObjects().filter((o) => !before.objects.includes(o) && !/^Pod default\/hello /.test(o));
            expect(
                made
                    .map((o) => o.split(" ").slice(0, 2).join(" "))
                    .map((o) => o.replace(/^(ReplicaSet|Pod) hostk8s\/registry-ui-.*$/, "$1 hostk8s/registry-ui-…"))
                    .sort(),
            ).toEqual(
                [
                    "ConfigMap hostk8s/kube-root-ca.crt",
                    "ConfigMap kube-public/local-registry-hosting",
                    "Deployment hostk8s/registry-ui",
                    "Ingress hostk8s/registry-ui",
                    "Namespace /hostk8s",
                    "Pod hostk8s/registry-ui-…",
                    "ReplicaSet hostk8s/registry-ui-…",
                    "Service hostk8s/registry-api",
                    "Service hostk8s/registry-ui",
                    "ServiceAccount hostk8s/default",
                ].sort(),
            );
            expect(running(UI_CONTAINER)).toBeUndefined();
            expect(
                nodeFiles()
                    .filter((f) => !before.nodeFiles.includes(f))
                    .join("\n"),
            ).toContain("/hosts.toml");
            // The destroy check compares every kind of object the stack wrote.
            const state = await w.exportState(STACK);
            const written = [
                ...new Set(
                    (state.deployment.resources ?? [])
                        .map((r) => String(r.type))
                        .filter((t) => t.startsWith("kubernetes:"))
                        .map(plural),
                ),
            ];
            expect(written.length).toBeGreaterThan(0);
            for (const kind of written) expect(OBJECT_KINDS, kind).toContain(kind);
        },
        15 * 60_000,
    );

    it(
        "an image pushed on the Docker host with the push account runs in the cluster by both of its names",
        async () => {
            const push = (await (ws as Workspace).output(STACK, "pushCredentials")) as { username: string; password: string };
            const login = developer.login("localhost:5002", push);
            expect(login.code, login.stderr).toBe(0);
            payloadImage(developer, `localhost:5002/${APP}`);
            developer.dockerOk(["push", `localhost:5002/${APP}`]);
            // docs/kind.md's step 4: the kubelet's containerd pulls it through the node's hosts.toml.
            const created = cluster.kubectl(["create", "deployment", "app", `--image=localhost:5002/${APP}`, "--", "sleep", "3600"]);
            expect(created.code, created.stderr).toBe(0);
            const rolled = cluster.kubectl(["rollout", "status", "deployment/app", "--timeout=180s"]);
            expect(rolled.code, `${rolled.stdout}${rolled.stderr}\n${pods()}`).toBe(0);
            // The name pods use, on the kind network.
            const run2 = cluster.kubectl([
                "run",
                "app-by-name",
                `--image=kind-registry:5002/${APP}`,
                "--restart=Never",
                "--command",
                "--",
                "sleep",
                "3600",
            ]);
            expect(run2.code, run2.stderr).toBe(0);
            const waited = cluster.kubectl(["wait", "--for=condition=Ready", "pod/app-by-name", "--timeout=180s"]);
            expect(waited.code, `${waited.stderr}\n${pods()}`).toBe(0);
        },
        10 * 60_000,
    );

    it(
        "the web UI in Chromium at http://localhost:8080/registry/, behind the cluster's ingress, lists the pushed images anonymously, on one origin",
        async () => {
            const v = await visit();
            try {
                expect(v.status).toBe(200);
                const log = await uiLog(v.page);
                expect(await v.page.$eval("#status", (e) => e.textContent), JSON.stringify(log)).toBe("loaded");
                // The settings the stack gives the UI's Deployment: the API on the page's own origin, the ingress's.
                expect(await v.page.$eval("#title", (e) => e.textContent)).toBe(UI_ORIGIN);
                const repositories = await v.page.$$eval("li.repository", (items) => items.map((i) => (i as HTMLElement).dataset.name));
                expect(repositories).toEqual(["dev/alpine", "dev/app"]);
                const tags = await v.page.$$eval("li.tag", (items) =>
                    items.map((i) => [(i as HTMLElement).dataset.tag, (i as HTMLElement).dataset.digest ?? ""]),
                );
                expect(tags.map((t) => t[0]).sort()).toEqual(["dev/alpine:3.20", `${APP}`]);
                for (const [, digest] of tags) expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
                // Every request went to /v2/ on the page's origin, through the ingress to the front, and was
                // answered without an account; the browser saw one origin: no preflight, no other host.
                expect(log.length).toBeGreaterThan(0);
                expect(
                    log.every((r) => r.status === 200 && r.url.startsWith(`${UI_ORIGIN}/v2/`)),
                    JSON.stringify(log),
                ).toBe(true);
                expect(v.requests.filter((r) => r.method === "OPTIONS")).toEqual([]);
                expect(v.requests.filter((r) => !r.url.startsWith(`${UI_ORIGIN}/`))).toEqual([]);
                // The page's own files came from the UI's pods, under /registry/ as the Ingress sends it.
                expect(v.requests.map((r) => r.url)).toContain(`${UI_ORIGIN}/registry/ui.js`);
                expect(v.consoleErrors).toEqual([]);
            } finally {
                await v.close();
            }
            // The front serves no UI of its own now, and the API is where the design puts it on the Docker host too.
            expect(httpStatus("http://localhost:5002/registry/")).toBe(404);
            expect(httpStatus("http://localhost:5002/v2/dev/app/tags/list")).toBe(200);
            expect(httpStatus(`${UI_ORIGIN}/v2/dev/app/tags/list`)).toBe(200);
        },
        5 * 60_000,
    );

    it(
        "the UI's Deployment rolls on an image change while the API answers every request, through the ingress and on localhost:5002",
        async () => {
            const w = ws as Workspace;
            const podsBefore = uiPods();
            expect(podsBefore).toHaveLength(1);
            const loop = startProbeLoop([`${UI_ORIGIN}/v2/dev/app/tags/list`, "http://localhost:5002/v2/dev/app/tags/list"]);
            try {
                await w.pulumiOk(["config", "set", "--path", "dso-registry:registry.ui.image", UI_IMAGE_NEXT, "-s", STACK]);
                const up = await w.pulumi(["up", "--yes", "--skip-preview", "-s", STACK]);
                expect(up.code, up.stdout + up.stderr).toBe(0);
                // Only the UI's Deployment changed: no container of the registry's was made anew.
                expect(up.stdout).toMatch(/kind-registry-ui\s+updated/);
                expect(up.stdout).not.toMatch(/kind-registry-containers\s+(updated|replaced)/);
                const rolled = cluster.kubectl(["-n", "hostk8s", "rollout", "status", "deployment/registry-ui", "--timeout=120s"]);
                expect(rolled.code, rolled.stderr).toBe(0);
                // A few seconds more of the loop after the roll.
                await new Promise((r) => setTimeout(r, 3000));
            } finally {
                const answers = await loop.stop();
                console.log(`the UI's roll: ${answers.length} API requests, ${answers.filter((a) => a.code !== "200").length} not 200`);
                expect(answers.length).toBeGreaterThan(20);
                expect(answers.filter((a) => a.code !== "200")).toEqual([]);
            }
            const podsAfter = uiPods();
            expect(podsAfter).toHaveLength(1);
            expect(podsAfter[0]?.name).not.toBe(podsBefore[0]?.name);
            expect(podsAfter[0]?.image).toBe(UI_IMAGE_NEXT);
            const v = await visit();
            try {
                expect(await v.page.$eval("#status", (e) => e.textContent)).toBe("loaded");
            } finally {
                await v.close();
            }
        },
        10 * 60_000,
    );

    it(
        "with deletes offered, the UI deletes a tag with the push account and is refused without it, on its own origin",
        async () => {
            const w = ws as Workspace;
            await w.pulumiOk(["config", "set", "--path", "dso-registry:registry.ui.deleteEnabled", "true", "-s", STACK]);
            const up = await w.pulumi(["up", "--yes", "--skip-preview", "-s", STACK]);
            expect(up.code, up.stdout + up.stderr).toBe(0);
            const rolled = cluster.kubectl(["-n", "hostk8s", "rollout", "status", "deployment/registry-ui", "--timeout=120s"]);
            expect(rolled.code, rolled.stderr).toBe(0);
            // The ingress sends the page to the new pod once Traefik has seen it ready and the old one gone: the
            // settings the page is served with say when (the stand-in writes them into config.js as it starts).
            let served = "";
            await eventually(
                "the ingress serving the UI with deletes offered",
                () => {
                    served = cluster.netns.run("curl", ["-s", "--max-time", "5", `${UI_ORIGIN}/registry/config.js`]).stdout;
                    return served.includes('"deleteImages": true');
                },
                120_000,
                () => `${served}\n${cluster.kubectl(["get", "pods", "-n", "hostk8s", "-o", "wide"]).stdout}`,
            );
            const push = (await w.output(STACK, "pushCredentials")) as { username: string; password: string };

            const anonymous = await visit();
            try {
                const refused = await deleteThroughUi(anonymous.page, "dev/alpine", "3.20");
                expect(refused.status, JSON.stringify(refused.log)).toBe(401);
                // The login was asked for on the UI's origin: the realm the front gives there.
                expect(anonymous.prompts[0]).toMatchObject({ scheme: "basic", origin: UI_ORIGIN });
            } finally {
                await anonymous.close();
            }
            expect(cluster.netns.run("curl", ["-s", "http://localhost:5002/v2/dev/alpine/tags/list"]).stdout).toContain('"3.20"');

            const withAccount = await visit(push);
            try {
                const deleted = await deleteThroughUi(withAccount.page, "dev/alpine", "3.20");
                expect(deleted.status, JSON.stringify(deleted.log)).toBe(202);
                expect(deleted.log.every((r) => r.url.startsWith(`${UI_ORIGIN}/v2/`))).toBe(true);
                expect(withAccount.requests.filter((r) => r.method === "OPTIONS")).toEqual([]);
            } finally {
                await withAccount.close();
            }
            const after = cluster.netns.run("curl", [
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "http://localhost:5002/v2/dev/alpine/manifests/3.20",
            ]);
            expect(after.stdout).toBe("404");
        },
        10 * 60_000,
    );

    it(
        "kind.ui.servedBy front and back: the UI moves between the registry's front and the cluster, and no image is lost",
        async () => {
            const w = ws as Workspace;
            const catalog = () => cluster.netns.run("curl", ["-s", "http://localhost:5002/v2/_catalog"]).stdout;
            const images = catalog();
            expect(images).toContain("dev/app");
            await w.pulumiOk(["config", "set", "--path", "dso-registry:kind.ui.servedBy", "front", "-s", STACK]);
            const toFront = await w.pulumi(["up", "--yes", "--skip-preview", "-s", STACK]);
            expect(toFront.code, toFront.stdout + toFront.stderr).toBe(0);
            expect(running(UI_CONTAINER)).toBe(true);
            expect(cluster.kubectl(["get", "namespace", "hostk8s", "--ignore-not-found", "-o", "name"]).stdout.trim()).toBe("");
            expect(httpStatus("http://localhost:5002/registry/")).toBe(200);
            expect(catalog()).toBe(images);

            // Back to the design's default, as a stack of the release whose front served the UI moves on upgrading.
            await w.pulumiOk(["config", "rm", "--path", "dso-registry:kind.ui.servedBy", "-s", STACK]);
            const toIngress = await w.pulumi(["up", "--yes", "--skip-preview", "-s", STACK]);
            expect(toIngress.code, toIngress.stdout + toIngress.stderr).toBe(0);
            expect(running(UI_CONTAINER)).toBeUndefined();
            const rolled = cluster.kubectl(["-n", "hostk8s", "rollout", "status", "deployment/registry-ui", "--timeout=120s"]);
            expect(rolled.code, rolled.stderr).toBe(0);
            expect(catalog()).toBe(images);
            const v = await visit();
            try {
                expect(await v.page.$eval("#status", (e) => e.textContent)).toBe("loaded");
                const repositories = await v.page.$$eval("li.repository", (items) => items.map((i) => (i as HTMLElement).dataset.name));
                expect(repositories).toContain("dev/app");
            } finally {
                await v.close();
            }
        },
        15 * 60_000,
    );

    it(
        "a second `up` plans nothing, and `destroy` leaves the cluster and the node as they were before the first `up`",
        async () => {
            const w = ws as Workspace;
            const again = await w.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK]);
            expect(again.code, again.stdout + again.stderr).toBe(0);
            // What the test itself made after the first record: the README's pod, the app's pods.
            for (const args of [
                ["delete", "pod", "hello", "app-by-name", "--ignore-not-found", "--wait"],
                ["delete", "deployment", "app", "--ignore-not-found", "--wait"],
            ]) {
                const r = cluster.kubectl(args);
                expect(r.code, r.stderr).toBe(0);
            }
            const destroyed = await w.pulumi(["destroy", "--yes", "-s", STACK]);
            expect(destroyed.code, destroyed.stdout + destroyed.stderr).toBe(0);
            expect([...CONTAINERS, UI_CONTAINER].map(running)).toEqual([undefined, undefined, undefined, undefined]);
            let now: string[] = [];
            await eventually(
                "the cluster's objects as before the first up",
                () => {
                    now = clusterObjects();
                    return JSON.stringify(now) === JSON.stringify(before.objects);
                },
                90_000,
                () =>
                    `left: ${now.filter((o) => !before.objects.includes(o)).join(", ")}\ngone: ${before.objects.filter((o) => !now.includes(o)).join(", ")}`,
            );
            expect(now).toEqual(before.objects);
            expect(nodeFiles()).toEqual(before.nodeFiles);
        },
        15 * 60_000,
    );

    it(
        "kind's own local-registry recipe followed first: its kind-registry container and ConfigMap stop `up` before any change, and `destroy` keeps both",
        async () => {
            const w = ws as Workspace;
            // kind's recipe (kind.sigs.k8s.io/docs/user/local-registry): the registry container, then the KEP-1755 ConfigMap.
            const recipe = runKindRecipeRegistry(cluster.engine, registryImage(cluster.engine));
            expect(recipe.code, recipe.stderr).toBe(0);
            const hosting =
                'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local-registry-hosting\n  namespace: kube-public\ndata:\n  localRegistryHosting.v1: |\n    host: "localhost:5001"\n';
            const applied = await w.shell("kubectl apply -f -", { input: hosting });
            expect(applied.code, applied.stderr).toBe(0);
            const container = () =>
                cluster.engine.docker(["inspect", "-f", "{{.Id}} {{.State.Running}} {{.State.StartedAt}}", "kind-registry"]).stdout.trim();
            const configMap = () =>
                cluster.kubectl([
                    "get",
                    "configmap",
                    "-n",
                    "kube-public",
                    "local-registry-hosting",
                    "-o",
                    "jsonpath={.metadata.uid} {.metadata.resourceVersion} {.data}",
                ]).stdout;
            const was = { container: container(), configMap: configMap() };
            try {
                const up = await w.pulumi(["up", "--yes", "-s", STACK]);
                const output = up.stdout + up.stderr;
                expect(up.code, output).not.toBe(0);
                expect(output).toContain("- ConfigMap kube-public/local-registry-hosting (written by kubectl-client-side-apply");
                expect(output).toContain(
                    "kubectl label configmap local-registry-hosting --namespace kube-public app.kubernetes.io/part-of=dso-registry",
                );
                // Nothing was changed: no container of the stack's, the recipe's two as they were.
                expect([...CONTAINERS.slice(1), UI_CONTAINER].map(running)).toEqual([undefined, undefined, undefined]);
                expect({ container: container(), configMap: configMap() }).toEqual(was);
                const destroyed = await w.pulumi(["destroy", "--yes", "-s", STACK]);
                expect(destroyed.code, destroyed.stdout + destroyed.stderr).toBe(0);
                expect({ container: container(), configMap: configMap() }).toEqual(was);

                // The ConfigMap gone, the container alone stops `up` where the containers are run; destroy keeps it.
                cluster.kubectl(["delete", "configmap", "-n", "kube-public", "local-registry-hosting"]);
                const again = await w.pulumi(["up", "--yes", "--skip-preview", "-s", STACK]);
                expect(again.code, again.stdout + again.stderr).not.toBe(0);
                expect(again.stdout + again.stderr).toContain(
                    "A container named kind-registry exists on this Docker host and this stack did not make it",
                );
                expect([...CONTAINERS.slice(1), UI_CONTAINER].map(running)).toEqual([undefined, undefined, undefined]);
                expect(container()).toBe(was.container);
                const destroyedAgain = await w.pulumi(["destroy", "--yes", "-s", STACK]);
                expect(destroyedAgain.code, destroyedAgain.stdout + destroyedAgain.stderr).toBe(0);
                expect(container()).toBe(was.container);
            } finally {
                cluster.engine.docker(["rm", "-f", "kind-registry"]);
                cluster.kubectl(["delete", "configmap", "-n", "kube-public", "local-registry-hosting", "--ignore-not-found"]);
            }
        },
        10 * 60_000,
    );
});

describe("stop", () => {
    it("`stop()` deletes the cluster, the engine and the namespace", async () => {
        const { netns, engine } = cluster;
        const dataRoot = engine.dataRoot;
        await cluster.stop();
        expect(run("ip", ["netns", "list"]).stdout).not.toContain(netns.name);
        expect(existsSync(dataRoot)).toBe(false);
        expect(existsSync(cluster.kubeconfig)).toBe(false);
    }, 120_000);
});

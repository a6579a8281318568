/// <reference lib="dom" />
/**
 * A real `kind create cluster` (test/support/kindCluster.ts): the kind CLI built from its module, a node image
 * built here from Debian's packages and the engine set (test/support/kindNodeImage.ts), a private Docker
 * engine in a test network namespace. The node runs systemd, containerd, the kubelet and kubeadm's control
 * plane as kind's nodes do; the test checks that the node is Ready, that the kube-system pods kubeadm starts
 * run, that an image loaded with `kind load image-archive` runs as a pod, that the pod resolves a Service's
 * name through the cluster's CoreDNS and reaches the API server through its Service. Then the committed `kind`
 * stack on that cluster: the README's kind quick start as written, an image pushed through the front running
 * by both of its names, the web UI in Chromium at http://localhost:5002/registry/ (the front's own origin:
 * no ingress controller in the cluster), a second `up` that plans nothing, and a `destroy` after which the
 * cluster's objects and the node's containerd files are what they were before the first `up`; and that
 * `stop()` leaves nothing behind.
 *
 * The README's kind quick start (README.md, "A kind cluster on your machine"), line by line:
 * - `kind create cluster --name kind`: differs. The cluster is made by startKindCluster with a config of its
 *   own: the node image built here (`--image`; kind's own cannot be pulled), the API on the test namespace's
 *   address, no default CNI (kindnetd cannot be pulled) and the kubeadm patches this machine needs.
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
 * The web UI: joxit/docker-registry-ui cannot be pulled, so its image is a stand-in built here, busybox httpd
 * serving test/support/registryUiStandIn (a page that makes the requests the real UI 2.x makes to `/v2/` and
 * shows the catalog, tags and digests) with the settings the stack gives its container in its environment,
 * written into the page by the image's entrypoint as the real image does. Chromium (Debian's, headless,
 * driven by puppeteer-core over a pipe) runs inside the test's network namespace, where localhost:5002 is the
 * front's published port on the Docker host: the page goes browser → front → the UI's container (on the
 * backend network), and its `/v2/` requests browser → front → Distribution, one origin.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import puppeteer from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as YAML from "yaml";
import type { DockerClient } from "../support/dockerEngine";
import { busyboxImage, kubectlImage, payloadImage, pinnedCaddyImage, registryImage, registryUiStandInImage } from "../support/dockerImages";
import { type KindCluster, startKindCluster } from "../support/kindCluster";
import { runKindRecipeRegistry } from "../support/kindFiles";
import { dockerCliImage } from "../support/kindNode";
import { KIND_NODE_KUBE_VERSION } from "../support/kindNodeImage";
import { engineSet, openWorkspace, type Workspace } from "../support/pulumiEngine";
import { privateDir, removeDir, run } from "../support/serverProcess";

/** The committed kind stack's `kind.clusterName` (its context `kind-kind`). */
const NAME = "kind";
const NODE = `${NAME}-control-plane`;
const STACK = "kind";
/** The image a pod runs, built in the Docker engine and loaded into the node with kind. */
const PROBE_IMAGE = "dso-test/probe:1";
/** The UI's image as the stack pins it (registry.ui.image's default), a stand-in built here. */
const UI_IMAGE = "joxit/docker-registry-ui:2.6.0";
/** The UI's address as the README and docs/kind.md give it: the front's own origin on the Docker host. */
const UI_URL = "http://localhost:5002/registry/";
const CONTAINERS = ["kind-registry", "kind-registry-distribution", "kind-registry-node-watcher", "kind-registry-ui"];
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
    cluster = await startKindCluster({ name: NAME });
    console.log(
        `kind cluster: node image ${cluster.timings.image} s (built, or loaded from the cache), kind create cluster ${cluster.timings.create} s, all ${Math.round((Date.now() - started) / 1000)} s`,
    );
}, 30 * 60_000);

afterAll(async () => {
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
    beforeAll(() => {
        // The images the stack pins, on the Docker host: registry.image, registry.caddyImage, kind.watcherImage.
        registryImage(cluster.engine);
        pinnedCaddyImage(cluster.engine);
        dockerCliImage(cluster.engine);
        // registry.ui.image: the UI's stand-in, on the Docker host beside the registry's images.
        registryUiStandInImage(cluster.engine, UI_IMAGE);
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
            // The destroy check sees what up made: the KEP-1755 ConfigMap (nothing of the UI, which is the Docker host's), the node's hosts.toml files.
            const made = clusterObjects().filter((o) => !before.objects.includes(o) && !/^Pod default\/hello /.test(o));
            expect(made.map((o) => o.split(" ").slice(0, 2).join(" "))).toEqual(["ConfigMap kube-public/local-registry-hosting"]);
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
        "the web UI in Chromium at http://localhost:5002/registry/ lists the pushed images, anonymously, on one origin",
        async () => {
            // Chromium inside the test's network namespace, where localhost:5002 is the front's published port.
            const launcher = path.join(scratch, "chromium-in-netns");
            const [command, args] = cluster.netns.wrap(CHROMIUM, []);
            writeFileSync(launcher, `#!/bin/sh\nexec ${[command, ...args].join(" ")} "$@"\n`, { mode: 0o755 });
            const browser = await puppeteer.launch({
                executablePath: launcher,
                headless: true,
                pipe: true,
                args: ["--no-sandbox", "--headless=new"],
                userDataDir: path.join(scratch, "chromium-profile"),
            });
            try {
                const pid = browser.process()?.pid;
                expect(pid).toBeDefined();
                expect(statSync(`/proc/${pid}/ns/net`).ino).toBe(statSync(`/run/netns/${cluster.netns.name}`).ino);
                const page = await browser.newPage();
                const consoleErrors: string[] = [];
                page.on("console", (m) => {
                    if (m.type() === "error") consoleErrors.push(m.text());
                });
                page.on("pageerror", (e) => consoleErrors.push(String(e)));
                const response = await page.goto(UI_URL, { waitUntil: "load" });
                expect(response?.status()).toBe(200);
                await page.waitForFunction(() => document.getElementById("status")?.textContent !== "loading", { timeout: 30_000 });
                const status = await page.$eval("#status", (e) => e.textContent);
                const log = await page.evaluate(
                    () => (window as unknown as { uiLog: { method: string; url: string; status: number }[] }).uiLog,
                );
                expect(status, JSON.stringify(log)).toBe("loaded");
                // The settings the stack gives the UI's container: the API on the page's own origin.
                expect(await page.$eval("#title", (e) => e.textContent)).toBe("http://localhost:5002");
                const repositories = await page.$$eval("li.repository", (items) => items.map((i) => (i as HTMLElement).dataset.name));
                expect(repositories).toEqual(["dev/alpine", "dev/app"]);
                const tags = await page.$$eval("li.tag", (items) =>
                    items.map((i) => [(i as HTMLElement).dataset.tag, (i as HTMLElement).dataset.digest ?? ""]),
                );
                expect(tags.map((t) => t[0]).sort()).toEqual(["dev/alpine:3.20", `${APP}`]);
                for (const [, digest] of tags) expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
                // Every request went to /v2/ on the page's origin and was answered without an account.
                expect(log.length).toBeGreaterThan(0);
                expect(
                    log.every((r) => r.status === 200 && r.url.startsWith("http://localhost:5002/v2/")),
                    JSON.stringify(log),
                ).toBe(true);
                expect(consoleErrors).toEqual([]);
            } finally {
                await browser.close();
            }
        },
        5 * 60_000,
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
            expect(CONTAINERS.map(running)).toEqual([undefined, undefined, undefined, undefined]);
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
                expect(CONTAINERS.slice(1).map(running)).toEqual([undefined, undefined, undefined]);
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
                expect(CONTAINERS.slice(1).map(running)).toEqual([undefined, undefined, undefined]);
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

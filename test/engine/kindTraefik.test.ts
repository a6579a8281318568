/**
 * Traefik as a real kind cluster's ingress controller (test/support/kindTraefik.ts), as kind's web UI is
 * served: a cluster made by `kind create cluster` (test/support/kindCluster.ts) with kind's ingress settings on
 * its control-plane node (the label `ingress-ready=true`, the node's :80 published on the Docker host's
 * 127.0.0.1:8080), Traefik in it as a pod on that node with a hostPort 80, and curl inside the test's network
 * namespace, where 127.0.0.1:8080 is the Docker host's published port. What is checked:
 *
 * - Traefik's pod runs on the labelled node in the pod network (a hostPort, not the node's network), and the
 *   node's port 80 is what the Docker host publishes on 127.0.0.1:8080;
 * - an Ingress without `ingressClassName` gets Traefik's class (the default one) when it is created, and
 *   http://localhost:8080/web/ answers from the pod of a Deployment behind a ClusterIP Service;
 * - an Ingress path /v2/ to a Service of type ExternalName naming a container on the `kind` Docker network
 *   (`probe-front`, as kind's registry front is named by its Service) reaches that container: it receives the
 *   path as sent and the Host header the browser sent (localhost:8080);
 * - `uninstall()` leaves nothing of Traefik in the cluster and :8080 stops answering; Traefik started again
 *   without `allowExternalNameServices` serves /web/ but not /v2/ (404) and logs why: the flag is what lets
 *   the ExternalName route through.
 *
 * The images are built here (no registry can be pulled from): Traefik's from its module's build, and one of
 * busybox for the Deployment's httpd and the container's (a CGI script that prints the Host it received).
 */

import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { busyboxRootfs, importRootfs } from "../support/dockerImages";
import { type KindCluster, startKindCluster } from "../support/kindCluster";
import { KIND_INGRESS_CONTROL_PLANE, type KindTraefik, startTraefikInKind } from "../support/kindTraefik";
import { privateDir, type RunResult, removeDir } from "../support/serverProcess";

const NAME = "kind";
const NODE = `${NAME}-control-plane`;
/** Where the browser reaches the cluster's ingress: the node's :80 as the Docker host publishes it. */
const INGRESS = "http://localhost:8080";
/** The test's own objects in the cluster. */
const NS = "probe";
/** busybox httpd, for the Deployment (files written at start) and the container (/www/v2/host.cgi). */
const HTTPD_IMAGE = "dso-test/probe-httpd:1";
/** The container on the `kind` network that the ExternalName Service names (as kind's registry front). */
const FRONT = "probe-front";
const FRONT_PORT = 5002;

let cluster: KindCluster;
let traefik: KindTraefik | undefined;
let scratch: string;

/** Tries `check` every second until it returns true or `timeoutMs` passes; then fails with `describe()`. */
async function eventually(what: string, check: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
        if (Date.now() > deadline) throw new Error(`${what} did not happen in ${timeoutMs / 1000} s\n${describe()}`);
        await new Promise((r) => setTimeout(r, 1000));
    }
}

/** curl inside the test's namespace: the body, then the status code on the last line. */
function curl(url: string, extra: readonly string[] = []): RunResult & { status: string; body: string } {
    const r = cluster.netns.run("curl", ["-sS", "--max-time", "5", "-w", "\n%{http_code}", ...extra, url]);
    const lines = r.stdout.split("\n");
    return { ...r, status: lines.at(-1) ?? "", body: lines.slice(0, -1).join("\n") };
}

const kubectlOk = (args: readonly string[], input?: string): string => {
    const r = cluster.kubectl(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: exit ${r.code}\n${r.stdout}${r.stderr}`);
    return r.stdout;
};
const apply = (items: readonly object[]) => kubectlOk(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items }));
const diagnostics = () =>
    `${cluster.kubectl(["get", "pods,svc,ingress", "-A", "-o", "wide"]).stdout}\n${traefik?.logs() ?? "(no Traefik)"}`;

/** The probe image: busybox, and a CGI script under /www/v2/ that prints the Host header and the path it got. */
function probeHttpdImage(): void {
    const root = path.join(scratch, "probe-rootfs");
    busyboxRootfs(root);
    mkdirSync(path.join(root, "www/v2"), { recursive: true });
    writeFileSync(
        path.join(root, "www/v2/host.cgi"),
        ["#!/bin/sh", "printf 'Content-Type: text/plain\\r\\n\\r\\n'", 'echo "host=$HTTP_HOST path=$REQUEST_URI"', ""].join("\n"),
        { mode: 0o755 },
    );
    // busybox httpd runs CGI outside /cgi-bin/ through an interpreter named per extension.
    writeFileSync(path.join(root, "etc/httpd.conf"), "*.cgi:/bin/sh\n");
    importRootfs(cluster.engine, root, HTTPD_IMAGE, ['CMD ["sh"]']);
    const archive = path.join(scratch, "probe-httpd.tar");
    cluster.engine.dockerOk(["save", "-o", archive, HTTPD_IMAGE]);
    const loaded = cluster.kind(["load", "image-archive", archive, "--name", NAME]);
    if (loaded.code !== 0) throw new Error(`kind load image-archive: ${loaded.stdout}${loaded.stderr}`);
}

beforeAll(async () => {
    scratch = privateDir("kind-traefik-test");
    const started = Date.now();
    cluster = await startKindCluster({ name: NAME, controlPlane: KIND_INGRESS_CONTROL_PLANE });
    console.log(
        `kind cluster: node image ${cluster.timings.image} s, kind create cluster ${cluster.timings.create} s, all ${Math.round((Date.now() - started) / 1000)} s`,
    );
    const traefikStarted = Date.now();
    traefik = await startTraefikInKind(cluster);
    console.log(
        `Traefik in kind: ready (image built and loaded, Deployment rolled out, CoreDNS ready) in ${Math.round((Date.now() - traefikStarted) / 1000)} s`,
    );
    probeHttpdImage();
}, 30 * 60_000);

afterAll(async () => {
    // The cluster, the engine (with probe-front) and the namespace go with it.
    await cluster?.stop();
    if (scratch) removeDir(scratch);
}, 5 * 60_000);

describe("Traefik as a kind cluster's ingress controller", () => {
    it("runs on the node labelled ingress-ready, in the pod network with a hostPort 80, the node's :80 published on 127.0.0.1:8080", () => {
        const node = JSON.parse(kubectlOk(["get", "node", NODE, "-o", "json"])) as {
            metadata: { labels: Record<string, string> };
            status: { addresses: { type: string; address: string }[] };
        };
        expect(node.metadata.labels["ingress-ready"]).toBe("true");
        const pods = JSON.parse(kubectlOk(["get", "pods", "-n", traefik!.namespace, "-o", "json"])) as {
            items: {
                spec: { nodeName: string; hostNetwork?: boolean; containers: { ports: { name: string; hostPort?: number }[] }[] };
                status: { podIP: string; hostIP: string };
            }[];
        };
        expect(pods.items).toHaveLength(1);
        const [pod] = pods.items;
        expect(pod?.spec.nodeName).toBe(NODE);
        expect(pod?.spec.hostNetwork ?? false).toBe(false);
        expect(pod?.status.podIP).not.toBe(pod?.status.hostIP);
        expect(pod?.spec.containers[0]?.ports.find((p) => p.name === "web")?.hostPort).toBe(80);
        expect(cluster.engine.dockerOk(["port", NODE, "80/tcp"])).toBe("127.0.0.1:8080");
        // Traefik answers on :8080 (no router yet: its 404).
        const r = curl(`${INGRESS}/nothing-here`);
        expect(r.status, r.stderr + diagnostics()).toBe("404");
    });

    it("an Ingress without a class gets Traefik's, and /web/ answers from a Deployment's pod behind a ClusterIP Service", async () => {
        const labels = { app: "web" };
        kubectlOk(["create", "namespace", NS]);
        apply([
            {
                apiVersion: "apps/v1",
                kind: "Deployment",
                metadata: { name: "web", namespace: NS },
                spec: {
                    replicas: 1,
                    selector: { matchLabels: labels },
                    template: {
                        metadata: { labels },
                        spec: {
                            containers: [
                                {
                                    name: "httpd",
                                    image: HTTPD_IMAGE,
                                    imagePullPolicy: "Never",
                                    command: [
                                        "sh",
                                        "-c",
                                        'mkdir -p /srv/web && echo "served by $HOSTNAME" >/srv/web/index.html && exec httpd -f -p 8080 -h /srv',
                                    ],
                                    ports: [{ name: "http", containerPort: 8080 }],
                                },
                            ],
                        },
                    },
                },
            },
            {
                apiVersion: "v1",
                kind: "Service",
                metadata: { name: "web", namespace: NS },
                spec: { type: "ClusterIP", selector: labels, ports: [{ name: "http", port: 80, targetPort: "http" }] },
            },
            {
                apiVersion: "networking.k8s.io/v1",
                kind: "Ingress",
                metadata: { name: "web", namespace: NS },
                spec: {
                    rules: [
                        {
                            host: "localhost",
                            http: {
                                paths: [
                                    { path: "/web/", pathType: "Prefix", backend: { service: { name: "web", port: { name: "http" } } } },
                                ],
                            },
                        },
                    ],
                },
            },
        ]);
        // The DefaultIngressClass admission gave it the class marked default.
        expect(kubectlOk(["get", "ingress", "-n", NS, "web", "-o", "jsonpath={.spec.ingressClassName}"])).toBe(traefik!.className);
        kubectlOk(["rollout", "status", "-n", NS, "deployment/web", "--timeout=180s"]);
        const podName = kubectlOk(["get", "pods", "-n", NS, "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}"]);
        let last = curl(`${INGRESS}/web/`);
        await eventually(
            "/web/ through Traefik",
            () => {
                last = curl(`${INGRESS}/web/`);
                return last.status === "200";
            },
            60_000,
            () => `${last.status} ${last.body} ${last.stderr}\n${diagnostics()}`,
        );
        expect(last.body.trim()).toBe(`served by ${podName}`);
        expect(curl(`${INGRESS}/web/index.html`).body.trim()).toBe(`served by ${podName}`);
    }, 300_000);

    it("an Ingress path /v2/ to an ExternalName Service reaches the container it names on the kind network, with the path and Host sent", async () => {
        cluster.engine.dockerOk([
            "run",
            "-d",
            "--name",
            FRONT,
            HTTPD_IMAGE,
            "httpd",
            "-f",
            "-p",
            String(FRONT_PORT),
            "-h",
            "/www",
            "-c",
            "/etc/httpd.conf",
        ]);
        cluster.engine.dockerOk(["network", "connect", "kind", FRONT]);
        apply([
            {
                apiVersion: "v1",
                kind: "Service",
                metadata: { name: FRONT, namespace: NS },
                spec: { type: "ExternalName", externalName: FRONT, ports: [{ name: "http", port: FRONT_PORT }] },
            },
            {
                apiVersion: "networking.k8s.io/v1",
                kind: "Ingress",
                metadata: { name: "front", namespace: NS },
                spec: {
                    rules: [
                        {
                            host: "localhost",
                            http: {
                                paths: [
                                    { path: "/v2/", pathType: "Prefix", backend: { service: { name: FRONT, port: { name: "http" } } } },
                                ],
                            },
                        },
                    ],
                },
            },
        ]);
        let last = curl(`${INGRESS}/v2/host.cgi`);
        await eventually(
            "/v2/ through Traefik to the container",
            () => {
                last = curl(`${INGRESS}/v2/host.cgi`, ["-H", "Host: localhost:8080"]);
                return last.status === "200";
            },
            60_000,
            () => `${last.status} ${last.body} ${last.stderr}\n${diagnostics()}`,
        );
        expect(last.body.trim()).toBe("host=localhost:8080 path=/v2/host.cgi");
        // The browser's own request (curl's Host is the URL's authority, as a browser's).
        expect(curl(`${INGRESS}/v2/host.cgi?catalog`).body.trim()).toBe("host=localhost:8080 path=/v2/host.cgi?catalog");
    }, 300_000);

    it("uninstall() leaves nothing; without allowExternalNameServices Traefik serves /web/ but refuses the ExternalName route", async () => {
        traefik!.uninstall();
        for (const [kind, name] of [
            ["namespace", "traefik"],
            ["ingressclass", "traefik"],
            ["clusterrole", "traefik-ingress-controller"],
            ["clusterrolebinding", "traefik-ingress-controller"],
        ] as const) {
            const got = cluster.kubectl(["get", kind, name]);
            expect(got.code, `${kind} ${name}: ${got.stdout}`).not.toBe(0);
            expect(got.stderr).toContain("NotFound");
        }
        expect(kubectlOk(["get", "crd", "-o", "name"])).not.toMatch(/traefik\.io/);
        await eventually(
            ":8080 stops answering",
            () => curl(`${INGRESS}/web/`).status === "000",
            60_000,
            () => curl(`${INGRESS}/web/`).stdout,
        );

        const restarted = Date.now();
        traefik = await startTraefikInKind(cluster, { allowExternalNameServices: false });
        console.log(
            `Traefik in kind again, without allowExternalNameServices (image already on the node): ready in ${Math.round((Date.now() - restarted) / 1000)} s`,
        );
        let web = curl(`${INGRESS}/web/`);
        await eventually(
            "/web/ through the restarted Traefik",
            () => {
                web = curl(`${INGRESS}/web/`);
                return web.status === "200";
            },
            60_000,
            () => `${web.status} ${web.body} ${web.stderr}\n${diagnostics()}`,
        );
        const front = curl(`${INGRESS}/v2/host.cgi`);
        expect(front.status, front.body).toBe("404");
        let refusal: string | undefined;
        await eventually(
            "Traefik's log of the ExternalName Service refused",
            () => {
                refusal = traefik!
                    .logs()
                    .split("\n")
                    .find((l) => /external ?name/i.test(l) && l.includes(FRONT));
                return refusal !== undefined;
            },
            30_000,
            () => traefik!.logs(),
        );
        console.log(`Traefik without allowExternalNameServices logged: ${refusal}`);
        expect(refusal).toMatch(/ERR|error/i);
    }, 600_000);
});

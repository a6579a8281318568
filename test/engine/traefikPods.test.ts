/**
 * The `local` stack with `inCluster.ingressController: traefik` under the real Pulumi engine, on a node whose
 * pods really run (test/support/kubeNode.ts), with a real ingress controller in front: Traefik v3 built from its
 * module (tools/traefik/build.sh), on the node's :80 and :443 as k3s runs it, its kubernetescrd and
 * kubernetesingress providers watching the API server, its CRDs and RBAC from its own module
 * (test/support/traefik.ts). What is checked:
 *
 * - the Traefik Middleware the program writes (the allowlist's ipAllowList) is accepted by the API server with
 *   Traefik's CRDs, and Traefik serves the registry's router with it, no error on either;
 * - through Traefik on the node's 443, by the registry's name and the stack's CA: the ping's challenge, a push
 *   with the push account, an anonymous push refused, an anonymous pull;
 * - the kubelet pulls the image pushed through Traefik (a pod of it runs);
 * - the allowlist set to a network that excludes the client: Traefik answers 403; set back, the registry answers.
 *
 * The stack runs without its pull-through cache, the images are built here, and Jenkins is a fake, as in
 * localPods.test.ts. The login rate limit has no Traefik form in the program (renderLoginIngress writes one
 * for ingress-nginx only), so there is none to check here.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeJenkins, startFakeJenkins } from "../support/fakeJenkins";
import type { RealCluster } from "../support/kubeNode";
import { LOCAL_REGISTRY, pushFromNode as pushImageFromNode, runPodOfImage, startLocalStackNode } from "../support/localNode";
import { openWorkspace, type Workspace } from "../support/pulumiEngine";
import { privateDir, removeDir } from "../support/serverProcess";
import { installTraefikCrds, startTraefik, TRAEFIK_CLASS, type Traefik } from "../support/traefik";

const STACK = "local";
const REGISTRY = LOCAL_REGISTRY;
const VOLUME_COUNT = 6;
/** The clients here are on the node's loopback (the registry's name resolves to 127.0.0.1 there). */
const CLIENTS = "127.0.0.0/8";
/** A network no client of the test is in (TEST-NET-1). */
const ELSEWHERE = "192.0.2.0/24";
const jenkinsToken = `token-${randomBytes(12).toString("hex")}`;

let cluster: RealCluster;
let traefik: Traefik | undefined;
let jenkins: FakeJenkins;
let ws: Workspace;
let scratch: string;

const onNode = (command: string, args: readonly string[], input?: string) => cluster.node.run(command, args, { input });
const traefikLog = () => traefik?.output().slice(-6000) ?? "";

/** Waits until `check` holds, polling; fails with `what`, Traefik's log and the node's. */
async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 180_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
        if (Date.now() > deadline)
            throw new Error(`${what}: not within ${timeoutMs / 1000} s\n--- Traefik:\n${traefikLog()}\n${cluster.logs(10)}`);
        await new Promise((r) => setTimeout(r, 1000));
    }
}

/** An HTTPS request from the node to the registry's name (its 443: Traefik), with the stack's CA; the status. */
function throughTraefik(pathAndQuery: string): { status: string; body: string } {
    const r = onNode("sh", [
        "-c",
        'curl -s --max-time 5 --cacert /root/push-certs/ca.crt -o /root/traefik-body -w "%{http_code}" "$1"; echo; cat /root/traefik-body 2>/dev/null',
        "request",
        `https://${REGISTRY}${pathAndQuery}`,
    ]);
    const [status = "", ...body] = r.stdout.split("\n");
    return { status, body: body.join("\n") };
}

/** Builds image `ref` and copies it from the node to the registry, with the push account or anonymously. */
const pushFromNode = (ref: string, withAccount: boolean) =>
    pushImageFromNode(cluster, scratch, ref, { payloadBytes: 128 * 1024, anonymous: !withAccount });

/** Traefik's HTTP routers, from its API on the node's loopback. */
function routers(): { name: string; status: string; middlewares?: string[]; rule: string; provider: string }[] {
    const r = onNode("curl", ["-s", "--max-time", "5", `${traefik?.api}/api/http/routers`]);
    return r.code === 0 && r.stdout.startsWith("[") ? JSON.parse(r.stdout) : [];
}

async function up(): Promise<void> {
    const result = await ws.pulumi(["up", "--yes", "-s", STACK], { timeoutMs: 15 * 60_000 });
    expect(result.code, `${result.stdout.slice(-10_000)}${result.stderr}\n${cluster.logs(20)}`).toBe(0);
}

beforeAll(async () => {
    scratch = privateDir("traefik-pods");
    cluster = await startLocalStackNode(VOLUME_COUNT);
    // Traefik's CRDs before the program writes its Middleware; Traefik itself, as a distribution runs it before any app.
    installTraefikCrds(cluster.kube.kubeconfig);
    traefik = await startTraefik(cluster);
    jenkins = await startFakeJenkins({ user: "admin", apiToken: jenkinsToken });
    ws = openWorkspace({ stackFiles: [STACK], env: { KUBECONFIG: cluster.kube.kubeconfig } });
}, 10 * 60_000);

afterAll(async () => {
    ws?.close();
    await jenkins?.close();
    await traefik?.stop();
    await cluster?.stop();
    if (scratch) removeDir(scratch);
});

describe("local stack behind a real Traefik, on a node whose pods run", () => {
    it(
        "`up` with ingressController traefik: the API server accepts the program's Middleware under Traefik's CRDs, and Traefik serves the registry's router with it",
        async () => {
            await ws.pulumiOk(["stack", "init", STACK]);
            const set = (key: string, value: string) => ws.pulumiOk(["config", "set", "--path", `dso-registry:${key}`, value, "-s", STACK]);
            await set("jenkins.url", jenkins.url);
            await ws.pulumiOk(["config", "set", "--secret", "dso-registry:jenkinsApiToken", "-s", STACK], { input: jenkinsToken });
            await ws.pulumiOk(["config", "rm", "--path", "dso-registry:registry.mirrors", "-s", STACK]);
            await set("inCluster.ingressClass", TRAEFIK_CLASS);
            await set("inCluster.ingressController", "traefik");
            await set("registry.allowedNetworks[0]", CLIENTS);
            await up();

            type Middleware = { metadata: { name: string }; spec: { ipAllowList?: { sourceRange: string[] } } };
            const middlewares = await cluster.kube.get<{ items: Middleware[] }>("/apis/traefik.io/v1alpha1/namespaces/dso/middlewares");
            expect(middlewares?.items.map((m) => [m.metadata.name, m.spec])).toHaveLength(1);
            const [middleware] = middlewares!.items;
            expect(middleware!.spec.ipAllowList?.sourceRange).toEqual([CLIENTS]);
            type Ingress = { metadata: { name: string; annotations?: Record<string, string> }; spec: { ingressClassName?: string } };
            const ingress = await cluster.kube.get<Ingress>("/apis/networking.k8s.io/v1/namespaces/dso/ingresses/registry");
            expect(ingress?.spec.ingressClassName).toBe(TRAEFIK_CLASS);
            const reference = `dso-${middleware!.metadata.name}@kubernetescrd`;
            expect(ingress?.metadata.annotations?.["traefik.ingress.kubernetes.io/router.middlewares"]).toBe(reference);

            // Traefik picked the Ingress up with the Middleware, and reports no error for it.
            await until("Traefik's router for the registry", () =>
                routers().some((r) => r.rule.includes(REGISTRY) && r.status === "enabled" && (r.middlewares ?? []).includes(reference)),
            );
            const mine = routers().filter((r) => r.rule.includes(REGISTRY));
            expect(
                mine.map((r) => [r.provider, r.status]),
                JSON.stringify(mine),
            ).toEqual(mine.map(() => ["kubernetes", "enabled"]));
            // Traefik's log is read (its providers started), and it has no error about a middleware: a reference to
            // one it does not know, or one whose spec it cannot use, would be logged at ERR.
            const log = traefik!.output();
            expect(log).toMatch(/INF Starting provider \*crd\.Provider/);
            expect(log.split("\n").filter((line) => / ERR /.test(line) && /middleware/i.test(line))).toEqual([]);
        },
        20 * 60_000,
    );

    it(
        "through Traefik on the node's 443 by the registry's name: the challenge, a push with the push account, an anonymous push refused, an anonymous pull",
        async () => {
            const ca = (await ws.output(STACK, "caCertPem")) as string;
            onNode("sh", ["-c", "mkdir -p /root/push-certs && cat > /root/push-certs/ca.crt"], ca);
            // The registry's pods ready and Traefik's endpoints known: the ping's Basic challenge from the front.
            await until("the registry's challenge through Traefik", () => throughTraefik("/v2/").status === "401");
            // What listens on the node's 443 is Traefik (no relay in this file).
            const listeners = onNode("ss", ["-Htlnp", "sport = :443"]);
            expect(listeners.stdout).toMatch(/traefik/);

            const push = (await ws.output(STACK, "pushCredentials")) as { username: string; password: string };
            const prefix = (await ws.output(STACK, "imagePrefix")) as string;
            const auth = Buffer.from(`${push.username}:${push.password}`).toString("base64");
            onNode("sh", ["-c", "umask 077 && cat > /root/push-auth.json"], JSON.stringify({ auths: { [REGISTRY]: { auth } } }));
            const pushed = pushFromNode(`${prefix}/through-traefik:1`, true);
            expect(pushed.code, `${pushed.stderr}\n--- Traefik:\n${traefikLog()}`).toBe(0);
            const anonymous = pushFromNode(`${prefix}/anonymous:1`, false);
            expect(anonymous.code, "an anonymous push is refused").not.toBe(0);
            expect(anonymous.stderr).toMatch(/unauthorized|authentication required|\b401\b/i);
            // Anonymous pull: the manifest and its layers, without credentials.
            const pulled = onNode("skopeo", [
                "copy",
                "--src-cert-dir",
                "/root/push-certs",
                `docker://${prefix}/through-traefik:1`,
                "oci:/root/pulled-through-traefik:1",
            ]);
            expect(pulled.code, pulled.stderr).toBe(0);
            expect(throughTraefik("/v2/docker-internal/p2c/through-traefik/tags/list").body).toContain('"1"');
        },
        10 * 60_000,
    );

    it(
        "the kubelet pulls the image pushed through Traefik: a pod of it runs",
        async () => {
            const prefix = (await ws.output(STACK, "imagePrefix")) as string;
            const image = `${prefix}/through-traefik:1`;
            const pulled = await runPodOfImage(cluster, "pulled", image);
            expect(pulled.log).toMatch(/131072 .*\/payload/);
            expect(pulled.nodeImages).toContain(image);
        },
        10 * 60_000,
    );

    it(
        "the allowlist set to a network without the client: Traefik refuses with 403; set back, the registry answers again",
        async () => {
            await ws.pulumiOk(["config", "set", "--path", "dso-registry:registry.allowedNetworks[0]", ELSEWHERE, "-s", STACK]);
            await up();
            type Middleware = { spec: { ipAllowList?: { sourceRange: string[] } } };
            const list = await cluster.kube.get<{ items: Middleware[] }>("/apis/traefik.io/v1alpha1/namespaces/dso/middlewares");
            expect(list?.items.map((m) => m.spec.ipAllowList?.sourceRange)).toEqual([[ELSEWHERE]]);
            // Traefik reads the Middleware's change from its watch.
            await until("Traefik's 403 for a client outside the allowlist", () => throughTraefik("/v2/").status === "403", 60_000);
            // Traefik's ipAllowList answers with the status text alone (the sidecar's Caddy enforces no allowlist here).
            expect(throughTraefik("/v2/docker-internal/p2c/through-traefik/tags/list")).toEqual({ status: "403", body: "Forbidden" });

            await ws.pulumiOk(["config", "set", "--path", "dso-registry:registry.allowedNetworks[0]", CLIENTS, "-s", STACK]);
            await up();
            await until("the registry's challenge again", () => throughTraefik("/v2/").status === "401", 60_000);
            expect(throughTraefik("/v2/docker-internal/p2c/through-traefik/tags/list").status).toBe("200");
        },
        15 * 60_000,
    );
});

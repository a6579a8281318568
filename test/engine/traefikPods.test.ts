/**
 * The `local` stack with `inCluster.ingressController: traefik` under the real Pulumi engine, on a node whose
 * pods really run (test/support/kubeNode.ts), with a real controller in front: Traefik v3 built from its module
 * (tools/traefik/build.sh), on the node's :80 and :443 as k3s runs it, its kubernetescrd, kubernetesingress and
 * Gateway API providers watching the API server, its CRDs and RBAC from its own module and the Gateway API's
 * standard-channel CRDs from the Gateway API module Traefik requires (test/support/traefik.ts). What is checked:
 *
 * - the Traefik Middlewares the program writes (the allowlist's ipAllowList, the token's rateLimit) are accepted
 *   by the API server with Traefik's CRDs, and Traefik serves the registry's routers with them, no error;
 * - through Traefik on the node's 443, by the registry's name and the stack's CA: the ping's challenge, a push
 *   with the push account, an anonymous push refused, an anonymous pull, with skopeo on the node and with
 *   Docker's own client (`docker login`, push, pull) from a Docker engine beside the node;
 * - the kubelet pulls the image pushed through Traefik (a pod of it runs), its containerd going through the
 *   node trust's hosts.toml to the name, which is Traefik on the node;
 * - the web UI (a stand-in of its image that makes the real UI's requests) in Chromium at /registry/ on the
 *   registry's origin, through Traefik's Ingress and through the Gateway's route;
 * - the allowlist set to a network that excludes the client: Traefik answers 403; set back, the registry answers;
 * - the token endpoint's rate limit: a loop of token requests gets 429 past the limit, and a token again after;
 * - the stack moved to Gateway API (`inCluster.exposure: gateway`, a Gateway the stack creates on Traefik's
 *   class) while a pull loop and a push loop run: what `up` replaced, how long each loop failed (printed), and
 *   nothing lost; then through the HTTPRoute the same journeys, the kubelet's pull, and the rate limit through
 *   the route's ExtensionRef filter;
 * - behind the Gateway the allowlist is the pod's Caddy's: through Traefik the client it names is let in or
 *   refused by the allowlist, and a pod that reaches the front directly with a forged X-Forwarded-For is
 *   judged by its own address;
 * - an operator's Gateway in another namespace (`inCluster.gateway.name`/`namespace`, no `className`): Traefik
 *   refuses its listener the registry's Secret until the program's ReferenceGrant exists, then serves it; the
 *   stack's own Gateway goes, the route attaches to the operator's, and the journeys go through it;
 * - then the operator's cert-manager ClusterIssuer (`registry.tls.mode: cert-manager` with
 *   `certManagerIssuer`), moved to from the stack's own CA: the program's Certificate is issued although
 *   Secret registry-tls still holds the program's key (a new key at each issuance), Traefik serves the
 *   operator's certificate, the nodes trust the operator's CA, and the journeys go through it.
 *
 * The stack runs with its pull-through cache for docker.io, whose upstream nothing here reaches (ready all
 * the same, serving what it holds read-only), the images are built here, and Jenkins is a fake, as in
 * localPods.test.ts.
 */
import { randomBytes, X509Certificate } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import puppeteer from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CertManager, installCertManager } from "../support/certManager";
import { type DockerEngine, startDockerEngineBeside } from "../support/dockerEngine";
import { payloadImage, registryUiStandInImage } from "../support/dockerImages";
import type { FakeJenkins } from "../support/fakeJenkins";
import type { RealCluster } from "../support/kubeNode";
import {
    LOCAL_REGISTRY,
    MICROK8S_CERTS_D,
    pushFromNode as pushImageFromNode,
    runPodOfImage,
    startLocalStackNode,
} from "../support/localNode";
import { initLocalStack, LOCAL_STACK, localStackWorkspace, nodePushLoop } from "../support/localStackOnNode";
import { engineSet, type Workspace } from "../support/pulumiEngine";
import { type Push, pushLoopSummary } from "../support/pushLoop";
import { makeTestCa } from "../support/realRegistry";
import { runbookSection } from "../support/runbooks";
import { privateDir, removeDir, run } from "../support/serverProcess";
import {
    installGatewayApiCrds,
    installTraefikCrds,
    startTraefik,
    TRAEFIK_CLASS,
    TRAEFIK_GATEWAY_CLASS,
    type Traefik,
} from "../support/traefik";

const STACK = LOCAL_STACK;
const REGISTRY = LOCAL_REGISTRY;
const VOLUME_COUNT = 6;
/** The clients here are on the node's loopback (the registry's name resolves to 127.0.0.1 there). */
const CLIENTS = "127.0.0.0/8";
/** A network no client of the test is in (TEST-NET-1). */
const ELSEWHERE = "192.0.2.0/24";
/** Token requests per minute per client address at the controller (`registry.loginLimit`): a loop exceeds it at once. */
const TOKEN_RATE = 30;
const TOKEN_REQUEST = "/v2/token?service=dso-registry&scope=repository:docker-internal/p2c/through-traefik:pull";
/** Requests with credentials per minute per client address (`registry.loginLimit`) in the guessing tests: a loop exceeds it at once. */
const CREDENTIAL_RATE = 20;
/** The pushed image's manifest, read anonymously in the guessing tests. */
const MANIFEST = "/v2/docker-internal/p2c/through-traefik/manifests/1";
const jenkinsToken = `token-${randomBytes(12).toString("hex")}`;

let cluster: RealCluster;
let traefik: Traefik | undefined;
let jenkins: FakeJenkins;
let ws: Workspace;
let scratch: string;
let docker: DockerEngine | undefined;
let certManager: CertManager | undefined;

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

/** `count` token requests from the node in a row, anonymous, through the registry's name: each one's status. */
function tokenRequests(count: number): string[] {
    const r = onNode("sh", [
        "-c",
        'i=0; while [ $i -lt "$1" ]; do i=$((i + 1)); curl -s --max-time 5 --cacert /root/push-certs/ca.crt -o /dev/null -w "%{http_code}\\n" "$2"; done',
        "tokens",
        String(count),
        `https://${REGISTRY}${TOKEN_REQUEST}`,
    ]);
    return r.stdout.split("\n").filter(Boolean);
}

/**
 * `count` requests in a row from the node's loopback address `source` (Traefik counts per client address),
 * through the registry's name: `method` on `urlPath` with the Authorization `auth` says (a new wrong password
 * of the push account for each guess, the anonymous token, or none), each one's status. A PUT carries a
 * manifest's media type and a small body. The right password never passes here (see `withRightPassword`).
 */
function requestsFrom(
    source: string,
    count: number,
    method: "GET" | "PUT",
    urlPath: string,
    auth: { guessesFor: string } | "anonymous-token" | "none",
): string[] {
    const salt = randomBytes(6).toString("hex");
    const r = onNode("sh", [
        "-c",
        `src=$1 count=$2 method=$3 url=$4 user=$5 salt=$6 kind=$7
i=0
while [ $i -lt "$count" ]; do
  i=$((i + 1))
  case $kind in
    guess) set -- -H "Authorization: Basic $(printf '%s:%s' "$user" "guess-$salt-$i" | base64 -w0)" ;;
    anonymous-token) set -- -H "Authorization: Bearer anonymous-read-only" ;;
    *) set -- ;;
  esac
  if [ "$method" = PUT ]; then set -- "$@" -H "Content-Type: application/vnd.oci.image.manifest.v1+json" --data-binary '{}'; fi
  curl -s --max-time 5 --interface "$src" --cacert /root/push-certs/ca.crt -o /dev/null -w "%{http_code}\n" \
    -X "$method" -H "Accept: application/vnd.oci.image.manifest.v1+json" "$@" "$url"
done`,
        "requests",
        source,
        String(count),
        method,
        `https://${REGISTRY}${urlPath}`,
        typeof auth === "object" ? auth.guessesFor : "",
        salt,
        typeof auth === "object" ? "guess" : auth,
    ]);
    return r.stdout.split("\n").filter(Boolean);
}

/**
 * `GET /v2/` from `source` with the push account's right password: the status. The Authorization header
 * goes to a file on the node through stdin and curl reads it from there (never on a command line).
 */
async function withRightPassword(source: string): Promise<string> {
    const push = (await ws.output(STACK, "pushCredentials")) as { username: string; password: string };
    const basic = Buffer.from(`${push.username}:${push.password}`).toString("base64");
    onNode("sh", ["-c", "umask 077 && cat > /root/push-auth.header"], `Authorization: Basic ${basic}\n`);
    const r = onNode("curl", [
        ...["-s", "--max-time", "5", "--interface", source, "--cacert", "/root/push-certs/ca.crt", "-o", "/dev/null"],
        ...["-w", "%{http_code}", "-H", "@/root/push-auth.header", `https://${REGISTRY}/v2/`],
    ]);
    return r.stdout.trim();
}

/**
 * docs/runbooks.md's leaked-credential query for the cluster, as written, for `username` (the page's example
 * account replaced), run as the operator runs it: a shell line here with the engine set's kubectl. Its output.
 */
function leakedCredentialQuery(username: string): string {
    // The page's command sits in a list item's indented block: read from the section's text.
    const start = "kubectl -n dso logs deploy/registry -c caddy";
    const written = runbookSection("Credential leaked")
        .text.split("\n")
        .map((l) => l.trim())
        .find((l) => l.startsWith(start));
    expect(written, `docs/runbooks.md, Credential leaked: no line starts with ${start}`).toBeDefined();
    const line = (written as string).replaceAll('"team-a-ci"', JSON.stringify(username));
    const r = run("sh", ["-c", line], {
        input: "",
        env: { ...process.env, PATH: `${path.join(engineSet(), "bin")}:${process.env.PATH}`, KUBECONFIG: cluster.kube.kubeconfig },
    });
    expect(r.code, `${line}\n${r.stdout}${r.stderr}`).toBe(0);
    return r.stdout;
}

/** The query's line for a `GET /v2/` answered 200 whose client column is `client`. */
const rightPasswordLine = (client: string) => new RegExp(`^[0-9.]+\\t${client.replaceAll(".", "\\.")}\\t[^\\t]+\\tGET\\t/v2/\\t200$`, "m");

/** How many of `statuses` are `code`. */
const countOf = (statuses: readonly string[], code: string) => statuses.filter((c) => c === code).length;

/**
 * `count` requests a loop sends (`send`), and how many Traefik's limit (`rate` a minute, a burst of as many)
 * lets through over the time the loop took: the burst, and what the rate gave back meanwhile. A loaded
 * machine sends more slowly, and the limiter rightly lets more through then.
 */
function againstLimit(rate: number, send: () => string[]): { statuses: string[]; allowed: number } {
    const started = performance.now();
    const statuses = send();
    const seconds = (performance.now() - started) / 1000;
    return { statuses, allowed: rate + Math.floor((rate * seconds) / 60) };
}

/**
 * Wrong passwords from `source`, twice the credentials' rate, on the ping and on a manifest PUT (the latter
 * from `other`, a second address with a budget of its own): each loop's guesses reach the front (401) up to
 * the burst, then Traefik answers 429 without passing them on.
 */
function guessesAreCut(username: string, source: string, other: string): void {
    for (const [from, method, urlPath] of [
        [source, "GET", "/v2/"],
        [other, "PUT", MANIFEST],
    ] as const) {
        const { statuses, allowed } = againstLimit(CREDENTIAL_RATE, () =>
            requestsFrom(from, 2 * CREDENTIAL_RATE, method, urlPath, { guessesFor: username }),
        );
        const shown = `${method} ${urlPath} from ${from} (at most ${allowed} through): ${statuses.join(" ")}`;
        expect(statuses, shown).toHaveLength(2 * CREDENTIAL_RATE);
        expect(
            statuses.filter((c) => c !== "401" && c !== "429"),
            shown,
        ).toEqual([]);
        expect(countOf(statuses, "401"), shown).toBeLessThanOrEqual(allowed + 2);
        expect(countOf(statuses, "429"), shown).toBeGreaterThanOrEqual(2 * CREDENTIAL_RATE - allowed - 2);
        expect(statuses.at(-1), shown).toBe("429");
        console.log(
            `${method} ${urlPath}, ${statuses.length} wrong passwords in a row: ${countOf(statuses, "401")} reached the front, ${countOf(statuses, "429")} got 429`,
        );
    }
}

/** From an address whose credentials' budget is spent: anonymous pulls, with and without the anonymous token, are not limited. */
function anonymousPullsGoOn(source: string): void {
    for (const auth of ["none", "anonymous-token"] as const) {
        const statuses = requestsFrom(source, 2 * CREDENTIAL_RATE, "GET", MANIFEST, auth);
        expect(statuses, `${auth}: ${statuses.join(" ")}`).toEqual(Array(2 * CREDENTIAL_RATE).fill("200"));
    }
}

const kubectl = (...args: string[]) =>
    run(path.join(engineSet(), "bin/kubectl"), ["--kubeconfig", cluster.kube.kubeconfig, ...args], { input: "" });

/**
 * A pull loop on the node: anonymous manifest GETs of `repository:tag` through the registry's name every
 * 200 ms (the anonymous token the realm gives, as a client sends it back), each one's time and status in
 * `file`, until `stop` exists.
 */
const PULL_LOOP = `
file=$1 url=$2 stop=$3
while [ ! -e "$stop" ]; do
  code=$(curl -s --max-time 2 --cacert /root/push-certs/ca.crt -o /dev/null -w "%{http_code}" \\
    -H "Authorization: Bearer anonymous-read-only" -H "Accept: application/vnd.oci.image.manifest.v1+json" "$url")
  echo "$(date +%s%3N) $code" >> "$file"
  sleep 0.2
done
`;

/** The samples as runs, in order: "200 ok, 55 failed, 119 ok". */
function runsOf(samples: readonly { readonly ok: boolean }[]): string {
    const runs: { ok: boolean; count: number }[] = [];
    for (const s of samples) {
        const last = runs.at(-1);
        if (last && last.ok === s.ok) last.count++;
        else runs.push({ ok: s.ok, count: 1 });
    }
    return runs.map((r) => `${r.count} ${r.ok ? "ok" : "failed"}`).join(", ");
}

/**
 * The longest stretch, in seconds, of failed samples: from the last good sample before it (or the first
 * sample, when the loop began failing) to the first good one after it (or the last sample, when it ended
 * failing), so no stretch goes uncounted.
 */
function longestOutage(samples: readonly { readonly at: number; readonly ok: boolean }[]): number {
    let longest = 0;
    let since: number | undefined;
    for (const [i, s] of samples.entries()) {
        if (!s.ok) since ??= i > 0 ? samples[i - 1]!.at : s.at;
        else if (since !== undefined) {
            longest = Math.max(longest, s.at - since);
            since = undefined;
        }
    }
    if (since !== undefined && samples.length > 0) longest = Math.max(longest, samples.at(-1)!.at - since);
    return longest / 1000;
}

const CHROMIUM = "/usr/bin/chromium";
/** The test host's address on its link to the node, as a network: where Chromium's requests come from. */
const browserNetwork = () => `${cluster.node.hostAddress}/32`;
/** The node's own address, as a network: where the Docker engine beside the node connects to Traefik from. */
const dockerNetwork = () => `${cluster.node.address}/32`;

/**
 * Docker's own client through the registry's name: a Docker engine beside the node, on its network (it resolves
 * the name to the node's address, where Traefik listens: not to a loopback address, which dockerd would take for
 * an insecure registry and reach without checking TLS) and trusting the stack's CA of now in its certs.d.
 * `docker login` with the push account, a push, `docker logout`; an anonymous push refused; an anonymous pull
 * of `pullable`, an image this daemon never held (so the registry is asked); what docker pushed is listed.
 */
async function dockerJourney(name: string, pullable: string): Promise<void> {
    const ca = (await ws.output(STACK, "caCertPem")) as string;
    const caFile = `docker/certs.d/${REGISTRY}/ca.crt`;
    docker ??= await startDockerEngineBeside(cluster.node, {
        hosts: `127.0.0.1 localhost\n${cluster.node.address} ${REGISTRY}\n`,
        [caFile]: ca,
    });
    // dockerd reads certs.d on each connection to a registry: the CA of now, after a change of issuer too.
    mkdirSync(path.dirname(path.join(cluster.node.etcDir, caFile)), { recursive: true });
    writeFileSync(path.join(cluster.node.etcDir, caFile), ca);
    const client = docker.client();
    const prefix = (await ws.output(STACK, "imagePrefix")) as string;
    const push = (await ws.output(STACK, "pushCredentials")) as { username: string; password: string };
    const ref = payloadImage(client, `${prefix}/${name}:1`, { payloadBytes: 64 * 1024 });
    const login = client.login(REGISTRY, push);
    expect(login.code, `${login.stdout}${login.stderr}\n--- Traefik:\n${traefikLog()}`).toBe(0);
    const pushed = client.docker(["push", ref]);
    expect(pushed.code, `${pushed.stdout}${pushed.stderr}\n--- Traefik:\n${traefikLog()}`).toBe(0);
    expect(pushed.stdout).toMatch(/digest: sha256:[0-9a-f]{64}/);
    client.dockerOk(["logout", REGISTRY]);
    const anonymousRef = `${prefix}/${name}-anonymous:1`;
    client.dockerOk(["tag", ref, anonymousRef]);
    const anonymous = client.docker(["push", anonymousRef]);
    expect(anonymous.code, "docker's anonymous push is refused").not.toBe(0);
    expect(anonymous.stderr).toMatch(/unauthorized|authentication required|no basic auth credentials/i);
    const pulled = client.docker(["pull", pullable]);
    expect(pulled.code, `${pulled.stdout}${pulled.stderr}`).toBe(0);
    expect(client.docker(["image", "inspect", pullable]).code).toBe(0);
    expect(throughTraefik(`/v2/${ref.slice(REGISTRY.length + 1, ref.lastIndexOf(":"))}/tags/list`).body).toContain('"1"');
}

/** `pulumi preview --json` of the stack as it is configured now: each step other than `same` as "op name", printed under `what`. */
async function previewSteps(what: string): Promise<string[]> {
    const plan = await ws.pulumi(["preview", "--json", "-s", STACK], { timeoutMs: 10 * 60_000 });
    expect(plan.code, plan.stderr).toBe(0);
    const steps = (JSON.parse(plan.stdout) as { steps: { op: string; urn: string }[] }).steps
        .map((step) => `${step.op} ${step.urn.slice(step.urn.lastIndexOf("::") + 2)}`)
        .filter((step) => !step.startsWith("same "));
    console.log(`${what}, the preview's steps other than same:\n${steps.join("\n")}`);
    return steps;
}

/**
 * The journeys through whatever serves the registry's name now, images named after `label`: skopeo on the node
 * pushes with the push account (its CA in /root/push-certs), an anonymous push is refused, Docker's own client
 * logs in, pushes and pulls (dockerJourney), and the kubelet runs a pod of the image Docker pushed.
 */
async function journeysThrough(label: string): Promise<void> {
    const prefix = (await ws.output(STACK, "imagePrefix")) as string;
    const pushed = pushFromNode(`${prefix}/through-${label}:1`, true);
    expect(pushed.code, `${pushed.stderr}\n--- Traefik:\n${traefikLog()}`).toBe(0);
    const anonymous = pushFromNode(`${prefix}/anonymous-${label}:1`, false);
    expect(anonymous.code).not.toBe(0);
    await dockerJourney(`docker-through-${label}`, `${prefix}/through-${label}:1`);
    const pod = await runPodOfImage(cluster, `pulled-${label}`, `${prefix}/docker-through-${label}:1`);
    expect(pod.log).toMatch(/65536 .*\/payload/);
}

/**
 * The web UI at https://<registry>/registry/ in Chromium on the test host, the registry's name mapped to the
 * node (where Traefik listens on 443) and only the certificate the node's 443 serves accepted (its key's
 * SPKI pin: the chain itself is checked by curl with the stack's CA in the other tests). Returns the
 * repositories the page lists once loaded, after checking that every request it made went to /v2/ on its own
 * origin and was answered 200 without an account.
 */
async function uiInChromium(): Promise<string[]> {
    const spki = onNode("sh", [
        "-c",
        'openssl s_client -connect 127.0.0.1:443 -servername "$1" </dev/null 2>/dev/null | openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64',
        "spki",
        REGISTRY,
    ]).stdout.trim();
    expect(spki).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const browser = await puppeteer.launch({
        executablePath: CHROMIUM,
        headless: true,
        pipe: true,
        args: [
            "--no-sandbox",
            "--headless=new",
            `--host-resolver-rules=MAP ${REGISTRY} ${cluster.node.address}`,
            `--ignore-certificate-errors-spki-list=${spki}`,
        ],
        userDataDir: path.join(scratch, `chromium-profile-${randomBytes(4).toString("hex")}`),
    });
    try {
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on("console", (m) => {
            if (m.type() === "error") errors.push(m.text());
        });
        page.on("pageerror", (e) => errors.push(String(e)));
        type Request = { method: string; url: string; status: number };
        const load = async (): Promise<Request[]> => {
            errors.length = 0;
            const response = await page.goto(`https://${REGISTRY}/registry/`, { waitUntil: "load" });
            expect(response?.status()).toBe(200);
            await page.waitForFunction(() => document.getElementById("status")?.textContent !== "loading", { timeout: 30_000 });
            return await page.evaluate(() => (window as unknown as { uiLog: Request[] }).uiLog);
        };
        let log = await load();
        // The page asks for every tag of every repository (some 800 requests after the push loops): under a loaded
        // CI machine one of them may end without an answer (status 0, no HTTP status). That, and only that, earns
        // one more load, said in the log; an HTTP status other than 200 fails at once.
        const unanswered = log.filter((r) => r.status === 0);
        if (unanswered.length > 0 && log.every((r) => r.status === 0 || r.status === 200)) {
            console.log(
                `the UI's load had ${unanswered.length} of ${log.length} requests without an answer (${JSON.stringify(unanswered)}); loaded again`,
            );
            log = await load();
        }
        expect(await page.$eval("#status", (e) => e.textContent), JSON.stringify(log)).toBe("loaded");
        expect(log.length).toBeGreaterThan(0);
        expect(
            log.every((r) => r.status === 200 && r.url.startsWith(`https://${REGISTRY}/v2/`)),
            JSON.stringify(log),
        ).toBe(true);
        expect(errors).toEqual([]);
        return await page.$$eval("li.repository", (items) => items.map((i) => (i as HTMLElement).dataset.name ?? ""));
    } finally {
        await browser.close();
    }
}

/**
 * `up` of the stack as configured now. Without a preview unless asked: the stack's first `up` previews, as a
 * user's does; a later one's plan is what the files that compare previews with what applies prove (plans,
 * prodPlans), and the preview would run the program once more.
 */
async function up(options: { readonly preview?: boolean } = {}): Promise<void> {
    const result = await ws.pulumi(["up", "--yes", ...(options.preview ? [] : ["--skip-preview"]), "-s", STACK], {
        timeoutMs: 15 * 60_000,
    });
    expect(result.code, `${result.stdout.slice(-10_000)}${result.stderr}\n${cluster.logs(20)}`).toBe(0);
}

beforeAll(async () => {
    scratch = privateDir("traefik-pods");
    cluster = await startLocalStackNode(VOLUME_COUNT, (t) => [registryUiStandInImage(t)]);
    // Traefik's CRDs before the program writes its Middleware; Traefik itself, as a distribution runs it before any app.
    installTraefikCrds(cluster.kube.kubeconfig);
    installGatewayApiCrds(cluster.kube.kubeconfig);
    traefik = await startTraefik(cluster, { gatewayApi: true });
    ({ jenkins, ws } = await localStackWorkspace(cluster, jenkinsToken));
}, 10 * 60_000);

afterAll(async () => {
    await docker?.stop();
    await certManager?.stop();
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
            await initLocalStack(ws, jenkins, jenkinsToken);
            const set = (key: string, value: string) => ws.pulumiOk(["config", "set", "--path", `dso-registry:${key}`, value, "-s", STACK]);
            await set("inCluster.ingressClass", TRAEFIK_CLASS);
            await set("inCluster.ingressController", "traefik");
            await set("registry.allowedNetworks[0]", CLIENTS);
            // The test host too, where Chromium runs (its requests reach the node from the host's side of its link).
            await set("registry.allowedNetworks[1]", browserNetwork());
            // And the node's own address, where the Docker engine beside the node connects from.
            await set("registry.allowedNetworks[2]", dockerNetwork());
            await set("registry.loginLimit.tokenRequestsPerMinute", String(TOKEN_RATE));
            await set("registry.ui.enabled", "true");
            await up({ preview: true });
            // The docker.io cache, whose upstream nothing here reaches: ready all the same.
            const cache = await cluster.kube.get<{ status?: { readyReplicas?: number } }>(
                "/apis/apps/v1/namespaces/dso/deployments/registry-mirror-docker-io",
            );
            expect(cache?.status?.readyReplicas).toBe(1);

            type Middleware = { metadata: { name: string }; spec: { ipAllowList?: { sourceRange: string[] }; rateLimit?: unknown } };
            const middlewares = await cluster.kube.get<{ items: Middleware[] }>("/apis/traefik.io/v1alpha1/namespaces/dso/middlewares");
            expect(middlewares?.items.map((m) => m.metadata.name).sort()).toEqual([
                "registry-allowlist",
                "registry-credentials-limit",
                "registry-login-limit",
                "registry-ui-strip-prefix",
            ]);
            // The requests with credentials: the config's default rate, on an IngressRoute of their own.
            expect(middlewares!.items.find((m) => m.metadata.name === "registry-credentials-limit")?.spec.rateLimit).toEqual({
                average: 300,
                period: "1m",
                burst: 300,
            });
            const middleware = middlewares!.items.find((m) => m.metadata.name === "registry-allowlist");
            expect(middleware!.spec.ipAllowList?.sourceRange).toEqual([CLIENTS, browserNetwork(), dockerNetwork()]);
            expect(middlewares!.items.find((m) => m.metadata.name === "registry-login-limit")?.spec.rateLimit).toEqual({
                average: TOKEN_RATE,
                period: "1m",
                burst: TOKEN_RATE,
            });
            type Ingress = { metadata: { name: string; annotations?: Record<string, string> }; spec: { ingressClassName?: string } };
            const ingress = await cluster.kube.get<Ingress>("/apis/networking.k8s.io/v1/namespaces/dso/ingresses/registry");
            expect(ingress?.spec.ingressClassName).toBe(TRAEFIK_CLASS);
            const reference = `dso-${middleware!.metadata.name}@kubernetescrd`;
            expect(ingress?.metadata.annotations?.["traefik.ingress.kubernetes.io/router.middlewares"]).toBe(reference);

            // Traefik picked the Ingress up with the Middleware, and reports no error for it.
            await until("Traefik's router for the registry", () =>
                routers().some((r) => r.rule.includes(REGISTRY) && r.status === "enabled" && (r.middlewares ?? []).includes(reference)),
            );
            await until("Traefik's router for the requests with credentials", () =>
                routers().some((r) => r.provider === "kubernetescrd" && r.rule.includes(REGISTRY) && r.rule.includes("Authorization")),
            );
            const mine = routers().filter((r) => r.rule.includes(REGISTRY));
            expect(
                mine.map((r) => [r.provider, r.status]),
                JSON.stringify(mine),
            ).toEqual(mine.map((r) => [r.rule.includes("Authorization") ? "kubernetescrd" : "kubernetes", "enabled"]));
            const credentials = mine.find((r) => r.provider === "kubernetescrd");
            expect(credentials?.middlewares, JSON.stringify(credentials)).toEqual([
                reference,
                "dso-registry-credentials-limit@kubernetescrd",
            ]);
            // Traefik's log is read (its providers started), and it has no error about a middleware: a reference to
            // one it does not know, or one whose spec it cannot use, would be logged at ERR.
            const log = traefik!.output();
            expect(log).toMatch(/INF Starting provider \*crd\.Provider/);
            expect(log.split("\n").filter((line) => / ERR /.test(line) && /middleware/i.test(line))).toEqual([]);
        },
        20 * 60_000,
    );

    it(
        "through Traefik on the node's 443 by the registry's name: the challenge, a push with the push account, an anonymous push refused, an anonymous pull, with skopeo and with Docker's own client",
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
            await dockerJourney("docker-through-traefik", `${prefix}/through-traefik:1`);
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
        "the web UI through Traefik in Chromium: its path on the registry's origin, the images it lists read anonymously through the same Traefik",
        async () => {
            expect(await uiInChromium()).toContain("docker-internal/p2c/through-traefik");
        },
        5 * 60_000,
    );

    it(
        "the allowlist set to a network without the client: Traefik refuses with 403; set back, the registry answers again",
        async () => {
            await ws.pulumiOk(["config", "set", "--path", "dso-registry:registry.allowedNetworks[0]", ELSEWHERE, "-s", STACK]);
            await up();
            type Middleware = { spec: { ipAllowList?: { sourceRange: string[] } } };
            const list = await cluster.kube.get<{ items: Middleware[] }>("/apis/traefik.io/v1alpha1/namespaces/dso/middlewares");
            expect(list?.items.flatMap((m) => (m.spec.ipAllowList ? [m.spec.ipAllowList.sourceRange] : []))).toEqual([
                [ELSEWHERE, browserNetwork(), dockerNetwork()],
            ]);
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

    it(
        "the token endpoint's rate limit at Traefik: a loop of token requests gets 429 past the limit, and a token again once the rate allows",
        async () => {
            // A burst of twice the rate: the first ones are given tokens, the rest refused before the front.
            const { statuses, allowed } = againstLimit(TOKEN_RATE, () => tokenRequests(2 * TOKEN_RATE));
            const shown = `at most ${allowed} through: ${statuses.join(" ")}`;
            expect(statuses).toHaveLength(2 * TOKEN_RATE);
            expect(countOf(statuses, "200"), shown).toBeGreaterThan(0);
            expect(countOf(statuses, "200"), shown).toBeLessThanOrEqual(allowed + 2);
            expect(countOf(statuses, "429"), shown).toBeGreaterThanOrEqual(2 * TOKEN_RATE - allowed - 2);
            expect(
                statuses.filter((c) => c !== "200" && c !== "429"),
                statuses.join(" "),
            ).toEqual([]);
            // Other paths are not limited: the ping still answers with its challenge.
            expect(throughTraefik("/v2/").status).toBe("401");
            // The rate refills (one token every 60/TOKEN_RATE s): the limit lifts.
            await until("a token again after the burst", () => tokenRequests(1)[0] === "200", 30_000);
        },
        5 * 60_000,
    );

    it(
        "every request with credentials is limited at Traefik, not only the token's: wrong passwords on the ping and on a manifest PUT get 429 past the limit, anonymous pulls from the same address go on, and the right password works once the rate allows",
        async () => {
            const set = (key: string, value: string) => ws.pulumiOk(["config", "set", "--path", `dso-registry:${key}`, value, "-s", STACK]);
            await set("registry.loginLimit.credentialRequestsPerMinute", String(CREDENTIAL_RATE));
            await up();
            await until("Traefik's credentials' limit at the guessing tests' rate", () => {
                const r = onNode("curl", [
                    "-s",
                    "--max-time",
                    "5",
                    `${traefik?.api}/api/http/middlewares/dso-registry-credentials-limit@kubernetescrd`,
                ]);
                return r.code === 0 && r.stdout.includes(`"average":${CREDENTIAL_RATE},`);
            });
            const push = (await ws.output(STACK, "pushCredentials")) as { username: string; password: string };
            guessesAreCut(push.username, "127.0.0.2", "127.0.0.3");
            anonymousPullsGoOn("127.0.0.2");
            // The right password works again once the rate refills.
            await until("the right password after the window", async () => (await withRightPassword("127.0.0.2")) === "200", 30_000);
            // The runbook's leaked-credential query names the client Traefik saw (not Traefik's own address).
            expect(leakedCredentialQuery(push.username)).toMatch(rightPasswordLine("127.0.0.2"));
        },
        10 * 60_000,
    );

    it(
        "moved to Gateway API while a pull loop and a push loop run: the Ingresses go, a Gateway and an HTTPRoute come, and neither loop loses anything",
        async () => {
            const prefix = (await ws.output(STACK, "imagePrefix")) as string;
            // The node's address on the pod bridge: where Traefik, on the node, connects to the registry's pods from.
            const addresses = onNode("ip", ["-4", "-o", "addr", "show"]).stdout;
            const bridge = addresses.match(/inet (198\.19\.254\.\d+)\//)?.[1];
            expect(bridge, addresses).toBeDefined();
            const set = (key: string, value: string) => ws.pulumiOk(["config", "set", "--path", `dso-registry:${key}`, value, "-s", STACK]);
            // The push loop asks for tokens on every push, far above the rate the burst tests use: the limit is
            // raised first, on its own, and the move starts once Traefik serves the new rate.
            await set("registry.loginLimit.tokenRequestsPerMinute", "6000");
            await set("registry.loginLimit.credentialRequestsPerMinute", "60000");
            await up();
            await until("Traefik's raised rate", () => !tokenRequests(2 * TOKEN_RATE).includes("429"), 60_000);
            await set("inCluster.exposure", "gateway");
            await set("inCluster.gateway.className", TRAEFIK_GATEWAY_CLASS);
            await set("inCluster.gateway.proxyNetworks[0]", `${bridge}/32`);

            const pullLog = path.join(scratch, "pull-loop.log");
            const pullStop = path.join(scratch, "pull-loop.stop");
            const pulls = cluster.node.startServer("sh", [
                "-c",
                PULL_LOOP,
                "pull-loop",
                pullLog,
                `https://${REGISTRY}/v2/docker-internal/p2c/through-traefik/manifests/1`,
                pullStop,
            ]);
            const loop = nodePushLoop(cluster, scratch, prefix);
            let preview = "";
            const { result: changed, pushes } = await loop.during("to-gateway", async () => {
                try {
                    const plan = await ws.pulumi(["preview", "--json", "-s", STACK], { timeoutMs: 10 * 60_000 });
                    expect(plan.code, plan.stderr).toBe(0);
                    preview = plan.stdout;
                    const result = await ws.pulumi(["up", "--yes", "--skip-preview", "-s", STACK], { timeoutMs: 15 * 60_000 });
                    expect(result.code, `${result.stdout.slice(-10_000)}${result.stderr}\n${cluster.logs(20)}`).toBe(0);
                    // The loops go on until the registry answers both through the route: a pull, and a push that
                    // started after the `up` ended.
                    await until("a pull through the Gateway's route", () => {
                        const lines = readFileSync(pullLog, "utf8").trim().split("\n");
                        return lines.at(-1)?.endsWith(" 200") === true;
                    });
                    const results = path.join(scratch, "loop-to-gateway");
                    const upEnded = Date.now();
                    await until("a push through the Gateway's route", () =>
                        readdirSync(results).some(
                            (f) =>
                                f.endsWith(".code") &&
                                statSync(path.join(results, f)).mtimeMs > upEnded &&
                                readFileSync(path.join(results, f), "utf8").trim() === "0" &&
                                statSync(path.join(results, f.replace(".code", ".ref"))).mtimeMs > upEnded,
                        ),
                    );
                    return result;
                } finally {
                    writeFileSync(pullStop, "");
                    while (pulls.child.exitCode === null && pulls.child.signalCode === null) await new Promise((r) => setTimeout(r, 100));
                    await pulls.stop();
                }
            });
            expect(changed.code).toBe(0);
            // What the preview said would change: the Ingresses and the allowlist's Middleware deleted, the Gateway and
            // the route created, the registry's Deployment updated (its front's configuration: the pod is replaced).
            const steps = (JSON.parse(preview) as { steps: { op: string; urn: string }[] }).steps.map(
                (step) => `${step.op} ${step.urn.slice(step.urn.lastIndexOf("::") + 2)}`,
            );
            expect(steps, steps.join("\n")).toEqual(
                expect.arrayContaining([
                    "delete registry-ingress-registry",
                    "delete registry-ingress-registry-login",
                    "delete registry-ingressroute-registry-credentials",
                    "delete registry-middleware-registry-allowlist",
                    "create registry-gateway-registry",
                    "create registry-httproute-registry",
                    "update registry-deployment-registry",
                    "delete registry-ingress-registry-ui",
                    "delete registry-middleware-registry-ui-strip-prefix",
                ]),
            );
            console.log(`to Gateway API, the preview's steps other than same:\n${steps.filter((x) => !x.startsWith("same ")).join("\n")}`);
            const ingresses = await cluster.kube.get<{ items: unknown[] }>("/apis/networking.k8s.io/v1/namespaces/dso/ingresses");
            expect(ingresses?.items).toEqual([]);

            // Traefik accepted the route on the Gateway, and resolved its backends.
            type Condition = { type: string; status: string };
            type Route = { status?: { parents?: { conditions?: Condition[] }[] } };
            const route = await cluster.kube.get<Route>("/apis/gateway.networking.k8s.io/v1/namespaces/dso/httproutes/registry");
            const conditions = route?.status?.parents?.[0]?.conditions ?? [];
            expect(
                conditions.filter((c) => ["Accepted", "ResolvedRefs"].includes(c.type)).map((c) => [c.type, c.status]),
                JSON.stringify(route?.status),
            ).toEqual([
                ["Accepted", "True"],
                ["ResolvedRefs", "True"],
            ]);

            // How long each loop got no answer: printed, and bounded by what the Recreate of the pod costs.
            const samples = readFileSync(pullLog, "utf8")
                .trim()
                .split("\n")
                .map((l) => l.split(" "))
                .map(([at, code]) => ({ at: Number(at), ok: code === "200" }));
            expect(samples.length).toBeGreaterThan(10);
            expect(samples.filter((x) => x.ok).length).toBeGreaterThan(0);
            const ended = (p: Push) => statSync(path.join(scratch, "loop-to-gateway", `${p.n}.code`)).mtimeMs;
            const pushSamples = pushes.map((p) => ({ at: ended(p), ok: p.code === 0 }));
            const pushOutage = longestOutage(pushSamples);
            // The loop ended on a push that landed: the route serves pushes again.
            expect(pushes.at(-1)?.code, pushLoopSummary("to-gateway", pushes)).toBe(0);
            console.log(
                `to Gateway API: pulls failed for at most ${longestOutage(samples).toFixed(1)} s (${samples.filter((x) => !x.ok).length} of ${samples.length} failed), pushes for at most ${pushOutage.toFixed(1)} s (${pushes.filter((p) => p.code !== 0).length} of ${pushes.length} refused); pulls in order: ${runsOf(samples)}; pushes: ${runsOf(pushSamples)}`,
            );
            // Nothing lost: every push that landed is there, by its digest.
            const landed = pushes.filter((p) => p.code === 0);
            expect(landed.length).toBeGreaterThan(0);
            for (const p of landed) {
                const tag = p.ref.slice(p.ref.lastIndexOf(":") + 1);
                const repository = p.ref.slice(REGISTRY.length + 1, p.ref.lastIndexOf(":"));
                const head = onNode("curl", [
                    "-s",
                    "-I",
                    "--cacert",
                    "/root/push-certs/ca.crt",
                    "-H",
                    "Authorization: Bearer anonymous-read-only",
                    "-H",
                    "Accept: application/vnd.oci.image.manifest.v1+json",
                    `https://${REGISTRY}/v2/${repository}/manifests/${tag}`,
                ]);
                expect(head.stdout.toLowerCase(), p.ref).toContain(`docker-content-digest: ${p.digest}`);
            }
        },
        20 * 60_000,
    );

    it(
        "through the Gateway's route: a push with the push account, an anonymous push refused, an anonymous pull (skopeo and Docker's own client), the kubelet's pull, the web UI in Chromium, and the rate limits on the token path's router and the credentials' alone",
        async () => {
            await until("Traefik's router from the HTTPRoute", () =>
                routers().some((r) => r.rule.includes(REGISTRY) && r.provider === "kubernetesgateway"),
            );
            const prefix = (await ws.output(STACK, "imagePrefix")) as string;
            const pushed = pushFromNode(`${prefix}/through-gateway:1`, true);
            expect(pushed.code, `${pushed.stderr}\n--- Traefik:\n${traefikLog()}`).toBe(0);
            const anonymous = pushFromNode(`${prefix}/anonymous-gateway:1`, false);
            expect(anonymous.code).not.toBe(0);
            expect(anonymous.stderr).toMatch(/unauthorized|authentication required|\b401\b/i);
            const pulled = onNode("skopeo", [
                "copy",
                "--src-cert-dir",
                "/root/push-certs",
                `docker://${prefix}/through-gateway:1`,
                "oci:/root/pulled-through-gateway:1",
            ]);
            expect(pulled.code, pulled.stderr).toBe(0);
            await dockerJourney("docker-through-gateway", `${prefix}/through-gateway:1`);
            const pod = await runPodOfImage(cluster, "pulled-gateway", `${prefix}/through-gateway:1`);
            expect(pod.log).toMatch(/131072 .*\/payload/);
            // The web UI through the route's rewrite of its prefix, on the same origin.
            expect(await uiInChromium()).toEqual(
                expect.arrayContaining(["docker-internal/p2c/through-traefik", "docker-internal/p2c/through-gateway"]),
            );
            // The token path's router carries the token's rate limit (the route's ExtensionRef filter), the router of
            // requests with credentials the credentials' limit; the others none.
            const mine = routers().filter((r) => r.rule.includes(REGISTRY) && r.provider === "kubernetesgateway");
            const limitedBy = (name: string) => mine.filter((r) => (r.middlewares ?? []).some((m) => m.includes(name))).map((r) => r.rule);
            expect(limitedBy("registry-login-limit"), JSON.stringify(mine)).toEqual([expect.stringContaining("/v2/token")]);
            expect(limitedBy("registry-credentials-limit"), JSON.stringify(mine)).toEqual([
                expect.stringContaining('HeaderRegexp("Authorization",".")'),
            ]);
            expect(
                mine.every((r) => r.status === "enabled"),
                JSON.stringify(mine),
            ).toBe(true);
        },
        10 * 60_000,
    );

    it(
        "behind the Gateway the pod's Caddy enforces the allowlist: the client Traefik names is let in or refused, and a forged X-Forwarded-For from a pod is not believed",
        async () => {
            // The allowlist holds the node's loopback, where the clients are: through Traefik, the registry answers.
            expect(throughTraefik("/v2/").status).toBe("401");
            // A pod sends the registry's plain-HTTP Service a request that claims to come from the node's loopback.
            type Service = { spec: { clusterIP: string } };
            const service = await cluster.kube.get<Service>("/api/v1/namespaces/dso/services/registry");
            const started = kubectl(
                "run",
                "forger",
                "-n",
                "default",
                "--image=busybox:1.37.0",
                "--restart=Never",
                "--",
                "sh",
                "-c",
                `wget -S -O- --header "X-Forwarded-For: 127.0.0.1" http://${service?.spec.clusterIP}:5000/v2/ 2>&1; echo "exit=$?"`,
            );
            expect(started.code, started.stderr).toBe(0);
            try {
                await until("the forging pod's end", async () => {
                    const pod = await cluster.kube.get<{ status: { phase: string } }>("/api/v1/namespaces/default/pods/forger");
                    return pod?.status.phase === "Succeeded" || pod?.status.phase === "Failed";
                });
                const log = kubectl("logs", "-n", "default", "forger").stdout;
                expect(log).toMatch(/HTTP\/1\.1 403/);
                expect(log).toContain("exit=1");
            } finally {
                kubectl("delete", "pod", "-n", "default", "forger", "--wait=false");
            }

            // The allowlist without the client: the pod's Caddy refuses what Traefik forwards, with its own answer.
            await ws.pulumiOk(["config", "set", "--path", "dso-registry:registry.allowedNetworks[0]", ELSEWHERE, "-s", STACK]);
            await up();
            await until("Caddy's 403 through the Gateway", () => throughTraefik("/v2/").status === "403", 120_000);
            expect(throughTraefik("/v2/docker-internal/p2c/through-gateway/tags/list")).toEqual({
                status: "403",
                body: "Forbidden: your network may not use this registry",
            });
        },
        15 * 60_000,
    );

    it(
        "back in the allowlist, with the login limit at its burst-test rates: through the route's ExtensionRef filters a token loop, and wrong passwords on the ping and a manifest PUT, get 429 past the limit, anonymous pulls go on, and a token and the right password work again after",
        async () => {
            const set = (key: string, value: string) => ws.pulumiOk(["config", "set", "--path", `dso-registry:${key}`, value, "-s", STACK]);
            await set("registry.allowedNetworks[0]", CLIENTS);
            await set("registry.loginLimit.tokenRequestsPerMinute", String(TOKEN_RATE));
            await set("registry.loginLimit.credentialRequestsPerMinute", String(CREDENTIAL_RATE));
            await up();
            await until("the registry's challenge through the Gateway again", () => throughTraefik("/v2/").status === "401", 120_000);
            // Traefik reads the Middleware's new rate from its watch: then a burst of twice the rate is cut at it.
            let statuses: string[] = [];
            await until(
                "Traefik's limit at the burst-test rate",
                () => {
                    statuses = tokenRequests(2 * TOKEN_RATE);
                    return statuses.filter((c) => c === "429").length >= TOKEN_RATE - 2;
                },
                60_000,
            );
            expect(
                statuses.filter((c) => c !== "200" && c !== "429"),
                statuses.join(" "),
            ).toEqual([]);
            await until("a token again after the burst", () => tokenRequests(1)[0] === "200", 30_000);
            // And the credentials' limit through the route's other ExtensionRef filter, from addresses of their own.
            const push = (await ws.output(STACK, "pushCredentials")) as { username: string; password: string };
            guessesAreCut(push.username, "127.0.0.4", "127.0.0.5");
            anonymousPullsGoOn("127.0.0.4");
            await until("the right password after the window", async () => (await withRightPassword("127.0.0.4")) === "200", 30_000);
            // Behind the Gateway the front's own client_ip (X-Forwarded-For believed from the controller only).
            expect(leakedCredentialQuery(push.username)).toMatch(rightPasswordLine("127.0.0.4"));
        },
        10 * 60_000,
    );
    it(
        "an operator's Gateway in another namespace: the program's ReferenceGrant lets its listener use Secret registry-tls, the stack's own Gateway goes, the route attaches to the operator's, and the journeys go through it",
        async () => {
            const kubeOk = (args: string[], input = "") => {
                const r = run(path.join(engineSet(), "bin/kubectl"), ["--kubeconfig", cluster.kube.kubeconfig, ...args], { input });
                expect(r.code, `kubectl ${args.join(" ")}: ${r.stdout}${r.stderr}`).toBe(0);
                return r.stdout;
            };
            // The operator's Gateway, in a namespace of its own: one HTTPS listener for the registry's name whose
            // certificate is the registry's Secret in dso, routes from every namespace.
            kubeOk(["create", "namespace", "platform-gateways"]);
            kubeOk(
                ["apply", "-f", "-"],
                JSON.stringify({
                    apiVersion: "gateway.networking.k8s.io/v1",
                    kind: "Gateway",
                    metadata: { name: "shared", namespace: "platform-gateways" },
                    spec: {
                        gatewayClassName: TRAEFIK_GATEWAY_CLASS,
                        listeners: [
                            {
                                name: "registry",
                                protocol: "HTTPS",
                                port: 443,
                                hostname: REGISTRY,
                                tls: {
                                    mode: "Terminate",
                                    certificateRefs: [{ group: "", kind: "Secret", name: "registry-tls", namespace: "dso" }],
                                },
                                allowedRoutes: { namespaces: { from: "All" } },
                            },
                        ],
                    },
                }),
            );
            type Condition = { type: string; status: string; reason?: string };
            type Gateway = { status?: { listeners?: { name: string; conditions?: Condition[] }[] } };
            const listenerRefs = async () => {
                const gateway = await cluster.kube.get<Gateway>(
                    "/apis/gateway.networking.k8s.io/v1/namespaces/platform-gateways/gateways/shared",
                );
                return gateway?.status?.listeners?.find((l) => l.name === "registry")?.conditions?.find((c) => c.type === "ResolvedRefs");
            };
            // Before the stack's ReferenceGrant, Traefik may not use a Secret of another namespace for the listener.
            await until("Traefik's verdict on the listener's certificate", async () => (await listenerRefs()) !== undefined, 60_000);
            const before = await listenerRefs();
            console.log(`the operator's listener before the grant: ${JSON.stringify(before)}`);
            expect(before).toMatchObject({ status: "False", reason: "RefNotPermitted" });

            const set = (key: string, value: string) => ws.pulumiOk(["config", "set", "--path", `dso-registry:${key}`, value, "-s", STACK]);
            await ws.pulumiOk(["config", "rm", "--path", "dso-registry:inCluster.gateway.className", "-s", STACK]);
            await set("inCluster.gateway.name", "shared");
            await set("inCluster.gateway.namespace", "platform-gateways");
            const steps = await previewSteps("to the operator's Gateway");
            expect(steps.sort(), steps.join("\n")).toEqual(
                [
                    "create registry-referencegrant-registry-tls-for-gateway",
                    "delete registry-gateway-registry",
                    "update registry-httproute-registry",
                ].sort(),
            );
            const result = await ws.pulumi(["up", "--yes", "--skip-preview", "-s", STACK], { timeoutMs: 15 * 60_000 });
            expect(result.code, `${result.stdout.slice(-10_000)}${result.stderr}`).toBe(0);

            // The grant the program wrote, and Traefik's verdict now: the listener's certificate resolved, the route accepted.
            type Grant = { spec: { from: { kind: string; namespace: string }[]; to: { kind: string; name: string }[] } };
            const grant = await cluster.kube.get<Grant>(
                "/apis/gateway.networking.k8s.io/v1beta1/namespaces/dso/referencegrants/registry-tls-for-gateway",
            );
            expect(grant?.spec).toEqual({
                from: [{ group: "gateway.networking.k8s.io", kind: "Gateway", namespace: "platform-gateways" }],
                to: [{ group: "", kind: "Secret", name: "registry-tls" }],
            });
            await until("the operator's listener with its certificate resolved", async () => (await listenerRefs())?.status === "True");
            type Route = { status?: { parents?: { parentRef: { name: string; namespace?: string }; conditions?: Condition[] }[] } };
            await until("the route accepted on the operator's Gateway", async () => {
                const route = await cluster.kube.get<Route>("/apis/gateway.networking.k8s.io/v1/namespaces/dso/httproutes/registry");
                const parent = route?.status?.parents?.find(
                    (p) => p.parentRef.name === "shared" && p.parentRef.namespace === "platform-gateways",
                );
                return ["Accepted", "ResolvedRefs"].every((t) => parent?.conditions?.some((c) => c.type === t && c.status === "True"));
            });
            // The stack's own Gateway is gone.
            expect(await cluster.kube.get("/apis/gateway.networking.k8s.io/v1/namespaces/dso/gateways/registry")).toBeUndefined();

            // What Traefik serves for the registry's name on the operator's Gateway: the stack's certificate.
            const ca = new X509Certificate((await ws.output(STACK, "caCertPem")) as string);
            await until("Traefik serving the stack's certificate on the operator's listener", () => {
                const served = onNode("sh", [
                    "-c",
                    `openssl s_client -connect 127.0.0.1:443 -servername ${REGISTRY} </dev/null 2>/dev/null | openssl x509`,
                ]);
                return served.code === 0 && new X509Certificate(served.stdout).checkIssued(ca);
            });

            // The journeys through the operator's Gateway: skopeo and docker push and pull, the kubelet pulls.
            await until("the registry's challenge through the operator's Gateway", () => throughTraefik("/v2/").status === "401", 120_000);
            await journeysThrough("operator-gateway");

            // Nothing left to change: a second `up` plans nothing.
            const again = await ws.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK], {
                timeoutMs: 10 * 60_000,
            });
            expect(again.code, again.stdout.slice(-10_000) + again.stderr).toBe(0);
        },
        15 * 60_000,
    );
    it(
        "the operator's cert-manager issuer behind the operator's Gateway, moved to from the stack's own CA: the program's Certificate is issued over the key left in registry-tls, Traefik serves it, the nodes trust the operator's CA, and the journeys go through it",
        async () => {
            certManager = await installCertManager(cluster.kube);
            const kubeOk = (args: string[], input = "") => {
                const r = run(path.join(engineSet(), "bin/kubectl"), ["--kubeconfig", cluster.kube.kubeconfig, ...args], { input });
                expect(r.code, `kubectl ${args.join(" ")}: ${r.stdout}${r.stderr}`).toBe(0);
                return r.stdout;
            };
            // The operator's private CA behind a ClusterIssuer, its Secret in cert-manager's cluster resource namespace.
            const operator = makeTestCa(path.join(scratch, "operator-ca"));
            const operatorCa = operator.caCertPem;
            kubeOk(["create", "namespace", "cert-manager"]);
            kubeOk([
                "create",
                "secret",
                "tls",
                "operator-ca",
                "-n",
                "cert-manager",
                `--cert=${operator.caCertFile}`,
                `--key=${operator.caKeyFile}`,
            ]);
            kubeOk(
                ["apply", "-f", "-"],
                JSON.stringify({
                    apiVersion: "cert-manager.io/v1",
                    kind: "ClusterIssuer",
                    metadata: { name: "operator-ca" },
                    spec: { ca: { secretName: "operator-ca" } },
                }),
            );
            type Condition = { type: string; status: string; reason?: string };
            await until("the operator's ClusterIssuer ready", async () => {
                const issuer = await cluster.kube.get<{ status?: { conditions?: Condition[] } }>(
                    "/apis/cert-manager.io/v1/clusterissuers/operator-ca",
                );
                return issuer?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
            });

            await ws.pulumiOk(["config", "set", "--path", "dso-registry:registry.tls.mode", "cert-manager", "-s", STACK]);
            await ws.pulumiOk(["config", "set", "--path", "dso-registry:registry.tls.certManagerIssuer.name", "operator-ca", "-s", STACK]);
            await ws.pulumiOk(["config", "set", "--path", "dso-registry:registry.tls.certManagerCaCertificate", "-s", STACK], {
                input: operatorCa,
            });
            const steps = await previewSteps("to the operator's issuer");
            expect(steps).toEqual(
                expect.arrayContaining(["create registry-certificate-registry-tls", "delete registry-secret-registry-tls"]),
            );
            const result = await ws.pulumi(["up", "--yes", "--skip-preview", "-s", STACK], { timeoutMs: 15 * 60_000 });
            expect(
                result.code,
                `${result.stdout.slice(-10_000)}${result.stderr}\n--- cert-manager:\n${certManager.output().slice(-5000)}`,
            ).toBe(0);

            // The program's Certificate, issued by the operator's issuer over the key the stack's own certificate left.
            type Certificate = { spec: { issuerRef: { kind: string; name: string } }; status?: { conditions?: Condition[] } };
            const certificate = await cluster.kube.get<Certificate>("/apis/cert-manager.io/v1/namespaces/dso/certificates/registry-tls");
            expect(certificate?.spec.issuerRef).toMatchObject({ kind: "ClusterIssuer", name: "operator-ca" });
            expect(certificate?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")).toBe(true);
            expect(((await ws.output(STACK, "caCertPem")) as string).trim()).toBe(operatorCa.trim());

            // What Traefik serves on the operator's listener: a certificate of the operator's CA.
            const ca = new X509Certificate(operatorCa);
            await until("Traefik serving the operator's issuer's certificate", () => {
                const served = onNode("sh", [
                    "-c",
                    `openssl s_client -connect 127.0.0.1:443 -servername ${REGISTRY} </dev/null 2>/dev/null | openssl x509`,
                ]);
                return served.code === 0 && new X509Certificate(served.stdout).checkIssued(ca);
            });
            // The node trusts the operator's CA for the registry's name (the node-trust DaemonSet's file).
            await until("the node's containerd trusting the operator's CA", () => {
                const files = onNode("sh", ["-c", `cat ${MICROK8S_CERTS_D}/${REGISTRY}/*.crt`]);
                return files.stdout.trim() === operatorCa.trim();
            });

            // The journeys: skopeo and Docker push and pull with the operator's CA, the kubelet pulls.
            onNode("sh", ["-c", "cat > /root/push-certs/ca.crt"], operatorCa);
            await journeysThrough("operator-issuer");

            const again = await ws.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK], {
                timeoutMs: 10 * 60_000,
            });
            expect(again.code, again.stdout.slice(-10_000) + again.stderr).toBe(0);
        },
        20 * 60_000,
    );
});

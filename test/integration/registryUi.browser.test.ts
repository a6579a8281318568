/// <reference lib="dom" />
/**
 * The registry UI in a real browser (Debian's chromium, driven headless by puppeteer-core), on one
 * origin, in both placements:
 *
 *   in-cluster:     chromium --TLS--> nginx (the Ingresses: "/" → the front with the rendered
 *                   ingress-nginx directives; the UI's rendered path and rewrite → the UI's web server)
 *                   front: real Caddy with the sidecar's rendered policy --> real Distribution
 *   external host:  chromium --TLS--> real Caddy with the host site's rendered policy (/registry/ → the
 *                   UI's web server, the rest --> real Distribution)
 *   kind:           chromium --HTTP--> real Caddy with the kind front's rendered Caddyfile on
 *                   http://localhost:<front port> (/registry/ → the UI's web server, where its container
 *                   would answer; the rest --> real Distribution); CI pushes to that same origin
 *
 * and once more in the cluster with pulls requiring an account. The UI is a stand-in
 * (test/support/registryUiStandIn): joxit/docker-registry-ui's image cannot be pulled where the tests
 * run, so the page makes the requests the real UI 2.x makes (catalog, tags, manifests with its Accept
 * headers and the config blob, HEAD then DELETE by digest) and answers a 401 as the real UI does
 * (Bearer challenge with scope → GET the realm with the browser's credentials → retry with the token).
 * The login prompt the browser shows on the token endpoint's Basic challenge is answered through the
 * DevTools protocol (Fetch.authRequired), as a person types an account or presses Cancel.
 * Covers: components/registryUi/environment.ts.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { REALM } from "../../components/accessPolicy/policy";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import { caddySitePolicy } from "../../components/externalHost/caddySite";
import { defaultHostLayout } from "../../components/externalHost/scripts";
import { ingressAnnotations } from "../../components/inCluster/network";
import { sidecarPolicy } from "../../components/inCluster/sidecarFront";
import { uiEnvironment } from "../../components/registryUi/environment";
import { renderUiIngress } from "../../components/registryUi/kubernetes";
import { DISTRIBUTION } from "../../components/shared/facts";
import { pinnedCaddy } from "../support/caddyBinaries";
import { deployedRegistry } from "../support/distributionBinaries";
import { ingressNginxConf, ingressRegexLocations, nginxDirectives } from "../support/ingress";
import { caddyEnv, makeAccount, makeDecoyHash, makeOciImage, makeTestCa, skopeoCopy, type TestAccount } from "../support/realRegistry";
import { type Origin, startKindOrigin, UI_FILES } from "../support/registryUiOrigin";
import { freePort, privateDir, removeDir, run, type ServerProcess, startServer, waitForPort } from "../support/serverProcess";
import { watchPage } from "../support/uiBrowser";

const CHROMIUM = "/usr/bin/chromium";

/** Distribution, the front with the sidecar's rendered policy, the UI's web server and the Ingress's nginx. */
/**
 * Where the UI is served from: the cluster's Ingress (nginx in front of the sidecar's policy, the UI's
 * own Ingress path) or the external host's Caddy (its site's policy, the UI container behind it).
 */
type Placement = "in-cluster" | "external host" | "kind";

async function startOrigin(dir: string, placement: Placement, requiresAuthForPull: boolean): Promise<Origin> {
    if (placement === "kind") return startKindOrigin(dir);
    const servers: ServerProcess[] = [];
    const stop = async () => {
        for (const s of servers.splice(0).reverse()) await s.stop();
    };
    try {
        const [ingressPort, frontPort, registryPort, uiPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
        const authority = `127.0.0.1:${ingressPort}`;
        const ca = makeTestCa(path.join(dir, "tls"));
        const certDir = path.join(dir, "certs");
        mkdirSync(certDir);
        writeFileSync(path.join(certDir, "ca.crt"), ca.caCertPem);
        const push = makeAccount("ci-push");
        const pull = makeAccount("cluster-pull");
        const dataDir = path.join(dir, "data");
        const registryConfig = path.join(dir, "config.yml");
        writeFileSync(
            registryConfig,
            renderRegistryConfig({
                addr: `127.0.0.1:${registryPort}`,
                storage: { kind: "filesystem", rootDirectory: dataDir },
                deletesEnabled: true,
                logLevel: "warn",
            }),
        );
        const users = { push: path.join(dir, "users-push"), pull: path.join(dir, "users-pull") };
        writeFileSync(users.push, renderUsersFile("push", [push]), { mode: 0o600 });
        writeFileSync(users.pull, renderUsersFile("pull", [pull]), { mode: 0o600 });
        // The sidecar's policy as the stack renders it (the UI no longer behind the front), or the host
        // site's (the UI behind it); the placement's paths and ports become the test's, and the public
        // host is the origin the browser opens.
        const inCluster = placement === "in-cluster";
        const policy = inCluster
            ? sidecarPolicy({ host: "127.0.0.1", requiresAuthForPull, deletesEnabled: true, storage: "filesystem" })
            : {
                  ...caddySitePolicy({
                      layout: defaultHostLayout(dataDir),
                      registryHost: "127.0.0.1",
                      port: ingressPort,
                      tls: { kind: "files", certificatePem: "", privateKeyPem: "" },
                      requiresAuthForPull,
                      allowedNetworks: [],
                      deletesEnabled: true,
                      blobFiles: true,
                      upstream: "unix//unused",
                      uiUpstream: `127.0.0.1:${uiPort}`,
                  }),
                  tls: { kind: "files" as const, certFile: ca.serverCertFile, keyFile: ca.serverKeyFile },
                  admin: "off",
                  accessLog: undefined,
                  readOnlySignals: [],
              };
        const caddyfile = path.join(dir, "Caddyfile");
        writeFileSync(
            caddyfile,
            renderCaddyfile({
                ...policy,
                port: inCluster ? frontPort : ingressPort,
                bindAddress: "127.0.0.1",
                publicAuthority: authority,
                upstream: `127.0.0.1:${registryPort}`,
                pushUsersFile: users.push,
                pullUsersFile: users.pull,
                blobFiles: dataDir,
                decoy: { accounts: { push: [push.username], pull: [pull.username] }, bcryptHash: makeDecoyHash() },
            }),
        );
        // The UI's web server serves its files at "/", with the settings its image takes from the environment.
        const uiRoot = path.join(dir, "ui");
        cpSync(UI_FILES, uiRoot, { recursive: true });
        // The settings the stack gives the UI's container, as its entrypoint hands them to its page.
        const env = Object.fromEntries(uiEnvironment({ registryHost: authority, deleteEnabled: true }).map((e) => [e.name, e.value]));
        const uiConfig = {
            registryUrl: env.REGISTRY_URL,
            deleteImages: env.DELETE_IMAGES === "true",
            catalogElementsLimit: Number(env.CATALOG_ELEMENTS_LIMIT),
        };
        writeFileSync(path.join(uiRoot, "config.js"), `window.UI_CONFIG = ${JSON.stringify(uiConfig)};\n`);
        const uiIngressArgs = {
            namespace: "dso",
            image: "joxit/docker-registry-ui:2.5.7",
            host: authority,
            deleteEnabled: true,
            labels: {},
            selector: {},
            ingressController: "nginx" as const,
            tlsSecret: "registry-tls",
            sharedAnnotations: {},
        };
        const directives = nginxDirectives(
            ingressAnnotations({
                tls: { kind: "secret", certPem: "", keyPem: "" },
                allowedNetworks: [],
                ingressController: "nginx",
                namespace: "dso",
            }),
        );
        const nginxConf = path.join(dir, "nginx.conf");
        writeFileSync(
            nginxConf,
            ingressNginxConf({
                dir,
                listen: authority,
                serverNames: ["127.0.0.1"],
                certFile: ca.serverCertFile,
                keyFile: ca.serverKeyFile,
                // The registry's Ingress ("/", the front) and the UI's, as rendered for ingress-nginx; on
                // the external host nginx is only the UI container's web server.
                upstream: `127.0.0.1:${frontPort}`,
                locations: !inCluster
                    ? []
                    : [{ match: "/", directives }, ...ingressRegexLocations(renderUiIngress(uiIngressArgs), () => `127.0.0.1:${uiPort}`)],
                staticSites: [{ listen: `127.0.0.1:${uiPort}`, root: uiRoot }],
            }),
        );
        servers.push(startServer(deployedRegistry().path, ["serve", registryConfig], { ...process.env, ...DISTRIBUTION.environment }));
        servers.push(startServer(pinnedCaddy(), ["run", "--adapter", "caddyfile", "--config", caddyfile], caddyEnv(dir)));
        servers.push(startServer("/usr/sbin/nginx", ["-c", nginxConf, "-e", path.join(dir, "nginx-error.log")]));
        const logs = () => servers.map((s) => s.output()).join("\n");
        for (const port of inCluster ? [registryPort, frontPort, ingressPort, uiPort] : [registryPort, ingressPort, uiPort]) {
            await waitForPort(port, 30_000, `port ${port}`).catch((e: Error) => {
                throw new Error(`${e.message}\n${logs()}`);
            });
        }
        return {
            authority,
            base: `https://${authority}`,
            curlArgs: ["--cacert", ca.caCertFile],
            certDir,
            browserArgs: ["--ignore-certificate-errors"],
            pushImage: (src, ref, scratch) => skopeoCopy(src, `docker://${authority}/${ref}`, { certDir, creds: push, scratch }),
            push,
            pull,
            logs,
            stop,
        };
    } catch (error) {
        await stop();
        throw error;
    }
}

/** What a page did: console errors, the login prompts the browser showed, and the UI's own log of its requests. */
interface Visit {
    readonly page: Page;
    readonly consoleErrors: string[];
    /** Each login prompt: the challenge's scheme, realm and origin, as the browser would show it. */
    readonly prompts: { scheme: string; realm: string; origin: string }[];
    close(): Promise<void>;
}

describe.each([
    ["in-cluster", false],
    ["external host", false],
    ["in-cluster", true],
    ["kind", false],
] as const)("the registry UI in a browser, same origin (%s, requiresAuthForPull %s)", (placement, closed) => {
    let dir: string;
    let origin: Origin;
    let browser: Browser;
    let scratch: string;

    beforeAll(async () => {
        dir = privateDir("registry-ui-browser");
        scratch = path.join(dir, "scratch");
        mkdirSync(scratch);
        origin = await startOrigin(path.join(dir, "origin"), placement, closed);
        const image = makeOciImage(path.join(scratch, "image"));
        for (const ref of ["team/app:1", "team/app:2", "tools/lint:1"]) {
            const pushed = origin.pushImage(image.ref, ref, scratch);
            expect(pushed.code, `${pushed.stderr}\n${origin.logs()}`).toBe(0);
        }
        browser = await puppeteer.launch({
            executablePath: CHROMIUM,
            headless: true,
            args: ["--no-sandbox", "--headless=new", ...origin.browserArgs],
            userDataDir: path.join(dir, "chromium-profile"),
            acceptInsecureCerts: true,
        });
    });

    afterAll(async () => {
        await browser?.close();
        await origin?.stop();
        if (dir) removeDir(dir);
    });

    /**
     * Opens the UI in a fresh browser context (no credentials remembered). A login prompt is answered
     * with `account`, as a person types it, or dismissed ("Cancel") without one.
     */
    async function visit(account?: TestAccount): Promise<Visit> {
        const context = await browser.createBrowserContext();
        const page = await context.newPage();
        const { consoleErrors, prompts } = await watchPage(page, account);
        await page.goto(`${origin.base}/registry/`, { waitUntil: "load" });
        await page.waitForFunction(() => document.getElementById("status")?.textContent !== "loading", { timeout: 30_000 });
        return { page, consoleErrors, prompts, close: () => context.close() };
    }

    /** Deletes `name:tag` with the UI's delete; the DELETE's final status and every request the UI made. */
    async function deleteThroughUi(v: Visit, name: string, tag: string) {
        const status = await v.page.evaluate(
            (n, t) => (window as unknown as { deleteImage(n: string, t: string): Promise<number> }).deleteImage(n, t),
            name,
            tag,
        );
        const log = await v.page.evaluate(() => (window as unknown as { uiLog: { method: string; url: string; status: number }[] }).uiLog);
        return { status, log };
    }

    /** The tag's manifest as a CLI client sees it through the origin (200 while it exists). */
    function manifestStatus(ref: string): number {
        const [name, tag] = ref.split(":");
        const r = run(
            "curl",
            [
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                ...origin.curlArgs,
                "-I",
                "-H",
                "Accept: application/vnd.oci.image.manifest.v1+json",
                // Where pulls need an account, the pull account's, in a curl config on stdin.
                ...(closed ? ["-K", "-"] : []),
                `${origin.base}/v2/${name}/manifests/${tag}`,
            ],
            closed ? { input: `user = "${origin.pull.username}:${origin.pull.password}"\n` } : {},
        );
        return Number(r.stdout);
    }

    // Each case registers only the tests that apply to it (a closed registry prompts on load), so no test is
    // reported as skipped.
    if (closed)
        test("pulls need an account: the login prompt comes as the page loads; the pull account reads the catalog, Cancel shows none", async () => {
            const v = await visit(origin.pull);
            try {
                expect(await v.page.$eval("#status", (e) => e.textContent)).toBe("loaded");
                const repositories = await v.page.$$eval("li.repository", (items) => items.map((i) => (i as HTMLElement).dataset.name));
                expect(repositories).toEqual(["team/app", "tools/lint"]);
                expect(v.prompts[0]).toEqual({ scheme: "basic", realm: "dso-registry", origin: origin.base });
            } finally {
                await v.close();
            }
            const cancelled = await visit();
            try {
                expect(await cancelled.page.$eval("#status", (e) => e.textContent)).toBe("catalog 401");
                expect(cancelled.prompts).toHaveLength(1);
            } finally {
                await cancelled.close();
            }
        });

    if (!closed)
        test("the page loads under /registry/ and shows the catalog, tags and manifests with no console error", async () => {
            const v = await visit();
            try {
                expect(await v.page.$eval("#status", (e) => e.textContent)).toBe("loaded");
                const repositories = await v.page.$$eval("li.repository", (items) => items.map((i) => (i as HTMLElement).dataset.name));
                expect(repositories).toEqual(["team/app", "tools/lint"]);
                const tags = await v.page.$$eval("li.tag", (items) =>
                    items.map((i) => [(i as HTMLElement).dataset.tag, (i as HTMLElement).dataset.digest, i.textContent]),
                );
                expect(tags.map((t) => t[0]).sort()).toEqual(["team/app:1", "team/app:2", "tools/lint:1"]);
                for (const [, digest, text] of tags) {
                    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
                    // The config blob was read: the image's architecture is shown.
                    expect(text).toMatch(/amd64|arm64|\w+$/);
                }
                const log = await v.page.evaluate(
                    () => (window as unknown as { uiLog: { method: string; url: string; status: number }[] }).uiLog,
                );
                expect(
                    log.every((r) => r.status === 200),
                    JSON.stringify(log),
                ).toBe(true);
                expect(log.every((r) => r.url.startsWith(`${origin.base}/v2/`))).toBe(true);
                expect(v.consoleErrors).toEqual([]);
                // Anonymous reads: nobody is asked to log in.
                expect(v.prompts).toEqual([]);
            } finally {
                await v.close();
            }
        });

    if (!closed)
        test("a delete without credentials is refused (401) and deletes nothing; no CORS error", async () => {
            const v = await visit();
            try {
                const { status, log } = await deleteThroughUi(v, "team/app", "1");
                expect(status, JSON.stringify(log)).toBe(401);
                // The UI asked the realm for the DELETE's scope and got the Basic challenge (no account to give).
                expect(log.some((r) => r.url.includes("/v2/token?") && r.url.includes("delete") && r.status === 401)).toBe(true);
                expect(manifestStatus("team/app:1")).toBe(200);
                // The person was asked for an account of this registry, on this origin, and dismissed the prompt.
                expect(v.prompts).toEqual([{ scheme: "basic", realm: "dso-registry", origin: origin.base }]);
                expect(v.consoleErrors.filter((e) => /CORS|Access-Control/i.test(e))).toEqual([]);
            } finally {
                await v.close();
            }
        });

    test("a delete with the pull account is refused (401) and deletes nothing", async () => {
        const v = await visit(origin.pull);
        try {
            const { status, log } = await deleteThroughUi(v, "team/app", "1");
            expect(status, JSON.stringify(log)).toBe(401);
            // The pull account got its token; the DELETE with it was still refused.
            expect(log.some((r) => r.url.includes("/v2/token?") && r.status === 200)).toBe(true);
            expect(manifestStatus("team/app:1")).toBe(200);
        } finally {
            await v.close();
        }
    });

    test("a delete with the push account, typed at the login prompt, succeeds", async () => {
        const v = await visit(origin.push);
        try {
            const { status, log } = await deleteThroughUi(v, "team/app", "1");
            expect(status, `${JSON.stringify(log)}\n${origin.logs()}`).toBe(202);
            expect(manifestStatus("team/app:1")).toBe(404);
            // One prompt: the browser sends the account it was given to the realm again by itself.
            expect(v.prompts).toHaveLength(1);
            expect(v.consoleErrors.filter((e) => /CORS|Access-Control/i.test(e))).toEqual([]);
        } finally {
            await v.close();
        }
    });

    test("another site's page, in the browser that holds the push account, cannot write: its upload is refused (403)", async () => {
        // Another site: the page is served on 127.0.0.1, a site other than the registry's name.
        const attacker = createServer((_, res) => {
            res.writeHead(200, { "Content-Type": "text/html" });
            // A form that posts itself: a top-level navigation, for which the browser uses what it holds for the registry's site.
            res.end(
                `<!doctype html><title>attack</title><form method="POST" enctype="text/plain" action=${JSON.stringify(`${origin.base}/v2/team/xsite/blobs/uploads/`)}><input type="hidden" name="x" value="y"></form><script>document.forms[0].submit();</script>`,
            );
        });
        await new Promise<void>((resolve) => attacker.listen(0, "127.0.0.1", resolve));
        const attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;
        const context = await browser.createBrowserContext();
        try {
            const page = await context.newPage();
            const seen = await watchPage(page, origin.push);
            // The developer signs in to the registry: the browser asks once, at the token endpoint, and keeps the account.
            const signIn = await page.goto(`${origin.base}/v2/token?service=${REALM}&scope=repository:team/xsite:push,pull`);
            expect(signIn?.status()).toBe(200);
            expect(seen.prompts).toHaveLength(1);
            // What the browser sends with the upload, and what it gets back.
            const cdp = await page.createCDPSession();
            await cdp.send("Network.enable");
            const uploads = new Set<string>();
            const sent: Record<string, string>[] = [];
            cdp.on("Network.requestWillBeSent", (e) => {
                if (e.request.url.includes("/blobs/uploads/")) uploads.add(e.requestId);
            });
            cdp.on("Network.requestWillBeSentExtraInfo", (e) => {
                if (uploads.has(e.requestId))
                    sent.push(Object.fromEntries(Object.entries(e.headers).map(([k, v]) => [k.toLowerCase(), String(v)])));
            });
            const statuses: number[] = [];
            page.on("response", (r) => {
                if (r.url().includes("/blobs/uploads/")) statuses.push(r.status());
            });
            const answered = page.waitForResponse((r) => r.url().includes("/blobs/uploads/"), { timeout: 30_000 });
            await page.goto(attackerUrl);
            await answered;
            expect(statuses).toEqual([403]);
            // The browser marked it as another site's; whether it also sent the account it holds is printed.
            expect(sent.length).toBeGreaterThan(0);
            expect(sent[0]?.["sec-fetch-site"]).toBe("cross-site");
            expect(sent[0]?.["sec-fetch-mode"]).toBe("navigate");
            expect(sent[0]?.origin).toBe(attackerUrl.replace(/\/$/, ""));
            console.log(
                `${placement}: the cross-site upload carried ${sent[0]?.authorization ? "the account the browser holds" : "no account"}; answered ${statuses[0]}`,
            );
        } finally {
            await context.close();
            await new Promise((resolve) => attacker.close(resolve));
        }
    });

    // kind's origin is plain HTTP, which this skopeo call does not speak: its CLI pulls are in test/integration/kind*.test.ts.
    if (!closed && placement !== "kind")
        test("anonymous CLI pull still works through the same origin (skopeo, no credentials)", () => {
            const out = path.join(scratch, "pulled");
            const pulled = skopeoCopy(`docker://${origin.authority}/tools/lint:1`, `oci:${out}:1`, {
                certDir: origin.certDir ?? "",
                scratch,
            });
            expect(pulled.code, pulled.stderr).toBe(0);
            expect(existsSync(path.join(out, "index.json"))).toBe(true);
            expect(JSON.parse(readFileSync(path.join(out, "index.json"), "utf8")).manifests).toHaveLength(1);
        });
});

/**
 * The kind front (real Caddy, the rendered Caddyfile) with the web UI on, as the kind stack has it: the UI
 * under /registry/ of the front's own origin, localhost:<port>, from a server standing for the UI's
 * container (the Caddyfile's upstream, rewritten to a loopback port). The page and its /v2/ requests share
 * that origin, so the browser gets the realm the Docker host's clients get; a request arriving by the
 * front's name on the kind network (a pod) gets the realm there; every other Host, forged or not, gets the
 * configured localhost:<port>. The UI's files need no account and never see one.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderKindCaddyfile } from "../../components/kind/front";
import { kindUiUpstream } from "../../components/kind/ui";
import { pinnedCaddy } from "../support/caddyBinaries";
import { caddyEnv, makeDecoyHash } from "../support/realRegistry";
import { freePort, privateDir, removeDir, runOk, type ServerProcess, startServer, waitForPort } from "../support/serverProcess";

let dir = "";
const servers: ServerProcess[] = [];
let port = 0;

/** curl's answer (status line and headers, then the body) to a request with the given Host and headers. */
function request(method: string, urlPath: string, host: string, headers: readonly string[] = []): { head: string; body: string } {
    const out = runOk("curl", [
        "-sS",
        "-D",
        "-",
        "--max-time",
        "20",
        "-X",
        method,
        "-H",
        `Host: ${host}`,
        ...headers.flatMap((h) => ["-H", h]),
        `http://127.0.0.1:${port}${urlPath}`,
    ]).stdout;
    const split = out.indexOf("\r\n\r\n");
    return { head: out.slice(0, split), body: out.slice(split + 4) };
}

const challenge = (method: string, urlPath: string, host: string) =>
    /^www-authenticate: (.*)$/im.exec(request(method, urlPath, host).head)?.[1]?.trim() ?? "";

beforeAll(async () => {
    dir = privateDir("kind-ui-front");
    port = await freePort();
    const uiPort = await freePort();
    const layout = { cluster: "kind", network: "kind", registryName: "kind-registry", port, dataDir: "/unused" };
    const caddyfile = renderKindCaddyfile({
        registryName: "kind-registry",
        port,
        distributionName: "127.0.0.1",
        requiresAuthForPull: false,
        deletesEnabled: true,
        uiUpstream: kindUiUpstream(layout),
        decoy: { accounts: { push: ["ci-push"], pull: [] }, bcryptHash: makeDecoyHash() },
    });
    // The container's paths become the test's directory, the UI's container a loopback port, and Caddy listens on loopback only.
    const local = caddyfile
        .replaceAll("/etc/dso-registry/", `${dir}/`)
        .replaceAll(`reverse_proxy ${kindUiUpstream(layout)}\n`, `reverse_proxy 127.0.0.1:${uiPort}\n`)
        .replace("\n{\n", "\n{\n\tdefault_bind 127.0.0.1\n");
    expect(local).toContain("default_bind 127.0.0.1");
    expect(local).toContain(`reverse_proxy 127.0.0.1:${uiPort}\n`);
    const file = path.join(dir, "Caddyfile");
    writeFileSync(file, local);
    writeFileSync(path.join(dir, "users-push"), renderUsersFile("push", [{ username: "ci-push", bcryptHash: makeDecoyHash() }]));
    writeFileSync(path.join(dir, "users-pull"), renderUsersFile("pull", [{ username: "ci-pull", bcryptHash: makeDecoyHash() }]));
    // The UI's container: a page at its root, and the request headers it received, which it echoes.
    const ui = path.join(dir, "ui");
    mkdirSync(ui);
    writeFileSync(path.join(ui, "index.html"), "<title>registry ui</title>\n");
    const uiServer = path.join(dir, "ui.Caddyfile");
    writeFileSync(
        uiServer,
        `{\n\tadmin off\n}\nhttp://:${uiPort} {\n\tbind 127.0.0.1\n\troot * ${ui}\n\theader X-Seen-Authorization "{http.request.header.Authorization}"\n\tfile_server\n}\n`,
    );
    servers.push(startServer(pinnedCaddy(), ["run", "--adapter", "caddyfile", "--config", uiServer], caddyEnv(dir)));
    servers.push(startServer(pinnedCaddy(), ["run", "--adapter", "caddyfile", "--config", file], caddyEnv(dir)));
    for (const p of [uiPort, port]) await waitForPort(p, 30_000, `port ${p}`);
}, 60_000);

afterAll(async () => {
    for (const s of servers.splice(0).reverse()) await s.stop();
    removeDir(dir);
});

describe("kind front with the web UI", () => {
    const realm = (authority: string) =>
        `Bearer realm="http://${authority}/v2/token",service="dso-registry",scope="repository:dev/app:delete"`;

    it("serves the UI's page under /registry/ on its own origin, without an account, and sends /registry there", () => {
        const page = request("GET", "/registry/", `localhost:${port}`);
        expect(page.head).toMatch(/^HTTP\/1.1 200/);
        expect(page.body).toContain("<title>registry ui</title>");
        const bare = request("GET", "/registry", `localhost:${port}`);
        expect(bare.head).toMatch(/^HTTP\/1.1 308/);
        expect(bare.head).toMatch(/^location: \/registry\/\r?$/im);
    });

    it("never hands the UI's container the account a browser sends", () => {
        const page = request("GET", "/registry/", `localhost:${port}`, ["Authorization: Basic Y2ktcHVzaDpzZWNyZXQ="]);
        expect(page.head).toMatch(/^HTTP\/1.1 200/);
        expect(page.head).toMatch(/^x-seen-authorization: \r?$/im);
    });

    it("names the front's own origin as the realm for the browser on the UI's page, as for the Docker host's clients", () => {
        expect(challenge("DELETE", "/v2/dev/app/manifests/sha256:00", `localhost:${port}`)).toBe(realm(`localhost:${port}`));
    });

    it("names the front's name on the kind network for pods that came by it", () => {
        expect(challenge("DELETE", "/v2/dev/app/manifests/sha256:00", `kind-registry:${port}`)).toBe(realm(`kind-registry:${port}`));
    });

    it("keeps the configured localhost:<port> for every other Host, the earlier releases' UI origin among them", () => {
        for (const host of ["localhost", `127.0.0.1:${port}`, "kind-registry", "localhost:8080"]) {
            expect(challenge("DELETE", "/v2/dev/app/manifests/sha256:00", host), host).toBe(realm(`localhost:${port}`));
        }
    });

    it("asks a browser on the UI's origin for an account at its token endpoint", () => {
        const token = request("GET", "/v2/token?scope=repository:dev/app:delete", `localhost:${port}`);
        expect(token.head).toMatch(/^HTTP\/1.1 401/);
        expect(token.head).toMatch(/^www-authenticate: Basic realm="dso-registry"/im);
    });
});

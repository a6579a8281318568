/**
 * The kind front (real Caddy, the rendered Caddyfile) with the web UI on, both on localhost as the kind
 * stack has them (the UI's origin localhost:8080, the front localhost:<port>): a request arriving with
 * the UI's origin as its Host (as the cluster's ingress controller forwards it) gets the realm on that
 * origin, port included; one arriving by the front's name on the kind network (a pod) gets the realm
 * there; every other Host, forged or not, gets the configured localhost:<port>. No Distribution runs:
 * these answers come from the front before it would proxy.
 */
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderKindCaddyfile } from "../../components/kind/front";
import { pinnedCaddy } from "../support/caddyBinaries";
import { caddyEnv, makeDecoyHash } from "../support/realRegistry";
import { freePort, privateDir, removeDir, runOk, type ServerProcess, startServer, waitForPort } from "../support/serverProcess";

let dir = "";
let caddy: ServerProcess | undefined;
let port = 0;
/** The kind stack's kind.ui.port: only a Host header here, nothing listens on it. */
const UI_PORT = 8080;

/** The WWW-Authenticate of a request with the given Host, or "" when none came back. */
function challenge(method: string, urlPath: string, host: string): string {
    const out = runOk("curl", [
        "-sS",
        "-D",
        "-",
        "-o",
        "/dev/null",
        "--max-time",
        "20",
        "-X",
        method,
        "-H",
        `Host: ${host}`,
        `http://127.0.0.1:${port}${urlPath}`,
    ]);
    return /^www-authenticate: (.*)$/im.exec(out.stdout)?.[1]?.trim() ?? "";
}

beforeAll(async () => {
    dir = privateDir("kind-ui-front");
    port = await freePort();
    const caddyfile = renderKindCaddyfile({
        registryName: "kind-registry",
        port,
        distributionName: "127.0.0.1",
        requiresAuthForPull: false,
        deletesEnabled: true,
        ui: { host: "localhost", port: UI_PORT },
        decoy: { accounts: { push: ["ci-push"], pull: [] }, bcryptHash: makeDecoyHash() },
    });
    // The users files the container mounts: one account each (no request here logs in).
    const file = path.join(dir, "Caddyfile");
    // The container's paths become the test's directory, and Caddy listens on loopback only.
    const local = caddyfile.replaceAll("/etc/dso-registry/", `${dir}/`).replace("\n{\n", "\n{\n\tdefault_bind 127.0.0.1\n");
    expect(local).toContain("default_bind 127.0.0.1");
    writeFileSync(file, local);
    writeFileSync(path.join(dir, "users-push"), renderUsersFile("push", [{ username: "ci-push", bcryptHash: makeDecoyHash() }]));
    writeFileSync(path.join(dir, "users-pull"), renderUsersFile("pull", [{ username: "ci-pull", bcryptHash: makeDecoyHash() }]));
    caddy = startServer(pinnedCaddy(), ["run", "--adapter", "caddyfile", "--config", file], caddyEnv(dir));
    await waitForPort(port, 30_000, "caddy");
}, 60_000);

afterAll(async () => {
    await caddy?.stop();
    removeDir(dir);
});

describe("kind front with the web UI", () => {
    const realm = (authority: string) =>
        `Bearer realm="http://${authority}/v2/token",service="dso-registry",scope="repository:dev/app:delete"`;

    it("names the UI's own origin, port included, as the realm for requests that came by it", () => {
        expect(challenge("DELETE", "/v2/dev/app/manifests/sha256:00", `localhost:${UI_PORT}`)).toBe(realm(`localhost:${UI_PORT}`));
    });

    it("names the front's name on the kind network for pods that came by it", () => {
        expect(challenge("DELETE", "/v2/dev/app/manifests/sha256:00", `kind-registry:${port}`)).toBe(realm(`kind-registry:${port}`));
    });

    it("keeps the configured localhost:<port> for the host's own clients and every other Host", () => {
        for (const host of [`localhost:${port}`, "localhost", `127.0.0.1:${port}`, "kind-registry", `localhost:${UI_PORT + 1}`]) {
            expect(challenge("DELETE", "/v2/dev/app/manifests/sha256:00", host), host).toBe(realm(`localhost:${port}`));
        }
    });

    it("asks a browser on the UI's origin for an account at its token endpoint", () => {
        const out = runOk("curl", [
            "-sS",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-H",
            `Host: localhost:${UI_PORT}`,
            `http://127.0.0.1:${port}/v2/token?scope=repository:dev/app:delete`,
        ]);
        expect(out.stdout).toMatch(/^HTTP\/1.1 401/);
        expect(out.stdout).toMatch(/^www-authenticate: Basic realm="dso-registry"/im);
    });
});

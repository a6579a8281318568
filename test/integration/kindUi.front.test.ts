/**
 * The kind front (real Caddy, the rendered Caddyfile) with the web UI on: a request arriving with the
 * UI's host (as the cluster's ingress controller forwards it) gets the realm on that host, the UI's own
 * origin; every other Host, forged or not, gets the configured localhost:<port>. No Distribution runs:
 * these answers come from the front before it would proxy.
 */
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderKindCaddyfile } from "../../components/kind/front";
import { caddyEnv, makeDecoyHash } from "../support/realRegistry";
import { freePort, privateDir, removeDir, runOk, type ServerProcess, startServer, waitForPort } from "../support/serverProcess";

let dir = "";
let caddy: ServerProcess | undefined;
let port = 0;

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
        uiHost: "registry.localhost",
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
    caddy = startServer("/usr/bin/caddy", ["run", "--adapter", "caddyfile", "--config", file], caddyEnv(dir));
    await waitForPort(port, 30_000, "caddy");
}, 60_000);

afterAll(async () => {
    await caddy?.stop();
    removeDir(dir);
});

describe("kind front with the web UI", () => {
    it("names the UI's own origin as the realm for the UI's host (a delete the browser must log in for)", () => {
        expect(challenge("DELETE", "/v2/dev/app/manifests/sha256:00", "registry.localhost")).toBe(
            'Bearer realm="http://registry.localhost/v2/token",service="dso-registry",scope="repository:dev/app:delete"',
        );
    });

    it("keeps the configured localhost:<port> for every other host", () => {
        for (const host of [`localhost:${port}`, "kind-registry", "127.0.0.1"]) {
            expect(challenge("DELETE", "/v2/dev/app/manifests/sha256:00", host)).toBe(
                `Bearer realm="http://localhost:${port}/v2/token",service="dso-registry",scope="repository:dev/app:delete"`,
            );
        }
    });

    it("asks a browser on the UI's host for an account at its token endpoint", () => {
        const out = runOk("curl", [
            "-sS",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-H",
            "Host: registry.localhost",
            `http://127.0.0.1:${port}/v2/token?scope=repository:dev/app:delete`,
        ]);
        expect(out.stdout).toMatch(/^HTTP\/1.1 401/);
        expect(out.stdout).toMatch(/^www-authenticate: Basic realm="dso-registry"/im);
    });
});

/**
 * The access policy against real clients: Distribution and Caddy started on loopback with the files
 * the program renders, on the pinned Caddy every placement runs (Debian's stands in under `npm test`),
 * TLS from a test CA made at test time, and skopeo, containerd (ctr) and curl as the clients.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { parseConfig } from "../../components/config";
import { pinnedCaddy } from "../support/caddyBinaries";
import {
    curlStatus,
    makeOciImage,
    type PrivateContainerd,
    type RealRegistry,
    skopeoCopy,
    skopeoDelete,
    startContainerd,
    startRealRegistry,
    writeHostsDir,
} from "../support/realRegistry";
import { privateDir, removeDir } from "../support/serverProcess";

let scratch: string;
let containerd: PrivateContainerd;

beforeAll(async () => {
    scratch = privateDir("policy-test");
    containerd = await startContainerd();
});

afterAll(async () => {
    await containerd?.stop();
    if (scratch) removeDir(scratch);
});

let imageCount = 0;
/** A new image each time, so a refused push cannot pass because its blobs already exist. */
function freshImage() {
    imageCount += 1;
    return makeOciImage(`${scratch}/image-${imageCount}`, 8192);
}

/** A registry with `policy`, holding team/app:seed pushed with the push account. */
async function startSeeded(policy: { requiresAuthForPull: boolean; deletesEnabled: boolean }): Promise<RealRegistry> {
    const reg = await startRealRegistry({ caddyBinary: pinnedCaddy(), policy });
    const seeded = skopeoCopy(freshImage().ref, `docker://${reg.authority}/team/app:seed`, { certDir: reg.certDir, creds: reg.push });
    if (seeded.code !== 0) {
        const logs = reg.logs().caddy;
        await reg.stop();
        throw new Error(`seeding the registry failed: ${seeded.stderr}\n${logs}`);
    }
    return reg;
}

describe("anonymous pull, authenticated push (requiresAuthForPull: false)", () => {
    let reg: RealRegistry;
    beforeAll(async () => {
        reg = await startSeeded({ requiresAuthForPull: false, deletesEnabled: true });
    });
    afterAll(async () => {
        await reg?.stop();
    });

    test("the matrix runs with the blob shortcut on (Caddy serves blob downloads from the data directory)", () => {
        expect(reg.caddyfile).toContain("route @blob");
    });

    test("skopeo pushes with the push account's password", () => {
        const result = skopeoCopy(freshImage().ref, `docker://${reg.authority}/team/app:pushed`, {
            certDir: reg.certDir,
            creds: reg.push,
        });
        expect(result.stderr).toBe("");
        expect(result.code).toBe(0);
    });

    test.each([
        ["anonymous push", undefined],
        ["push with a wrong password", { username: "ci-push", password: "not-the-password" }],
        ["push with an unknown user", { username: "mallory", password: "whatever" }],
        ["push with the pull-only account", "pull" as const],
    ])("%s is refused", (_name, creds) => {
        const account = creds === "pull" ? reg.pull : creds;
        const result = skopeoCopy(freshImage().ref, `docker://${reg.authority}/team/app:refused`, {
            certDir: reg.certDir,
            creds: account,
        });
        expect(result.code).not.toBe(0);
        expect(result.stderr).toMatch(/unauthorized|authentication required|401/i);
    });

    test("anonymous delete is refused", () => {
        const result = skopeoDelete(`docker://${reg.authority}/team/app:seed`, { certDir: reg.certDir });
        expect(result.code).not.toBe(0);
        expect(result.stderr).toMatch(/unauthorized|authentication required|401/i);
    });

    test("skopeo pulls anonymously", () => {
        const result = skopeoCopy(`docker://${reg.authority}/team/app:seed`, `oci:${scratch}/pulled-anon:x`, { certDir: reg.certDir });
        expect(result.stderr).toBe("");
        expect(result.code).toBe(0);
    });

    test("containerd pulls anonymously through a hosts.toml that trusts the CA", () => {
        const hosts = writeHostsDir(`${scratch}/hosts-anon`, reg);
        const result = containerd.pull(`${reg.authority}/team/app:seed`, hosts);
        expect(result.stderr).toBe("");
        expect(result.code).toBe(0);
    });

    test("containerd refuses the registry without the CA", () => {
        const hosts = writeHostsDir(`${scratch}/hosts-noca`, {
            authority: reg.authority,
            ca: { ...reg.ca, caCertFile: "/nonexistent-ca.crt" },
        });
        const result = containerd.pull(`${reg.authority}/team/app:seed`, hosts);
        expect(result.code).not.toBe(0);
    });

    test.each([
        ["the ping without credentials is challenged", "/v2/", "GET", undefined, 401],
        ["the ping with the push account answers", "/v2/", "GET", "push", 200],
        ["the ping with the pull account answers", "/v2/", "GET", "pull", 200],
        ["a manifest GET is anonymous", "/v2/team/app/manifests/seed", "GET", undefined, 200],
        ["a manifest HEAD is anonymous", "/v2/team/app/manifests/seed", "HEAD", undefined, 200],
        ["an anonymous upload start is refused", "/v2/team/app/blobs/uploads/", "POST", undefined, 401],
        ["an anonymous DELETE is refused", "/v2/team/app/manifests/seed", "DELETE", undefined, 401],
    ] as const)("curl: %s", (_name, urlPath, method, who, expected) => {
        const account = who === "push" ? reg.push : who === "pull" ? reg.pull : undefined;
        const status = curlStatus(`${reg.url}${urlPath}`, { caCertFile: reg.ca.caCertFile, method, account });
        expect(status).toBe(expected);
    });
});

describe("every request needs credentials (requiresAuthForPull: true)", () => {
    let reg: RealRegistry;
    beforeAll(async () => {
        reg = await startSeeded({ requiresAuthForPull: true, deletesEnabled: false });
    });
    afterAll(async () => {
        await reg?.stop();
    });

    test("the blob shortcut is on here too", () => {
        expect(reg.caddyfile).toContain("route @blob");
    });

    test("skopeo cannot pull anonymously", () => {
        const result = skopeoCopy(`docker://${reg.authority}/team/app:seed`, `oci:${scratch}/pulled-refused:x`, {
            certDir: reg.certDir,
        });
        expect(result.code).not.toBe(0);
        expect(result.stderr).toMatch(/unauthorized|authentication required|401/i);
    });

    test("containerd cannot pull anonymously", () => {
        const hosts = writeHostsDir(`${scratch}/hosts-auth`, reg);
        const result = containerd.pull(`${reg.authority}/team/app:seed`, hosts);
        expect(result.code).not.toBe(0);
    });

    test("the pull account pulls", () => {
        const result = skopeoCopy(`docker://${reg.authority}/team/app:seed`, `oci:${scratch}/pulled-auth:x`, {
            certDir: reg.certDir,
            creds: reg.pull,
        });
        expect(result.stderr).toBe("");
        expect(result.code).toBe(0);
    });

    test("the pull account cannot push", () => {
        const result = skopeoCopy(freshImage().ref, `docker://${reg.authority}/team/app:by-pull`, {
            certDir: reg.certDir,
            creds: reg.pull,
        });
        expect(result.code).not.toBe(0);
        expect(result.stderr).toMatch(/unauthorized|authentication required|401/i);
    });

    test("the push account pushes", () => {
        const result = skopeoCopy(freshImage().ref, `docker://${reg.authority}/team/app:by-push`, {
            certDir: reg.certDir,
            creds: reg.push,
        });
        expect(result.code).toBe(0);
    });

    test("deleting is refused even for the push account when deletes are disabled", () => {
        const status = curlStatus(`${reg.url}/v2/team/app/manifests/seed`, {
            caCertFile: reg.ca.caCertFile,
            method: "DELETE",
            account: reg.push,
        });
        expect(status).toBe(405);
    });

    test("an anonymous manifest GET is challenged", () => {
        const status = curlStatus(`${reg.url}/v2/team/app/manifests/seed`, { caCertFile: reg.ca.caCertFile });
        expect(status).toBe(401);
    });
});

describe("client network allowlist", () => {
    test.each([
        ["loopback is allowed", ["127.0.0.0/8"], 401],
        ["a network that excludes the client is refused", ["10.0.0.0/8"], 403],
    ] as const)("%s", async (_name, allowedNetworks, expected) => {
        const reg = await startRealRegistry({ caddyBinary: pinnedCaddy(), policy: { allowedNetworks: [...allowedNetworks] } });
        try {
            expect(curlStatus(`${reg.url}/v2/`, { caCertFile: reg.ca.caCertFile })).toBe(expected);
        } finally {
            await reg.stop();
        }
    });
});

describe("an IPv4-mapped network in registry.allowedNetworks", () => {
    /** `registry.allowedNetworks` as the program reads it from a stack file that lists `networks`. */
    function allowlistOfStack(networks: string[]): readonly string[] {
        const raw = {
            containerRegistry: { host: "registry.example.com", pathPrefix: "team" },
            registry: { mode: "external-host", tls: { mode: "acme", acmeEmail: "ops@example.com" }, allowedNetworks: networks },
            externalHost: { ssh: { host: "10.0.0.5", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample" } },
        };
        const { config } = parseConfig(raw, {}, { allowMissingSecrets: true });
        if (config.registry.mode !== "external-host") throw new Error(`registry.mode is "${config.registry.mode}"`);
        return config.registry.allowedNetworks;
    }

    test("reaches the front as the IPv4 network it stands for, which lets that network's clients in", async () => {
        const allowedNetworks = allowlistOfStack(["::ffff:127.0.0.0/104"]);
        const reg = await startRealRegistry({ caddyBinary: pinnedCaddy(), policy: { allowedNetworks } });
        try {
            expect(reg.caddyfile).toContain("not remote_ip 127.0.0.0/8\n");
            expect(curlStatus(`${reg.url}/v2/`, { caCertFile: reg.ca.caCertFile })).toBe(401);
        } finally {
            await reg.stop();
        }
    });

    test("why: written into the Caddyfile as it is, it parses and never matches an IPv4 client", async () => {
        const mappedAsWritten = (policy: Parameters<typeof renderCaddyfile>[0]) =>
            renderCaddyfile(policy).replace("not remote_ip 127.0.0.0/8\n", "not remote_ip ::ffff:127.0.0.0/104\n");
        const reg = await startRealRegistry({
            caddyBinary: pinnedCaddy(),
            policy: { allowedNetworks: ["127.0.0.0/8"] },
            caddyfileFor: mappedAsWritten,
        });
        try {
            expect(reg.caddyfile).toContain("not remote_ip ::ffff:127.0.0.0/104\n");
            expect(curlStatus(`${reg.url}/v2/`, { caCertFile: reg.ca.caCertFile })).toBe(403);
        } finally {
            await reg.stop();
        }
    });
});

describe("why the ping is challenged", () => {
    test("with auth only for writes (open ping), skopeo never sends credentials and the push fails even with the right password", async () => {
        const writesOnly = (policy: Parameters<typeof renderCaddyfile>[0]) =>
            // The ping's password check is a route of its own (the decoy's rewrite, the check, the decoy's refusal).
            renderCaddyfile(policy).replace(/\t\troute @ping \{[\s\S]*?\n\t\t}\n/, "");
        const reg = await startRealRegistry({ caddyBinary: pinnedCaddy(), caddyfileFor: writesOnly });
        try {
            expect(reg.caddyfile).not.toMatch(/(?:route|basicauth) @ping/);
            expect(reg.caddyfile).toMatch(/route @write \{/);
            const result = skopeoCopy(freshImage().ref, `docker://${reg.authority}/team/app:open-ping`, {
                certDir: reg.certDir,
                creds: reg.push,
            });
            expect(result.code).not.toBe(0);
            expect(result.stderr).toMatch(/unauthorized|authentication required|401/i);
        } finally {
            await reg.stop();
        }
    });
});

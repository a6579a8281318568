/**
 * Proof that the trust files NodeTrust places are what containerd needs: the component's own
 * scripts (recorded under Pulumi's mocks) run with /bin/sh into a private root, and a private
 * containerd pulls anonymously with `ctr images pull --hosts-dir <root>/etc/containerd/certs.d` from
 * a real Distribution behind the real Caddy policy, all on 127.0.0.1. Without the CA the same pull
 * fails with an x509 error; after removal it fails again.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderHostsToml } from "../../components/nodeTrust/files";
import { type RecordedResource, settle, startMockRuntime } from "../../tools/mockRuntime";
import { pinnedCaddy } from "../support/caddyBinaries";
import {
    makeOciImage,
    type PrivateContainerd,
    type RealRegistry,
    skopeoCopy,
    startContainerd,
    startRealRegistry,
    writeHostsDir,
} from "../support/realRegistry";
import { privateDir, removeDir } from "../support/serverProcess";

let registry: RealRegistry;
let containerd: PrivateContainerd;
let scratch: string;
let root: string;
let commands: RecordedResource[];
let imageRef: string;

function sh(script: string, stdin = ""): { code: number; stdout: string; stderr: string } {
    const r = spawnSync("/bin/sh", ["-c", script], { env: { ...process.env, DSO_ROOT: root }, input: stdin, encoding: "utf8" });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
    scratch = privateDir("node-trust-ctr");
    root = path.join(scratch, "root");
    mkdirSync(root);
    // The cluster's registry, whose nodes NodeTrust prepares: the in-cluster sidecar's Caddy.
    registry = await startRealRegistry({ caddyBinary: pinnedCaddy() });
    containerd = await startContainerd();
    const image = makeOciImage(path.join(scratch, "image"));
    imageRef = `${registry.authority}/team/app:1`;
    const pushed = skopeoCopy(image.ref, `docker://${imageRef}`, { certDir: registry.certDir, creds: registry.push });
    if (pushed.code !== 0) throw new Error(`push failed: ${pushed.stderr}`);

    const rt = await startMockRuntime({ stack: "test" });
    const { NodeTrust } = await import("../../components/nodeTrust/nodeTrustPerNode");
    const [host, port] = registry.authority.split(":");
    new NodeTrust("node-1", {
        host: host!,
        port: Number(port),
        flavour: "containerd",
        caCertPem: registry.ca.caCertPem,
        connection: { kind: "local", name: "node-1", sudo: false },
    });
    await settle();
    commands = rt.ofType("command:local:Command");
}, 180_000);

afterAll(async () => {
    await containerd?.stop();
    await registry?.stop();
    if (scratch) removeDir(scratch);
});

const hostsDir = () => path.join(root, "etc/containerd/certs.d");

describe("containerd pulls through the placed trust", () => {
    it("fails with an x509 error when hosts.toml has no CA", () => {
        // containerd talks plain HTTP to loopback hosts that have no hosts.toml, so the check without
        // the CA uses the hosts.toml a publicly trusted registry would get (https, no ca line).
        const withoutCa = path.join(scratch, "without-ca");
        const dir = path.join(withoutCa, registry.authority);
        mkdirSync(dir, { recursive: true });
        const [host, port] = registry.authority.split(":");
        writeFileSync(path.join(dir, "hosts.toml"), renderHostsToml({ host: host!, port: Number(port), hasCa: false, plainHttp: false }));
        const pull = containerd.pull(imageRef, withoutCa);
        expect(pull.code).not.toBe(0);
        expect(pull.stderr).toMatch(/x509: certificate signed by unknown authority/);
    });

    it("places the directory, the CA and hosts.toml with the component's scripts", () => {
        for (const c of commands) {
            const r = sh(String(c.rawInputs.create), typeof c.rawInputs.stdin === "string" ? c.rawInputs.stdin : "");
            expect(r.code, `${c.name}: ${r.stderr}`).toBe(0);
        }
        const dir = path.join(hostsDir(), registry.authority);
        expect(["ca.crt", "hosts.toml"].filter((f) => existsSync(path.join(dir, f)))).toEqual(["ca.crt", "hosts.toml"]);
    });

    it("pulls anonymously with the placed files", () => {
        const pull = containerd.pull(imageRef, hostsDir());
        expect(pull.stderr).not.toMatch(/x509/);
        expect(pull.code).toBe(0);
    });

    it("removal takes the files and the directory away, and the pull fails again", () => {
        for (const c of [...commands].reverse()) {
            if (typeof c.rawInputs.delete === "string") expect(sh(c.rawInputs.delete).code).toBe(0);
        }
        expect(existsSync(path.join(hostsDir(), registry.authority))).toBe(false);
        containerd.ctr(["images", "rm", imageRef]);
        containerd.ctr(["content", "prune", "references"]);
        expect(containerd.pull(imageRef, hostsDir()).code).not.toBe(0);
    });
});

/**
 * A registry whose reads need credentials (requiresAuthForPull): the pull-only account reaches
 * containerd through hosts.toml's Authorization header, which the component's scripts place with
 * mode 0600 (the password travels on stdin). The same pull without it is refused with a 401.
 */
describe("containerd pulls with the node's pull credentials", () => {
    let authRegistry: RealRegistry;
    let authRoot: string;
    let authCommands: RecordedResource[];
    let authRef: string;
    const authHostsDir = () => path.join(authRoot, "etc/containerd/certs.d");

    beforeAll(async () => {
        authRoot = path.join(scratch, "auth-root");
        mkdirSync(authRoot);
        authRegistry = await startRealRegistry({ caddyBinary: pinnedCaddy(), policy: { requiresAuthForPull: true } });
        authRef = `${authRegistry.authority}/team/private:1`;
        const image = makeOciImage(path.join(scratch, "private-image"));
        const pushed = skopeoCopy(image.ref, `docker://${authRef}`, { certDir: authRegistry.certDir, creds: authRegistry.push });
        if (pushed.code !== 0) throw new Error(`push failed: ${pushed.stderr}`);
        const rt = await startMockRuntime({ stack: "test" });
        const { NodeTrust } = await import("../../components/nodeTrust/nodeTrustPerNode");
        const [host, port] = authRegistry.authority.split(":");
        new NodeTrust("auth-node", {
            host: host!,
            port: Number(port),
            flavour: "containerd",
            caCertPem: authRegistry.ca.caCertPem,
            pullAccount: { username: authRegistry.pull.username, password: authRegistry.pull.password },
            connection: { kind: "local", name: "auth-node", sudo: false },
        });
        await settle();
        authCommands = rt.ofType("command:local:Command").filter((c) => c.name.startsWith("auth-node-"));
    }, 180_000);

    afterAll(async () => {
        await authRegistry?.stop();
    });

    const plain = (v: unknown) =>
        v && typeof v === "object" && "value" in v ? String((v as { value: unknown }).value) : typeof v === "string" ? v : "";

    it("without credentials the pull is refused with 401", () => {
        const pull = containerd.pull(authRef, writeHostsDir(path.join(scratch, "anonymous"), authRegistry));
        expect(pull.code).not.toBe(0);
        expect(pull.stderr).toMatch(/401 Unauthorized/);
    });

    it("the password is on stdin only, never in a script", () => {
        for (const c of authCommands) expect(`${c.rawInputs.create}\n${c.rawInputs.delete}`).not.toContain(authRegistry.pull.password);
    });

    it("places hosts.toml with the credentials readable by root only", () => {
        for (const c of authCommands) {
            const r = spawnSync("/bin/sh", ["-c", String(c.rawInputs.create)], {
                env: { ...process.env, DSO_ROOT: authRoot },
                input: plain(c.rawInputs.stdin),
                encoding: "utf8",
            });
            expect(r.status, `${c.name}: ${r.stderr}`).toBe(0);
        }
        const file = path.join(authHostsDir(), authRegistry.authority, "hosts.toml");
        expect((statSync(file).mode & 0o777).toString(8)).toBe("600");
    });

    it("pulls with the placed credentials", () => {
        const pull = containerd.pull(authRef, authHostsDir());
        expect(pull.stderr).not.toMatch(/401|x509/);
        expect(pull.code).toBe(0);
    });
});

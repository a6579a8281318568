/**
 * Proof that the trust files NodeTrust places are what containerd needs: the component's own
 * scripts (recorded under Pulumi's mocks) run with /bin/sh into a private root, and a private
 * containerd pulls anonymously with `ctr images pull --hosts-dir <root>/etc/containerd/certs.d` from
 * a real Distribution behind the real Caddy policy, all on 127.0.0.1. Without the CA the same pull
 * fails with an x509 error; after removal it fails again.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderHostsToml } from "../../components/nodeTrust/files";
import { type RecordedResource, settle, startMockRuntime } from "../../tools/mockRuntime";
import {
    makeOciImage,
    type PrivateContainerd,
    type RealRegistry,
    skopeoCopy,
    startContainerd,
    startRealRegistry,
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
    registry = await startRealRegistry();
    containerd = await startContainerd();
    const image = makeOciImage(path.join(scratch, "image"));
    imageRef = `${registry.authority}/team/app:1`;
    const pushed = skopeoCopy(image.ref, `docker://${imageRef}`, { certDir: registry.certDir, creds: registry.push });
    if (pushed.code !== 0) throw new Error(`push failed: ${pushed.stderr}`);

    const rt = await startMockRuntime({ stack: "test" });
    const { NodeTrust } = await import("../../components/nodeTrust/nodeTrustSsh");
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

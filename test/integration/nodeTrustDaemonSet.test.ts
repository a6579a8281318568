/**
 * The DaemonSet's scripts on real files: the ConfigMap that NodeTrustDaemonSet renders (under
 * Pulumi's mocks) is written to a directory, its mount path rewritten to that directory, and
 * apply.sh / remove.sh run with /bin/sh against a private root ($DSO_ROOT), as the pod would run
 * them against the node's directories mounted under /host. Every test starts from a fresh root.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { etcHostsMarkers } from "../../components/nodeTrust/files";
import { settle, startMockRuntime } from "../../tools/mockRuntime";
import { makeTestCa } from "../support/realRegistry";
import { privateDir, removeDir } from "../support/serverProcess";

const HOST = "registry-dso.example.test";
const ORIGINAL_HOSTS = "127.0.0.1 localhost\n";
const CERTS = "/var/snap/microk8s/current/args/certs.d/registry-dso.example.test";
let scratch: string;
let root: string;
let caPem: string;

function run(script: string, podUid: string): { code: number; stdout: string; stderr: string } {
    const r = spawnSync("/bin/sh", [path.join(scratch, "config", script)], {
        env: { ...process.env, DSO_ROOT: root, POD_UID: podUid },
        encoding: "utf8",
    });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const read = (p: string) => (existsSync(path.join(root, p)) ? readFileSync(path.join(root, p), "utf8") : undefined);

beforeAll(async () => {
    scratch = privateDir("node-trust-ds");
    caPem = makeTestCa(path.join(scratch, "ca")).caCertPem;

    const rt = await startMockRuntime({ stack: "test" });
    const { NodeTrustDaemonSet } = await import("../../components/nodeTrust/nodeTrustDaemonSet");
    new NodeTrustDaemonSet("trust", {
        host: HOST,
        port: 443,
        flavour: "microk8s",
        caCertPem: caPem,
        registryAddress: "127.0.0.1",
        namespace: "dso",
    });
    await settle();
    const data = rt.byName("trust-config").inputs.data as Record<string, string>;
    const configDir = path.join(scratch, "config");
    mkdirSync(configDir);
    for (const [key, value] of Object.entries(data)) {
        writeFileSync(path.join(configDir, key), value.replaceAll("/dso/config/", `${configDir}/`));
    }
});

/** A node as it was before any pod ran: the original /etc/hosts and an empty certs.d. */
beforeEach(() => {
    root = mkdtempSync(path.join(scratch, "root-"));
    mkdirSync(path.join(root, "etc"), { recursive: true });
    mkdirSync(path.join(root, "var/snap/microk8s/current/args/certs.d"), { recursive: true });
    writeFileSync(path.join(root, "etc/hosts"), ORIGINAL_HOSTS);
});

afterAll(() => {
    if (scratch) removeDir(scratch);
});

/** Pod A applied, then pod B (a newer pod on the same node, as in a rolling update) took over. */
function podBTookOver(): void {
    expect(run("apply.sh", "pod-a").code).toBe(0);
    expect(run("apply.sh", "pod-b").code).toBe(0);
}

describe("DaemonSet scripts", () => {
    it("apply.sh places the CA, hosts.toml and the /etc/hosts block", () => {
        expect(run("apply.sh", "pod-a").code).toBe(0);
        expect(read(`${CERTS}/ca.crt`)).toBe(`${caPem.trim()}\n`);
        expect(read(`${CERTS}/hosts.toml`)).toContain('ca = "ca.crt"');
        const { begin, end } = etcHostsMarkers(HOST);
        expect(read("/etc/hosts")).toBe(`${ORIGINAL_HOSTS}${begin}\n127.0.0.1 ${HOST}\n${end}\n`);
    });

    it("a newer pod takes over; the old pod's preStop then removes nothing", () => {
        podBTookOver();
        const r = run("remove.sh", "pod-a");
        expect(r.stdout).toContain("belongs to another pod");
        expect(existsSync(path.join(root, CERTS, "hosts.toml"))).toBe(true);
    });

    it("the owning pod's preStop removes exactly what was added", () => {
        podBTookOver();
        expect(run("remove.sh", "pod-a").stdout).toContain("belongs to another pod");
        expect(run("remove.sh", "pod-b").code).toBe(0);
        expect(existsSync(path.join(root, CERTS))).toBe(false);
        expect(read("/etc/hosts")).toBe(ORIGINAL_HOSTS);
    });
});

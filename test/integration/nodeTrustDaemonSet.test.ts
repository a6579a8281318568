/**
 * The DaemonSet's scripts on real files: the ConfigMap that NodeTrustDaemonSet renders (under
 * Pulumi's mocks) is written to a directory, its mount path rewritten to that directory, and
 * apply.sh / remove.sh run with /bin/sh against a private root ($DSO_ROOT), as the pod would run
 * them against the node's directories mounted under /host. Every test starts from a fresh root.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { etcHostsMarkers } from "../../components/nodeTrust/files";
import { registriesYamlMarkers } from "../../components/nodeTrust/registriesYaml";
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

/**
 * k3s through the DaemonSet: the same merge script as over SSH, run from the pod's ConfigMap and Secret.
 * A DaemonSet cannot order restarts across nodes, so a pod restarts k3s only while it takes over from
 * the previous pod on its node (a rolling update, one node at a time); other runs leave it pending.
 * `systemctl` is a stand-in on PATH that records calls ($K3S_ROOT/active-units lists running units).
 */
describe("DaemonSet scripts for k3s", () => {
    const THEIRS = 'mirrors:\n  # the company cache\n  docker.io:\n    endpoint: ["https://mirror.example.test"]\n';
    const REGISTRIES = "etc/rancher/k3s/registries.yaml";
    let k3sDir: string;
    let k3sRoot: string;

    beforeAll(async () => {
        k3sDir = path.join(scratch, "k3s");
        const stubs = path.join(k3sDir, "stubs");
        mkdirSync(stubs, { recursive: true });
        writeFileSync(
            path.join(stubs, "systemctl"),
            // `show -p ActiveEnterTimestampMonotonic --value UNIT`: when the unit became active, as systemd
            // says it (microseconds since boot), from the seconds-ago in $DSO_ROOT/started-ago.
            '#!/bin/sh\necho "$*" >> "$DSO_ROOT/systemctl.log"\nif [ "$1" = is-active ]; then grep -qx "$3" "$DSO_ROOT/active-units"; exit $?; fi\n' +
                'if [ "$1" = show ]; then awk -v ago="$(cat "$DSO_ROOT/started-ago")" \'{ printf "%.0f\\n", ($1 - ago) * 1000000 }\' /proc/uptime; fi\n',
        );
        chmodSync(path.join(stubs, "systemctl"), 0o755);
        const rt = await startMockRuntime({ stack: "test" });
        const { NodeTrustDaemonSet } = await import("../../components/nodeTrust/nodeTrustDaemonSet");
        new NodeTrustDaemonSet("trust-k3s", {
            host: HOST,
            port: 443,
            flavour: "k3s",
            caCertPem: caPem,
            pullAccount: { username: "cluster-pull", password: "pull-password" },
            namespace: "dso-node-trust",
        });
        await settle();
        /** An input as the mock saw it: a secret arrives wrapped as {<sig>: …, value}. */
        const plain = (v: unknown): unknown => (v && typeof v === "object" && "value" in v ? (v as { value: unknown }).value : v);
        for (const [dir, data] of [
            ["config", rt.byName("trust-k3s-config").rawInputs.data],
            ["secret", rt.byName("trust-k3s-secret").rawInputs.stringData],
        ] as const) {
            mkdirSync(path.join(k3sDir, dir));
            for (const [key, value] of Object.entries(plain(data) as Record<string, unknown>)) {
                const text = String(plain(value));
                writeFileSync(
                    path.join(k3sDir, dir, key),
                    text.replaceAll("/dso/config/", `${k3sDir}/config/`).replaceAll("/dso/secret/", `${k3sDir}/secret/`),
                );
            }
        }
    });

    beforeEach(() => {
        k3sRoot = mkdtempSync(path.join(k3sDir, "root-"));
        mkdirSync(path.join(k3sRoot, "etc/rancher/k3s"), { recursive: true });
        writeFileSync(path.join(k3sRoot, REGISTRIES), THEIRS);
        writeFileSync(path.join(k3sRoot, "active-units"), "k3s\n");
        // An established node: k3s has run for an hour.
        writeFileSync(path.join(k3sRoot, "started-ago"), "3600\n");
    });

    function k3s(script: string, podUid: string, defer: boolean) {
        const r = spawnSync("/bin/sh", [path.join(k3sDir, "config", script)], {
            env: {
                ...process.env,
                PATH: `${path.join(k3sDir, "stubs")}:${process.env.PATH}`,
                DSO_ROOT: k3sRoot,
                POD_UID: podUid,
                DSO_NODE_NAME: "node-a",
                ...(defer ? { DSO_DEFER_RESTART: "1" } : {}),
            },
            encoding: "utf8",
        });
        return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    }
    const restarts = () =>
        (existsSync(path.join(k3sRoot, "systemctl.log")) ? readFileSync(path.join(k3sRoot, "systemctl.log"), "utf8") : "")
            .split("\n")
            .filter((l) => l.startsWith("restart"));
    const registries = () => readFileSync(path.join(k3sRoot, REGISTRIES), "utf8");

    it("a pod of a new DaemonSet merges the entries and leaves the restart pending", () => {
        const r = k3s("apply.sh", "pod-a", true);
        expect(r.code, r.stderr).toBe(0);
        expect(YAML.parse(registries()).mirrors).toEqual({
            "docker.io": { endpoint: ["https://mirror.example.test"] },
            [HOST]: { endpoint: [`https://${HOST}`] },
        });
        expect(YAML.parse(registries()).configs[HOST].auth).toEqual({ username: "cluster-pull", password: "pull-password" });
        expect(r.stdout).toContain("restart pending");
        expect(restarts()).toEqual([]);
    });

    it("the pod that takes over in a rolling update restarts k3s for the pending change", () => {
        expect(k3s("apply.sh", "pod-a", true).code).toBe(0);
        const r = k3s("apply.sh", "pod-b", false);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/^unchanged .*registries\.yaml$/m);
        expect(restarts()).toEqual(["restart k3s"]);
        expect(k3s("apply.sh", "pod-b", false).code).toBe(0);
        expect(restarts()).toEqual(["restart k3s"]);
    });

    it("a node that has just booted or joined (k3s started minutes ago) gets the restart from its own pod, outside a rolling update", () => {
        writeFileSync(path.join(k3sRoot, "started-ago"), "40\n");
        const r = k3s("apply.sh", "pod-a", true);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(
            /k3s or k3s-agent started \d+s ago, before .*registries\.yaml had the registry's entries .*: restarting it now/,
        );
        expect(r.stdout).not.toContain("restart pending");
        expect(restarts()).toEqual(["restart k3s"]);
        expect(existsSync(path.join(k3sRoot, "etc/rancher/k3s/.dso-registry-restart-pending"))).toBe(false);
    });

    it("a rebooted node: the entries the shutdown's preStop took out come back, and k3s restarts to read them", () => {
        expect(k3s("apply.sh", "pod-a", false).code).toBe(0);
        expect(k3s("remove.sh", "pod-a", false).code).toBe(0);
        expect(registries()).toBe(THEIRS);
        // After the reboot k3s has just started, without the entries; the DaemonSet's new pod applies.
        writeFileSync(path.join(k3sRoot, "started-ago"), "25\n");
        const r = k3s("apply.sh", "pod-b-after-reboot", true);
        expect(r.code, r.stderr).toBe(0);
        expect(YAML.parse(registries()).mirrors[HOST]).toEqual({ endpoint: [`https://${HOST}`] });
        expect(restarts()).toEqual(["restart k3s", "restart k3s"]);
    });

    it("run.sh restarts only on a pod's first run while another pod's UID is in the owner file", () => {
        const runSh = readFileSync(path.join(k3sDir, "config", "run.sh"), "utf8");
        expect(runSh).toMatch(
            /if \[ "\$first" = 1 \] && \[ -s [^\n]+ \] && \[ "\$\(cat [^\n]+\)" != "\$POD_UID" \]; then\n\s+unset DSO_DEFER_RESTART\n\s+else\n\s+DSO_DEFER_RESTART=1/,
        );
    });

    it("the owning pod's preStop takes out only the program's entries and restarts nothing", () => {
        expect(k3s("apply.sh", "pod-a", false).code).toBe(0);
        expect(restarts()).toEqual(["restart k3s"]);
        const r = k3s("remove.sh", "pod-a", false);
        expect(r.code, r.stderr).toBe(0);
        expect(registries()).toBe(THEIRS);
        expect(registries()).not.toContain(registriesYamlMarkers(HOST).begin);
        expect(restarts()).toEqual(["restart k3s"]);
    });
});

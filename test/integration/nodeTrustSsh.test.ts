/**
 * k3s node trust over a real SSH session: NodeTrust's scripts (recorded under Pulumi's mocks, as
 * remote.Command would send them) run through a real OpenSSH server on 127.0.0.1 into a private root
 * ($DSO_ROOT). First run, re-run without change, changed address and credentials, destroy.
 * `systemctl` is a stand-in on PATH that records calls (there is no systemd or k3s here); units
 * listed in $DSO_ROOT/active-units count as running.
 */
import { chmodSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { etcHostsMarkers, MANAGED_HEADER } from "../../components/nodeTrust/files";
import { type MockRuntime, type RecordedResource, settle, startMockRuntime } from "../../tools/mockRuntime";
import { makeTestCa } from "../support/realRegistry";
import { privateDir, removeDir } from "../support/serverProcess";
import { type SshServer, startSshServer } from "../support/sshServer";

const HOST = "registry.dso.example.test";
const ORIGINAL_HOSTS = "127.0.0.1 localhost\n10.1.1.1 other.example.test\n";
const REGISTRIES = "/etc/rancher/k3s/registries.yaml";
const CA_FILE = "/etc/rancher/k3s/dso-registry-ca-registry.dso.example.test.crt";

let ssh: SshServer;
let stubs: string;
let rt: MockRuntime;
let caPem: string;

/** An input as the mock saw it: a secret arrives wrapped as {<sig>: …, value}. */
function plain(value: unknown): string {
    if (value && typeof value === "object" && "value" in value) return String((value as { value: unknown }).value);
    return typeof value === "string" ? value : "";
}

/** The create (or delete) scripts of one NodeTrust, in registration order, with their stdin. */
function scriptsOf(prefix: string): RecordedResource[] {
    return rt.ofType("command:remote:Command").filter((c) => c.name.startsWith(`${prefix}-`));
}

function apply(prefix: string): string {
    let out = "";
    for (const c of scriptsOf(prefix)) {
        const r = ssh.runScript(String(c.rawInputs.create), plain(c.rawInputs.stdin));
        if (r.code !== 0) throw new Error(`${c.name} failed: ${r.stderr}`);
        out += r.stdout;
    }
    return out;
}

function destroy(prefix: string): string {
    let out = "";
    for (const c of [...scriptsOf(prefix)].reverse()) {
        const r = ssh.runScript(String(c.rawInputs.delete));
        if (r.code !== 0) throw new Error(`${c.name} delete failed: ${r.stderr}`);
        out += r.stdout;
    }
    return out;
}

const restarts = () => (ssh.readFile("/systemctl.log") ?? "").split("\n").filter((l) => l.startsWith("restart"));

beforeAll(async () => {
    stubs = privateDir("node-trust-stubs");
    writeFileSync(
        path.join(stubs, "systemctl"),
        [
            "#!/bin/sh",
            'echo "$*" >> "$DSO_ROOT/systemctl.log"',
            'if [ "$1" = is-active ]; then grep -qx "$3" "$DSO_ROOT/active-units" 2>/dev/null; exit $?; fi',
            "exit 0",
            "",
        ].join("\n"),
    );
    chmodSync(stubs, 0o755);
    chmodSync(path.join(stubs, "systemctl"), 0o755);
    ssh = await startSshServer({ pathPrefix: stubs });
    mkdirSync(path.join(ssh.root, "etc"), { recursive: true });
    writeFileSync(path.join(ssh.root, "etc/hosts"), ORIGINAL_HOSTS);
    writeFileSync(path.join(ssh.root, "active-units"), "k3s\n");
    const caDir = privateDir("node-trust-ca");
    caPem = makeTestCa(caDir).caCertPem;
    removeDir(caDir);

    rt = await startMockRuntime({ stack: "test" });
    const { NodeTrust } = await import("../../components/nodeTrust/nodeTrustSsh");
    const connection = { ...ssh.connection, name: "k3s-server-1" };
    const common = { host: HOST, port: 443, flavour: "k3s" as const, caCertPem: caPem, connection };
    new NodeTrust("first", {
        ...common,
        registryAddress: "10.0.0.5",
        pullAccount: { username: "cluster-pull", password: "first-password" },
    });
    new NodeTrust("changed", {
        ...common,
        registryAddress: "10.0.0.6",
        pullAccount: { username: "cluster-pull", password: "second-password" },
    });
    await settle();
}, 120_000);

afterAll(async () => {
    await ssh?.stop();
    if (stubs) removeDir(stubs);
});

describe("k3s node trust over SSH", () => {
    it("first run writes the CA, registries.yaml and the /etc/hosts block, and restarts k3s once", () => {
        apply("first");
        expect(ssh.readFile(CA_FILE)).toBe(`${caPem.trim()}\n`);
        expect(YAML.parse(ssh.readFile(REGISTRIES)!)).toEqual({
            mirrors: { [HOST]: { endpoint: [`https://${HOST}`] } },
            configs: { [HOST]: { tls: { ca_file: CA_FILE }, auth: { username: "cluster-pull", password: "first-password" } } },
        });
        const { begin, end } = etcHostsMarkers(HOST);
        expect(ssh.readFile("/etc/hosts")).toBe(`${ORIGINAL_HOSTS}${begin}\n10.0.0.5 ${HOST}\n${end}\n`);
        expect(restarts()).toEqual(["restart k3s"]);
    });

    it("registries.yaml with credentials is readable by root only", () => {
        expect((statSync(path.join(ssh.root, REGISTRIES)).mode & 0o777).toString(8)).toBe("600");
    });

    it("a second run changes nothing and restarts nothing", () => {
        const before = ssh.readFile("/etc/hosts");
        const out = apply("first");
        expect(out).not.toMatch(/^changed/m);
        expect(ssh.readFile("/etc/hosts")).toBe(before);
        expect(restarts()).toEqual(["restart k3s"]);
    });

    it("a changed address and password update the block in place and restart k3s again", () => {
        apply("changed");
        const { begin, end } = etcHostsMarkers(HOST);
        expect(ssh.readFile("/etc/hosts")).toBe(`${ORIGINAL_HOSTS}${begin}\n10.0.0.6 ${HOST}\n${end}\n`);
        expect(YAML.parse(ssh.readFile(REGISTRIES)!).configs[HOST].auth.password).toBe("second-password");
        expect(restarts()).toEqual(["restart k3s", "restart k3s"]);
    });

    it("destroy removes exactly what was added and restarts k3s", () => {
        destroy("changed");
        expect(ssh.readFile("/etc/hosts")).toBe(ORIGINAL_HOSTS);
        expect(ssh.readFile(REGISTRIES)).toBeUndefined();
        expect(ssh.readFile(CA_FILE)).toBeUndefined();
        expect(restarts()).toEqual(["restart k3s", "restart k3s", "restart k3s"]);
    });

    it("refuses to overwrite a registries.yaml that it did not write", () => {
        const theirs = 'mirrors:\n  "docker.io":\n    endpoint: ["https://mirror.example.test"]\n';
        writeFileSync(path.join(ssh.root, REGISTRIES), theirs);
        const c = scriptsOf("first").find((r) => r.name === "first-registries-yaml-write")!;
        const r = ssh.runScript(String(c.rawInputs.create), plain(c.rawInputs.stdin));
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("exists and was not written by dso-registry");
        expect(ssh.readFile(REGISTRIES)).toBe(theirs);
    });

    it("destroy leaves a registries.yaml that it did not write", () => {
        const c = scriptsOf("first").find((r) => r.name === "first-registries-yaml-write")!;
        expect(ssh.runScript(String(c.rawInputs.delete)).code).toBe(0);
        expect(ssh.readFile(REGISTRIES)?.startsWith(MANAGED_HEADER)).toBe(false);
        expect(ssh.readFile(REGISTRIES)).toBeDefined();
    });

    it("the pull password is never in a command line, only on stdin", () => {
        for (const c of scriptsOf("first")) {
            expect(`${c.rawInputs.create}\n${c.rawInputs.delete}`).not.toContain("first-password");
        }
        expect(scriptsOf("first").find((r) => r.name === "first-registries-yaml-write")!.inputs.stdin).toBe("[secret]");
    });
});

/**
 * k3s node trust over a real SSH session: NodeTrust's scripts (recorded under Pulumi's mocks, as
 * remote.Command would send them) run through a real OpenSSH server on 127.0.0.1 into a private root
 * ($DSO_ROOT). The node already has a registries.yaml of the operator's (comments, a docker.io mirror,
 * credentials for another registry): the program merges its entries in, keeps every other line byte
 * for byte, converges, follows a CA and a password rotation, and takes only its own entries out on
 * destroy. k3s would read every result: it is parsed with a YAML parser that refuses duplicate keys.
 *
 * There is no systemd or k3s here: `systemctl` is a stand-in on PATH that records calls (units listed
 * in $DSO_ROOT/active-units count as running; with $DSO_ROOT/dies-on-restart a restarted unit does
 * not come back), and `k3s` one that records its arguments and prints
 * the Ready status written to $DSO_ROOT/node-ready (as `k3s kubectl get node … -o jsonpath=…` would).
 */
import { mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { etcHostsMarkers } from "../../components/nodeTrust/files";
import { LEGACY_MANAGED_HEADER, REGISTRIES_CREATED_HEADER, registriesYamlMarkers } from "../../components/nodeTrust/registriesYaml";
import { type MockRuntime, type RecordedResource, settle, startMockRuntime } from "../../tools/mockRuntime";
import { writeNodeStubs } from "../support/nodeStubs";
import { makeTestCa } from "../support/realRegistry";
import { privateDir, removeDir } from "../support/serverProcess";
import { type SshServer, startSshServer } from "../support/sshServer";

const HOST = "registry.dso.example.test";
const ORIGINAL_HOSTS = "127.0.0.1 localhost\n10.1.1.1 other.example.test\n";
const REGISTRIES = "/etc/rancher/k3s/registries.yaml";
const CA_FILE = "/etc/rancher/k3s/dso-registry-ca-registry.dso.example.test.crt";
const PENDING = "/etc/rancher/k3s/.dso-registry-restart-pending";

/** The operator's registries.yaml, as k3s users commonly have one: 4-space indents, comments, quoting. */
const THEIRS = [
    "# Registries of the platform team (edited by hand)",
    "mirrors:",
    "    # Docker Hub through the company's pull-through cache",
    "    docker.io:",
    "        endpoint:",
    '            - "https://mirror.example.test"',
    "",
    "configs:",
    '    "other.example.test:5000":   # the build cache',
    "        auth:",
    "            username: builder",
    '            password: "their-secret"',
    "",
].join("\n");

let ssh: SshServer;
let stubs: string;
let rt: MockRuntime;
let caPem: string;
let rotatedCaPem: string;

/** An input as the mock saw it: a secret arrives wrapped as {<sig>: …, value}. */
function plain(value: unknown): string {
    if (value && typeof value === "object" && "value" in value) return String((value as { value: unknown }).value);
    return typeof value === "string" ? value : "";
}

/** The commands of one NodeTrust, in registration order, with their stdin. */
function scriptsOf(prefix: string): RecordedResource[] {
    return rt.ofType("command:remote:Command").filter((c) => c.name.startsWith(`${prefix}-`));
}

const registriesCommand = (prefix: string) => scriptsOf(prefix).find((c) => c.name === `${prefix}-registries-yaml-write`)!;

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

const log = (name: string) => (ssh.readFile(`/${name}`) ?? "").split("\n").filter((l) => l !== "");
const restarts = () => log("systemctl.log").filter((l) => l.startsWith("restart"));
const theirsFile = () => path.join(ssh.root, REGISTRIES);

/** The file with the program's marked entries taken out: what must equal the operator's file. */
function withoutOurEntries(text: string): string {
    const { begin, end } = registriesYamlMarkers(HOST);
    const out: string[] = [];
    let inside = false;
    for (const line of text.split("\n")) {
        if (line.trim() === begin) inside = true;
        else if (line.trim() === end) inside = false;
        else if (!inside) out.push(line);
    }
    return out.join("\n");
}

/** registries.yaml as k3s reads it (YAML 1.2; duplicate keys are an error, as in k3s's parser). */
const parsed = () => YAML.parse(ssh.readFile(REGISTRIES)!, { uniqueKeys: true });

beforeAll(async () => {
    stubs = privateDir("node-trust-stubs");
    writeNodeStubs(stubs);
    ssh = await startSshServer({ pathPrefix: stubs, reuseConnection: true });
    const caDir = privateDir("node-trust-ca");
    caPem = makeTestCa(path.join(caDir, "first")).caCertPem;
    rotatedCaPem = makeTestCa(path.join(caDir, "rotated")).caCertPem;
    removeDir(caDir);

    rt = await startMockRuntime({ stack: "test" });
    const { NodeTrust } = await import("../../components/nodeTrust/nodeTrustPerNode");
    const connection = { ...ssh.connection, name: "k3s-server-1" };
    const common = { host: HOST, port: 443, flavour: "k3s" as const, connection, kubernetesNodeName: "k3s-server-1" };
    const account = (password: string) => ({ username: "cluster-pull", password });
    new NodeTrust("first", { ...common, caCertPem: caPem, registryAddress: "10.0.0.5", pullAccount: account("first-password") });
    new NodeTrust("ca-rotated", {
        ...common,
        caCertPem: rotatedCaPem,
        registryAddress: "10.0.0.5",
        pullAccount: account("first-password"),
    });
    new NodeTrust("pw-rotated", {
        ...common,
        caCertPem: rotatedCaPem,
        registryAddress: "10.0.0.6",
        pullAccount: account("second-password"),
    });
    new NodeTrust("no-auth", { ...common, caCertPem: caPem });
    new NodeTrust("impatient", {
        ...common,
        caCertPem: caPem,
        pullAccount: account("first-password"),
        restartTimeoutSeconds: 1,
        restartTurn: { after: [], turn: "server 2 of 3, after k3s-server-1" },
    });
    await settle();
}, 120_000);

/** A node as the operator left it: their registries.yaml, k3s running and Ready, nothing of ours. */
beforeEach(() => {
    rmSync(ssh.root, { recursive: true, force: true });
    mkdirSync(path.join(ssh.root, "etc/rancher/k3s"), { recursive: true });
    writeFileSync(path.join(ssh.root, "etc/hosts"), ORIGINAL_HOSTS);
    writeFileSync(theirsFile(), THEIRS, { mode: 0o644 });
    writeFileSync(path.join(ssh.root, "active-units"), "k3s\n");
    writeFileSync(path.join(ssh.root, "node-ready"), "True");
});

afterAll(async () => {
    await ssh?.stop();
    if (stubs) removeDir(stubs);
});

describe("registries.yaml merged over SSH", () => {
    it("create adds the program's mirror and config and keeps every other line byte for byte", () => {
        apply("first");
        const text = ssh.readFile(REGISTRIES)!;
        expect(withoutOurEntries(text)).toBe(THEIRS);
        expect(parsed()).toEqual({
            mirrors: {
                "docker.io": { endpoint: ["https://mirror.example.test"] },
                [HOST]: { endpoint: [`https://${HOST}`] },
            },
            configs: {
                "other.example.test:5000": { auth: { username: "builder", password: "their-secret" } },
                [HOST]: { tls: { ca_file: CA_FILE }, auth: { username: "cluster-pull", password: "first-password" } },
            },
        });
    });

    it("the program's entries are indented like the operator's (4 spaces)", () => {
        apply("first");
        expect(ssh.readFile(REGISTRIES)).toContain(`\n    "${HOST}":\n      endpoint:\n`);
    });

    it("create restarts k3s once and waits until the Kubernetes node is Ready", () => {
        const out = apply("first");
        expect(restarts()).toEqual(["restart k3s"]);
        expect(log("k3s.log")).toEqual([
            `kubectl --kubeconfig /var/lib/rancher/k3s/agent/kubelet.kubeconfig get node k3s-server-1 -o jsonpath={.status.conditions[?(@.type=="Ready")].status}`,
        ]);
        expect(out).toContain("node k3s-server-1 is Ready");
        expect(ssh.readFile(PENDING)).toBeUndefined();
    });

    it("with the pull password in it, the file becomes readable by root only", () => {
        apply("first");
        expect((statSync(theirsFile()).mode & 0o777).toString(8)).toBe("600");
    });

    it("a second run changes nothing and restarts nothing", () => {
        apply("first");
        const before = ssh.readFile(REGISTRIES);
        const out = apply("first");
        expect(out).not.toMatch(/^changed/m);
        expect(ssh.readFile(REGISTRIES)).toBe(before);
        expect(restarts()).toEqual(["restart k3s"]);
    });

    it("a CA rotation replaces the CA file; registries.yaml names the same path, so k3s does not restart", () => {
        apply("first");
        const before = ssh.readFile(REGISTRIES);
        apply("ca-rotated");
        expect(ssh.readFile(CA_FILE)).toBe(`${rotatedCaPem.trim()}\n`);
        expect(ssh.readFile(REGISTRIES)).toBe(before);
        expect(restarts()).toEqual(["restart k3s"]);
    });

    it("a password rotation updates the program's entry in place, keeps the operator's, and restarts k3s again", () => {
        apply("first");
        apply("pw-rotated");
        expect(withoutOurEntries(ssh.readFile(REGISTRIES)!)).toBe(THEIRS);
        expect(parsed().configs[HOST].auth.password).toBe("second-password");
        expect(parsed().configs["other.example.test:5000"].auth.password).toBe("their-secret");
        const { begin, end } = etcHostsMarkers(HOST);
        expect(ssh.readFile("/etc/hosts")).toBe(`${ORIGINAL_HOSTS}${begin}\n10.0.0.6 ${HOST}\n${end}\n`);
        expect(restarts()).toEqual(["restart k3s", "restart k3s"]);
    });

    it("destroy takes out only the program's entries: the operator's file is back byte for byte", () => {
        apply("first");
        destroy("first");
        expect(ssh.readFile(REGISTRIES)).toBe(THEIRS);
        expect(ssh.readFile(CA_FILE)).toBeUndefined();
        expect(ssh.readFile("/etc/hosts")).toBe(ORIGINAL_HOSTS);
        expect(restarts()).toEqual(["restart k3s", "restart k3s"]);
    });

    it("without a file, create writes one of its own, and destroy removes it", () => {
        rmSync(theirsFile());
        apply("no-auth");
        expect(ssh.readFile(REGISTRIES)!.split("\n")[0]).toBe(REGISTRIES_CREATED_HEADER);
        expect(parsed()).toEqual({
            mirrors: { [HOST]: { endpoint: [`https://${HOST}`] } },
            configs: { [HOST]: { tls: { ca_file: CA_FILE } } },
        });
        expect((statSync(theirsFile()).mode & 0o777).toString(8)).toBe("644");
        destroy("no-auth");
        expect(ssh.readFile(REGISTRIES)).toBeUndefined();
    });

    it("a file it created keeps the entries the operator added to it on destroy", () => {
        rmSync(theirsFile());
        apply("no-auth");
        const added = ssh
            .readFile(REGISTRIES)!
            .replace(/^mirrors:.*$/m, (key) => `${key}\n  docker.io:\n    endpoint: ["https://mirror.example.test"]`);
        writeFileSync(theirsFile(), added);
        destroy("no-auth");
        expect(parsed()).toEqual({ mirrors: { "docker.io": { endpoint: ["https://mirror.example.test"] } } });
    });

    it("takes over a registries.yaml written whole by an earlier version", () => {
        writeFileSync(
            theirsFile(),
            `${LEGACY_MANAGED_HEADER}\nmirrors:\n  "${HOST}":\n    endpoint:\n      - "https://old.example.test"\n`,
        );
        apply("no-auth");
        expect(ssh.readFile(REGISTRIES)).not.toContain(LEGACY_MANAGED_HEADER);
        expect(parsed().mirrors).toEqual({ [HOST]: { endpoint: [`https://${HOST}`] } });
    });

    it.each([
        [
            "an unmarked entry for the same registry",
            `mirrors:\n  ${HOST}:\n    endpoint: ["https://elsewhere.example.test"]\n`,
            /mirrors\.registry\.dso\.example\.test exists and was not written by dso-registry/,
        ],
        [
            "flow style",
            'mirrors: {"docker.io": {endpoint: ["https://mirror.example.test"]}}\n',
            /flow-style value; write it in block style/,
        ],
        ["two documents", "mirrors:\n  docker.io: {}\n---\nconfigs: {}\n", /more than one YAML document/],
        ["a damaged marker", `mirrors:\n  ${registriesYamlMarkers(HOST).begin}\n  docker.io: {}\n`, /without its END line/],
    ])("refuses %s with the reason, changing nothing", (_, text, message) => {
        writeFileSync(theirsFile(), text);
        const c = registriesCommand("first");
        const r = ssh.runScript(String(c.rawInputs.create), plain(c.rawInputs.stdin));
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(message);
        expect(r.stderr).toContain("Nothing was changed.");
        expect(ssh.readFile(REGISTRIES)).toBe(text);
        expect(restarts()).toEqual([]);
    });

    it("the pull password is never in a command line, only on stdin", () => {
        for (const c of scriptsOf("first")) {
            expect(`${c.rawInputs.create}\n${c.rawInputs.delete}`).not.toContain("first-password");
        }
        expect(registriesCommand("first").inputs.stdin).toBe("[secret]");
    });
});

describe("restart wait", () => {
    it("says the node's turn in the rolling restart", () => {
        const c = registriesCommand("impatient");
        const r = ssh.runScript(String(c.rawInputs.create), plain(c.rawInputs.stdin));
        expect(r.stdout).toContain("rolling restart (server 2 of 3, after k3s-server-1)");
    });

    it("fails with the node and what to look at when the node is not Ready in time, and keeps the restart pending", () => {
        writeFileSync(path.join(ssh.root, "node-ready"), "False");
        const c = registriesCommand("impatient");
        const r = ssh.runScript(String(c.rawInputs.create), plain(c.rawInputs.stdin));
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("node k3s-server-1 was not Ready within 1s after the restart (Ready: False)");
        expect(r.stderr).toContain("Nodes after this one were not restarted");
        expect(ssh.readFile(PENDING)).toBeDefined();
    });

    it("a run after that failure restarts and waits again, although the file is already written", () => {
        writeFileSync(path.join(ssh.root, "node-ready"), "False");
        const c = registriesCommand("impatient");
        expect(ssh.runScript(String(c.rawInputs.create), plain(c.rawInputs.stdin)).code).not.toBe(0);
        writeFileSync(path.join(ssh.root, "node-ready"), "True");
        const r = ssh.runScript(String(c.rawInputs.create), plain(c.rawInputs.stdin));
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/^unchanged .*registries\.yaml$/m);
        expect(restarts()).toEqual(["restart k3s", "restart k3s"]);
        expect(ssh.readFile(PENDING)).toBeUndefined();
    });

    it("fails when the service does not come back active", () => {
        writeFileSync(path.join(ssh.root, "dies-on-restart"), "");
        const c = registriesCommand("impatient");
        const r = ssh.runScript(String(c.rawInputs.create), plain(c.rawInputs.stdin));
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("k3s did not become active within 1s after its restart");
    });

    it("nothing running: nothing restarts and nothing waits", () => {
        writeFileSync(path.join(ssh.root, "active-units"), "");
        const out = apply("first");
        expect(restarts()).toEqual([]);
        expect(out).toContain("none of k3s, k3s-agent is running");
    });
});

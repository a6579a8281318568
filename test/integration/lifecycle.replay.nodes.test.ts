/**
 * Plans of test/unit/lifecycle.plan.test.ts replayed on a node: the prod stack's node trust for one
 * node (k3s-server-1), deployed as config A's `up` would (each of its commands' create, in
 * registration order), then the plan to config B run step by step in the plan's order (an update runs
 * create with the new inputs, a replacement deletes first when the plan says so, the deletes at the
 * end run the *old* delete script: test/support/plan.ts), each script through a real OpenSSH server
 * into a private root ($DSO_ROOT) that plays the node. Then B is destroyed the same way.
 *
 * Each row asserts: no step fails; nothing stale is left (no path and no file on the node names
 * anything of A's that B dropped: the old host's certs.d directory, its CA file, its registries.yaml
 * entry, its /etc/hosts line); B's files are there and valid (hosts.toml parsed as TOML, registries.yaml
 * with a parser that refuses duplicate keys, every CA file named is a certificate); after B's destroy
 * the node holds only what the operator had.
 *
 * A is the prod stack with a generated CA (so nodes get a CA file) and nodes.registryAddress (so they
 * get an /etc/hosts block): prod's own ACME certificate needs neither. The generated CA's PEM exists
 * only after deployment (the mock gives a placeholder): a CA made at test time takes its place. There is no systemd or k3s
 * here: `systemctl` and `k3s` are stand-ins on PATH (as in test/integration/nodeTrustSsh.test.ts).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { type RecordedResource, UNKNOWN } from "../../tools/mockRuntime";
import { writeNodeStubs } from "../support/nodeStubs";
import { describePlan, type PlanOptions, planOf, type Step } from "../support/plan";
import { makeTestCa } from "../support/realRegistry";
import { asRoot, stepScripts } from "../support/replay";
import { privateDir, removeDir } from "../support/serverProcess";
import { type SshServer, startSshServer } from "../support/sshServer";
import { committedState, edited, type Raw, run, type StackState } from "../support/transitions";

const NODE = "node-trust-k3s-server-1-";
const OLD_HOST = "registry.dso.example.com";
const NEW_HOST = "registry-02.dso.example.com";
const ADDRESS = "10.20.0.5";
const ORIGINAL_HOSTS = "127.0.0.1 localhost\n10.1.1.1 other.example.test\n";
/** Files the stand-ins write; not the node's. */
const STAND_IN_FILES = new Set(["systemctl.log", "k3s.log", "active-units", "node-ready"]);

let ssh: SshServer;
let stubs: string;
/** A real CA certificate, placed where the mock's placeholder for the generated one would go. */
let caPem: string;
/** Another CA: the generated one after its renewal. */
let renewedCaPem: string;

/** The node's steps of a plan, in its order. */
const nodeSteps = (steps: readonly Step[]) => steps.filter((s) => s.name.startsWith(NODE) && s.type === "command:remote:Command");

/**
 * Runs every script of the node's steps. The generated CA's PEM is known only after deployment (the
 * mock gives a placeholder): `ca` takes its place, the CA of the config whose inputs the step runs with.
 */
function replay(steps: readonly Step[], context: string, ca = caPem): void {
    for (const step of nodeSteps(steps)) {
        for (const s of stepScripts(step)) {
            const stdin = s.stdin?.trim() === UNKNOWN ? ca : (s.stdin ?? "");
            const r = ssh.runScript(asRoot(s.script), stdin);
            if (r.code !== 0) throw new Error(`${s.what} failed (${r.code}):\n${r.stdout}\n${r.stderr}\n${context}`);
        }
    }
}

/** Every file and directory under the node's root (absolute node paths), stand-ins' files left out. */
function tree(dir = ssh.root, prefix = ""): string[] {
    const out: string[] = [];
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (!prefix && STAND_IN_FILES.has(entry.name)) continue;
        const p = `${prefix}/${entry.name}`;
        out.push(entry.isDirectory() ? `${p}/` : p);
        if (entry.isDirectory()) out.push(...tree(path.join(dir, entry.name), p));
    }
    return out;
}

/** Paths on the node that name `text`, or whose content does. */
const naming = (text: string) => tree().filter((p) => p.includes(text) || (!p.endsWith("/") && (ssh.readFile(p) ?? "").includes(text)));

/** A TOML file as a TOML 1.0 parser reads it (Python's tomllib), or the parser's error. */
function parseToml(absolute: string): Record<string, unknown> {
    const r = spawnSync("python3", ["-c", "import json,sys,tomllib; print(json.dumps(tomllib.load(open(sys.argv[1],'rb'))))", absolute], {
        encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`${absolute} is not TOML: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** Whether a node file holds a PEM certificate openssl reads. */
const isCertificate = (absolute: string) =>
    spawnSync("openssl", ["x509", "-noout", "-in", path.join(ssh.root, absolute)], { encoding: "utf8" }).status === 0;

/** A node as the operator left it: their /etc/hosts, the runtime's config directory, k3s running and Ready. */
function freshNode(): void {
    rmSync(ssh.root, { recursive: true, force: true });
    mkdirSync(path.join(ssh.root, "etc/rancher/k3s"), { recursive: true });
    mkdirSync(path.join(ssh.root, "etc/containerd"), { recursive: true });
    writeFileSync(path.join(ssh.root, "etc/hosts"), ORIGINAL_HOSTS);
    writeFileSync(path.join(ssh.root, "active-units"), "k3s\ncontainerd\n");
    writeFileSync(path.join(ssh.root, "node-ready"), "True");
}

beforeAll(async () => {
    stubs = privateDir("lifecycle-node-stubs");
    writeNodeStubs(stubs);
    ssh = await startSshServer({ pathPrefix: stubs });
    const caDir = privateDir("lifecycle-node-ca");
    caPem = makeTestCa(path.join(caDir, "first")).caCertPem;
    renewedCaPem = makeTestCa(path.join(caDir, "renewed")).caCertPem;
    removeDir(caDir);
}, 120_000);

afterAll(async () => {
    await ssh?.stop();
    if (stubs) removeDir(stubs);
});

const prod = committedState("prod");
const withNodes = (runtime: string, edit: (r: Raw) => void = () => undefined): StackState =>
    edited(prod, (r) => {
        Object.assign(r.nodes as Raw, { runtime, registryAddress: ADDRESS });
        (r.registry as Raw).tls = { mode: "generated-ca" };
        edit(r);
    });
const renamed = (r: Raw) => {
    (r.containerRegistry as Raw).host = NEW_HOST;
};
const provided = (r: Raw) => {
    (r.registry as Raw).tls = { mode: "provided" };
};

/** CA files the program may place on a node (containerd's certs.d/<host>/ca.crt, k3s's named file). */
const caFiles = () => tree().filter((p) => /\/ca\.crt$|\/dso-registry-ca-[^/]*\.crt$/.test(p));

/**
 * What a valid trust of `host` looks like on the node, per runtime: hosts.toml (TOML) or registries.yaml
 * (duplicate keys refused) names the host, and the CA file it names holds `ca`; without a CA, none is
 * named and none is on the node.
 */
const VALID: Record<string, (host: string, ca: string | undefined) => void> = {
    containerd: (host, ca) => {
        const dir = `/etc/containerd/certs.d/${host}`;
        const toml = parseToml(path.join(ssh.root, dir, "hosts.toml"));
        expect(toml.server, `${dir}/hosts.toml server`).toBe(`https://${host}`);
        const hostTable = (toml.host as Record<string, { ca?: string }>)[`https://${host}`];
        expect(hostTable, `${dir}/hosts.toml [host."https://${host}"]`).toBeDefined();
        if (ca === undefined) {
            expect(hostTable?.ca, "hosts.toml names no CA").toBeUndefined();
            expect(caFiles(), "no CA file on the node").toEqual([]);
            return;
        }
        const caFile = path.posix.resolve(dir, hostTable?.ca ?? "");
        expect(isCertificate(caFile), `${caFile} is a certificate`).toBe(true);
        expect(ssh.readFile(caFile), `${caFile} is the CA of the config`).toBe(ca);
        expect(caFiles(), "no other CA file").toEqual([caFile]);
    },
    k3s: (host, ca) => {
        const yaml = YAML.parse(ssh.readFile("/etc/rancher/k3s/registries.yaml")!, { uniqueKeys: true }) as {
            mirrors: Record<string, { endpoint: string[] }>;
            configs?: Record<string, { tls?: { ca_file?: string } }>;
        };
        expect(yaml.mirrors[host]?.endpoint, `registries.yaml mirror of ${host}`).toEqual([`https://${host}`]);
        const caFile = yaml.configs?.[host]?.tls?.ca_file;
        if (ca === undefined) {
            expect(caFile, "registries.yaml names no CA").toBeUndefined();
            expect(caFiles(), "no CA file on the node").toEqual([]);
            return;
        }
        expect(caFile, `registries.yaml CA of ${host}`).toBeTruthy();
        expect(isCertificate(caFile!), `${caFile} is a certificate`).toBe(true);
        expect(ssh.readFile(caFile!), `${caFile} is the CA of the config`).toBe(ca);
        expect(caFiles(), "no other CA file").toEqual([caFile]);
    },
};

interface Row {
    readonly name: string;
    readonly runtime: "containerd" | "k3s";
    readonly from: StackState;
    readonly to: StackState;
    /** B's registry host. */
    readonly host: string;
    /** Which CA B's nodes trust: A's, a renewed one, none (a provided certificate from a public CA). */
    readonly ca: "same" | "renewed" | "none";
    /** Text nothing on the node may name after the replay (what A had and B dropped). */
    readonly stale: readonly string[];
    /** The clock of the `up` with the generated CA inside its renewal window. */
    readonly renewal?: boolean;
}

const ROWS: Row[] = (["containerd", "k3s"] as const).flatMap((runtime) => [
    {
        name: `registry host renamed (${runtime} nodes)`,
        runtime,
        from: withNodes(runtime),
        to: withNodes(runtime, renamed),
        host: NEW_HOST,
        ca: "same" as const,
        stale: [OLD_HOST],
    },
    {
        name: `TLS generated-ca → provided (${runtime} nodes)`,
        runtime,
        from: withNodes(runtime),
        to: withNodes(runtime, provided),
        host: OLD_HOST,
        ca: "none" as const,
        stale: [runtime === "k3s" ? "dso-registry-ca-" : "ca.crt"],
    },
    {
        name: `the generated CA inside its renewal window (${runtime} nodes)`,
        runtime,
        from: withNodes(runtime),
        to: withNodes(runtime),
        host: OLD_HOST,
        ca: "renewed" as const,
        stale: [],
        renewal: true,
    },
]);

/** Plan options putting the `up` inside the generated CA's renewal window. */
function insideRenewalWindow(before: readonly RecordedResource[]): PlanOptions {
    const ca = before.find((r) => r.type === "tls:index/selfSignedCert:SelfSignedCert");
    if (!ca) throw new Error("no generated CA");
    const hours = Number((ca.rawInputs as { earlyRenewalHours?: number }).earlyRenewalHours ?? 0);
    const now = Date.UTC(2030, 0, 1);
    return { now, certificates: { [ca.urn]: { end: now + (hours / 2) * 3_600_000 } } };
}

describe.each(ROWS.map((row) => [row.name, row] as const))("prod, %s: the node's plan replayed over SSH", (_, row) => {
    it("runs every step, leaves B's trust valid and nothing of A's that B dropped", async () => {
        freshNode();
        const before = await run("prod", row.from);
        const after = await run("prod", row.to);

        replay(planOf([], before.resources).steps, "deploying A");
        VALID[row.runtime]!(OLD_HOST, caPem);
        expect(ssh.readFile("/etc/hosts"), "A's /etc/hosts block").toContain(`${ADDRESS} ${OLD_HOST}`);
        for (const text of row.stale) expect(naming(text).length, `A's trust names ${text}`).toBeGreaterThan(0);

        const plan = planOf(before.resources, after.resources, row.renewal ? insideRenewalWindow(before.resources) : {});
        console.log(`${row.name}: ${describePlan(plan)}`);
        expect(nodeSteps(plan.steps).length, describePlan(plan)).toBeGreaterThan(0);
        const caOfB = row.ca === "renewed" ? renewedCaPem : row.ca === "same" ? caPem : undefined;
        replay(plan.steps, describePlan(plan), caOfB);

        for (const text of row.stale) expect(naming(text), `nothing names ${text}\n${describePlan(plan)}`).toEqual([]);
        VALID[row.runtime]!(row.host, caOfB);
        expect(ssh.readFile("/etc/hosts"), "B's /etc/hosts block").toContain(`${ADDRESS} ${row.host}`);

        // B destroyed: the node holds what the operator had and nothing of the program's.
        replay(planOf(after.resources, undefined).steps, "destroying B");
        expect(naming(row.host), "nothing of the registry after destroy").toEqual([]);
        expect(ssh.readFile("/etc/hosts"), "the operator's /etc/hosts").toBe(ORIGINAL_HOSTS);
        expect(
            tree().filter((p) => !p.endsWith("/")),
            "only the operator's files after destroy",
        ).toEqual(["/etc/hosts"]);
        expect(
            // certs.d itself is containerd's (mkdir -p made it here; on a node it is usually there already).
            tree().filter((p) => p.startsWith("/etc/containerd/certs.d/") && p !== "/etc/containerd/certs.d/"),
            "no registry directory in certs.d after destroy",
        ).toEqual([]);
    });
});

/**
 * microk8s ships hosts.toml files of its own in its certs.d (docker.io: Docker Hub's registry as the host,
 * docker.io as the server; localhost:32000: its registry addon). With registry.mirrors on, node trust puts
 * the cache into microk8s's docker.io file as a marked block in front of microk8s's host, and its removal
 * gives the file back byte for byte. Proven on files written the way microk8s ships them, with the
 * scripts the DaemonSet runs (its ConfigMap and Secret as NodeTrustDaemonSet renders them under Pulumi's
 * mocks) and those of the SSH delivery, and checked by a real containerd (`ctr images pull --hosts-dir`)
 * against a real Distribution behind the rendered Caddy front, whose mirror route (accounts only, as in
 * the local stack) serves docker.io/library/… from that Distribution. Every request for an upstream goes
 * to a recording proxy on loopback (HTTPS_PROXY), which shows the hosts containerd falls back to. The
 * DaemonSet's scripts run with busybox's applets alone on PATH, as in the pod's busybox image.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NodeTrustCommonArgs } from "../../components/nodeTrust/common";
import { MANAGED_HEADER, mirrorBlockMarkers } from "../../components/nodeTrust/files";
import { type MockRuntime, type RecordedResource, settle, startMockRuntime } from "../../tools/mockRuntime";
import { pinnedCaddy } from "../support/caddyBinaries";
import { type ConnectRecorder, runAsync, startConnectRecorder } from "../support/nodeTrustClients";
import {
    makeOciImage,
    type PrivateContainerd,
    type RealRegistry,
    skopeoCopy,
    startContainerd,
    startRealRegistry,
} from "../support/realRegistry";
import { privateDir, removeDir, runOk } from "../support/serverProcess";

const CERTS_D = "/var/snap/microk8s/current/args/certs.d";
/** What microk8s ships in its certs.d (microk8s-resources/default-args/certs.d), mode 0644. */
const SHIPPED: Record<string, string> = {
    "docker.io": 'server = "https://docker.io"\n\n[host."https://registry-1.docker.io"]\n  capabilities = ["pull", "resolve"]\n\n',
    "localhost:32000": 'server = "http://localhost:32000"\n\n[host."http://localhost:32000"]\n  capabilities = ["pull", "resolve"]\n\n',
};
const DOCKER_IO = `${CERTS_D}/docker.io/hosts.toml`;

let scratch: string;
let registry: RealRegistry;
let containerd: PrivateContainerd;
let proxy: ConnectRecorder;
let rt: MockRuntime;
/** The DaemonSet's ConfigMap and Secret as files, with registry.mirrors on and off. */
let withMirror: string;
let withoutMirror: string;
let sshCommands: RecordedResource[];
let root: string;
/** busybox's applets, the DaemonSet image's tools. */
let busybox: string;

/** An input as the mock saw it: a secret arrives wrapped as {<sig>: …, value}. */
const plain = (v: unknown): unknown => (v && typeof v === "object" && "value" in v ? (v as { value: unknown }).value : v);

/** Writes the DaemonSet `name`'s ConfigMap and Secret into a directory, their mount paths pointed at it. */
function writeDaemonSetFiles(name: string): string {
    const dir = path.join(scratch, name);
    const sources = [["config", rt.byName(`${name}-config`).rawInputs.data]];
    if (rt.resources.some((r) => r.name === `${name}-secret`)) sources.push(["secret", rt.byName(`${name}-secret`).rawInputs.stringData]);
    for (const [sub, data] of sources) {
        mkdirSync(path.join(dir, sub as string), { recursive: true });
        for (const [key, value] of Object.entries(plain(data) as Record<string, unknown>)) {
            const text = String(plain(value)).replaceAll("/dso/config/", `${dir}/config/`).replaceAll("/dso/secret/", `${dir}/secret/`);
            writeFileSync(path.join(dir, sub as string, key), text);
        }
    }
    return dir;
}

/** A microk8s node as it is before node trust: certs.d with the files microk8s ships. */
function freshNode(): string {
    const dir = mkdtempSync(path.join(scratch, "node-"));
    for (const [authority, text] of Object.entries(SHIPPED)) {
        const file = path.join(dir, CERTS_D, authority, "hosts.toml");
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, text);
        chmodSync(file, 0o644);
    }
    return dir;
}

function runScript(filesDir: string, script: string, podUid: string) {
    const r = spawnSync(path.join(busybox, "sh"), [path.join(filesDir, "config", script)], {
        env: { PATH: busybox, DSO_ROOT: root, POD_UID: podUid },
        encoding: "utf8",
    });
    expect(r.status, `${script}: ${r.stderr}`).toBe(0);
    return r.stdout;
}

function sh(script: string, stdin = "") {
    const r = spawnSync("/bin/sh", ["-c", script], { env: { ...process.env, DSO_ROOT: root }, input: stdin, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
}

const read = (file: string) => readFileSync(path.join(root, file), "utf8");
const modeOf = (file: string) => (statSync(path.join(root, file)).mode & 0o777).toString(8);
/** The file less the program's block (its marker lines and everything between). */
function withoutBlock(text: string): string {
    const { begin, end } = mirrorBlockMarkers(registry.authority);
    const from = text.indexOf(`${begin}\n`);
    const to = text.indexOf(`${end}\n`, from);
    return from < 0 || to < 0 ? text : text.slice(0, from) + text.slice(to + end.length + 1);
}

/** `ctr images pull` with the node's certs.d, every upstream request through the recording proxy; the hosts asked. */
async function pull(ref: string): Promise<{ code: number; stderr: string; upstreams: string[] }> {
    const before = proxy.requests.length;
    const env = { ...process.env, HTTPS_PROXY: proxy.url, https_proxy: proxy.url, NO_PROXY: "", no_proxy: "" };
    const r = await runAsync("ctr", ["--address", containerd.address, "images", "pull", "--hosts-dir", path.join(root, CERTS_D), ref], env);
    return { code: r.code, stderr: r.stderr, upstreams: proxy.requests.slice(before) };
}

beforeAll(async () => {
    scratch = privateDir("node-trust-microk8s");
    busybox = path.join(scratch, "busybox");
    mkdirSync(busybox);
    runOk("busybox", ["--install", "-s", busybox]);
    // As in the local stack: the caches take accounts only, and nodes hold the pull account.
    // The local stack's registry: the in-cluster sidecar's front.
    registry = await startRealRegistry({
        caddyBinary: pinnedCaddy(),
        mirrorsToSelf: ["docker.io"],
        policy: { mirrorsRequireAuth: true },
    });
    containerd = await startContainerd();
    proxy = await startConnectRecorder();
    const image = makeOciImage(path.join(scratch, "image"));
    // The cache's Distribution is the registry's own: what it holds under library/x is docker.io/library/x through the cache.
    const pushed = skopeoCopy(image.ref, `docker://${registry.authority}/library/x:1`, { certDir: registry.certDir, creds: registry.push });
    if (pushed.code !== 0) throw new Error(`push failed: ${pushed.stderr}`);

    rt = await startMockRuntime({ stack: "test" });
    const { NodeTrustDaemonSet } = await import("../../components/nodeTrust/nodeTrustDaemonSet");
    const { NodeTrust } = await import("../../components/nodeTrust/nodeTrustPerNode");
    const [host, port] = registry.authority.split(":");
    const common: NodeTrustCommonArgs = {
        host: host!,
        port: Number(port),
        flavour: "microk8s",
        caCertPem: registry.ca.caCertPem,
        pullAccount: { username: registry.pull.username, password: registry.pull.password },
        mirrors: [{ upstream: "docker.io", pathName: "docker.io" }],
    };
    new NodeTrustDaemonSet("mirror-on", { ...common, namespace: "dso-node-trust" });
    new NodeTrustDaemonSet("mirror-off", { ...common, mirrors: [], namespace: "dso-node-trust" });
    new NodeTrust("node-1", { ...common, connection: { kind: "local", name: "node-1", sudo: false } });
    await settle();
    withMirror = writeDaemonSetFiles("mirror-on");
    withoutMirror = writeDaemonSetFiles("mirror-off");
    sshCommands = rt.ofType("command:local:Command").filter((c) => c.name.startsWith("node-1-"));
}, 180_000);

afterAll(async () => {
    await proxy?.stop();
    await containerd?.stop();
    await registry?.stop();
    if (scratch) removeDir(scratch);
});

describe("microk8s's own docker.io hosts.toml, with the DaemonSet's scripts", () => {
    it("apply puts the cache in front of microk8s's host and keeps every byte of the file", () => {
        root = freshNode();
        runScript(withMirror, "apply.sh", "pod-a");
        const text = read(DOCKER_IO);
        const { begin } = mirrorBlockMarkers(registry.authority);
        expect(text.indexOf(begin)).toBeGreaterThan(0);
        expect(text.indexOf(begin)).toBeLessThan(text.indexOf('[host."https://registry-1.docker.io"]'));
        expect(text).toContain(`[host."https://${registry.authority}/v2/mirrors/docker.io"]`);
        expect(withoutBlock(text)).toBe(SHIPPED["docker.io"]);
        expect(read(`${CERTS_D}/localhost:32000/hosts.toml`)).toBe(SHIPPED["localhost:32000"]);
    });

    it("the block carries the pull account, so the file becomes root's alone", () => {
        root = freshNode();
        runScript(withMirror, "apply.sh", "pod-a");
        expect(read(DOCKER_IO)).toMatch(/Authorization = "Basic /);
        expect(modeOf(DOCKER_IO)).toBe("600");
    });

    it("containerd pulls docker.io/library/x through the cache, asking no upstream", async () => {
        root = freshNode();
        runScript(withMirror, "apply.sh", "pod-a");
        const r = await pull("docker.io/library/x:1");
        expect(r.stderr).not.toMatch(/x509|401/);
        expect(r.code).toBe(0);
        expect(r.upstreams).toEqual([]);
    });

    it("an image the cache does not have falls back to microk8s's upstream host, then its server", async () => {
        root = freshNode();
        runScript(withMirror, "apply.sh", "pod-a");
        const r = await pull("docker.io/library/not-in-the-cache:1");
        expect(r.code).not.toBe(0);
        expect(r.upstreams).toEqual(["CONNECT registry-1.docker.io:443 HTTP/1.1", "CONNECT docker.io:443 HTTP/1.1"]);
    });

    it("without the block (microk8s's file as shipped) the same pull goes straight to Docker Hub", async () => {
        root = freshNode();
        const r = await pull("docker.io/library/x:1");
        expect(r.code).not.toBe(0);
        expect(r.upstreams[0]).toBe("CONNECT registry-1.docker.io:443 HTTP/1.1");
    });

    it("applying twice is applying once", () => {
        root = freshNode();
        runScript(withMirror, "apply.sh", "pod-a");
        const once = read(DOCKER_IO);
        const out = runScript(withMirror, "apply.sh", "pod-a");
        expect(out).toContain(`unchanged ${path.join(root, DOCKER_IO)}`);
        expect(read(DOCKER_IO)).toBe(once);
    });

    it("the owning pod's preStop gives microk8s's file back byte for byte, mode included", () => {
        root = freshNode();
        runScript(withMirror, "apply.sh", "pod-a");
        runScript(withMirror, "remove.sh", "pod-a");
        expect(read(DOCKER_IO)).toBe(SHIPPED["docker.io"]);
        expect(modeOf(DOCKER_IO)).toBe("644");
        expect(read(`${CERTS_D}/localhost:32000/hosts.toml`)).toBe(SHIPPED["localhost:32000"]);
        expect(existsSync(path.join(root, CERTS_D, registry.authority))).toBe(false);
    });

    it("an edit of microk8s's file made while the block is in it is kept by the next apply and by the removal", () => {
        root = freshNode();
        runScript(withMirror, "apply.sh", "pod-a");
        const edited = read(DOCKER_IO).replace(
            '  capabilities = ["pull", "resolve"]\n\n',
            '  capabilities = ["pull"]\n  # the operator\'s line\n\n',
        );
        writeFileSync(path.join(root, DOCKER_IO), edited);
        runScript(withMirror, "apply.sh", "pod-a");
        expect(read(DOCKER_IO)).toBe(edited);
        runScript(withMirror, "remove.sh", "pod-a");
        expect(read(DOCKER_IO)).toBe(withoutBlock(edited));
        expect(read(DOCKER_IO)).toContain("# the operator's line");
    });

    it("turning the mirror off: the next pod's apply gives microk8s's file back", async () => {
        root = freshNode();
        runScript(withMirror, "apply.sh", "pod-a");
        runScript(withoutMirror, "apply.sh", "pod-b");
        expect(read(DOCKER_IO)).toBe(SHIPPED["docker.io"]);
        expect(modeOf(DOCKER_IO)).toBe("644");
        expect((await pull("docker.io/library/x:1")).upstreams[0]).toBe("CONNECT registry-1.docker.io:443 HTTP/1.1");
    });

    it("a node without a docker.io file gets the program's own, and removal takes it and its directory away", async () => {
        root = freshNode();
        removeDir(path.join(root, CERTS_D, "docker.io"));
        runScript(withMirror, "apply.sh", "pod-a");
        expect(read(DOCKER_IO).split("\n")[0]).toBe(MANAGED_HEADER);
        expect((await pull("docker.io/library/x:1")).code).toBe(0);
        runScript(withMirror, "remove.sh", "pod-a");
        expect(existsSync(path.join(root, CERTS_D, "docker.io"))).toBe(false);
    });
});

describe("microk8s's own docker.io hosts.toml, over SSH", () => {
    it("creates put the block in, deletes (in reverse) give the file back byte for byte", () => {
        root = freshNode();
        for (const c of sshCommands)
            sh(String(c.rawInputs.create), typeof plain(c.rawInputs.stdin) === "string" ? String(plain(c.rawInputs.stdin)) : "");
        expect(withoutBlock(read(DOCKER_IO))).toBe(SHIPPED["docker.io"]);
        expect(read(DOCKER_IO)).toContain(`/v2/mirrors/docker.io"]`);
        for (const c of [...sshCommands].reverse()) {
            if (typeof c.rawInputs.delete === "string") sh(c.rawInputs.delete);
        }
        expect(read(DOCKER_IO)).toBe(SHIPPED["docker.io"]);
        expect(modeOf(DOCKER_IO)).toBe("644");
    });
});

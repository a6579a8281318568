/**
 * Node trust on CRI-O nodes and podman hosts, proven with the real clients of containers/image: the
 * files the DaemonSet's scripts (its ConfigMap as NodeTrustDaemonSet renders it under Pulumi's mocks,
 * run with busybox's applets, as in the pod) and the SSH delivery's commands place under a private root
 * are what skopeo and podman read, each run in a mount namespace of its own where that root's
 * etc/containers is /etc/containers. The registry is a real Distribution behind the rendered Caddy
 * front with a test CA, on loopback, whose mirror route serves docker.io/library/… from that
 * Distribution; requests for an upstream go to a recording proxy on loopback (HTTPS_PROXY). There is
 * no systemd here: `systemctl` is a stand-in on PATH that records its calls ($DSO_ROOT/active-units
 * lists the running units).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registriesConfPath } from "../../components/nodeTrust/files";
import { type MockRuntime, type RecordedResource, settle, startMockRuntime } from "../../tools/mockRuntime";
import { pinnedCaddy } from "../support/caddyBinaries";
import { type ConnectRecorder, inContainersRoot, runAsync, startConnectRecorder } from "../support/nodeTrustClients";
import * as nodeScripts from "../support/nodeTrustScripts";
import { makeOciImage, type RealRegistry, skopeoCopy, startRealRegistry } from "../support/realRegistry";
import { privateDir, removeDir, run } from "../support/serverProcess";

/** The node's own registries.conf, which node trust never edits. */
const NODE_REGISTRIES_CONF = 'unqualified-search-registries = ["docker.io"]\n\n[[registry]]\nlocation = "quay.io"\n';
const POLICY = `${JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] })}\n`;

let scratch: string;
let registry: RealRegistry;
/** An existing registry on plain HTTP (Distribution alone). */
let plainRegistry: RealRegistry;
let plainHttpFiles: string;
let proxy: ConnectRecorder;
let rt: MockRuntime;
let daemonSetFiles: string;
let sshCommands: RecordedResource[];
/** busybox's applets and the systemctl stand-in, which records its calls. */
let tools: nodeScripts.NodeScriptTools;
let root: string;
let pulls = 0;

const certsDir = () => `/etc/containers/certs.d/${registry.authority}`;
const dropIn = () => registriesConfPath(registry.authority);
const exists = (file: string) => existsSync(path.join(root, file));
const read = (file: string) => readFileSync(path.join(root, file), "utf8");
const systemctlCalls = () => (exists("/systemctl.log") ? read("/systemctl.log").trim().split("\n") : []);

/** A node before node trust: its registries.conf and signature policy, crio running (or not). */
const freshNode = (crioRunning = true) =>
    nodeScripts.freshCrioNode(scratch, { registriesConf: NODE_REGISTRIES_CONF, policy: POLICY }, crioRunning);

function runScript(script: string, podUid = "pod-a", files = daemonSetFiles): string {
    const r = nodeScripts.runDaemonSetScript(tools, files, script, root, { podUid });
    expect(r.status, `${script}: ${r.stderr}`).toBe(0);
    return r.stdout;
}

/** The SSH delivery's commands on the node (`create` or `delete`), each succeeding. */
const sshCommandsRun = (which: "create" | "delete") =>
    nodeScripts.runSshCommands(tools, root, sshCommands, which, (r) => expect(r.status, r.stderr).toBe(0));

/** Environment of the clients: nothing of this machine's user configuration, upstreams through the recorder. */
function clientEnv(): NodeJS.ProcessEnv {
    return {
        ...process.env,
        HOME: scratch,
        REGISTRY_AUTH_FILE: path.join(scratch, "no-auth.json"),
        HTTPS_PROXY: proxy.url,
        https_proxy: proxy.url,
        NO_PROXY: "",
        no_proxy: "",
    };
}

interface Pull {
    readonly code: number;
    readonly stderr: string;
    /** Requests the recording proxy got during the pull: the upstreams the client went to. */
    readonly upstreams: string[];
}

async function recorded(run: () => Promise<{ code: number; stderr: string }>): Promise<Pull> {
    const before = proxy.requests.length;
    const r = await run();
    return { code: r.code, stderr: r.stderr, upstreams: proxy.requests.slice(before) };
}

/** `skopeo copy docker://<ref> dir:…` (a pull) with the node's /etc/containers. */
function skopeoPull(ref: string): Promise<Pull> {
    const out = path.join(scratch, `pulled-${++pulls}`);
    const [command, args] = inContainersRoot(root, "skopeo", ["--debug", "copy", "--retry-times", "0", `docker://${ref}`, `dir:${out}`]);
    return recorded(() => runAsync(command, args, clientEnv()));
}

/** `podman pull <ref>` with the node's /etc/containers and a private store. */
function podmanPull(ref: string): Promise<Pull> {
    const store = path.join(scratch, `podman-${++pulls}`);
    const [command, args] = inContainersRoot(root, "podman", nodeScripts.podmanPullArgs(store, ref, true));
    return recorded(() => runAsync(command, args, clientEnv()));
}

beforeAll(async () => {
    scratch = privateDir("node-trust-crio");
    tools = nodeScripts.nodeScriptTools(scratch, true);
    // The clients' auth file: none of this machine's credentials, and none for the registry (pulls are anonymous).
    writeFileSync(path.join(scratch, "no-auth.json"), '{"auths":{}}\n', { mode: 0o600 });
    // The cluster's registry, whose nodes NodeTrust prepares: the in-cluster sidecar's Caddy.
    registry = await startRealRegistry({ caddyBinary: pinnedCaddy(), mirrorsToSelf: ["docker.io"] });
    proxy = await startConnectRecorder();
    const image = makeOciImage(path.join(scratch, "image"));
    for (const repository of ["team/app:1", "library/x:1"]) {
        const pushed = skopeoCopy(image.ref, `docker://${registry.authority}/${repository}`, {
            certDir: registry.certDir,
            creds: registry.push,
        });
        if (pushed.code !== 0) throw new Error(`push failed: ${pushed.stderr}`);
    }

    plainRegistry = await startRealRegistry({ caddy: false });
    const plainPush = run("skopeo", [
        "--insecure-policy",
        "copy",
        "--retry-times",
        "0",
        "--dest-tls-verify=false",
        image.ref,
        `docker://${plainRegistry.authority}/team/plain:1`,
    ]);
    if (plainPush.code !== 0) throw new Error(`push failed: ${plainPush.stderr}`);

    rt = await startMockRuntime({ stack: "test" });
    const { NodeTrustDaemonSet } = await import("../../components/nodeTrust/nodeTrustDaemonSet");
    const { NodeTrust } = await import("../../components/nodeTrust/nodeTrustPerNode");
    const [host, port] = registry.authority.split(":");
    const common = {
        host: host!,
        port: Number(port),
        flavour: "crio" as const,
        caCertPem: registry.ca.caCertPem,
        mirrors: [{ upstream: "docker.io", pathName: "docker.io" }],
    };
    new NodeTrustDaemonSet("crio", { ...common, namespace: "dso-node-trust" });
    new NodeTrust("crio-node", { ...common, connection: { kind: "local", name: "crio-node", sudo: false } });
    const [plainHost, plainPort] = plainRegistry.authority.split(":");
    new NodeTrustDaemonSet("crio-plain", {
        host: plainHost!,
        port: Number(plainPort),
        flavour: "crio",
        plainHttp: true,
        namespace: "dso-node-trust",
    });
    await settle();
    daemonSetFiles = nodeScripts.daemonSetConfigDir(rt, scratch, "crio");
    plainHttpFiles = nodeScripts.daemonSetConfigDir(rt, scratch, "crio-plain");
    sshCommands = rt.ofType("command:local:Command").filter((c) => c.name.startsWith("crio-node-"));
}, 180_000);

afterAll(async () => {
    await proxy?.stop();
    await plainRegistry?.stop();
    await registry?.stop();
    if (scratch) removeDir(scratch);
});

describe("a CRI-O node, with the DaemonSet's scripts", () => {
    it("apply places the CA in certs.d and the registries.conf drop-in, leaves registries.conf alone, and reloads crio", () => {
        root = freshNode();
        runScript("apply.sh");
        expect(read(`${certsDir()}/ca.crt`)).toBe(`${registry.ca.caCertPem.trim()}\n`);
        expect(read(dropIn())).toContain(`location = "${registry.authority}/mirrors/docker.io"`);
        expect(read("/etc/containers/registries.conf")).toBe(NODE_REGISTRIES_CONF);
        expect(systemctlCalls()).toEqual(["is-active --quiet crio", "reload crio"]);
    });

    it("skopeo and podman pull the registry's image by its name with the CA from certs.d", async () => {
        root = freshNode();
        runScript("apply.sh");
        for (const pull of [skopeoPull, podmanPull]) {
            const r = await pull(`${registry.authority}/team/app:1`);
            expect(r.stderr).not.toMatch(/x509/);
            expect(r.code, r.stderr).toBe(0);
        }
    });

    it("without the CA in certs.d the same pulls fail with an x509 error", async () => {
        root = freshNode();
        for (const pull of [skopeoPull, podmanPull]) {
            const r = await pull(`${registry.authority}/team/app:1`);
            expect(r.code).not.toBe(0);
            expect(r.stderr).toMatch(/x509: certificate signed by unknown authority/);
        }
    });

    it("a docker.io image comes from the mirror location the program wrote, and no upstream is asked", async () => {
        root = freshNode();
        runScript("apply.sh");
        const skopeo = await skopeoPull("docker.io/library/x:1");
        expect(skopeo.code, skopeo.stderr).toBe(0);
        expect(skopeo.stderr).toContain(`GET https://${registry.authority}/v2/mirrors/docker.io/library/x/manifests/1`);
        expect(skopeo.upstreams).toEqual([]);
        const podman = await podmanPull("docker.io/library/x:1");
        expect(podman.code, podman.stderr).toBe(0);
        expect(podman.upstreams).toEqual([]);
    });

    it("an image the cache does not have falls back to docker.io itself", async () => {
        root = freshNode();
        runScript("apply.sh");
        const r = await skopeoPull("docker.io/library/not-in-the-cache:1");
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain(`GET https://${registry.authority}/v2/mirrors/docker.io/library/not-in-the-cache/manifests/1`);
        expect(r.upstreams).toContain("CONNECT registry-1.docker.io:443 HTTP/1.1");
    });

    it("applying twice is applying once: nothing changes, and crio is not reloaded again", () => {
        root = freshNode();
        runScript("apply.sh");
        const once = read(dropIn());
        const out = runScript("apply.sh", "pod-a");
        expect(out).toContain(`unchanged ${path.join(root, dropIn())}`);
        expect(read(dropIn())).toBe(once);
        expect(systemctlCalls().filter((c) => c.startsWith("reload"))).toEqual(["reload crio"]);
    });

    it("the owning pod's preStop takes the files away and reloads crio; the pulls fail again, docker.io goes direct", async () => {
        root = freshNode();
        runScript("apply.sh");
        runScript("remove.sh");
        expect(exists(certsDir())).toBe(false);
        expect(exists(dropIn())).toBe(false);
        expect(read("/etc/containers/registries.conf")).toBe(NODE_REGISTRIES_CONF);
        expect(systemctlCalls().filter((c) => c.startsWith("reload"))).toEqual(["reload crio", "reload crio"]);
        expect((await skopeoPull(`${registry.authority}/team/app:1`)).stderr).toMatch(/x509/);
        expect((await skopeoPull("docker.io/library/x:1")).upstreams).toContain("CONNECT registry-1.docker.io:443 HTTP/1.1");
    });

    it("a host where crio does not run (podman only) gets the same files and no reload", () => {
        root = freshNode(false);
        runScript("apply.sh");
        expect(exists(dropIn())).toBe(true);
        expect(systemctlCalls().filter((c) => c.startsWith("reload"))).toEqual([]);
    });
});

describe("a CRI-O node and an existing plain-HTTP registry (nodes.insecurePlainHttp)", () => {
    it("skopeo and podman pull over plain HTTP with the drop-in", async () => {
        root = freshNode();
        runScript("apply.sh", "pod-a", plainHttpFiles);
        for (const pull of [skopeoPull, podmanPull]) {
            const r = await pull(`${plainRegistry.authority}/team/plain:1`);
            expect(r.code, r.stderr).toBe(0);
        }
    });

    it("without the drop-in they insist on TLS", async () => {
        root = freshNode();
        const r = await skopeoPull(`${plainRegistry.authority}/team/plain:1`);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/server gave HTTP response to HTTPS client/);
    });
});

describe("a CRI-O node over SSH", () => {
    it("the commands place the files podman pulls with, and their deletes remove them", async () => {
        root = freshNode();
        sshCommandsRun("create");
        expect(systemctlCalls()).toContain("reload crio");
        expect((await podmanPull("docker.io/library/x:1")).code).toBe(0);
        expect((await podmanPull(`${registry.authority}/team/app:1`)).code).toBe(0);
        sshCommandsRun("delete");
        expect(exists(certsDir())).toBe(false);
        expect(exists(dropIn())).toBe(false);
        expect(read("/etc/containers/registries.conf")).toBe(NODE_REGISTRIES_CONF);
    });
});

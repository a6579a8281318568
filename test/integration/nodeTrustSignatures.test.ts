/**
 * Signatures required at pull on CRI-O and podman nodes, with real signatures and real clients: images
 * pushed to a real Distribution behind the rendered Caddy front (test CA, loopback) are signed by real
 * cosign (tools/supplychain/build.sh) with keys made at test time, one with the stack's key and one with
 * another key, one left unsigned, one outside containerRegistry.pathPrefix. Node trust's files go under a
 * private root as the DaemonSet's scripts (its ConfigMap as NodeTrustDaemonSet renders it under Pulumi's
 * mocks, run with busybox's applets) and the SSH delivery's commands place them; each client runs in a
 * mount namespace of its own where that root's etc/containers is /etc/containers.
 *
 * The clients: containers/image's own pull (copy.Image, as CRI-O and podman pull; built from its module
 * by tools/containersimage/build.sh), and Debian 12's skopeo and podman. Debian builds containers/image
 * 5.23.1 with sigstore verification disabled (a Debian patch): those refuse every signed image with
 * "Debian-local change: sigstore disabled", which this test records, and refuse unsigned images as the
 * policy says.
 *
 * Every spelling of the registry's name: the same front also answers as a host name at port 443, on a
 * loopback address of the test's own (a forwarder there passes each connection to the front), which the
 * node's /etc/hosts maps the name to (node trust's nodes.registryAddress), with a certificate the clients
 * trust for every name (as an ACME one is). containers/image matches policy scopes as text, so each of the
 * host and the address, with and without ":443", needs the requirement of its own; a port with leading
 * zeros and a name in other cases, which no list holds, are refused by the front. cosign signs the
 * pushed image for each spelling's name (--sign-container-identity: the name the signature claims).
 */
import { spawnSync } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { renderSignatureRequirement, SIGNATURE_POLICY_FILE, signaturePolicyFiles } from "../../components/nodeTrust/files";
import { type MockRuntime, type RecordedResource, settle, startMockRuntime } from "../../tools/mockRuntime";
import { pinnedCaddy } from "../support/caddyBinaries";
import { inContainersRoot, runAsync } from "../support/nodeTrustClients";
import * as nodeScripts from "../support/nodeTrustScripts";
import { makeOciImage, type RealRegistry, skopeoCopy, startRealRegistry } from "../support/realRegistry";
import { privateDir, removeDir, type ServerProcess, startServer, waitForPort } from "../support/serverProcess";
import { type SupplyChainClient, supplyChainClient } from "../support/supplyChainTools";

/** Debian's policy.json (containers-common): accept anything. */
const NODE_POLICY = '{\n    "default": [\n        {\n            "type": "insecureAcceptAnything"\n        }\n    ]\n}\n';
const IMAGES = {
    signed: "team/signed:1",
    unsigned: "team/unsigned:1",
    otherKey: "team/other-key:1",
    outside: "elsewhere/app:1",
    /** Signed with the pipeline's key once for each of SPELLINGS. */
    everywhere: "team/everywhere:1",
    /** Signed with the pipeline's key for HOST's name only. */
    hostOnly: "team/host-only:1",
} as const;

/** The registry's name at port 443, and its address (nodes.registryAddress): a loopback address of this run's own. */
const HOST = "registry.sigs.test";
const ADDRESS = `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
/** Every spelling of the registry's authority that reaches it: node trust writes the requirement for each. */
const SPELLINGS = [HOST, `${HOST}:443`, ADDRESS, `${ADDRESS}:443`];
/** Spellings that reach the front too and that no list can hold: the front refuses them. */
const REFUSED_SPELLINGS = [`${HOST}:0443`, `${HOST}:00443`, `${ADDRESS}:0443`, "Registry.Sigs.Test", "REGISTRY.SIGS.TEST:443"];
/** Passes each connection to ADDRESS:443 (argv[1]) on to the front's port on 127.0.0.1 (argv[2]). */
const FORWARDER = [
    'const net = require("node:net");',
    "net.createServer((client) => {",
    '    const front = net.connect(Number(process.argv[2]), "127.0.0.1");',
    "    client.pipe(front);",
    "    front.pipe(client);",
    '    client.on("error", () => front.destroy());',
    '    front.on("error", () => client.destroy());',
    "}).listen(443, process.argv[1]);",
].join("\n");

let scratch: string;
let registry: RealRegistry;
let forwarder: ServerProcess | undefined;
let rt: MockRuntime;
/** busybox's applets and the systemctl stand-in. */
let scriptTools: nodeScripts.NodeScriptTools;
let cimagePull: string;
let root: string;
let publicKeyA: string;
let publicKeyB: string;
let oneKeyFiles: string;
let twoKeyFiles: string;
let noKeyFiles: string;
let spellingFiles: string;
let sshCommands: RecordedResource[];
let pulls = 0;

const ref = (image: string) => `${registry.authority}/${image}`;
const read = (file: string) => readFileSync(path.join(root, file), "utf8");
const files = () => signaturePolicyFiles(registry.authority);

const freshNode = () =>
    nodeScripts.freshCrioNode(scratch, { registriesConf: 'unqualified-search-registries = ["docker.io"]\n', policy: NODE_POLICY });

/** A DaemonSet script, with busybox's applets (and the node's tools in `extraPath`, where it has them). */
const runScript = (script: string, dir: string, extraPath: string[] = []) =>
    nodeScripts.runDaemonSetScript(scriptTools, dir, script, root, { extraPath });

function applyOk(dir: string) {
    const r = runScript("apply.sh", dir);
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
}

const clientEnv = (): NodeJS.ProcessEnv => ({ ...process.env, HOME: scratch, REGISTRY_AUTH_FILE: path.join(scratch, "no-auth.json") });

/**
 * A client on the node: its /etc/containers; `named`, also its /etc/hosts and the trust in the front's
 * certificate for every name (the system's roots, as for an ACME certificate) instead of certs.d's.
 */
function onNode(command: string, args: readonly string[], named: boolean) {
    const [wrapped, wrappedArgs] = inContainersRoot(root, command, args, { etcHosts: named });
    return runAsync(wrapped, wrappedArgs, named ? { ...clientEnv(), SSL_CERT_FILE: registry.ca.caCertFile } : clientEnv());
}

/** containers/image's own pull (copy.Image) of `reference` with the node's /etc/containers. */
const imagePullRef = (reference: string, named = false) => onNode(cimagePull, [reference, path.join(scratch, `pulled-${++pulls}`)], named);
const imagePull = (image: string) => imagePullRef(ref(image));

const skopeoPullRef = (reference: string, named = false) =>
    onNode("skopeo", ["copy", "--retry-times", "0", `docker://${reference}`, `dir:${path.join(scratch, `pulled-${++pulls}`)}`], named);
const skopeoPull = (image: string) => skopeoPullRef(ref(image));

function podmanPull(image: string) {
    const store = path.join(scratch, `podman-${++pulls}`);
    const [command, args] = inContainersRoot(root, "podman", nodeScripts.podmanPullArgs(store, ref(image), false));
    return runAsync(command, args, clientEnv());
}

beforeAll(async () => {
    // Short: podman refuses a run root longer than 50 characters.
    scratch = privateDir("sigs");
    scriptTools = nodeScripts.nodeScriptTools(scratch, false);
    writeFileSync(path.join(scratch, "no-auth.json"), '{"auths":{}}\n', { mode: 0o600 });
    const build = spawnSync("sh", [path.join(__dirname, "../../tools/containersimage/build.sh"), "--quiet"], { encoding: "utf8" });
    if (build.status !== 0) throw new Error(`tools/containersimage/build.sh: ${build.stderr}`);
    cimagePull = path.join(build.stdout.trim().split("\n").at(-1)!, "cimage-pull");

    // The front answers as HOST and ADDRESS too (at port 443, through the forwarder), its certificate names both.
    registry = await startRealRegistry({ caddyBinary: pinnedCaddy(), dnsNames: [HOST, ADDRESS], siteAliases: [HOST, ADDRESS] });
    forwarder = startServer(process.execPath, ["-e", FORWARDER, ADDRESS, String(registry.caddyPort)]);
    await waitForPort(443, 30_000, `the forwarder on ${ADDRESS}:443`, ADDRESS).catch((e: Error) => {
        throw new Error(`${e.message}\n${forwarder?.output()}`);
    });
    for (const [name, image] of Object.entries(IMAGES)) {
        const pushed = skopeoCopy(makeOciImage(path.join(scratch, "images", name)).ref, `docker://${ref(image)}`, {
            certDir: registry.certDir,
            creds: registry.push,
        });
        if (pushed.code !== 0) throw new Error(`push failed: ${pushed.stderr}`);
    }
    // The pipeline's key (A) and someone else's (B), each signing one image as cosign does in CI.
    const sign = (signer: SupplyChainClient, image: string, extra: readonly string[] = []) => {
        const signed = signer.cosign(["sign", "--yes", "--key", "cosign.key", "--tlog-upload=false", ...extra, ref(image)]);
        if (signed.code !== 0) throw new Error(`cosign sign: ${signed.stderr}`);
    };
    const signWith = (name: string, image: string) => {
        const signer = supplyChainClient(
            path.join(scratch, `signer-${name}`),
            registry.ca.caCertFile,
            { authority: registry.authority, account: registry.push },
            randomBytes(18).toString("base64url"),
        );
        const keys = signer.cosign(["generate-key-pair"]);
        if (keys.code !== 0) throw new Error(`cosign generate-key-pair: ${keys.stderr}`);
        sign(signer, image);
        return { signer, publicKey: readFileSync(path.join(scratch, `signer-${name}`, "cosign.pub"), "utf8") };
    };
    const a = signWith("a", IMAGES.signed);
    publicKeyA = a.publicKey;
    publicKeyB = signWith("b", IMAGES.otherKey).publicKey;
    // Signatures that claim a spelling's name, as a pipeline that signs the name the nodes pull gets them.
    for (const spelling of SPELLINGS) sign(a.signer, IMAGES.everywhere, ["--sign-container-identity", `${spelling}/team/everywhere`]);
    sign(a.signer, IMAGES.hostOnly, ["--sign-container-identity", `${HOST}/team/host-only`]);

    rt = await startMockRuntime({ stack: "test" });
    const { NodeTrustDaemonSet } = await import("../../components/nodeTrust/nodeTrustDaemonSet");
    const { NodeTrust } = await import("../../components/nodeTrust/nodeTrustPerNode");
    const [host, port] = registry.authority.split(":");
    const common = { host: host!, port: Number(port), flavour: "crio" as const, caCertPem: registry.ca.caCertPem };
    const signatures = (publicKeys: string[]) => ({ requiredSignatures: { publicKeys, pathPrefix: "team" } });
    new NodeTrustDaemonSet("one-key", { ...common, ...signatures([publicKeyA]), namespace: "dso-node-trust" });
    new NodeTrustDaemonSet("no-keys", { ...common, namespace: "dso-node-trust" });
    new NodeTrustDaemonSet("two-keys", { ...common, ...signatures([publicKeyA, publicKeyB]), namespace: "dso-node-trust" });
    new NodeTrust("crio-node", { ...common, ...signatures([publicKeyA]), connection: { kind: "local", name: "crio-node", sudo: false } });
    // The registry by its name at port 443, which nodes resolve to its address; its certificate is trusted for every name.
    new NodeTrustDaemonSet("spellings", {
        host: HOST,
        port: 443,
        flavour: "crio",
        registryAddress: ADDRESS,
        ...signatures([publicKeyA]),
        namespace: "dso-node-trust",
    });
    await settle();
    oneKeyFiles = nodeScripts.daemonSetConfigDir(rt, scratch, "one-key");
    twoKeyFiles = nodeScripts.daemonSetConfigDir(rt, scratch, "two-keys");
    noKeyFiles = nodeScripts.daemonSetConfigDir(rt, scratch, "no-keys");
    spellingFiles = nodeScripts.daemonSetConfigDir(rt, scratch, "spellings");
    sshCommands = rt.ofType("command:local:Command").filter((c) => c.name.startsWith("crio-node-"));
}, 300_000);

afterAll(async () => {
    await forwarder?.stop();
    await registry?.stop();
    if (scratch) removeDir(scratch);
});

describe("a CRI-O node without the signing keys", () => {
    it("pulls every image, signed or not", async () => {
        root = freshNode();
        applyOk(noKeyFiles);
        expect(read(SIGNATURE_POLICY_FILE)).toBe(NODE_POLICY);
        for (const image of Object.values(IMAGES)) {
            const r = await imagePull(image);
            expect(r.code, `${image}: ${r.stderr}`).toBe(0);
        }
    });
});

describe("a CRI-O node whose trust names the pipeline's key (the DaemonSet's scripts)", () => {
    it("containers/image pulls the image signed with that key", async () => {
        root = freshNode();
        expect(applyOk(oneKeyFiles)).toContain(`changed ${SIGNATURE_POLICY_FILE}`);
        const r = await imagePull(IMAGES.signed);
        expect(r.code, r.stderr).toBe(0);
    });

    it("refuses the unsigned image and the one signed with another key, and still pulls outside the prefix", async () => {
        root = freshNode();
        applyOk(oneKeyFiles);
        const unsigned = await imagePull(IMAGES.unsigned);
        expect(unsigned.code).not.toBe(0);
        expect(unsigned.stderr).toContain("A signature was required, but no signature exists");
        const otherKey = await imagePull(IMAGES.otherKey);
        expect(otherKey.code).not.toBe(0);
        expect(otherKey.stderr).toContain("cryptographic signature verification failed");
        const outside = await imagePull(IMAGES.outside);
        expect(outside.code, outside.stderr).toBe(0);
    });

    it("without the registries.d drop-in containers/image finds no signature: the drop-in is what reads cosign's", async () => {
        root = freshNode();
        applyOk(oneKeyFiles);
        rmSync(path.join(root, files().registriesD));
        const r = await imagePull(IMAGES.signed);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("A signature was required, but no signature exists");
    });

    it("Debian 12's skopeo and podman refuse the unsigned image, and every signed one too (sigstore disabled by Debian)", async () => {
        root = freshNode();
        applyOk(oneKeyFiles);
        for (const pull of [skopeoPull, podmanPull]) {
            const unsigned = await pull(IMAGES.unsigned);
            expect(unsigned.code).not.toBe(0);
            expect(unsigned.stderr).toContain("A signature was required, but no signature exists");
            const signed = await pull(IMAGES.signed);
            expect(signed.code).not.toBe(0);
            expect(signed.stderr).toContain("Debian-local change: sigstore disabled");
        }
    });

    it("the owning pod's preStop gives the node's policy.json back byte for byte, and unsigned pulls work again", async () => {
        root = freshNode();
        applyOk(oneKeyFiles);
        const removed = runScript("remove.sh", oneKeyFiles);
        expect(removed.status, removed.stderr).toBe(0);
        expect(read(SIGNATURE_POLICY_FILE)).toBe(NODE_POLICY);
        expect(existsSync(path.join(root, files().registriesD))).toBe(false);
        // The CA went with the rest: node trust without keys puts it back.
        applyOk(noKeyFiles);
        const r = await imagePull(IMAGES.unsigned);
        expect(r.code, r.stderr).toBe(0);
    });
});

describe("two signing keys (keyDatas)", () => {
    it("containers/image takes an image signed with either key in the policy node trust renders, and refuses the unsigned one", async () => {
        root = freshNode();
        applyOk(oneKeyFiles);
        // The entry as apply writes it where the node's containers/image reads keyDatas (checked there with its skopeo or podman).
        writeFileSync(
            path.join(root, "etc/containers/policy.json"),
            JSON.stringify({
                default: [{ type: "insecureAcceptAnything" }],
                transports: {
                    docker: { [`${registry.authority}/team`]: JSON.parse(renderSignatureRequirement([publicKeyA, publicKeyB])) },
                },
            }),
        );
        for (const image of [IMAGES.signed, IMAGES.otherKey]) {
            const r = await imagePull(image);
            expect(r.code, `${image}: ${r.stderr}`).toBe(0);
        }
        expect((await imagePull(IMAGES.unsigned)).stderr).toContain("A signature was required, but no signature exists");
    });

    it.each([
        ["skopeo", "/usr/bin/skopeo"],
        ["podman", "/usr/bin/podman"],
    ])(
        "on a node whose %s has containers/image 5.23 (Debian 12), apply is refused with its answer, and policy.json stays",
        (name, binary) => {
            root = freshNode();
            const tools = path.join(scratch, `only-${name}-${++pulls}`);
            mkdirSync(tools);
            symlinkSync(binary, path.join(tools, name));
            const r = runScript("apply.sh", twoKeyFiles, [tools]);
            expect(r.status).not.toBe(0);
            expect(r.stderr).toContain(`the node's ${name} refuses the policy`);
            expect(r.stderr).toMatch(/Unknown key \\?"keyDatas\\?"/);
            expect(read(SIGNATURE_POLICY_FILE)).toBe(NODE_POLICY);
        },
    );

    it("with one key the same node's skopeo reads the policy, and apply writes it", () => {
        root = freshNode();
        const tools = path.join(scratch, `skopeo-${++pulls}`);
        mkdirSync(tools);
        symlinkSync("/usr/bin/skopeo", path.join(tools, "skopeo"));
        const r = runScript("apply.sh", oneKeyFiles, [tools]);
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout).toContain("checked with the node's skopeo: it reads the policy");
    });
});

describe("a CRI-O node over SSH", () => {
    it("the commands place the requirement, the pulls follow it, and their deletes give policy.json back", async () => {
        root = freshNode();
        const succeeds = (r: { status: number | null; stderr: string }) => expect(r.status, r.stderr).toBe(0);
        nodeScripts.runSshCommands(scriptTools, root, sshCommands, "create", succeeds);
        expect((await imagePull(IMAGES.signed)).code).toBe(0);
        expect((await imagePull(IMAGES.unsigned)).code).not.toBe(0);
        nodeScripts.runSshCommands(scriptTools, root, sshCommands, "delete", succeeds);
        expect(read(SIGNATURE_POLICY_FILE)).toBe(NODE_POLICY);
        expect(existsSync(path.join(root, files().registriesD))).toBe(false);
    });
});

describe("every spelling of the registry's name (a registry at port 443, its certificate trusted for every name)", () => {
    const scopes = SPELLINGS.map((spelling) => `${spelling}/team`);
    const spellingsFiles = () => signaturePolicyFiles(HOST);

    it("node trust writes the requirement, and the drop-in entry, for the host and its address, each with and without :443", () => {
        root = freshNode();
        applyOk(spellingFiles);
        const docker = JSON.parse(read(SIGNATURE_POLICY_FILE)).transports.docker;
        expect(Object.keys(docker)).toEqual(scopes);
        for (const scope of scopes) expect(docker[scope], scope).toEqual(JSON.parse(renderSignatureRequirement([publicKeyA])));
        expect(parseYaml(read(spellingsFiles().registriesD))).toEqual({
            docker: Object.fromEntries(scopes.map((scope) => [scope, { "use-sigstore-attachments": true }])),
        });
        expect(read("etc/hosts")).toContain(`\n${ADDRESS} ${HOST}\n`);
    });

    it.each(SPELLINGS)(
        "%s/team/…: containers/image and skopeo refuse the unsigned image; containers/image pulls the image signed for that name",
        async (spelling) => {
            root = freshNode();
            applyOk(spellingFiles);
            for (const [client, pull] of [
                ["containers/image", imagePullRef],
                ["skopeo", skopeoPullRef],
            ] as const) {
                const unsigned = await pull(`${spelling}/${IMAGES.unsigned}`, true);
                // Soft: a client that pulls it does not hide what the other did.
                expect.soft(unsigned.code, `${client} pulled the unsigned image: ${unsigned.stdout}`).not.toBe(0);
                expect.soft(unsigned.stderr, client).toContain("A signature was required, but no signature exists");
            }
            const signed = await imagePullRef(`${spelling}/${IMAGES.everywhere}`, true);
            expect(signed.code, signed.stderr).toBe(0);
        },
    );

    it("a signature holds for the name it claims: the image signed for the host's name alone is refused under every other spelling", async () => {
        root = freshNode();
        applyOk(spellingFiles);
        const byHost = await imagePullRef(`${HOST}/${IMAGES.hostOnly}`, true);
        expect(byHost.code, byHost.stderr).toBe(0);
        for (const spelling of SPELLINGS.slice(1)) {
            const r = await imagePullRef(`${spelling}/${IMAGES.hostOnly}`, true);
            expect(r.code, spelling).not.toBe(0);
            expect(r.stderr).toContain(`Signature for identity "${HOST}/team/host-only" is not accepted`);
        }
    });

    it.each(REFUSED_SPELLINGS)(
        "%s/team/…: the front refuses the name with 400, for the unsigned image and the signed one alike",
        async (spelling) => {
            root = freshNode();
            applyOk(spellingFiles);
            for (const image of [IMAGES.unsigned, IMAGES.everywhere]) {
                const r = await imagePullRef(`${spelling}/${image}`, true);
                expect(r.code, `${image}: ${r.stdout}`).not.toBe(0);
                // containers/image 5.36 gives the front's answer; Debian's 5.23 (skopeo, below) its status only.
                expect(r.stderr).toContain(
                    `pinging container registry ${spelling}: StatusCode: 400, "Write the registry's host name in lower case`,
                );
            }
            const skopeo = await skopeoPullRef(`${spelling}/${IMAGES.unsigned}`, true);
            expect(skopeo.code, skopeo.stdout).not.toBe(0);
            expect(skopeo.stderr).toContain("invalid status code from registry 400 (Bad Request)");
        },
    );

    it("the pod's preStop takes every spelling's entry out: policy.json is the node's again, byte for byte", () => {
        root = freshNode();
        applyOk(spellingFiles);
        const removed = runScript("remove.sh", spellingFiles);
        expect(removed.status, removed.stderr).toBe(0);
        expect(read(SIGNATURE_POLICY_FILE)).toBe(NODE_POLICY);
        for (const file of [spellingsFiles().registriesD, spellingsFiles().state, spellingsFiles().backup]) {
            expect(existsSync(path.join(root, file)), file).toBe(false);
        }
    });
});

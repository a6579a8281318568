/**
 * Signatures required at pull on CRI-O and podman nodes, pure part and the node's script: which keys
 * the config takes (`containerRegistry.signingKeys`), the requirement and the registries.d drop-in node
 * trust renders, the plan's step, and `sh/policy-json.sh` with its awk merge run on policy files under a
 * private root with busybox's applets (as the DaemonSet runs it) and with mawk (a Debian node over SSH):
 * the one entry goes in and comes out, every other byte of the node's file stays, and nothing is written
 * when the file, the drop-ins or the keys do not allow it. With the real clients and cosign:
 * test/integration/nodeTrustSignatures.test.ts.
 * Covers: components/nodeTrust/files.ts (signature policy), components/nodeTrust/sh/policy-json.sh,
 * components/nodeTrust/sh/policy-json-merge.awk, components/config/schema/values.ts (signingKeyProblem).
 */
import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../components/config";
import { signingKeyProblem } from "../../components/config/schema/values";
import {
    checkFileStepBody,
    type FileStep,
    placeFileStepBody,
    removeFileStepBody,
    renderSignatureRegistriesD,
    renderSignatureRequirement,
    SIGNATURE_POLICY_FILE,
    signaturePolicyFiles,
    signatureScope,
    type TrustTarget,
    trustPlan,
} from "../../components/nodeTrust/files";
import { configProblems } from "../support/configProblems";

const pem = (type: "ec" | "rsa" | "ed25519") => {
    const { publicKey, privateKey } =
        type === "ec"
            ? generateKeyPairSync("ec", { namedCurve: "P-256" })
            : type === "rsa"
              ? generateKeyPairSync("rsa", { modulusLength: 2048 })
              : generateKeyPairSync("ed25519");
    return {
        publicKey: publicKey.export({ type: "spki", format: "pem" }).toString(),
        privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    };
};
const KEY_A = pem("ec");
const KEY_B = pem("ec");
const AUTHORITY = "registry.example.test:5443";
const SCOPE = `${AUTHORITY}/team`;
const NO_RESTART = { allow: false, timeoutSeconds: 10 };

describe("containerRegistry.signingKeys", () => {
    it.each([
        ["an ECDSA key (cosign generate-key-pair)", KEY_A.publicKey],
        ["an RSA key", pem("rsa").publicKey],
        ["an Ed25519 key", pem("ed25519").publicKey],
        ["a key with blank lines around it", `\n${KEY_A.publicKey}\n\n`],
    ])("takes %s", (_what, value) => {
        expect(signingKeyProblem(value)).toBeUndefined();
    });

    it.each([
        ["a private key", KEY_A.privateKey, /is a private key \("BEGIN PRIVATE KEY"\): give the public key/],
        [
            "cosign's encrypted private key",
            "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJrZGYiOnt9fQ==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
            /is a private key \("BEGIN ENCRYPTED SIGSTORE PRIVATE KEY"\)/,
        ],
        [
            "a certificate",
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            /is a certificate, not a public key: .*openssl x509 -pubkey/,
        ],
        ["two keys in one item", `${KEY_A.publicKey}${KEY_B.publicKey}`, /holds 2 PEM blocks: give one public key per list item/],
        ["text that is no PEM", "cosign.pub", /is not PEM/],
        ["a broken key", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", /is not a readable public key/],
    ])("refuses %s, saying what to give", (_what, value, says) => {
        expect(signingKeyProblem(value)).toMatch(says);
    });

    const raw = (signingKeys: unknown) => ({
        containerRegistry: { host: "registry.example.test", pathPrefix: "team", signingKeys },
        registry: { mode: "in-cluster" },
        nodes: { delivery: "daemonset", runtime: "crio" },
    });

    it("names the key that is wrong by its place in the list", () => {
        expect(configProblems(raw([KEY_A.publicKey, KEY_B.privateKey]), {}, { allowMissingSecrets: true })).toEqual([
            expect.stringMatching(/^dso-registry:containerRegistry\.signingKeys\[1\]: is a private key/),
        ]);
        expect(configProblems(raw([KEY_A.publicKey, KEY_A.publicKey]), {}, { allowMissingSecrets: true })).toEqual([
            "dso-registry:containerRegistry.signingKeys[1]: is the same key as signingKeys[0]: give each key once",
        ]);
    });

    it("is taken without a warning for CRI-O nodes, and warned about where no node checks signatures", () => {
        expect(parseConfig(raw([KEY_A.publicKey]), {}, { allowMissingSecrets: true }).warnings).toEqual([]);
        const containerd = { ...raw([KEY_A.publicKey]), nodes: { delivery: "daemonset", runtime: "containerd" } };
        expect(parseConfig(containerd, {}, { allowMissingSecrets: true }).warnings.map((w) => `${w.key}: ${w.message}`)).toEqual([
            expect.stringMatching(/^dso-registry:containerRegistry\.signingKeys: has no effect with no node of runtime "crio"/),
        ]);
    });
});

describe("what a CRI-O node gets", () => {
    it("a requirement of a sigstore signature by the one key, as keyData, for the image's own repository", () => {
        const value = JSON.parse(renderSignatureRequirement([KEY_A.publicKey]));
        expect(value).toEqual([{ type: "sigstoreSigned", keyData: expect.any(String), signedIdentity: { type: "matchRepository" } }]);
        expect(Buffer.from(value[0].keyData, "base64").toString()).toBe(KEY_A.publicKey);
    });

    it("several keys as keyDatas, any one of which signs", () => {
        const [value] = JSON.parse(renderSignatureRequirement([KEY_A.publicKey, KEY_B.publicKey]));
        expect(value.keyData).toBeUndefined();
        expect(value.keyDatas.map((d: string) => Buffer.from(d, "base64").toString())).toEqual([KEY_A.publicKey, KEY_B.publicKey]);
    });

    it.each([
        ["team", `${AUTHORITY}/team`],
        ["docker-internal/p2c", `${AUTHORITY}/docker-internal/p2c`],
        ["", AUTHORITY],
    ])("pathPrefix %j: the scope is %s", (prefix, scope) => {
        expect(signatureScope(AUTHORITY, prefix)).toBe(scope);
    });

    it("a registries.d drop-in that reads the signatures cosign attaches, for the same scope", () => {
        expect(renderSignatureRegistriesD(SCOPE)).toContain(`docker:\n  "${SCOPE}":\n    use-sigstore-attachments: true\n`);
    });

    const target: TrustTarget = {
        host: "registry.example.test",
        port: 5443,
        hasCa: true,
        hasPullAuth: false,
        hasAddress: false,
        plainHttp: false,
    };

    it("one step more with signatures, which merges into the node's policy.json under the scope", () => {
        const plan = trustPlan("crio", { ...target, signatures: { scope: SCOPE, keyCount: 1 } });
        expect(plan.steps.at(-1)).toMatchObject({ role: "signature-policy", path: "/etc/containers/policy.json", mergeKey: SCOPE });
        expect(trustPlan("crio", target).steps.some((s) => s.kind === "file" && s.role === "signature-policy")).toBe(false);
    });

    it.each(["containerd", "microk8s", "k3s", "rke2", "kind", "docker"] as const)(
        "nothing on %s nodes, which check no signatures",
        (flavour) => {
            const plan = trustPlan(flavour, { ...target, signatures: { scope: SCOPE, keyCount: 1 } });
            expect(plan.steps.some((s) => s.kind === "file" && s.role === "signature-policy")).toBe(false);
        },
    );
});

// ---------------------------------------------------------------------------------------------
// The node's script, on real files
// ---------------------------------------------------------------------------------------------

/** Debian's policy.json (containers-common), byte for byte. */
const DEBIAN_POLICY = '{\n    "default": [\n        {\n            "type": "insecureAcceptAnything"\n        }\n    ]\n}\n';
/** A locked-down node's policy, compact, with entries of its own and no final newline. */
const COMPACT_POLICY =
    '{"default":[{"type":"reject"}],"transports":{"docker":{"quay.io/ops":[{"type":"insecureAcceptAnything"}],"docker.io":[{"type":"reject"}]},"docker-daemon":{"":[{"type":"insecureAcceptAnything"}]}}}';
/** A node that already has an entry of its own for the scope, and an empty docker object elsewhere. */
const OWN_ENTRY_POLICY = `{\n  "default": [{"type": "reject"}],\n  "transports": {\n    "docker": {\n      "${SCOPE}": [{"type": "insecureAcceptAnything"}],\n      "docker.io/library": [{"type": "insecureAcceptAnything"}]\n    }\n  }\n}\n`;
const EMPTY_DOCKER_POLICY = '{ "default": [ { "type": "insecureAcceptAnything" } ], "transports": { "docker": { } } }\n';

let scratch: string;
let busybox: string;
let mawkFirst: string;

function step(scope = SCOPE, keyCount = 1): FileStep {
    const plan = trustPlan("crio", {
        host: "registry.example.test",
        port: 5443,
        hasCa: false,
        hasPullAuth: false,
        hasAddress: false,
        plainHttp: false,
        signatures: { scope, keyCount },
    });
    return plan.steps.find((s): s is FileStep => s.kind === "file" && s.role === "signature-policy")!;
}

/** A node root with its policy.json (or none). */
function node(policy: string | undefined): string {
    const root = mkdtempSync(path.join(scratch, "node-"));
    mkdirSync(path.join(root, "etc/containers"), { recursive: true });
    if (policy !== undefined) writeFileSync(path.join(root, "etc/containers/policy.json"), policy, { mode: 0o640 });
    return root;
}

interface Ran {
    readonly code: number | null;
    readonly stdout: string;
    readonly stderr: string;
}

/** Runs a rendered body as the DaemonSet does (busybox applets only), or with mawk first on PATH. */
function run(root: string, body: string, stdin = "", pathDirs = [busybox]): Ran {
    const r = spawnSync(path.join(busybox, "sh"), ["-c", body], {
        env: { PATH: pathDirs.join(":"), DSO_ROOT: root },
        input: stdin,
        encoding: "utf8",
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const apply = (root: string, keys = [KEY_A.publicKey], s = step(SCOPE, keys.length), dirs?: string[]) =>
    run(root, placeFileStepBody(s, NO_RESTART), renderSignatureRequirement(keys), dirs);
const remove = (root: string, s = step(), dirs?: string[]) => run(root, removeFileStepBody(s, NO_RESTART), "", dirs);
const policyOf = (root: string) => readFileSync(path.join(root, "etc/containers/policy.json"), "utf8");
const files = signaturePolicyFiles(AUTHORITY);
const at = (root: string, file: string) => path.join(root, file);

beforeAll(() => {
    scratch = mkdtempSync(path.join(tmpdir(), "node-trust-signatures-"));
    busybox = path.join(scratch, "busybox");
    mkdirSync(busybox);
    const installed = spawnSync("busybox", ["--install", "-s", busybox], { encoding: "utf8" });
    if (installed.status !== 0) throw new Error(`busybox --install: ${installed.stderr}`);
    mawkFirst = path.join(scratch, "mawk");
    mkdirSync(mawkFirst);
    symlinkSync("/usr/bin/mawk", path.join(mawkFirst, "awk"));
});

afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("policy-json.sh on a node's files", () => {
    it.each([
        ["busybox awk (the DaemonSet)", () => [busybox]],
        ["mawk (a Debian node over SSH)", () => [mawkFirst, busybox]],
    ])("with %s: the entry goes into Debian's policy.json, and removal gives the file back byte for byte", (_awk, dirs) => {
        const root = node(DEBIAN_POLICY);
        const placed = apply(root, undefined, undefined, dirs());
        expect(placed.code, placed.stderr).toBe(0);
        expect(placed.stdout).toContain(`changed ${SIGNATURE_POLICY_FILE}`);
        expect(placed.stdout).toContain("no skopeo or podman on the node: the policy was checked as JSON only");
        expect(JSON.parse(policyOf(root))).toEqual({
            default: [{ type: "insecureAcceptAnything" }],
            transports: { docker: { [SCOPE]: JSON.parse(renderSignatureRequirement([KEY_A.publicKey])) } },
        });
        expect(readFileSync(at(root, files.registriesD), "utf8")).toBe(renderSignatureRegistriesD(SCOPE));
        expect(readFileSync(at(root, files.backup), "utf8")).toBe(DEBIAN_POLICY);
        const removed = remove(root, undefined, dirs());
        expect(removed.code, removed.stderr).toBe(0);
        expect(policyOf(root)).toBe(DEBIAN_POLICY);
        expect(existsSync(at(root, files.registriesD))).toBe(false);
        expect(existsSync(at(root, files.state))).toBe(false);
        expect(existsSync(at(root, files.backup))).toBe(false);
        expect(existsSync(path.join(root, "etc/containers/registries.d"))).toBe(false);
    });

    it.each([
        ["a compact policy with entries of its own and no final newline", COMPACT_POLICY],
        ["an entry of the node's own for the scope (replaced, then given back)", OWN_ENTRY_POLICY],
        ["an empty docker object", EMPTY_DOCKER_POLICY],
    ])("%s: only the scope's entry changes, and removal gives the file back byte for byte", (_what, policy) => {
        const root = node(policy);
        expect(apply(root).code).toBe(0);
        const before = JSON.parse(policy);
        const after = JSON.parse(policyOf(root));
        expect(after.transports.docker[SCOPE][0].type).toBe("sigstoreSigned");
        delete after.transports.docker[SCOPE];
        if (before.transports?.docker) delete before.transports.docker[SCOPE];
        expect(after).toEqual(before);
        expect(remove(root).code).toBe(0);
        expect(policyOf(root)).toBe(policy);
    });

    it("keeps the node's mode, and applying again changes nothing", () => {
        const root = node(DEBIAN_POLICY);
        apply(root);
        const once = policyOf(root);
        const again = apply(root);
        expect(again.stdout).toContain(`unchanged ${SIGNATURE_POLICY_FILE}`);
        expect(again.stdout).toContain(`unchanged ${files.registriesD}`);
        expect(policyOf(root)).toBe(once);
        expect(spawnSync("stat", ["-c", "%a", path.join(root, "etc/containers/policy.json")], { encoding: "utf8" }).stdout.trim()).toBe(
            "640",
        );
    });

    it("entries the operator adds later stay when the program's goes", () => {
        const root = node(DEBIAN_POLICY);
        apply(root);
        const edited = JSON.parse(policyOf(root));
        edited.transports.docker["quay.io/ops"] = [{ type: "reject" }];
        writeFileSync(path.join(root, "etc/containers/policy.json"), JSON.stringify(edited, null, 2));
        expect(remove(root).code).toBe(0);
        expect(JSON.parse(policyOf(root))).toEqual({
            default: [{ type: "insecureAcceptAnything" }],
            transports: { docker: { "quay.io/ops": [{ type: "reject" }] } },
        });
    });

    it("check mode says whether apply would change the file, and writes nothing", () => {
        const root = node(DEBIAN_POLICY);
        const body = checkFileStepBody(step(), NO_RESTART)!;
        const input = renderSignatureRequirement([KEY_A.publicKey]);
        expect(run(root, body, input).stdout.trim()).toBe(`changed ${SIGNATURE_POLICY_FILE}`);
        expect(policyOf(root)).toBe(DEBIAN_POLICY);
        apply(root);
        expect(run(root, body, input).stdout.trim()).toBe(`unchanged ${SIGNATURE_POLICY_FILE}`);
        expect(run(root, body, renderSignatureRequirement([KEY_B.publicKey])).stdout.trim()).toBe(`changed ${SIGNATURE_POLICY_FILE}`);
    });

    it("a new scope (containerRegistry.pathPrefix changed) replaces the earlier scope's entry", () => {
        const root = node(COMPACT_POLICY);
        apply(root);
        const moved = apply(root, undefined, step(`${AUTHORITY}/platform`));
        expect(moved.code, moved.stderr).toBe(0);
        const docker = JSON.parse(policyOf(root)).transports.docker;
        expect(Object.keys(docker)).toEqual(["quay.io/ops", "docker.io", `${AUTHORITY}/platform`]);
        expect(remove(root, step(`${AUTHORITY}/platform`)).code).toBe(0);
        expect(policyOf(root)).toBe(COMPACT_POLICY);
    });

    it.each([
        ["no policy.json", undefined, /there is no \/etc\/containers\/policy.json: CRI-O and podman pull nothing without it/],
        ["a policy.json that is not JSON", '{"default": [{"type": "reject"}],}\n', /is not a policy this program can edit/],
        ["transports that is not an object", '{"default": [], "transports": []}\n', /"transports" is not an object/],
    ])("%s: stops, and writes nothing", (_what, policy, says) => {
        const root = node(policy);
        const r = apply(root);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(says);
        if (policy !== undefined) expect(policyOf(root)).toBe(policy);
        expect(existsSync(at(root, files.registriesD))).toBe(false);
        expect(existsSync(at(root, files.state))).toBe(false);
    });

    it("another registries.d file that names the scope: stops before writing (containers/image would refuse both)", () => {
        const root = node(DEBIAN_POLICY);
        mkdirSync(path.join(root, "etc/containers/registries.d"));
        const theirs = `docker:\n  ${SCOPE}:\n    lookaside: https://sigs.example.test\n`;
        writeFileSync(path.join(root, "etc/containers/registries.d/ops.yaml"), theirs);
        const r = apply(root);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain(`/etc/containers/registries.d/ops.yaml already names ${SCOPE}`);
        expect(policyOf(root)).toBe(DEBIAN_POLICY);
        expect(existsSync(at(root, files.registriesD))).toBe(false);
    });

    it("two keys where no skopeo or podman can check that the node reads keyDatas: stops, and writes nothing", () => {
        const root = node(DEBIAN_POLICY);
        const r = apply(root, [KEY_A.publicKey, KEY_B.publicKey]);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/2 signing keys need containers\/image 5\.33 or later \(keyDatas\).*neither skopeo nor podman/);
        expect(policyOf(root)).toBe(DEBIAN_POLICY);
    });
});

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
    registryAuthoritySpellings,
    removeFileStepBody,
    renderSignaturePolicyInput,
    renderSignatureRegistriesD,
    renderSignatureRequirement,
    SIGNATURE_POLICY_FILE,
    signaturePolicyFiles,
    signatureScope,
    signatureScopes,
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

    it.each([
        [
            "port 443: the host with and without :443",
            "registry.example.test",
            443,
            undefined,
            ["registry.example.test", "registry.example.test:443"],
        ],
        [
            "port 443 and the address /etc/hosts maps the host to",
            "registry.example.test",
            443,
            "10.1.2.3",
            ["registry.example.test", "registry.example.test:443", "10.1.2.3", "10.1.2.3:443"],
        ],
        [
            "another port: with it only (without, a reference names port 443)",
            "registry.example.test",
            5443,
            "10.1.2.3",
            ["registry.example.test:5443", "10.1.2.3:5443"],
        ],
        [
            "an IPv6 address, in brackets",
            "registry.example.test",
            443,
            "fd00::5",
            ["registry.example.test", "registry.example.test:443", "[fd00::5]", "[fd00::5]:443"],
        ],
        ["a host that is the address", "10.1.2.3", 5443, "10.1.2.3", ["10.1.2.3:5443"]],
    ])("the spellings of the authority, %s", (_what, host, port, address, spellings) => {
        expect(registryAuthoritySpellings(host, port, address)).toEqual(spellings);
        expect(signatureScopes(host, port, "team", address)).toEqual(spellings.map((a) => `${a}/team`));
        expect(signatureScopes(host, port, "", address)).toEqual(spellings);
    });

    it("the step's stdin: a line per scope, the canonical one first, then the requirement", () => {
        const scopes = signatureScopes("registry.example.test", 443, "team", "10.1.2.3");
        expect(renderSignaturePolicyInput(scopes, [KEY_A.publicKey])).toBe(
            `scope registry.example.test/team\nscope registry.example.test:443/team\nscope 10.1.2.3/team\nscope 10.1.2.3:443/team\n${renderSignatureRequirement([KEY_A.publicKey])}\n`,
        );
        expect(() => renderSignaturePolicyInput([], [KEY_A.publicKey])).toThrow(/at least one scope/);
        expect(() => renderSignaturePolicyInput([SCOPE, SCOPE], [KEY_A.publicKey])).toThrow(/given twice/);
        expect(() => renderSignaturePolicyInput(['registry.example.test/te"am'], [KEY_A.publicKey])).toThrow(/is not a scope/);
    });

    it("a registries.d drop-in that reads the signatures cosign attaches, for the same scopes", () => {
        expect(renderSignatureRegistriesD([SCOPE])).toContain(`docker:\n  "${SCOPE}":\n    use-sigstore-attachments: true\n`);
        expect(renderSignatureRegistriesD(["a.test/team", "a.test:443/team"])).toMatch(
            /docker:\n {2}"a\.test\/team":\n {4}use-sigstore-attachments: true\n {2}"a\.test:443\/team":\n {4}use-sigstore-attachments: true\n$/,
        );
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

/** What a run places: the keys, the scopes (the step's is the first), and the tools on PATH. */
interface Placing {
    readonly keys?: readonly string[];
    readonly scopes?: readonly string[];
    readonly dirs?: string[];
}
const apply = (root: string, { keys = [KEY_A.publicKey], scopes = [SCOPE], dirs }: Placing = {}) =>
    run(root, placeFileStepBody(step(scopes[0], keys.length), NO_RESTART), renderSignaturePolicyInput(scopes, keys), dirs);
const remove = (root: string, { scopes = [SCOPE], dirs }: Placing = {}) =>
    run(root, removeFileStepBody(step(scopes[0]), NO_RESTART), "", dirs);
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
        const placed = apply(root, { dirs: dirs() });
        expect(placed.code, placed.stderr).toBe(0);
        expect(placed.stdout).toContain(`changed ${SIGNATURE_POLICY_FILE}`);
        expect(placed.stdout).toContain("no skopeo or podman on the node: the policy was checked as JSON only");
        expect(JSON.parse(policyOf(root))).toEqual({
            default: [{ type: "insecureAcceptAnything" }],
            transports: { docker: { [SCOPE]: JSON.parse(renderSignatureRequirement([KEY_A.publicKey])) } },
        });
        expect(readFileSync(at(root, files.registriesD), "utf8")).toBe(renderSignatureRegistriesD([SCOPE]));
        expect(readFileSync(at(root, files.backup), "utf8")).toBe(DEBIAN_POLICY);
        const removed = remove(root, { dirs: dirs() });
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
        const input = renderSignaturePolicyInput([SCOPE], [KEY_A.publicKey]);
        expect(run(root, body, input).stdout.trim()).toBe(`changed ${SIGNATURE_POLICY_FILE}`);
        expect(policyOf(root)).toBe(DEBIAN_POLICY);
        apply(root);
        expect(run(root, body, input).stdout.trim()).toBe(`unchanged ${SIGNATURE_POLICY_FILE}`);
        expect(run(root, body, renderSignaturePolicyInput([SCOPE], [KEY_B.publicKey])).stdout.trim()).toBe(
            `changed ${SIGNATURE_POLICY_FILE}`,
        );
    });

    it("a new scope (containerRegistry.pathPrefix changed) replaces the earlier scope's entry", () => {
        const root = node(COMPACT_POLICY);
        apply(root);
        const moved = apply(root, { scopes: [`${AUTHORITY}/platform`] });
        expect(moved.code, moved.stderr).toBe(0);
        const docker = JSON.parse(policyOf(root)).transports.docker;
        expect(Object.keys(docker)).toEqual(["quay.io/ops", "docker.io", `${AUTHORITY}/platform`]);
        expect(remove(root, { scopes: [`${AUTHORITY}/platform`] }).code).toBe(0);
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
        const r = apply(root, { keys: [KEY_A.publicKey, KEY_B.publicKey] });
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/2 signing keys need containers\/image 5\.33 or later \(keyDatas\).*neither skopeo nor podman/);
        expect(policyOf(root)).toBe(DEBIAN_POLICY);
    });
});

describe("policy-json.sh with every spelling of the registry's scope", () => {
    /** A registry at port 443 whose nodes map its host to an address: four spellings. */
    const SCOPES = signatureScopes("registry.example.test", 443, "team", "10.1.2.3");
    const several = signaturePolicyFiles("registry.example.test");
    const requirement = () => JSON.parse(renderSignatureRequirement([KEY_A.publicKey]));
    const entries = (scopes: readonly string[]) => Object.fromEntries(scopes.map((scope) => [scope, requirement()]));
    /** The node's own entry for one of the other spellings, which the program's replaces while it is in place. */
    const OWN_ALIAS_POLICY = `{\n  "default": [{"type": "reject"}],\n  "transports": {\n    "docker": {\n      "${SCOPES[1]}": [{"type": "insecureAcceptAnything"}],\n      "docker.io/library": [{"type": "insecureAcceptAnything"}]\n    }\n  }\n}\n`;

    it("lists the four spellings, the canonical one first", () => {
        expect(SCOPES).toEqual(["registry.example.test/team", "registry.example.test:443/team", "10.1.2.3/team", "10.1.2.3:443/team"]);
    });

    it.each([
        ["busybox awk (the DaemonSet)", () => [busybox]],
        ["mawk (a Debian node over SSH)", () => [mawkFirst, busybox]],
    ])(
        "with %s: each scope gets the requirement and the drop-in names each; again changes nothing; removal takes all of them out",
        (_awk, dirs) => {
            const root = node(DEBIAN_POLICY);
            const placed = apply(root, { scopes: SCOPES, dirs: dirs() });
            expect(placed.code, placed.stderr).toBe(0);
            expect(placed.stdout).toContain(`changed ${SIGNATURE_POLICY_FILE} (for ${SCOPES.join(", ")})`);
            const policy = JSON.parse(policyOf(root));
            expect(policy).toEqual({ default: [{ type: "insecureAcceptAnything" }], transports: { docker: entries(SCOPES) } });
            expect(Object.keys(policy.transports.docker)).toEqual(SCOPES);
            expect(readFileSync(at(root, several.registriesD), "utf8")).toBe(renderSignatureRegistriesD(SCOPES));
            const once = policyOf(root);
            const again = apply(root, { scopes: SCOPES, dirs: dirs() });
            expect(again.code, again.stderr).toBe(0);
            expect(again.stdout).toContain(`unchanged ${SIGNATURE_POLICY_FILE}`);
            expect(again.stdout).toContain(`unchanged ${several.registriesD}`);
            expect(policyOf(root)).toBe(once);
            const removed = remove(root, { scopes: SCOPES, dirs: dirs() });
            expect(removed.code, removed.stderr).toBe(0);
            expect(removed.stdout).toContain(`removed the entries for ${SCOPES.join(", ")} from ${SIGNATURE_POLICY_FILE}`);
            expect(policyOf(root)).toBe(DEBIAN_POLICY);
            for (const file of [several.registriesD, several.state, several.backup]) expect(existsSync(at(root, file)), file).toBe(false);
        },
    );

    it.each([
        ["a compact policy with entries of its own and no final newline", COMPACT_POLICY],
        ["the node's own entry for one of the other spellings (replaced, then given back)", OWN_ALIAS_POLICY],
        ["an empty docker object", EMPTY_DOCKER_POLICY],
    ])("%s: only the scopes' entries change, and removal gives the file back byte for byte", (_what, policy) => {
        const root = node(policy);
        const placed = apply(root, { scopes: SCOPES });
        expect(placed.code, placed.stderr).toBe(0);
        const before = JSON.parse(policy);
        const after = JSON.parse(policyOf(root));
        for (const scope of SCOPES) {
            expect(after.transports.docker[scope], scope).toEqual(requirement());
            delete after.transports.docker[scope];
            if (before.transports?.docker) delete before.transports.docker[scope];
        }
        expect(after).toEqual(before);
        expect(apply(root, { scopes: SCOPES }).stdout).toContain(`unchanged ${SIGNATURE_POLICY_FILE}`);
        expect(remove(root, { scopes: SCOPES }).code).toBe(0);
        expect(policyOf(root)).toBe(policy);
    });

    it("a changed list of spellings (the address set, then dropped) moves the entries, and removal gives the file back", () => {
        const root = node(COMPACT_POLICY);
        const withoutAddress = SCOPES.slice(0, 2);
        expect(apply(root, { scopes: withoutAddress }).code).toBe(0);
        expect(Object.keys(JSON.parse(policyOf(root)).transports.docker)).toEqual(["quay.io/ops", "docker.io", ...withoutAddress]);
        const moved = apply(root, { scopes: SCOPES });
        expect(moved.code, moved.stderr).toBe(0);
        expect(Object.keys(JSON.parse(policyOf(root)).transports.docker)).toEqual(["quay.io/ops", "docker.io", ...SCOPES]);
        expect(readFileSync(at(root, several.registriesD), "utf8")).toBe(renderSignatureRegistriesD(SCOPES));
        expect(apply(root, { scopes: withoutAddress }).code).toBe(0);
        expect(Object.keys(JSON.parse(policyOf(root)).transports.docker)).toEqual(["quay.io/ops", "docker.io", ...withoutAddress]);
        expect(remove(root, { scopes: withoutAddress }).code).toBe(0);
        expect(policyOf(root)).toBe(COMPACT_POLICY);
    });

    it.each([
        ["no entry of the node's own for the scope", DEBIAN_POLICY, "created transports\nprior none\n"],
        [
            "the node's own entry for the scope",
            OWN_ENTRY_POLICY.replaceAll(SCOPE, SCOPES[0]!),
            'created nothing\nprior value\n[{"type": "insecureAcceptAnything"}]',
        ],
    ])(
        "an earlier version's state of the one scope (%s): apply adds the other spellings, and removal gives the file back",
        (_what, policy, rest) => {
            // What the earlier version left: its one entry (the same text this version writes for one scope) and its state.
            const earlier = () => {
                const root = node(policy);
                expect(apply(root, { scopes: [SCOPES[0]!] }).code).toBe(0);
                writeFileSync(at(root, several.state), `scope ${SCOPES[0]}\n${rest}`);
                return root;
            };
            const upgraded = earlier();
            const placed = apply(upgraded, { scopes: SCOPES });
            expect(placed.code, placed.stderr).toBe(0);
            for (const scope of SCOPES) expect(JSON.parse(policyOf(upgraded)).transports.docker[scope], scope).toEqual(requirement());
            expect(readFileSync(at(upgraded, several.state), "utf8")).toMatch(/^state 2\n/);
            expect(remove(upgraded, { scopes: SCOPES }).code).toBe(0);
            expect(policyOf(upgraded)).toBe(policy);
            // Removed by this version without an apply in between.
            const removedOnly = earlier();
            expect(remove(removedOnly, { scopes: SCOPES }).code).toBe(0);
            expect(policyOf(removedOnly)).toBe(policy);
            expect(existsSync(at(removedOnly, several.state))).toBe(false);
        },
    );

    it("check mode: unchanged after apply, changed once one spelling's entry is gone from the file", () => {
        const root = node(DEBIAN_POLICY);
        const body = checkFileStepBody(step(SCOPES[0]), NO_RESTART)!;
        const input = renderSignaturePolicyInput(SCOPES, [KEY_A.publicKey]);
        expect(apply(root, { scopes: SCOPES }).code).toBe(0);
        expect(run(root, body, input).stdout.trim()).toBe(`unchanged ${SIGNATURE_POLICY_FILE}`);
        const edited = JSON.parse(policyOf(root));
        delete edited.transports.docker[SCOPES[3]!];
        writeFileSync(path.join(root, "etc/containers/policy.json"), JSON.stringify(edited, null, 4));
        const changed = JSON.stringify(edited, null, 4);
        expect(run(root, body, input).stdout.trim()).toBe(`changed ${SIGNATURE_POLICY_FILE}`);
        expect(policyOf(root)).toBe(changed);
        // Apply puts it back; removal still takes out every entry the state names.
        expect(apply(root, { scopes: SCOPES }).code).toBe(0);
        expect(JSON.parse(policyOf(root)).transports.docker[SCOPES[3]!]).toEqual(requirement());
        expect(remove(root, { scopes: SCOPES }).code).toBe(0);
        // The objects the entries made go with them, emptied: the node's policy as it was, reformatted by the edit.
        expect(JSON.parse(policyOf(root))).toEqual(JSON.parse(DEBIAN_POLICY));
    });

    it("another registries.d file that names one of the other spellings: stops before writing", () => {
        const root = node(DEBIAN_POLICY);
        mkdirSync(path.join(root, "etc/containers/registries.d"));
        writeFileSync(
            path.join(root, "etc/containers/registries.d/ops.yaml"),
            `docker:\n  '${SCOPES[2]}':\n    use-sigstore-attachments: true\n`,
        );
        const r = apply(root, { scopes: SCOPES });
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain(`/etc/containers/registries.d/ops.yaml already names ${SCOPES[2]}`);
        expect(policyOf(root)).toBe(DEBIAN_POLICY);
        expect(existsSync(at(root, several.registriesD))).toBe(false);
        expect(existsSync(at(root, several.state))).toBe(false);
    });

    it.each([
        ["no scope lines (the requirement alone)", renderSignatureRequirement([KEY_A.publicKey]), /no scope on stdin/],
        [
            "another scope first",
            renderSignaturePolicyInput([SCOPES[1]!, SCOPES[0]!], [KEY_A.publicKey]),
            /the first scope on stdin is not registry\.example\.test\/team/,
        ],
        [
            "a scope twice",
            `scope ${SCOPES[0]}\nscope ${SCOPES[1]}\nscope ${SCOPES[1]}\n${renderSignatureRequirement([KEY_A.publicKey])}`,
            /given twice/,
        ],
        ["scopes and no requirement", `scope ${SCOPES[0]}\n`, /no requirement on stdin/],
    ])("stdin with %s: stops, and writes nothing", (_what, stdin, says) => {
        const root = node(DEBIAN_POLICY);
        const r = run(root, placeFileStepBody(step(SCOPES[0]), NO_RESTART), stdin);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(says);
        expect(policyOf(root)).toBe(DEBIAN_POLICY);
        expect(existsSync(at(root, several.state))).toBe(false);
    });
});

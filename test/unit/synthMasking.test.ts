/**
 * The synth of the committed stacks shows every file and object whole, with only secret values masked:
 * the prod stack's k3s registries.yaml and the local stack's node-trust Secret (its hosts.toml files)
 * read as the program renders them, "[secret]" where the pull password is; and no synth file holds a
 * generated password, a bcrypt hash of one, or base64 (at any depth, either alphabet) that decodes to one.
 */
import * as pulumi from "@pulumi/pulumi";
import * as bcrypt from "bcryptjs";
import { beforeAll, describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { MOCK_PASSWORD_PREFIX, SECRET } from "../../tools/mockRuntime";
import { type ProgramRun, readStackConfig, runProgram } from "../../tools/synth";
import { committedSynthDir } from "../support/committedSynth";
import { COMMITTED_STACKS, type CommittedStack, PROJECT_DIR, readTree } from "../support/synthCli";

/** The program's run under mocks for a committed stack: the plain values the synth masks. */
const runs = new Map<CommittedStack, ProgramRun>();
beforeAll(async () => {
    // One after another: Pulumi's runtime is process-global.
    for (const stack of COMMITTED_STACKS) runs.set(stack, await runProgram(stack, readStackConfig(PROJECT_DIR, stack)));
});

const filesOf = (stack: CommittedStack) => readTree(committedSynthDir(stack));

/** A resource's input as the program gave it, in plain text. */
function plainInput(stack: CommittedStack, name: string, input: string): unknown {
    const resource = runs.get(stack)!.resources.find((r) => r.name === name);
    if (!resource) throw new Error(`the ${stack} stack has no resource ${name}`);
    return pulumi.runtime.unwrapRpcSecret(resource.rawInputs[input]);
}

/** Every generated password of a run (the result of each random resource). */
function generatedPasswords(run: ProgramRun): string[] {
    return run.resources.flatMap((r) => (r.type.startsWith("random:") && typeof r.state.result === "string" ? [r.state.result] : []));
}

/** Every string anywhere in a value. */
function stringsIn(value: unknown): string[] {
    if (typeof value === "string") return [value];
    if (Array.isArray(value)) return value.flatMap(stringsIn);
    if (value && typeof value === "object") return Object.values(value).flatMap(stringsIn);
    return [];
}

/** The bcrypt hashes of the run's generated passwords: the providers' and those the program makes. */
function hashesOfPasswords(run: ProgramRun, passwords: readonly string[]): string[] {
    const strings = run.resources.flatMap((r) => [...stringsIn(r.rawInputs), ...stringsIn(r.state)]);
    const hashes = new Set(strings.flatMap((s) => [...s.matchAll(/\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}/g)].map(([h]) => h)));
    return [...hashes].filter((hash) => passwords.some((password) => bcrypt.compareSync(password, hash)));
}

/**
 * The texts in which a secret can be read: itself, and the characters of its base64 and base64url that
 * depend on its bytes only, at each of the three alignments it can have in encoded text, and the same
 * again for each of those (base64 inside base64).
 */
function readableForms(secret: string): string[] {
    const forms = new Set([secret]);
    let layer = [secret];
    for (let level = 0; level < 2; level++) {
        layer = layer.flatMap((text) =>
            [0, 1, 2].flatMap((shift) => {
                const bytes = Buffer.from(text);
                const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString("base64");
                const own = encoded.slice(Math.ceil((8 * shift) / 6), Math.floor((8 * (shift + bytes.length)) / 6));
                return [own, own.replaceAll("+", "-").replaceAll("/", "_")];
            }),
        );
        for (const form of layer) forms.add(form);
    }
    return [...forms];
}

/** Which of the secrets can be read in the text. */
function readableIn(text: string, secrets: readonly string[]): string[] {
    return secrets.filter((secret) => readableForms(secret).some((form) => text.includes(form)));
}

describe("the synth's k3s registries.yaml (prod stack)", () => {
    const authority = "registry.dso.example.com";
    const nodes = ["k3s-server-1", "k3s-agent-1", "k3s-agent-2"];

    it.each(nodes)("on %s reads as rendered, with the pull password masked", (node) => {
        const file = filesOf("prod").get(`hosts/${node}/etc/rancher/k3s/registries.yaml`) ?? "";
        const rendered = String(plainInput("prod", `node-trust-${node}-registries-yaml-write`, "stdin"));
        const passwords = generatedPasswords(runs.get("prod")!);
        expect(readableIn(rendered, passwords)).toHaveLength(1);
        expect(file).toBe(passwords.reduce((text, password) => text.replaceAll(password, SECRET), rendered));
    });

    it.each(nodes)("on %s names the registry and its caches as mirrors, and the pull account with its password as [secret]", (node) => {
        const file = YAML.parse(filesOf("prod").get(`hosts/${node}/etc/rancher/k3s/registries.yaml`) ?? "");
        expect(Object.keys(file?.mirrors ?? {})).toEqual([authority, "docker.io", "ghcr.io", "registry.k8s.io"]);
        expect(file?.mirrors?.["docker.io"]?.endpoint).toEqual([`https://${authority}`]);
        expect(file?.configs?.[authority]?.auth).toEqual({ username: "cluster-pull", password: SECRET });
    });
});

describe("the synth's node-trust Secret (local stack)", () => {
    const secretFile = "k8s/dso-node-trust/Secret-dso-node-trust.yaml";
    const registry = "https://registry-dso.jmann.local";

    it("holds each hosts.toml as rendered, the Basic credentials of the pull account masked", () => {
        const shown = YAML.parse(filesOf("local").get(secretFile) ?? "")?.stringData;
        const rendered = plainInput("local", "node-trust-secret", "stringData") as Record<string, string>;
        const credentials = Object.values(rendered).flatMap((text) => [...text.matchAll(/Basic ([A-Za-z0-9+/=]+)/g)].map(([, b]) => b!));
        expect(new Set(credentials.map((b) => Buffer.from(b, "base64").toString().split(":")[0]))).toEqual(new Set(["cluster-pull"]));
        const masked = Object.fromEntries(
            Object.entries(rendered).map(([file, text]) => [file, text.replace(/Basic [A-Za-z0-9+/=]+/g, `Basic ${SECRET}`)]),
        );
        expect(Object.keys(masked).sort()).toEqual(["hosts.toml", "mirror-docker-io-hosts.toml"]);
        expect(shown).toEqual(masked);
    });

    it("shows the registry's server, host and header lines of hosts.toml", () => {
        const hostsToml: string = YAML.parse(filesOf("local").get(secretFile) ?? "")?.stringData?.["hosts.toml"] ?? "";
        expect(hostsToml.split("\n")).toEqual(
            expect.arrayContaining([
                `server = "${registry}"`,
                `[host."${registry}"]`,
                '  capabilities = ["pull", "resolve"]',
                `[host."${registry}".header]`,
                `  Authorization = "Basic ${SECRET}"`,
            ]),
        );
    });
});

describe.each(COMMITTED_STACKS)("the synth of the %s stack", (stack) => {
    it("holds no generated password, no bcrypt hash of one, and nothing that decodes to either", () => {
        const run = runs.get(stack)!;
        const passwords = generatedPasswords(run);
        const secrets = [...passwords, ...hashesOfPasswords(run, passwords)];
        const leaks = [...filesOf(stack)].flatMap(([file, content]) => {
            const found = readableIn(content, secrets);
            return content.includes(MOCK_PASSWORD_PREFIX) || found.length > 0
                ? [`${file}: ${found.join(", ") || MOCK_PASSWORD_PREFIX}`]
                : [];
        });
        expect(leaks).toEqual([]);
    });
});

describe("the leak check itself", () => {
    const secret = `${MOCK_PASSWORD_PREFIX}check-0123456789ab`;
    const base64 = (text: string) => Buffer.from(text).toString("base64");

    it.each([
        ["the password", `password: ${secret}`],
        ["its base64", `auth: ${base64(secret)}`],
        ["its base64 one byte in", `auth: ${base64(`u${secret}`)}`],
        ["its base64 two bytes in", `auth: ${base64(`u:${secret}`)}`],
        ["its base64url", Buffer.from(`\xfb\xff${secret}`).toString("base64url")],
        ["base64 inside base64", base64(JSON.stringify({ auth: base64(`cluster-pull:${secret}`) }))],
    ])("finds %s", (_, text) => {
        expect(readableIn(text, [secret])).toEqual([secret]);
    });
});

/**
 * The Jenkins dynamic provider as the engine runs it, not as vitest transforms it: the program's
 * TypeScript loaded through ts-node as the `pulumi` CLI's language host registers it, the provider
 * serialized by the SDK's own dynamic Resource (the text the engine stores in state as `__provider`),
 * then each call made in a fresh `node` process the way the dynamic-provider host makes it, against
 * the fake Jenkins (test/support/fakeJenkins.ts). See test/support/engine/*.cjs for what each child does.
 *
 * Type checking is skipped with PULUMI_NODEJS_TRANSPILE_ONLY=true, a setting the CLI honours too: the
 * serialized text is the same either way (type checking emits nothing), and it saves a compile.
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeJenkins, startFakeJenkins } from "../support/fakeJenkins";

const PROJECT_DIR = path.resolve(__dirname, "../..");
const ENGINE = path.join(PROJECT_DIR, "test/support/engine");
const token = `tok-${randomBytes(12).toString("hex")}`;
const password = `pw-${randomBytes(12).toString("hex")}`;

let dir: string;
let code: string;

/** The `__provider` text of a credential, serialized in a child process under ts-node. */
async function serialize(out: string, secrets: { token: string; password: string }): Promise<string> {
    await promisify(execFile)(process.execPath, [path.join(ENGINE, "serializeProvider.cjs"), PROJECT_DIR, out], {
        cwd: PROJECT_DIR,
        env: {
            ...process.env,
            PULUMI_NODEJS_TRANSPILE_ONLY: "true",
            // The file Pulumi.yaml names, as the language host hands it to the runner.
            PULUMI_NODEJS_TSCONFIG_PATH: "tsconfig.pulumi.json",
            // ts-node's compile cache in the test's directory (removed after), not in /tmp.
            TS_NODE_CACHE_DIRECTORY: path.join(dir, "ts-node-cache"),
            JENKINS_SECRET: secrets.token,
            CREDENTIAL_PASSWORD: secrets.password,
        },
    });
    return readFileSync(out, "utf8");
}

type Props = Record<string, unknown>;

/** One call of the provider in its own `node` process, as the dynamic-provider host makes it. */
function host<T>(request: { method: string; id?: string; olds?: Props; news?: Props; props?: Props }): Promise<T> {
    const child = spawn(process.execPath, [path.join(ENGINE, "dynamicProviderHost.cjs")], {
        cwd: PROJECT_DIR,
        stdio: ["pipe", "pipe", "inherit"],
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.stdin.end(JSON.stringify(request));
    return new Promise((resolve, reject) => {
        child.once("error", reject);
        child.once("close", () => {
            const answer = JSON.parse(output) as { ok?: T; error?: string };
            if (answer.error !== undefined) reject(new Error(answer.error));
            else resolve(answer.ok as T);
        });
    });
}

/** Inputs of the credential as the engine passes them, the provider's code included. */
function inputs(jenkins: FakeJenkins, overrides: Props = {}): Props {
    return {
        jenkinsUrl: jenkins.url,
        jenkinsUser: "admin",
        jenkinsAuth: "token",
        jenkinsSecret: token,
        timeoutSeconds: 10,
        credentialId: "container-registry",
        kind: "usernamePassword",
        description: "Push",
        username: "ci-push",
        usernameSecret: false,
        password,
        __provider: code,
        ...overrides,
    };
}

const servers: FakeJenkins[] = [];
async function jenkins(apiToken = token): Promise<FakeJenkins> {
    const j = await startFakeJenkins({ apiToken });
    servers.push(j);
    return j;
}

beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "jenkins-engine-"));
    code = await serialize(path.join(dir, "provider.js"), { token, password });
});
afterAll(async () => {
    await Promise.all(servers.map((j) => j.close()));
    rmSync(dir, { recursive: true, force: true });
});

describe("the provider's code as the engine stores it", () => {
    it("is the module ts-node compiled, with no secret in it", () => {
        expect(code).toMatch(/^exports\.handler = /);
        expect(code).not.toContain(token);
        expect(code).not.toContain(password);
    });

    it("is the same text whatever the secrets and whichever process serializes it (a second up sees no change)", async () => {
        const again = await serialize(path.join(dir, "again.js"), { token: "another-token", password: "another-password" });
        expect(again).toBe(code);
    });
});

describe("create, diff, update, read and delete through the dynamic-provider host", () => {
    it("manages a credential in Jenkins with the stored code", async () => {
        const j = await jenkins();
        const created = await host<{ id: string; outs: Props }>({ method: "create", props: inputs(j) });
        expect(created.id).toBe("container-registry");
        expect(created.outs.__provider).toBe(code);
        const rotated = inputs(j, { password: "rotated-password" });
        const diff = await host<{ changes: boolean; replaces: string[] }>({
            method: "diff",
            id: created.id,
            olds: created.outs,
            news: rotated,
        });
        expect(diff).toMatchObject({ changes: true, replaces: [] });
        const updated = await host<{ outs: Props }>({ method: "update", id: created.id, olds: created.outs, news: rotated });
        expect(j.credentials.get("container-registry")?.fields.password).toBe("rotated-password");
        const read = await host<{ id: string; props: Props }>({ method: "read", id: created.id, props: updated.outs });
        expect(read.props).toMatchObject({ usernameSecret: false, __provider: code });
        await host({ method: "delete", id: created.id, props: updated.outs });
        expect(j.credentials.size).toBe(0);
    });

    it("finds no change when nothing changed", async () => {
        const j = await jenkins();
        const diff = await host<{ changes: boolean }>({ method: "diff", id: "container-registry", olds: inputs(j), news: inputs(j) });
        expect(diff.changes).toBe(false);
    });
});

describe("a change of the provider's code", () => {
    it("is an update, and the update stores the new code in state (a later delete runs it)", async () => {
        const j = await jenkins();
        const earlier = `${code}\n// the code an earlier release stored\n`;
        const stored = (await host<{ outs: Props }>({ method: "create", props: inputs(j, { __provider: earlier }) })).outs;
        const diff = await host<{ changes: boolean; replaces: string[] }>({
            method: "diff",
            id: "container-registry",
            olds: stored,
            news: inputs(j),
        });
        expect(diff).toMatchObject({ changes: true, replaces: [] });
        const updated = await host<{ outs: Props }>({ method: "update", id: "container-registry", olds: stored, news: inputs(j) });
        expect(updated.outs.__provider).toBe(code);
    });

    it("is no change while a preview has not computed the new code", async () => {
        const j = await jenkins();
        const diff = await host<{ changes: boolean }>({
            method: "diff",
            id: "container-registry",
            olds: inputs(j),
            news: inputs(j, { __provider: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" }),
        });
        expect(diff.changes).toBe(false);
    });
});

describe("a rotated Jenkins token", () => {
    const newToken = `tok-new-${randomBytes(8).toString("hex")}`;

    it("a destroy without an up first sends the stored token, and says to run up first", async () => {
        const j = await jenkins(newToken);
        // The credential as the last up stored it, with the token Jenkins no longer accepts.
        j.credentials.set("container-registry", { className: "x", fields: {} });
        const failure = await host({ method: "delete", id: "container-registry", props: inputs(j) }).then(
            () => "deleted",
            (error: Error) => error.message,
        );
        expect(failure).toContain("HTTP 401");
        expect(failure).toContain("stored at the last `pulumi up`");
        expect(failure).toContain("run `pulumi up` (it stores it)");
    });

    it("change, up, then destroy: the up updates the stored token and the delete uses it", async () => {
        const j = await jenkins(newToken);
        const stored = inputs(j);
        j.credentials.set("container-registry", { className: "x", fields: {} });
        const news = inputs(j, { jenkinsSecret: newToken });
        const diff = await host<{ changes: boolean; replaces: string[] }>({ method: "diff", id: "container-registry", olds: stored, news });
        expect(diff).toMatchObject({ changes: true, replaces: [] });
        const updated = await host<{ outs: Props }>({ method: "update", id: "container-registry", olds: stored, news });
        expect(updated.outs.jenkinsSecret).toBe(newToken);
        await host({ method: "delete", id: "container-registry", props: updated.outs });
        expect(j.credentials.has("container-registry")).toBe(false);
    });
});

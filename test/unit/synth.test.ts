import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as YAML from "yaml";

const projectDir = path.resolve(__dirname, "../..");
const work = mkdtempSync(path.join(tmpdir(), "dso-synth-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs the synth CLI exactly as the README does, in its own process. */
function synth(args: string[], project = projectDir) {
    const cli = [path.join(projectDir, "node_modules/tsx/dist/cli.mjs"), path.join(projectDir, "tools/synth.ts")];
    const result = spawnSync(process.execPath, [...cli, ...args, "--project", project], { cwd: projectDir, encoding: "utf8" });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Every file under a directory, relative path → content. */
function readTree(dir: string): Map<string, string> {
    const files = new Map<string, string>();
    const walk = (d: string) => {
        for (const entry of readdirSync(d)) {
            const full = path.join(d, entry);
            if (statSync(full).isDirectory()) walk(full);
            else files.set(path.relative(dir, full), readFileSync(full, "utf8"));
        }
    };
    walk(dir);
    return files;
}

/** A throwaway project dir with the real Pulumi.yaml and a stack file of the test's own. */
function projectWith(stack: string, stackYaml: string): string {
    const dir = mkdtempSync(path.join(work, "project-"));
    copyFileSync(path.join(projectDir, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), stackYaml);
    return dir;
}

describe.each(["local", "prod"])("synth of the committed %s stack", (stack) => {
    let out: string;
    let files: Map<string, string>;
    let run: ReturnType<typeof synth>;

    beforeAll(() => {
        out = path.join(work, `${stack}-a`);
        run = synth(["--stack", stack, "--out", out]);
        files = run.status === 0 ? readTree(out) : new Map();
    });

    it("succeeds", () => {
        expect(run.stderr.replace(/^warning: .*\n/gm, "")).toBe("");
        expect(run.status).toBe(0);
        expect(run.stdout).toMatch(new RegExp(`synth: stack ${stack}: \\d+ files`));
    });

    it("writes resources.json with type, name, parent and inputs of every resource", () => {
        const resources = JSON.parse(files.get("resources.json")!) as Array<Record<string, unknown>>;
        expect(resources.some((r) => r.type === "pulumi:pulumi:Stack")).toBe(true);
        expect(resources.some((r) => String(r.type).startsWith("dso:"))).toBe(true);
        for (const r of resources) {
            expect(Object.keys(r).sort()).toEqual(r.type === "pulumi:pulumi:Stack" ? ["inputs", "name", "type"] : ["inputs", "name", "parent", "type"]);
        }
        const names = new Set(resources.map((r) => r.name));
        for (const r of resources) if (r.parent) expect(names.has(r.parent as string)).toBe(true);
    });

    it("writes each Kubernetes object as its own YAML file named after it", () => {
        for (const [file, content] of files) {
            if (!file.startsWith("k8s/")) continue;
            const object = YAML.parse(content);
            expect(object.apiVersion, file).toBeTruthy();
            expect(file).toBe(`k8s/${object.metadata.namespace ?? "_cluster"}/${object.kind}-${object.metadata.name}.yaml`);
        }
    });

    it("writes host files under hosts/<target>/<absolute path>", () => {
        for (const file of files.keys()) {
            if (file.startsWith("hosts/")) expect(file).toMatch(/^hosts\/[^/]+\/.+/);
        }
    });

    it("warns about each operator secret that is not set, with the command that sets it", () => {
        expect(run.stderr).toMatch(/warning: dso-registry:jenkinsApiToken .* is not set; `pulumi up` will require it\. Set it with: pulumi config set --secret dso-registry:jenkinsApiToken/);
    });

    it("gives byte-identical output for the same input", () => {
        const again = path.join(work, `${stack}-b`);
        expect(synth(["--stack", stack, "--out", again]).status).toBe(0);
        const second = readTree(again);
        expect([...second.keys()].sort()).toEqual([...files.keys()].sort());
        for (const [file, content] of files) expect(second.get(file), file).toBe(content);
    });
});

describe("synth redaction", () => {
    const planted = "PLANTED-ciphertext-7f3a9c";
    let files: Map<string, string>;
    let run: ReturnType<typeof synth>;

    beforeAll(() => {
        const dir = projectWith(
            "planted",
            YAML.stringify({
                config: {
                    "dso-registry:containerRegistry": { host: "registry.example.com", pathPrefix: "apps", pushCredentials: "operator", requiresAuthForPull: true },
                    "dso-registry:registry": { mode: "in-cluster", tls: { mode: "provided" } },
                    "dso-registry:containerRegistryPassword": { secure: `v1:${planted}-password` },
                    "dso-registry:tlsCertificate": { secure: `v1:${planted}-cert` },
                    "dso-registry:tlsPrivateKey": { secure: `v1:${planted}-key` },
                    "dso-registry:jenkins": { enabled: true, url: "https://jenkins.example.com" },
                    "dso-registry:jenkinsApiToken": { secure: `v1:${planted}-token` },
                    "dso-registry:pullSecrets": { namespaces: ["apps"], flux: true },
                },
            }),
        );
        const out = path.join(work, "planted-out");
        run = synth(["--stack", "planted", "--out", out], dir);
        files = run.status === 0 ? readTree(out) : new Map();
    });

    it("succeeds without warnings when every secret is set", () => {
        expect(run.stderr).toBe("");
        expect(run.status).toBe(0);
    });

    it("never writes a secure value (or its ciphertext) anywhere", () => {
        expect(files.size).toBeGreaterThan(2);
        for (const [file, content] of files) expect(content, file).not.toContain(planted);
        expect(run.stdout + run.stderr).not.toContain(planted);
    });

    it("shows secrets as [secret]", () => {
        expect(files.get("resources.json")).toContain("[secret]");
    });
});

describe("synth with invalid config", () => {
    it("exits non-zero with the clear error and writes nothing", () => {
        const dir = projectWith(
            "broken",
            YAML.stringify({
                config: {
                    "dso-registry:containerRegistry": { host: "https://registry.example.com", pathPrefix: "Apps//x" },
                    "dso-registry:registry": { mode: "in-cluster" },
                    "dso-registry:registyr": { mode: "in-cluster" },
                },
            }),
        );
        const out = path.join(work, "broken-out");
        const run = synth(["--stack", "broken", "--out", out], dir);
        expect(run.status).toBe(1);
        expect(run.stderr).toContain("nothing was created");
        expect(run.stderr).toMatch(/dso-registry:containerRegistry\.host: .*has a scheme/);
        expect(run.stderr).toMatch(/dso-registry:containerRegistry\.pathPrefix: /);
        expect(run.stderr).toMatch(/dso-registry:registyr: unknown key; did you mean "dso-registry:registry"\?/);
        expect(existsSync(out)).toBe(false);
    });

    it("refuses a credential stored in plaintext", () => {
        const dir = projectWith(
            "plain",
            YAML.stringify({
                config: {
                    "dso-registry:containerRegistry": { host: "registry.example.com", pathPrefix: "apps" },
                    "dso-registry:registry": { mode: "in-cluster" },
                    "dso-registry:sshPrivateKey": "not-encrypted-planted",
                },
            }),
        );
        const run = synth(["--stack", "plain", "--out", path.join(work, "plain-out")], dir);
        expect(run.status).toBe(1);
        expect(run.stderr).toMatch(/dso-registry:sshPrivateKey: is stored in plaintext .*pulumi config set --secret dso-registry:sshPrivateKey/);
        expect(run.stderr).not.toContain("not-encrypted-planted");
    });

    it("names the stacks there are when the stack file is missing", () => {
        const run = synth(["--stack", "nope", "--out", path.join(work, "nope-out")]);
        expect(run.status).toBe(1);
        expect(run.stderr).toMatch(/No stack file Pulumi\.nope\.yaml\. Stacks in this project: .*local.*prod/);
    });

    it("refuses to clear a directory it did not write", () => {
        const foreign = mkdtempSync(path.join(work, "foreign-"));
        writeFileSync(path.join(foreign, "keep.txt"), "mine");
        const run = synth(["--stack", "local", "--out", foreign]);
        expect(run.status).toBe(1);
        expect(readFileSync(path.join(foreign, "keep.txt"), "utf8")).toBe("mine");
    });
});

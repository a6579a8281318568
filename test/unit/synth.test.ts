import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { synthesize, writeSynth } from "../../tools/synth";
import { committedSynthRun } from "../support/committedSynth";
import { COMMITTED_STACKS, type CommittedStack, PROJECT_DIR, readTree, type SynthRun, synthCli } from "../support/synthCli";

const work = mkdtempSync(path.join(tmpdir(), "dso-synth-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Every CLI synth this file runs starts when the file is collected, each in a process of its own, so they
// run side by side; a test awaits the one it checks.

/** A throwaway project dir with the real Pulumi.yaml and a stack file of the test's own. */
function projectWith(stack: string, stackYaml: string): string {
    const dir = mkdtempSync(path.join(work, "project-"));
    copyFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), stackYaml);
    return dir;
}

/**
 * The files each committed stack places on machines (none unless listed here). The local stack runs
 * everything in the cluster, and the existing-registry stack touches no machine; prod sets up its
 * registry host and its three k3s nodes over SSH.
 */
const expectedHostFiles: Partial<Record<CommittedStack, string[]>> = {
    prod: [
        "hosts/registry-01.dso.example.com/etc/caddy/Caddyfile",
        "hosts/registry-01.dso.example.com/etc/caddy/dso-registry/users-pull",
        "hosts/registry-01.dso.example.com/etc/caddy/dso-registry/users-push",
        "hosts/registry-01.dso.example.com/etc/dso-registry/config.yml",
        "hosts/registry-01.dso.example.com/etc/cron.d/dso-registry",
        "hosts/registry-01.dso.example.com/usr/local/sbin/dso-registry-backup",
        "hosts/registry-01.dso.example.com/usr/local/sbin/dso-registry-gc",
        "hosts/k3s-server-1/etc/rancher/k3s/registries.yaml",
        "hosts/k3s-agent-1/etc/rancher/k3s/registries.yaml",
        "hosts/k3s-agent-2/etc/rancher/k3s/registries.yaml",
    ],
    // kind.dataDir's default, under the home of the user who runs the synth.
    kind: ["front/Caddyfile", "front/users-push", "front/users-pull", "front/config.yml", "bin/node-inside.sh", "bin/node-watch.sh"].map(
        (file) => `hosts/localhost${homedir()}/.local/share/dso-registry-kind/${file}`,
    ),
};

it("synthesizes every stack file of the project (a new Pulumi.<stack>.yaml is one more name in COMMITTED_STACKS)", () => {
    const stackFiles = readdirSync(PROJECT_DIR).flatMap((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1] ?? []);
    expect([...COMMITTED_STACKS].sort()).toEqual(stackFiles.sort());
});

describe.each(COMMITTED_STACKS)("synth of the committed %s stack", (stack) => {
    // The synth command's run for this stack, made once per test run (test/support/committedSynth.ts).
    const run = committedSynthRun(stack);
    const files = run.status === 0 ? readTree(run.dir) : new Map<string, string>();
    // The one extra synth of each committed stack per test run: determinism needs a second run to
    // compare. It runs in this process, as the CLI's would (synthesize, then writeSynth), apart from
    // the global setup's, and costs no process of its own.
    const again = path.join(work, `${stack}-again`);

    it("succeeds", () => {
        expect(run.stderr.replace(/^warning: .*\n/gm, "")).toBe("");
        expect(run.status).toBe(0);
        expect(run.stdout).toMatch(new RegExp(`synth: stack ${stack}: \\d+ files`));
    });

    it("writes resources.json with type, name, URN, parent, options where set, and inputs of every resource", () => {
        const resources = JSON.parse(files.get("resources.json")!) as Array<Record<string, unknown>>;
        expect(resources.some((r) => r.type === "pulumi:pulumi:Stack")).toBe(true);
        expect(resources.some((r) => String(r.type).startsWith("dso-registry:"))).toBe(true);
        for (const r of resources) {
            const keys = r.type === "pulumi:pulumi:Stack" ? ["inputs", "name", "type", "urn"] : ["inputs", "name", "parent", "type", "urn"];
            expect(Object.keys(r).sort()).toEqual((r.options ? [...keys, "options"] : keys).sort());
            // The URN the engine gives it: stack, project, the parents' types and its own, its name.
            expect(String(r.urn).startsWith(`urn:pulumi:${stack}::dso-registry::`), String(r.urn)).toBe(true);
            expect(String(r.urn).endsWith(`${String(r.type)}::${String(r.name)}`), String(r.urn)).toBe(true);
        }
        const names = new Set(resources.map((r) => r.name));
        for (const r of resources) if (r.parent) expect(names.has(r.parent as string)).toBe(true);
    });

    it("writes in resources.json the options that change what the engine does, and no others", () => {
        const resources = JSON.parse(files.get("resources.json")!) as Array<{ options?: Record<string, unknown> }>;
        const engineOptions = [
            "additionalSecretOutputs",
            "aliases",
            "deleteBeforeReplace",
            "dependsOn",
            "ignoreChanges",
            "protect",
            "replaceOnChanges",
            "retainOnDelete",
        ];
        const written = new Set(resources.flatMap((r) => Object.keys(r.options ?? {})));
        expect([...written].filter((option) => !engineOptions.includes(option))).toEqual([]);
        // A registry of our own orders resources with dependsOn and keeps generated secrets secret in state.
        if (stack !== "existing") expect([...written]).toEqual(expect.arrayContaining(["additionalSecretOutputs", "dependsOn"]));
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
        const underHosts = [...files.keys()].filter((file) => file.startsWith("hosts/"));
        for (const file of underHosts) expect(file).toMatch(/^hosts\/[^/]+\/.+/);
        // Scripts are the next test's; these are the files placed on machines.
        const hostFiles = underHosts.filter((file) => !/^hosts\/[^/]+\/commands\//.test(file));
        const expected = expectedHostFiles[stack] ?? [];
        if (expected.length === 0) expect(hostFiles).toEqual([]);
        else expect(hostFiles).toEqual(expect.arrayContaining(expected));
    });

    it("writes every command a machine runs under the machine it runs on, never at the top level", () => {
        expect([...files.keys()].filter((file) => file.startsWith("commands/"))).toEqual([]);
        const scripts = [...files.keys()].filter((file) => /^hosts\/[^/]+\/commands\//.test(file));
        if (stack === "existing") {
            // Nothing of an existing registry, and no node, is ours to set up.
            expect(scripts).toEqual([]);
            return;
        }
        if (stack === "local") {
            // The cluster-DNS change of the Corefile runs where Pulumi runs; nothing runs on a node over SSH.
            expect(scripts.sort()).toEqual([
                "hosts/localhost/commands/cluster-dns-corefile.create.sh",
                "hosts/localhost/commands/cluster-dns-corefile.delete.sh",
            ]);
            return;
        }
        for (const file of scripts) expect(file).toMatch(/^hosts\/[^/]+\/commands\/[^/]+\.(create|update|delete)\.sh$/);
        if (stack !== "prod") return;
        const registriesYaml = files.get("hosts/k3s-agent-1/commands/node-trust-k3s-agent-1-registries-yaml-write.create.sh");
        expect(registriesYaml).toMatch(/^sudo -n sh -c /);
        expect(files.get("hosts/registry-01.dso.example.com/commands/registry-host-container-run.create.sh")).toContain("docker run");
        expect(files.has("hosts/registry-01.dso.example.com/commands/registry-host-container-run.delete.sh")).toBe(true);
    });

    it("warns about each operator secret that is not set, with the command that sets it", () => {
        const unset = [...run.stderr.matchAll(/^warning: dso-registry:(\w+) \(.*\) is not set; (.*)$/gm)];
        // The local stack's Jenkins token is the operator's, set after `pulumi stack init`; the kind stack
        // has no operator secret, so it warns about none.
        if (stack === "local") expect(unset.map(([, key]) => key)).toContain("jenkinsApiToken");
        if (stack === "kind") expect(unset).toEqual([]);
        for (const [, key, rest] of unset) {
            expect(rest).toMatch(
                new RegExp(`^\`pulumi up\` will require it\\. Set it with: pulumi config set --secret dso-registry:${key}`),
            );
        }
    });

    it("gives byte-identical output for the same input", async () => {
        writeSynth(again, stack, await synthesize(PROJECT_DIR, stack));
        const second = readTree(again);
        expect([...second.keys()].sort()).toEqual([...files.keys()].sort());
        for (const [file, content] of files) expect(second.get(file), file).toBe(content);
    });
});

describe("synth redaction", () => {
    const planted = "PLANTED-ciphertext-7f3a9c";
    let files: Map<string, string>;
    let run: SynthRun;
    const out = path.join(work, "planted-out");
    const plantedRun = synthCli(
        ["--stack", "planted", "--out", out],
        projectWith(
            "planted",
            YAML.stringify({
                config: {
                    "dso-registry:containerRegistry": {
                        host: "registry.example.com",
                        pathPrefix: "apps",
                        pushCredentials: "operator",
                        requiresAuthForPull: true,
                    },
                    "dso-registry:registry": { mode: "in-cluster", tls: { mode: "provided" } },
                    "dso-registry:containerRegistryPassword": { secure: `v1:${planted}-password` },
                    "dso-registry:tlsCertificate": { secure: `v1:${planted}-cert` },
                    "dso-registry:tlsPrivateKey": { secure: `v1:${planted}-key` },
                    "dso-registry:jenkins": { enabled: true, url: "https://jenkins.example.com" },
                    "dso-registry:jenkinsApiToken": { secure: `v1:${planted}-token` },
                    "dso-registry:pullSecrets": { namespaces: ["apps"], flux: true },
                },
            }),
        ),
    );

    beforeAll(async () => {
        run = await plantedRun;
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
    const brokenOut = path.join(work, "broken-out");
    const broken = synthCli(
        ["--stack", "broken", "--out", brokenOut],
        projectWith(
            "broken",
            YAML.stringify({
                config: {
                    "dso-registry:containerRegistry": { host: "https://registry.example.com", pathPrefix: "Apps//x" },
                    "dso-registry:registry": { mode: "in-cluster" },
                    "dso-registry:registyr": { mode: "in-cluster" },
                },
            }),
        ),
    );
    const plain = synthCli(
        ["--stack", "plain", "--out", path.join(work, "plain-out")],
        projectWith(
            "plain",
            YAML.stringify({
                config: {
                    "dso-registry:containerRegistry": { host: "registry.example.com", pathPrefix: "apps" },
                    "dso-registry:registry": { mode: "in-cluster" },
                    "dso-registry:sshPrivateKey": "not-encrypted-planted",
                },
            }),
        ),
    );
    const missingStack = synthCli(["--stack", "nope", "--out", path.join(work, "nope-out")]);
    const foreign = mkdtempSync(path.join(work, "foreign-"));
    writeFileSync(path.join(foreign, "keep.txt"), "mine");
    // A stack of its own: the committed ones are synthesized once per run, by the global setup.
    const intoForeign = synthCli(
        ["--stack", "small", "--out", foreign],
        projectWith(
            "small",
            YAML.stringify({
                config: {
                    "dso-registry:containerRegistry": { host: "registry.example.com", pathPrefix: "apps" },
                    "dso-registry:registry": { mode: "in-cluster" },
                },
            }),
        ),
    );

    it("exits non-zero with the clear error and writes nothing", async () => {
        const run = await broken;
        expect(run.status).toBe(1);
        expect(run.stderr).toContain("nothing was created");
        expect(run.stderr).toMatch(/dso-registry:containerRegistry\.host: .*has a scheme/);
        expect(run.stderr).toMatch(/dso-registry:containerRegistry\.pathPrefix: /);
        expect(run.stderr).toMatch(/dso-registry:registyr: unknown key; did you mean "dso-registry:registry"\?/);
        expect(existsSync(brokenOut)).toBe(false);
    });

    it("refuses a credential stored in plaintext", async () => {
        const run = await plain;
        expect(run.status).toBe(1);
        expect(run.stderr).toMatch(
            /dso-registry:sshPrivateKey: is stored in plaintext .*pulumi config set --secret dso-registry:sshPrivateKey/,
        );
        expect(run.stderr).not.toContain("not-encrypted-planted");
    });

    it("names the stacks there are when the stack file is missing", async () => {
        const run = await missingStack;
        expect(run.status).toBe(1);
        expect(run.stderr).toMatch(/No stack file Pulumi\.nope\.yaml\. Stacks in this project: .*local.*prod/);
    });

    it("refuses to clear a directory it did not write", async () => {
        const run = await intoForeign;
        expect(run.status).toBe(1);
        expect(readFileSync(path.join(foreign, "keep.txt"), "utf8")).toBe("mine");
    });
});

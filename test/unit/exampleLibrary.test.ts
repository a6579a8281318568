/**
 * examples/library, a program of its own built from the package's public surface, synthesized as
 * `npm run synth -- --project examples/library --stack dev` writes it; the package as another program
 * resolves it (package.json) and the example's imports (the import rules).
 * Covers: examples/library/index.ts, tools/synth.ts (another project's program), package.json, tsconfig.build.json, Pulumi.yaml.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { PROJECT_DIR, readTree, type SynthRun, synthCli } from "../support/synthCli";

const EXAMPLE_DIR = path.join(PROJECT_DIR, "examples/library");
const work = mkdtempSync(path.join(tmpdir(), "example-library-"));
const out = path.join(work, "out");
let run: SynthRun;
let files: Map<string, string>;

beforeAll(async () => {
    run = await synthCli(["--stack", "dev", "--out", out], EXAMPLE_DIR);
    files = run.status === 0 ? readTree(out) : new Map();
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

const object = (file: string) => YAML.parse(files.get(file) ?? "null");

describe("examples/library under the synth", () => {
    it("synthesizes without a warning", () => {
        expect(run.stderr).toBe("");
        expect(run.status, run.stderr).toBe(0);
    });

    it("places the registry from its own plain config: host, namespace and images, on the cluster's default ingress class", () => {
        const ingress = object("k8s/registry/Ingress-registry.yaml");
        // The example names no class: the API server gives the Ingress the cluster's default.
        expect(ingress.spec).not.toHaveProperty("ingressClassName");
        expect(ingress.spec.rules.map((r: { host: string }) => r.host)).toEqual(["registry.lab.example"]);
        const images = object("k8s/registry/Deployment-registry.yaml").spec.template.spec.containers.map((c: { image: string }) => c.image);
        expect(images).toEqual(expect.arrayContaining(["registry:3.1.2", "caddy:2.11.9"]));
    });

    it("runs node trust in a privileged namespace of its own, for the registry's host, after the registry's Deployment", () => {
        const daemonSet = object("k8s/registry-node-trust/DaemonSet-dso-node-trust.yaml");
        expect(daemonSet.spec.template.spec.containers[0].securityContext).toEqual({ privileged: true });
        expect(object("k8s/_cluster/Namespace-registry-node-trust.yaml").metadata.labels).toEqual({
            "pod-security.kubernetes.io/enforce": "privileged",
        });
        const data = object("k8s/registry-node-trust/ConfigMap-dso-node-trust.yaml").data;
        expect(data["hosts.toml"]).toContain('server = "https://registry.lab.example"');
        expect(Object.keys(data)).toContain("ca.crt");
        const resources = JSON.parse(files.get("resources.json") ?? "[]") as { name: string; options?: { dependsOn?: string[] } }[];
        expect(resources.find((r) => r.name === "node-trust")?.options?.dependsOn).toEqual(["registry-deployment-registry"]);
    });

    it("exports the registry's URL, its exposed children's names and the push account, its password masked", () => {
        expect(JSON.parse(files.get("outputs.json") ?? "{}")).toMatchObject({
            registryUrl: "https://registry.lab.example",
            registryDeployment: "registry",
            nodeTrustDaemonSet: "dso-node-trust",
            pushCredentials: { username: "ci-push", password: "[secret]" },
        });
    });
});

describe("the package as a program imports it", () => {
    const pkg = JSON.parse(readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8"));

    it("package.json's main and types name the public surface compiled to dist/ by its own build config, and the tarball holds dist/", () => {
        expect([pkg.main, pkg.types]).toEqual(["dist/index.js", "dist/index.d.ts"]);
        const build = JSON.parse(readFileSync(path.join(PROJECT_DIR, "tsconfig.build.json"), "utf8"));
        expect(build.files).toEqual(["components/index.ts"]);
        expect([build.compilerOptions.rootDir, build.compilerOptions.outDir, build.compilerOptions.declaration]).toEqual([
            "components",
            "dist",
            true,
        ]);
        expect(pkg.files).toContain("dist");
        expect(pkg.scripts.prepack).toContain("build:package");
    });

    it("package.json has no exports map: a dynamic provider's code, serialized from the installed package, requires its modules by path", () => {
        expect(pkg.exports).toBeUndefined();
    });

    it.each([".", "examples/library"])("the Pulumi.yaml in %s names its program, index.ts, not the package's main", (dir) => {
        expect(YAML.parse(readFileSync(path.join(PROJECT_DIR, dir, "Pulumi.yaml"), "utf8")).main).toBe("index.ts");
    });

    it("the example imports the package through components/index.ts alone (the import rules, run on examples/)", () => {
        const cruise = spawnSync(
            process.execPath,
            [
                path.join(PROJECT_DIR, "node_modules/dependency-cruiser/bin/dependency-cruiser.mjs"),
                "--config",
                ".dependency-cruiser.cjs",
                "examples",
            ],
            { cwd: PROJECT_DIR, encoding: "utf8" },
        );
        expect(cruise.status, cruise.stdout + cruise.stderr).toBe(0);
        expect(cruise.stdout).toContain("no dependency violations found");
    });
});

/**
 * The synth output of both committed stacks: every Kubernetes object (whoever renders it) is valid
 * against the API schema, and the in-cluster registry's own pods meet the restricted standard.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import * as YAML from "yaml";
import { podTemplates, type K8sObject } from "../../components/inCluster/manifests";
import { restrictedPodProblems, schemaProblems } from "../support/k8sValidate";
import { privateDir, removeDir } from "../support/serverProcess";

const projectDir = path.resolve(__dirname, "../..");
const work = privateDir("in-cluster-synth");
afterAll(() => removeDir(work));

function synthObjects(stack: string): K8sObject[] {
    const out = path.join(work, stack);
    const cli = [path.join(projectDir, "node_modules/tsx/dist/cli.mjs"), path.join(projectDir, "tools/synth.ts")];
    const result = spawnSync(process.execPath, [...cli, "--stack", stack, "--out", out], { cwd: projectDir, encoding: "utf8" });
    if (result.status !== 0) throw new Error(`synth of ${stack} failed: ${result.stderr}`);
    const files: string[] = [];
    const walk = (d: string) => {
        for (const entry of readdirSync(d)) {
            const full = path.join(d, entry);
            if (statSync(full).isDirectory()) walk(full);
            else if (full.endsWith(".yaml")) files.push(full);
        }
    };
    walk(path.join(out, "k8s"));
    return files.map((f) => YAML.parse(readFileSync(f, "utf8")) as K8sObject);
}

/**
 * Synth writes a secret value as the placeholder "[secret]", even where the API expects a map (a
 * Secret's data): the placeholder stands for a map the schema cannot see, so it is checked as empty.
 */
function withoutPlaceholders(object: K8sObject): Record<string, unknown> {
    const copy: Record<string, unknown> = { ...object };
    for (const field of ["data", "stringData"]) if (copy[field] === "[secret]") copy[field] = {};
    return copy;
}

describe.each(["local", "prod"])("synth of the %s stack", (stack) => {
    let objects: K8sObject[];
    beforeAll(() => {
        objects = synthObjects(stack);
    });

    test("every Kubernetes object is valid against the API schema", async () => {
        expect(objects.length).toBeGreaterThan(0);
        const problems = await Promise.all(objects.map(async (o) => (await schemaProblems(withoutPlaceholders(o))).map((p) => `${o.metadata.name}: ${p}`)));
        expect(problems.flat()).toEqual([]);
    });

    test("the registry's own pods meet the restricted Pod Security Standard", () => {
        const ours = objects.filter((o) => o.metadata.labels?.["app.kubernetes.io/name"] === "registry");
        const problems = podTemplates(ours).flatMap((t) => restrictedPodProblems(t.spec).map((p) => `${t.owner}: ${p}`));
        expect(problems).toEqual([]);
    });
});

test("the local stack runs the registry in the cluster, one object per file", () => {
    const names = synthObjects("local").map((o) => `${o.kind}/${o.metadata.name}`);
    expect(names).toEqual(expect.arrayContaining(["Namespace/dso", "Deployment/registry", "Service/registry", "Ingress/registry", "Secret/registry-htpasswd", "PersistentVolumeClaim/registry-data", "ConfigMap/local-registry-hosting"]));
});

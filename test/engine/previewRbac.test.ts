/**
 * The pull-request preview's own account (docs/examples/preview-rbac.yaml) on a real API server, under the
 * real engine: the local stack deployed with an administrator's kubeconfig, the example applied, and a
 * kubeconfig for its ServiceAccount made from a TokenRequest. With it, `pulumi preview` of a change succeeds,
 * plans what the administrator's preview plans, and every server-side dry-run it sends is answered (the API
 * server's own request counts, read from its metrics), as is every question the program's check of the
 * cluster asks; a claim shrunk fails the preview with the API server's refusal, as the dry-run finds it. Each
 * rule of the example taken out in turn: the preview still passes (the provider falls back on a client-side
 * diff where the API server refuses a dry-run), but what it no longer checks is shown: without patch no
 * dry-run at all (the shrunk claim passes), without create none of a new object, without get none of an
 * update and none of the program's questions, without the namespaces or the classes some of those. The same
 * kubeconfig cannot delete (`kubectl auth can-i` says no, a real delete is forbidden) and cannot write for real
 * (the example's admission policy refuses all but dry-runs); the workflow's check passes it and refuses the
 * administrator's. And the state: the preview reads a file backend mounted read-only, where an `up` fails on
 * its lock.
 * Covers: tools/preview-access-check.sh, docs/examples/preview-rbac.yaml.
 */
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { PROJECT } from "../../components/shared/facts";
import { type FakeJenkins, startFakeJenkins } from "../support/fakeJenkins";
import type { ControlPlane } from "../support/kubeControlPlane";
import { startLocalCluster } from "../support/localCluster";
import { engineSet, openWorkspace, PROJECT_DIR, type Workspace } from "../support/pulumiEngine";
import { run } from "../support/serverProcess";

const STACK = "local";
const EXAMPLE = path.join(PROJECT_DIR, "docs/examples/preview-rbac.yaml");
/** The namespaces of the local stack's objects (its synth's k8s/ directories), and those the workflow always asks about. */
const NAMESPACES = ["dso", "dso-node-trust", "jenkins", "kube-public"];
const jenkinsToken = `token-${randomBytes(12).toString("hex")}`;

let kube: ControlPlane;
let jenkins: FakeJenkins;
let ws: Workspace;
let kubectlBin: string;
/** The kubeconfig of the example's ServiceAccount. */
let previewKubeconfig: string;

const kubectl = (kubeconfig: string, args: readonly string[], input?: string) =>
    run(kubectlBin, ["--kubeconfig", kubeconfig, ...args], input === undefined ? {} : { input });
const admin = (args: readonly string[], input?: string) => {
    const r = kubectl(kube.kubeconfig, args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
};

/** The example's documents. */
const exampleDocuments = () => YAML.parseAllDocuments(readFileSync(EXAMPLE, "utf8")).map((d) => d.toJS());
/** Applies the example, its rules first changed by `change` (a ClusterRole's rules, by the role's name). */
function applyExample(change?: (role: string, rules: Array<Record<string, unknown>>) => Array<Record<string, unknown>>): void {
    const docs = exampleDocuments().map((doc) =>
        doc.kind === "ClusterRole" && change ? { ...doc, rules: change(doc.metadata.name, doc.rules) } : doc,
    );
    admin(["apply", "-f", "-"], docs.map((d) => YAML.stringify(d)).join("---\n"));
}

/** The API server's count of each dry-run request by resource, verb and code (`apiserver_request_total`). */
function dryRunCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const line of admin(["get", "--raw", "/metrics"]).split("\n")) {
        if (!line.startsWith("apiserver_request_total{") || !line.includes('dry_run="All"')) continue;
        const label = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(line)?.[1] ?? "";
        const key = `${label("verb")} ${label("resource")} ${label("code")}`;
        counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1)));
    }
    return counts;
}

/** What `action` added to the dry-run counts, e.g. { "APPLY persistentvolumeclaims 201": 1 }. */
async function dryRunsOf<T>(action: () => Promise<T>): Promise<{ result: T; dryRuns: Record<string, number> }> {
    const before = dryRunCounts();
    const result = await action();
    const dryRuns: Record<string, number> = {};
    for (const [key, count] of dryRunCounts()) if (count > (before.get(key) ?? 0)) dryRuns[key] = count - (before.get(key) ?? 0);
    return { result, dryRuns };
}

/** `pulumi preview` of the stack with `kubeconfig` (the workspace's other settings as they are). */
const preview = (kubeconfig: string, flags: readonly string[] = []) =>
    ws.shell(`KUBECONFIG='${kubeconfig}' pulumi preview ${flags.join(" ")} --non-interactive -s ${STACK}`);

/** The steps a `preview --json` plans, sorted: operation and resource name. */
const plannedSteps = (json: string) =>
    (JSON.parse(json) as { steps: { op: string; urn: string }[] }).steps
        .filter((s) => s.op !== "same")
        .map((s) => `${s.op} ${s.urn.slice(s.urn.lastIndexOf("::") + 2)}`)
        .sort();

/** The program's check of the cluster could not ask something (components/cluster/gate.ts). */
const UNCHECKED = /could not check the cluster for this stack's prerequisites/;

const setSize = (size: string) => ws.pulumiOk(["config", "set", "--path", `${PROJECT}:registry.storage.size`, size, "-s", STACK]);

beforeAll(async () => {
    kubectlBin = path.join(engineSet(), "bin", "kubectl");
    kube = await startLocalCluster();
    jenkins = await startFakeJenkins({ user: "admin", apiToken: jenkinsToken });
    ws = openWorkspace({ stackFiles: [STACK], env: { KUBECONFIG: kube.kubeconfig } });
    await ws.pulumiOk(["stack", "init", STACK]);
    await ws.pulumiOk(["config", "set", "--path", `${PROJECT}:jenkins.url`, jenkins.url, "-s", STACK]);
    await ws.pulumiOk(["config", "set", "--secret", `${PROJECT}:jenkinsApiToken`, "-s", STACK], { input: jenkinsToken });
    // The stack as an administrator deployed it; the example applied after its first `up`, as it says.
    await ws.pulumiOk(["up", "--yes", "--skip-preview", "-s", STACK]);
    applyExample();
    // The account's kubeconfig: the cluster as the administrator's names it, a token from a TokenRequest.
    const token = admin(["-n", "dso-preview", "create", "token", "preview", "--duration=2h"]).trim();
    const cluster = YAML.parse(readFileSync(kube.kubeconfig, "utf8")).clusters[0].cluster;
    previewKubeconfig = path.join(ws.dir, "preview.kubeconfig");
    writeFileSync(
        previewKubeconfig,
        YAML.stringify({
            apiVersion: "v1",
            kind: "Config",
            clusters: [{ name: "registry", cluster }],
            users: [{ name: "preview", user: { token } }],
            contexts: [{ name: "preview", context: { cluster: "registry", user: "preview" } }],
            "current-context": "preview",
        }),
        { mode: 0o600 },
    );
    // A change for the previews: the data claim grown (an update), the cache's claim made anew at a new size (a
    // create, an update of its Deployment, a delete) and the alert rules that name it (a replacement).
    await setSize("25Gi");
    await ws.pulumiOk(["config", "set", "--path", `${PROJECT}:registry.mirrors[0].maxSize`, "12Gi", "-s", STACK]);
}, 20 * 60_000);

afterAll(async () => {
    ws?.close();
    await jenkins?.close();
    kube?.stop();
});

describe("the preview's own account (docs/examples/preview-rbac.yaml), real API server", () => {
    it("previews the change as the administrator's kubeconfig does, every dry-run and every question of the program's answered", async () => {
        const byAdmin = await preview(kube.kubeconfig, ["--json"]);
        expect(byAdmin.code, byAdmin.stderr).toBe(0);
        const { result: byAccount, dryRuns } = await dryRunsOf(() => preview(previewKubeconfig, ["--json"]));
        expect(byAccount.code, byAccount.stdout + byAccount.stderr).toBe(0);
        expect(plannedSteps(byAccount.stdout)).toEqual(plannedSteps(byAdmin.stdout));
        expect(plannedSteps(byAccount.stdout)).toEqual(
            expect.arrayContaining([
                "create registry-persistentvolumeclaim-registry-mirror-docker-io-12gi",
                "update registry-persistentvolumeclaim-registry-data",
                "update registry-deployment-registry-mirror-docker-io",
            ]),
        );
        console.log(`the account's preview: dry-runs the API server answered ${JSON.stringify(dryRuns)}`);
        // Each update and the create went to the API server as a dry-run, and none was refused.
        expect(dryRuns).toMatchObject({
            "APPLY persistentvolumeclaims 200": expect.any(Number),
            "APPLY persistentvolumeclaims 201": expect.any(Number),
            "APPLY deployments 200": expect.any(Number),
            "APPLY configmaps 200": expect.any(Number),
        });
        expect(Object.keys(dryRuns).filter((k) => !/ 20[01]$/.test(k))).toEqual([]);
        expect(byAccount.stdout + byAccount.stderr).not.toMatch(UNCHECKED);
        expect(byAccount.stdout + byAccount.stderr).not.toMatch(/forbidden/i);
    });

    it("fails a claim shrunk with the API server's refusal, which only the dry-run finds", async () => {
        await setSize("15Gi");
        try {
            const r = await preview(previewKubeconfig);
            expect(r.code, r.stdout + r.stderr).not.toBe(0);
            expect(r.stdout + r.stderr).toMatch(/spec\.resources\.requests\.storage: Forbidden: field can not be less than/);
        } finally {
            await setSize("25Gi");
        }
    });

    describe("each rule of the example is needed: without it the preview passes, checking less", () => {
        type Rule = Record<string, unknown> & { resources: string[]; verbs: string[]; resourceNames?: string[] };
        /** The example with `verb` taken out of the rules of `role` for `resource`. */
        const without =
            (role: string, resource: string, verb: string) =>
            (name: string, rules: Array<Record<string, unknown>>): Array<Record<string, unknown>> =>
                name !== role
                    ? rules
                    : (rules as Rule[])
                          .map((r) => (r.resources.includes(resource) ? { ...r, verbs: r.verbs.filter((v) => v !== verb) } : r))
                          .filter((r) => r.verbs.length > 0);
        afterAll(() => applyExample());

        it("without patch: no dry-run is sent, and the shrunk claim passes unnoticed", async () => {
            applyExample((name, rules) =>
                name === "dso-registry-preview"
                    ? (rules as Rule[]).map((r) => ({ ...r, verbs: r.verbs.filter((v) => v !== "patch") }))
                    : rules,
            );
            await setSize("15Gi");
            try {
                const { result, dryRuns } = await dryRunsOf(() => preview(previewKubeconfig));
                expect(result.code, result.stdout + result.stderr).toBe(0);
                expect(dryRuns).toEqual({});
            } finally {
                await setSize("25Gi");
            }
        });

        it("without create: the new claim's dry-run is refused", async () => {
            applyExample(without("dso-registry-preview", "persistentvolumeclaims", "create"));
            const { result, dryRuns } = await dryRunsOf(() => preview(previewKubeconfig));
            expect(result.code, result.stdout + result.stderr).toBe(0);
            expect(dryRuns["APPLY persistentvolumeclaims 403"]).toBe(1);
            expect(dryRuns["APPLY persistentvolumeclaims 201"]).toBeUndefined();
            expect(result.stdout + result.stderr).toMatch(/cannot create resource "persistentvolumeclaims"/);
        });

        it("without get: no update is dry-run (the provider reads the object first), and the program cannot check the stack's objects", async () => {
            applyExample((name, rules) =>
                name === "dso-registry-preview"
                    ? (rules as Rule[]).map((r) => ({ ...r, verbs: r.verbs.filter((v) => v !== "get") }))
                    : rules,
            );
            const { result, dryRuns } = await dryRunsOf(() => preview(previewKubeconfig));
            expect(result.code, result.stdout + result.stderr).toBe(0);
            expect(dryRuns["APPLY deployments 200"]).toBeUndefined();
            expect(dryRuns["APPLY persistentvolumeclaims 201"]).toBe(1);
            expect(result.stdout + result.stderr).toMatch(UNCHECKED);
            expect(result.stdout + result.stderr).toMatch(/cannot get resource "deployments" in API group "apps" in the namespace "dso"/);
        });

        it("without the namespaces: the program cannot check them", async () => {
            applyExample(without("dso-registry-preview-cluster", "namespaces", "get"));
            const result = await preview(previewKubeconfig);
            expect(result.code, result.stdout + result.stderr).toBe(0);
            expect(result.stdout + result.stderr).toMatch(/could not check[^\n]*cannot get resource "namespaces"/);
        });

        it("without the classes: the program cannot check the claims' StorageClass", async () => {
            applyExample(without("dso-registry-preview-cluster", "storageclasses", "list"));
            const result = await preview(previewKubeconfig);
            expect(result.code, result.stdout + result.stderr).toBe(0);
            expect(result.stdout + result.stderr).toMatch(/could not check[^\n]*cannot list resource "storageclasses"/);
        });
    });

    it("cannot delete: `kubectl auth can-i` says no, and a real delete is forbidden", () => {
        for (const question of [
            ["delete", "deployments", "-n", "dso"],
            ["delete", "persistentvolumeclaims", "-n", "dso"],
            ["delete", "secrets", "-n", "dso"],
            ["delete", "configmaps", "-n", "jenkins"],
            ["delete", "daemonsets", "-n", "dso-node-trust"],
            ["delete", "namespaces"],
            ["deletecollection", "persistentvolumeclaims", "-n", "dso"],
            ["*", "*", "-n", "dso"],
        ]) {
            const r = kubectl(previewKubeconfig, ["auth", "can-i", ...question]);
            expect(r.stdout.trim(), `can-i ${question.join(" ")}`).toBe("no");
        }
        for (const object of [
            ["deployment", "registry", "-n", "dso"],
            ["persistentvolumeclaim", "registry-data", "-n", "dso"],
            ["namespace", "dso"],
        ]) {
            const r = kubectl(previewKubeconfig, ["delete", ...object, "--wait=false"]);
            expect(r.code, object.join(" ")).not.toBe(0);
            expect(r.stderr).toMatch(/Forbidden.*cannot delete resource/);
            expect(admin(["get", ...object, "-o", "name"]).trim()).not.toBe("");
        }
    });

    it("cannot write for real either: the admission policy refuses all but its dry-runs", async () => {
        const patch = [
            "-n",
            "dso",
            "patch",
            "configmap",
            "registry-config",
            "--type=merge",
            "-p",
            '{"metadata":{"labels":{"edited":"yes"}}}',
        ];
        // The policy takes effect once the API server has read it.
        const deadline = Date.now() + 60_000;
        let real = kubectl(previewKubeconfig, patch);
        while (real.code === 0 || !/ValidatingAdmissionPolicy/.test(real.stderr)) {
            if (real.code === 0) admin(["-n", "dso", "label", "configmap", "registry-config", "edited-"]);
            expect(Date.now(), `the policy never refused the account's patch: ${real.stderr}`).toBeLessThan(deadline);
            await new Promise((resolve) => setTimeout(resolve, 1000));
            real = kubectl(previewKubeconfig, patch);
        }
        expect(real.stderr).toContain("the pull-request preview's account may send dry-run requests only");
        const dry = kubectl(previewKubeconfig, [...patch, "--dry-run=server"]);
        expect(dry.code, dry.stderr).toBe(0);
        const create = kubectl(previewKubeconfig, ["-n", "dso", "create", "configmap", "written-by-a-preview", "--from-literal=a=b"]);
        expect(create.stderr).toContain("may send dry-run requests only");
        expect(admin(["-n", "dso", "get", "configmap", "registry-config", "-o", "jsonpath={.metadata.labels.edited}"])).toBe("");
        expect(admin(["-n", "dso", "get", "configmap", "--ignore-not-found", "written-by-a-preview", "-o", "name"])).toBe("");
    });

    describe("the workflow's check of the kubeconfig (.github/workflows/preview.yml)", () => {
        const workflow = YAML.parse(readFileSync(path.join(PROJECT_DIR, ".github/workflows/preview.yml"), "utf8"));
        const step = workflow.jobs.preview.steps.find((s: { name?: string }) => s.name === "The kubeconfig cannot delete");
        /** The step's script as GitHub runs it, the engine set's kubectl on PATH, with `kubeconfig`. */
        const runStep = (kubeconfig: string, mayDelete = "") =>
            run("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", step.run], {
                cwd: PROJECT_DIR,
                env: {
                    PATH: `${path.dirname(kubectlBin)}:${process.env.PATH}`,
                    HOME: ws.dir,
                    KUBECONFIG: kubeconfig,
                    STACK,
                    NAMESPACES: `${NAMESPACES.join(" ")} `,
                    MAY_DELETE: mayDelete,
                },
                timeout: 300_000,
            });

        it("passes the account's kubeconfig", () => {
            const r = runStep(previewKubeconfig);
            expect(r.code, r.stdout + r.stderr).toBe(0);
            expect(r.stdout).toContain(
                "The kubeconfig may delete nothing asked about (namespaces: kube-system default dso dso-node-trust jenkins kube-public).",
            );
        });

        it("refuses the administrator's, unless the repository variable names the stack", () => {
            const r = runStep(kube.kubeconfig);
            expect(r.code).toBe(3);
            expect(r.stdout).toMatch(/^ {2}yes: kubectl auth can-i --context \S+ \* \* --all-namespaces$/m);
            expect(r.stdout).toMatch(/^ {2}yes: kubectl auth can-i --context \S+ delete deployments\.apps --namespace dso$/m);
            expect(r.stdout).toContain("::error::The kubeconfig of stack local (secret KUBECONFIG_local) may delete");
            const allowed = runStep(kube.kubeconfig, "local");
            expect(allowed.code).toBe(0);
            expect(allowed.stdout).toContain("::warning::The kubeconfig of stack local may delete");
        });

        it("refuses a kubeconfig for a role that may delete in one namespace of the stack only", () => {
            admin([
                "-n",
                "jenkins",
                "create",
                "rolebinding",
                "preview-may-delete",
                "--clusterrole=edit",
                "--serviceaccount=dso-preview:preview",
            ]);
            try {
                const r = runStep(previewKubeconfig);
                expect(r.code).toBe(3);
                expect(r.stdout).toMatch(/yes: kubectl auth can-i --context preview delete configmaps --namespace jenkins$/m);
                expect(r.stdout).not.toMatch(/--namespace dso$/m);
            } finally {
                admin(["-n", "jenkins", "delete", "rolebinding", "preview-may-delete"]);
            }
        });

        it("refuses one whose cluster does not answer", () => {
            const unreachable = path.join(ws.dir, "unreachable.kubeconfig");
            writeFileSync(
                unreachable,
                readFileSync(previewKubeconfig, "utf8").replace(/server: https:\/\/127\.0\.0\.1:\d+/, "server: https://127.0.0.1:1"),
            );
            const r = runStep(unreachable);
            expect(r.code).toBe(1);
            expect(r.stdout).toContain("no answer: kubectl auth can-i");
            expect(r.stdout).toContain("::error::Could not ask the cluster of stack local");
        });
    });

    it("the state: the preview reads a file backend mounted read-only, where an `up` fails on its lock", async (context) => {
        const probe = run("unshare", ["-m", "sh", "-c", `mount --bind '${ws.dir}' '${ws.dir}' && mount -o remount,bind,ro '${ws.dir}'`]);
        if (probe.code !== 0) {
            context.skip(`no private read-only mount here (${probe.stderr.trim()})`);
        }
        const state = new URL(String(ws.env.PULUMI_BACKEND_URL)).pathname;
        /** Every file of the backend with its size, time and hash. */
        const snapshot = (dir: string): string[] =>
            readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
                const file = path.join(dir, e.name);
                if (e.isDirectory()) return [`${file}/ ${statSync(file).mtimeMs}`, ...snapshot(file)];
                return [`${file} ${statSync(file).mtimeMs} ${createHash("sha256").update(readFileSync(file)).digest("hex")}`];
            });
        const before = snapshot(state);
        /** A CLI command with the backend's directory mounted read-only for it alone. */
        const readOnly = (line: string) =>
            ws.shell(
                `exec unshare -m sh -c 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec sh -c "$1"' '${state}' '${line}'`,
            );
        const previewed = await readOnly(`KUBECONFIG=${previewKubeconfig} pulumi preview --non-interactive -s ${STACK}`);
        expect(previewed.code, previewed.stdout + previewed.stderr).toBe(0);
        expect(previewed.stdout).toMatch(/5 changes/);
        const up = await readOnly(`pulumi up --yes --skip-preview --non-interactive -s ${STACK}`);
        expect(up.code).not.toBe(0);
        expect(up.stdout + up.stderr).toMatch(/locks\/[^\n]*: read-only file system/);
        // Outside the mount too, the preview wrote nothing: no lock, no checkpoint, no history.
        await preview(previewKubeconfig);
        expect(snapshot(state)).toEqual(before);
    });
});

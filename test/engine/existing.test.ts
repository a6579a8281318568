/**
 * The `existing` stack under the real Pulumi engine: the README's quick start typed as a newcomer types
 * it (`npx pulumi stack init`, `config set --secret` answered on stdin, `preview --diff`, `up`), against
 * a real Kubernetes API server and the fake Jenkins over HTTPS through the real dynamic-provider host;
 * then a second `up` that must change nothing, a config change, and `destroy`.
 * Covers: components/cluster/gate.ts (the refusal before anything changes), components/cluster/ownership.ts (an
 * object of the stack's made by hand: refused, kept by destroy, handed over by the label the message prints).
 */

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, readFileSync, symlinkSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { EXISTING_STACK, existingStackSecrets, existingStackWithJenkins } from "../support/existingStack";
import type { FakeJenkins } from "../support/fakeJenkins";
import { type ControlPlane, namespace, startControlPlane } from "../support/kubeControlPlane";
import { engineSet, openWorkspace, PROJECT_DIR, type Workspace } from "../support/pulumiEngine";
import { privateDir, removeDir } from "../support/serverProcess";

const STACK = EXISTING_STACK;
const secrets = existingStackSecrets();

let kube: ControlPlane;
let jenkins: FakeJenkins;
let ws: Workspace;
let caDir: string;

beforeAll(async () => {
    kube = startControlPlane();
    caDir = privateDir("jenkins-ca");
    ws = openWorkspace({ stackFiles: [STACK], env: { KUBECONFIG: kube.kubeconfig }, typeCheck: true });
    // What the test changes in the committed stack: where Jenkins answers, and the CA it is signed by.
    jenkins = await existingStackWithJenkins(ws, caDir, secrets.jenkinsApiToken);
}, 20 * 60_000);

afterAll(async () => {
    ws?.close();
    await jenkins?.close();
    kube?.stop();
    if (caDir) removeDir(caDir);
});

const configMap = (name: string) => kube.get<{ data: Record<string, string> }>(`/api/v1/namespaces/jenkins/configmaps/${name}`);
const fluxSecret = () => kube.get<{ data: Record<string, string> }>("/api/v1/namespaces/flux-system/secrets/registry-credentials");

describe("existing stack, real engine", () => {
    it("takes its secrets as the README types them: on stdin, encrypted in the stack file", async () => {
        for (const [key, value] of Object.entries(secrets)) {
            const r = await ws.shell(`npx pulumi config set --secret dso-registry:${key} -s ${STACK}`, { input: value });
            expect(r.code, r.stderr).toBe(0);
        }
        const stackFile = readFileSync(path.join(ws.projectDir, `Pulumi.${STACK}.yaml`), "utf8");
        for (const value of Object.values(secrets)) expect(stackFile).not.toContain(value);
        expect(stackFile).toMatch(/containerRegistryPassword:\s+secure: /);
    });

    it("on a cluster without the namespaces it writes into, preview and up stop with one message naming each, and change nothing", async () => {
        for (const command of [`npx pulumi preview -s ${STACK}`, `npx pulumi up --yes -s ${STACK}`]) {
            const r = await ws.shell(command);
            expect(r.code, r.stdout + r.stderr).not.toBe(0);
            const output = r.stdout + r.stderr;
            expect(output).toContain("The cluster lacks 2 things this stack needs; nothing was changed.");
            expect(output).toMatch(/- namespace flux-system \(needed by Secret flux-system\/registry-credentials\): install Flux/);
            expect(output).toMatch(
                /- namespace jenkins \(needed by ConfigMap jenkins\/pipeline-config, .*\): kubectl create namespace jenkins/,
            );
            // Reported once, not once per resource, and as a message: no stack trace.
            expect(output.split("  - namespace jenkins").length - 1, output).toBe(1);
            expect(output).not.toMatch(/^\s+at .*gate\.ts/m);
        }
        expect(jenkins.credentials.size).toBe(0);
        const state = await ws.exportState(STACK);
        expect(
            (state.deployment.resources ?? []).filter((r) => r.custom === true && !String(r.type).startsWith("pulumi:providers:")),
        ).toEqual([]);
        for (const ns of ["jenkins", "flux-system"]) await kube.create("/api/v1/namespaces", namespace(ns));
    });

    it("a ConfigMap of the same name made by hand stops preview and up, unchanged; destroy leaves it; the printed label hands it over", async () => {
        const mine = {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: "pipeline-config", namespace: "jenkins" },
            data: { mine: "yes" },
        };
        await kube.create("/api/v1/namespaces/jenkins/configmaps", mine);
        let printed = "";
        for (const command of [`npx pulumi preview -s ${STACK}`, `npx pulumi up --yes -s ${STACK}`]) {
            const r = await ws.shell(command);
            const output = r.stdout + r.stderr;
            expect(r.code, output).not.toBe(0);
            expect(output).toContain(
                "The cluster already holds an object this stack would make, and this project did not make it; nothing was changed.",
            );
            expect(output).toMatch(
                /- ConfigMap jenkins\/pipeline-config \(written by [^)]+\) has no label app\.kubernetes\.io\/part-of=dso-registry\./,
            );
            expect(output).not.toMatch(/^\s+at .*gate\.ts/m);
            printed = /kubectl label [^\n]+/.exec(output)?.[0] ?? "";
        }
        expect((await configMap("pipeline-config"))?.data).toEqual({ mine: "yes" });
        expect(jenkins.credentials.size).toBe(0);
        const destroy = await ws.pulumi(["destroy", "--yes", "--skip-preview", "-s", STACK]);
        expect(destroy.code, destroy.stdout + destroy.stderr).toBe(0);
        expect((await configMap("pipeline-config"))?.data).toEqual({ mine: "yes" });
        // The way the message gives to hand it to the stack, run as printed: the next run goes on and takes it.
        expect(printed).toBe("kubectl label configmap pipeline-config --namespace jenkins app.kubernetes.io/part-of=dso-registry");
        const label = await ws.shell(printed);
        expect(label.code, label.stderr).toBe(0);
    });

    it("previews every resource as a create, and changes nothing", async () => {
        const r = await ws.shell(`npx pulumi preview --diff -s ${STACK}`);
        expect(r.code, r.stdout + r.stderr).toBe(0);
        expect(r.stdout).toMatch(/\+ 10 to create/);
        expect((await configMap("pipeline-config"))?.data).toEqual({ mine: "yes" });
        expect(jenkins.credentials.size).toBe(0);
    });

    it("`up` writes the ConfigMaps, the Flux secret and both Jenkins credentials", async () => {
        const r = await ws.shell(`npx pulumi up --yes -s ${STACK}`);
        expect(r.code, r.stdout + r.stderr).toBe(0);
        const pipeline = await configMap("pipeline-config");
        expect(pipeline?.data).toMatchObject({ CONTAINER_REGISTRY_HOST: "registry.corp.example.com" });
        expect(await configMap("dso-registry-agent-pods")).toBeDefined();
        const flux = await fluxSecret();
        const dockerConfig = JSON.parse(Buffer.from(flux?.data[".dockerconfigjson"] ?? "", "base64").toString());
        const auth = Buffer.from(dockerConfig.auths["registry.corp.example.com"].auth, "base64").toString();
        expect(auth).toBe(`${secrets.existingPullUsername}:${secrets.existingPullPassword}`);
        expect(jenkins.credentials.get("container-registry")?.fields).toMatchObject({
            username: "robot-dso-push",
            password: secrets.containerRegistryPassword,
        });
        expect(jenkins.credentials.get("maven-registry")?.fields).toMatchObject({
            username: "dso-deploy",
            password: secrets.mavenRegistryPassword,
        });
    });

    it("keeps every secret out of the state's plaintext", async () => {
        const state = JSON.stringify(await ws.exportState(STACK));
        for (const value of Object.values(secrets).filter((v) => v !== secrets.existingPullUsername)) expect(state).not.toContain(value);
    });

    it("a second `up` with no change plans nothing, and a refresh right after finds nothing to change", async () => {
        const r = await ws.pulumi(["preview", "--expect-no-changes", "-s", STACK]);
        expect(r.code, r.stdout + r.stderr).toBe(0);
        const up = await ws.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK]);
        expect(up.code, up.stdout + up.stderr).toBe(0);
        const refresh = await ws.pulumi(["refresh", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK]);
        expect(refresh.code, refresh.stdout + refresh.stderr).toBe(0);
    });

    it("the pull-request workflow's preview job, on a fresh checkout with only the backend, passphrase and kubeconfig, shows no change", () => {
        const workflow = YAML.parse(readFileSync(path.join(PROJECT_DIR, ".github/workflows/preview.yml"), "utf8"));
        const access = workflow.jobs.preview.steps.find((step: { id?: string }) => step.id === "access");
        const checkout = path.join(ws.dir, "pr-checkout");
        for (const file of ["Pulumi.yaml", "index.ts", "package.json", "tsconfig.json", "tsconfig.pulumi.json", "components"]) {
            cpSync(path.join(PROJECT_DIR, file), path.join(checkout, file), { recursive: true });
        }
        // The stack file as the repository holds it: encrypted secrets and the salt, committed.
        cpSync(path.join(ws.projectDir, `Pulumi.${STACK}.yaml`), path.join(checkout, `Pulumi.${STACK}.yaml`));
        symlinkSync(path.join(PROJECT_DIR, "node_modules"), path.join(checkout, "node_modules"));
        const env = {
            ...ws.env,
            STACK,
            KUBECONFIG: path.join(checkout, ".kubeconfig"),
            KUBECONFIG_CONTENT: readFileSync(kube.kubeconfig, "utf8"),
            GITHUB_OUTPUT: path.join(ws.dir, "github-output"),
        };
        const step = spawnSync("bash", ["-eo", "pipefail", "-c", access.run], { cwd: checkout, env, encoding: "utf8" });
        expect(step.status, step.stderr).toBe(0);
        expect(readFileSync(env.GITHUB_OUTPUT, "utf8")).toContain("ready=true");
        // What pulumi/actions does for `command: preview`, `diff: true` and `cloud-url`: log in, then preview.
        const cli = path.join(engineSet(), "bin", "pulumi");
        const login = spawnSync(cli, ["login", ws.env.PULUMI_BACKEND_URL as string], { cwd: checkout, env, encoding: "utf8" });
        expect(login.status, login.stderr).toBe(0);
        const preview = spawnSync(cli, ["preview", "--diff", "--stack", STACK, "--expect-no-changes", "--non-interactive"], {
            cwd: checkout,
            env,
            encoding: "utf8",
        });
        expect(preview.status, preview.stdout + preview.stderr).toBe(0);
        expect(preview.stdout).toMatch(/10 unchanged/);
    });

    it("a rotated push password updates the Jenkins credential in place, and nothing else", async () => {
        const rotated = `push-${randomBytes(12).toString("hex")}`;
        await ws.pulumiOk(["config", "set", "--secret", "dso-registry:containerRegistryPassword", "-s", STACK], { input: rotated });
        const r = await ws.pulumiOk(["up", "--yes", "--skip-preview", "-s", STACK]);
        expect(r.stdout).toMatch(/~ 1 updated/);
        expect(jenkins.credentials.get("container-registry")?.fields.password).toBe(rotated);
    });

    it("`destroy` removes what it made and leaves the namespaces it did not make", async () => {
        const r = await ws.pulumi(["destroy", "--yes", "-s", STACK]);
        expect(r.code, r.stdout + r.stderr).toBe(0);
        await kube.waitGone("/api/v1/namespaces/jenkins/configmaps/pipeline-config");
        expect(await fluxSecret()).toBeUndefined();
        expect(jenkins.credentials.size).toBe(0);
        expect(await kube.get("/api/v1/namespaces/jenkins")).toBeDefined();
    });
});

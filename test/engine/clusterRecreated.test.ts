/**
 * A cluster deleted and created again under a deployed stack, as a kind user does every day (`kind delete
 * cluster`, `kind create cluster`), with the real engine: the existing stack's objects on one API server,
 * that server removed and a new empty one in its place at the same kubeconfig path. What docs/kind.md
 * tells the user is what happens: a plain `pulumi up` trusts the state and plans nothing, `pulumi up
 * --refresh` finds the objects gone and creates them again; and with the cluster gone for good,
 * `pulumi destroy` fails until the provider is told to forget objects of an unreachable cluster.
 */
import { copyFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXISTING_STACK, existingStackSecrets, existingStackWithJenkins } from "../support/existingStack";
import type { FakeJenkins } from "../support/fakeJenkins";
import { type ControlPlane, namespace, startControlPlane } from "../support/kubeControlPlane";
import { openWorkspace, type Workspace } from "../support/pulumiEngine";
import { privateDir, removeDir } from "../support/serverProcess";

const STACK = EXISTING_STACK;
const secrets = existingStackSecrets();

let kube: ControlPlane | undefined;
let jenkins: FakeJenkins;
let ws: Workspace;
let dir: string;
/** The kubeconfig the stack uses: a stable path, as ~/.kube/config is for kind. */
let kubeconfig: string;

/** A new, empty cluster with the stack's prerequisites, answering at the stack's kubeconfig path. */
async function createCluster(): Promise<ControlPlane> {
    const cluster = startControlPlane();
    for (const ns of ["jenkins", "flux-system"]) await cluster.create("/api/v1/namespaces", namespace(ns));
    copyFileSync(cluster.kubeconfig, kubeconfig);
    return cluster;
}

const pipelineConfig = () => kube!.get<{ data: Record<string, string> }>("/api/v1/namespaces/jenkins/configmaps/pipeline-config");

beforeAll(async () => {
    dir = privateDir("engine-cluster-recreated");
    kubeconfig = path.join(dir, "kubeconfig");
    kube = await createCluster();
    ws = openWorkspace({ stackFiles: [STACK], env: { KUBECONFIG: kubeconfig } });
    jenkins = await existingStackWithJenkins(ws, path.join(dir, "ca"), secrets.jenkinsApiToken);
    for (const [key, value] of Object.entries(secrets)) {
        await ws.pulumiOk(["config", "set", "--secret", `dso-registry:${key}`, "-s", STACK], { input: value });
    }
}, 20 * 60_000);

afterAll(async () => {
    ws?.close();
    await jenkins?.close();
    kube?.stop();
    if (dir) removeDir(dir);
});

describe("cluster deleted and created again, real engine", () => {
    it("`up` puts the objects on the first cluster", async () => {
        const up = await ws.pulumi(["up", "--yes", "-s", STACK]);
        expect(up.code, up.stdout + up.stderr).toBe(0);
        expect(await pipelineConfig()).toBeDefined();
    });

    it("on a new cluster a plain `up` trusts the state and creates nothing; `up --refresh` creates the objects again", async () => {
        kube!.stop();
        kube = await createCluster();
        const plain = await ws.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK]);
        expect(plain.code, plain.stdout + plain.stderr).toBe(0);
        expect(await pipelineConfig()).toBeUndefined();

        const refreshed = await ws.pulumi(["up", "--yes", "--refresh", "-s", STACK]);
        expect(refreshed.code, refreshed.stdout + refreshed.stderr).toBe(0);
        expect(await pipelineConfig()).toBeDefined();
        const again = await ws.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK]);
        expect(again.code, again.stdout + again.stderr).toBe(0);
    });

    it("with the cluster gone, `destroy` fails; with PULUMI_K8S_DELETE_UNREACHABLE=true it forgets the cluster's objects", async () => {
        kube!.stop();
        kube = undefined;
        const failed = await ws.pulumi(["destroy", "--yes", "-s", STACK]);
        expect(failed.code).not.toBe(0);
        const forgot = await ws.shell(`PULUMI_K8S_DELETE_UNREACHABLE=true pulumi destroy --yes --non-interactive -s ${STACK}`);
        expect(forgot.code, forgot.stdout + forgot.stderr).toBe(0);
        const state = await ws.exportState(STACK);
        expect((state.deployment.resources ?? []).filter((r) => String(r.type).startsWith("kubernetes:"))).toEqual([]);
        // Jenkins was reachable: its credentials were deleted for real.
        expect(jenkins.credentials.size).toBe(0);
    });
});

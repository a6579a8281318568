/**
 * examples/library, a program of its own built from the package's public surface (components/index.ts),
 * under the real engine against a real API server (kwok nodes run the pods, claims bind to static
 * volumes): `stack init` and `preview` from the example's folder, `up`, a second `up` that plans nothing,
 * and `destroy`, which keeps the registry's namespace and data claim as the component promises.
 */
import { cpSync, symlinkSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ControlPlane } from "../support/kubeControlPlane";
import { startLocalCluster } from "../support/localCluster";
import { openWorkspace, PROJECT_DIR, type Workspace } from "../support/pulumiEngine";

const STACK = "dev";
const EXAMPLE = "examples/library";

let kube: ControlPlane;
let ws: Workspace;

beforeAll(async () => {
    kube = await startLocalCluster();
    ws = openWorkspace({ env: { KUBECONFIG: kube.kubeconfig }, typeCheck: true });
    // The package's copy in the workspace holds the example beside components/, as the repository does.
    cpSync(path.join(PROJECT_DIR, EXAMPLE), path.join(ws.projectDir, EXAMPLE), { recursive: true });
    // Node resolves the SDK and the providers from the package's node_modules two folders up; the engine
    // tier's language host looks for the providers' plugins in the program folder's own node_modules.
    symlinkSync(path.join(ws.projectDir, "node_modules"), path.join(ws.projectDir, EXAMPLE, "node_modules"));
}, 20 * 60_000);

afterAll(() => {
    ws?.close();
    kube?.stop();
});

/** The CLI run in the example's folder (`pulumi --cwd`), as `cd examples/library && pulumi …` runs it. */
const example = (args: readonly string[]) => ws.pulumi(["--cwd", EXAMPLE, ...args, "-s", STACK]);

describe("examples/library, real engine", () => {
    it("initializes and previews the example's stack from its folder", async () => {
        const init = await ws.pulumi(["--cwd", EXAMPLE, "stack", "init", STACK]);
        expect(init.code, init.stdout + init.stderr).toBe(0);
        const preview = await example(["preview", "--diff"]);
        expect(preview.code, preview.stdout + preview.stderr).toBe(0);
        expect(preview.stdout).toMatch(/\+ \d+ to create/);
        expect(preview.stdout).toContain("dso-registry:inCluster:InClusterRegistry");
    });

    it("`up` applies the registry and node trust: the Deployment available, the DaemonSet ready on the node", async () => {
        const up = await example(["up", "--yes"]);
        expect(up.code, up.stdout + up.stderr).toBe(0);
        const deployment = await kube.get<{ status: { availableReplicas?: number } }>(
            "/apis/apps/v1/namespaces/registry/deployments/registry",
        );
        expect(deployment?.status.availableReplicas).toBe(1);
        const daemonSet = await kube.get<{ status: { numberReady: number } }>(
            "/apis/apps/v1/namespaces/registry-node-trust/daemonsets/dso-node-trust",
        );
        expect(daemonSet?.status.numberReady).toBe(1);
        expect(await kube.get("/api/v1/namespaces/kube-public/configmaps/local-registry-hosting")).toBeDefined();
    });

    it("exports what the example names: the exposed children's names, the generated CA and push account", async () => {
        const outputs = JSON.parse((await example(["stack", "output", "--json", "--show-secrets"])).stdout) as Record<string, unknown>;
        expect(outputs).toMatchObject({ registryDeployment: "registry", nodeTrustDaemonSet: "dso-node-trust" });
        expect(outputs.caCertPem).toMatch(/^-----BEGIN CERTIFICATE-----/);
        const push = outputs.pushCredentials as { username: string; password: string };
        expect(push.username).toBe("ci-push");
        const state = await example(["stack", "export"]);
        expect(state.stdout).not.toContain(push.password);
    });

    it("a second `up` with no change plans nothing", async () => {
        const again = await example(["up", "--yes", "--expect-no-changes"]);
        expect(again.code, again.stdout + again.stderr).toBe(0);
    });

    it("`destroy` removes the objects and keeps the registry's namespace and data claim", async () => {
        const destroy = await example(["destroy", "--yes"]);
        expect(destroy.code, destroy.stdout + destroy.stderr).toBe(0);
        expect(await kube.get("/apis/apps/v1/namespaces/registry/deployments/registry")).toBeUndefined();
        expect(await kube.get("/apis/apps/v1/namespaces/registry-node-trust/daemonsets/dso-node-trust")).toBeUndefined();
        expect(await kube.get("/api/v1/namespaces/registry/persistentvolumeclaims/registry-data")).toBeDefined();
        expect(await kube.get("/api/v1/namespaces/registry")).toBeDefined();
    });
});

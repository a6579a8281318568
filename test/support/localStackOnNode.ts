/**
 * What the engine tier's tests of the `local` stack on a node whose pods run share (localPods.test.ts,
 * traefikPods.test.ts): the fake Jenkins and the workspace the stack is run in, the stack pointed at that
 * Jenkins, and a loop of pushes from the node with the push account.
 */
import { type FakeJenkins, startFakeJenkins } from "./fakeJenkins";
import type { RealCluster } from "./kubeNode";
import { NODE_AUTH_FILE, NODE_CERT_DIR } from "./localNode";
import { openWorkspace, type Workspace } from "./pulumiEngine";
import { makePushLoop, type PushLoop } from "./pushLoop";

export const LOCAL_STACK = "local";

/** A fake Jenkins that takes `apiToken`, and a workspace with the local stack's file whose kubeconfig is the node's. */
export async function localStackWorkspace(cluster: RealCluster, apiToken: string): Promise<{ jenkins: FakeJenkins; ws: Workspace }> {
    const jenkins = await startFakeJenkins({ user: "admin", apiToken });
    return { jenkins, ws: openWorkspace({ stackFiles: [LOCAL_STACK], env: { KUBECONFIG: cluster.kube.kubeconfig } }) };
}

/** Inits the local stack in `ws` and points it at `jenkins`, its API token set as a secret (on stdin). */
export async function initLocalStack(ws: Workspace, jenkins: FakeJenkins, apiToken: string): Promise<void> {
    await ws.pulumiOk(["stack", "init", LOCAL_STACK]);
    await ws.pulumiOk(["config", "set", "--path", "dso-registry:jenkins.url", jenkins.url, "-s", LOCAL_STACK]);
    await ws.pulumiOk(["config", "set", "--secret", "dso-registry:jenkinsApiToken", "-s", LOCAL_STACK], { input: apiToken });
}

/** Two images pushed in turn to `prefix` from the node, with the push account's auth file and the stack's CA there. */
export function nodePushLoop(cluster: RealCluster, work: string, prefix: string): PushLoop {
    return makePushLoop({
        work,
        prefix,
        authFile: NODE_AUTH_FILE,
        certDir: NODE_CERT_DIR,
        count: 2,
        start: (command, args) => cluster.node.startServer(command, args),
    });
}

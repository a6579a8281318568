/**
 * What the engine tier's tests of the `existing` stack share: its five secrets, made at test time, and
 * the fake Jenkins over HTTPS (a CA made at test time) that the stack is pointed at.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { type FakeJenkins, startFakeJenkins } from "./fakeJenkins";
import type { Workspace } from "./pulumiEngine";
import { makeTestCa } from "./realRegistry";

export const EXISTING_STACK = "existing";

/** The secrets the README has an operator set for the existing stack. */
export function existingStackSecrets() {
    return {
        containerRegistryPassword: `push-${randomBytes(12).toString("hex")}`,
        mavenRegistryPassword: `deploy-${randomBytes(12).toString("hex")}`,
        jenkinsApiToken: `token-${randomBytes(12).toString("hex")}`,
        existingPullUsername: "robot-dso-pull",
        existingPullPassword: `pull-${randomBytes(12).toString("hex")}`,
    };
}

/**
 * Starts the fake Jenkins for `apiToken` with a certificate of a CA made in `caDir`, inits the stack in
 * the workspace and points it there: the one change the tests make to the committed stack.
 */
export async function existingStackWithJenkins(ws: Workspace, caDir: string, apiToken: string): Promise<FakeJenkins> {
    const ca = makeTestCa(caDir);
    const jenkins = await startFakeJenkins({
        user: "pulumi",
        apiToken,
        tls: { key: readFileSync(ca.serverKeyFile, "utf8"), cert: readFileSync(ca.serverCertFile, "utf8") },
    });
    try {
        await ws.pulumiOk(["stack", "init", EXISTING_STACK]);
        await ws.pulumiOk(["config", "set", "--path", "dso-registry:jenkins.url", jenkins.url, "-s", EXISTING_STACK]);
        await ws.pulumiOk(["config", "set", "--path", "dso-registry:jenkins.caCertificate", "-s", EXISTING_STACK], {
            input: ca.caCertPem,
        });
        return jenkins;
    } catch (error) {
        await jenkins.close();
        throw error;
    }
}

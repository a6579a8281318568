/**
 * A fake Jenkins per test and the provider state that points at it, for the Jenkins credential
 * provider's tests. Every server started here is closed after each test.
 */
import { randomBytes } from "node:crypto";
import { afterEach } from "vitest";
import type { JenkinsCredentialState } from "../../components/jenkins/jenkinsCredentials";
import { type FakeJenkins, type FakeJenkinsOptions, startFakeJenkins } from "./fakeJenkins";

export const token = randomBytes(16).toString("hex");
export const jenkinsPassword = `pw-${randomBytes(12).toString("hex")}`;
export const pushPassword = `push-${randomBytes(12).toString("hex")}`;

const running: FakeJenkins[] = [];
afterEach(async () => {
    await Promise.all(running.splice(0).map((j) => j.close()));
});

export async function jenkins(options: FakeJenkinsOptions = {}): Promise<FakeJenkins> {
    const j = await startFakeJenkins({ apiToken: token, password: jenkinsPassword, ...options });
    running.push(j);
    return j;
}

export function state(j: FakeJenkins, overrides: Partial<JenkinsCredentialState> = {}): JenkinsCredentialState {
    return {
        jenkinsUrl: j.url,
        jenkinsUser: "admin",
        jenkinsAuth: "token",
        jenkinsSecret: token,
        timeoutSeconds: 10,
        credentialId: "container-registry",
        kind: "usernamePassword",
        description: "Push to registry.example.com",
        username: "ci-push",
        usernameSecret: false,
        password: pushPassword,
        ...overrides,
    };
}

/** Runs a provider call that must fail and returns its message. */
export async function failure(call: Promise<unknown>): Promise<string> {
    try {
        await call;
    } catch (error) {
        return (error as Error).message;
    }
    throw new Error("the call succeeded but was expected to fail");
}

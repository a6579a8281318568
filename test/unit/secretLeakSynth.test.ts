/**
 * Secrets planted as `secure:` values in a stack file never reach the offline synth's files: the synth
 * never decrypts them, and everything built from them (Jenkins credentials, pull secrets, htpasswd)
 * shows "[secret]" where the value, its hash or its base64 would be, around readable text
 * (test/unit/synthMasking.test.ts checks that generated passwords never show either).
 */
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import * as YAML from "yaml";
import { type SynthFiles, synthesize } from "../../tools/synth";

const planted = {
    containerRegistryPassword: `v1:planted-push-${randomBytes(10).toString("hex")}`,
    mavenRegistryPassword: `v1:planted-maven-${randomBytes(10).toString("hex")}`,
    jenkinsApiToken: `v1:planted-token-${randomBytes(10).toString("hex")}`,
};

let dir: string;
let synth: SynthFiles;

beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "secret-leak-synth-"));
    copyFileSync(path.join(__dirname, "../..", "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    const stack = {
        config: {
            "dso-registry:containerRegistry": { host: "registry.example.com", pathPrefix: "team/app", pushCredentials: "operator" },
            "dso-registry:mavenRegistry": { host: "maven.example.com", pathPrefix: "releases" },
            "dso-registry:registry": { mode: "in-cluster" },
            "dso-registry:jenkins": { enabled: true, url: "https://jenkins.example.com", registryHostCredentialId: "registry-host" },
            "dso-registry:pullSecrets": { namespaces: ["apps"], flux: true },
            ...Object.fromEntries(Object.entries(planted).map(([k, v]) => [`dso-registry:${k}`, { secure: v }])),
        },
    };
    writeFileSync(path.join(dir, "Pulumi.leak.yaml"), YAML.stringify(stack));
    synth = await synthesize(dir, "leak");
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("produced the Jenkins credentials and pull secrets the check is about", () => {
    const resources = synth.files.get("resources.json") ?? "";
    expect([
        resources.includes("jenkins-credentials-maven-registry"),
        synth.files.has("k8s/flux-system/Secret-registry-credentials.yaml"),
    ]).toEqual([true, true]);
});

it("writes none of the planted values into any synth file or warning", () => {
    const everything = [...synth.files.entries()].map(([name, content]) => `${name}\n${content}`).join("\n") + synth.warnings.join("\n");
    expect(Object.values(planted).filter((value) => everything.includes(value.slice(3)))).toEqual([]);
});

it("shows the push account built from the planted password with its hash as [secret], its name readable", () => {
    const htpasswd = YAML.parse(synth.files.get("k8s/dso/Secret-registry-htpasswd.yaml") ?? "");
    expect(htpasswd?.stringData?.push).toBe("# push accounts, managed by dso-registry\nci-push [secret]\n");
});

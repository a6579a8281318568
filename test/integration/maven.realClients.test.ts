/**
 * The converged case with the real software: real `mvn` deploys through real Caddy running the
 * rendered front (the access policy with its Maven route) to real nginx running the rendered Maven
 * backend config, next to real Distribution. Maven deploys with the Maven account, resolves the
 * artifact anonymously, and is refused an anonymous deploy and a deploy with the registry's push
 * account; the registry's API keeps its own rules on the same origin.
 */
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderCaddyfile, renderUsersFile } from "../../components/accessPolicy/accessPolicy";
import { type MavenBackend, makeJar, makeTrustStore, mavenClient, startMavenBackend } from "../support/maven";
import { makeAccount, type RealRegistry, startRealRegistry, type TestAccount } from "../support/realRegistry";
import { privateDir, removeDir, run } from "../support/serverProcess";

const PREFIX = "maven-releases";

interface Front {
    readonly registry: RealRegistry;
    readonly backend: MavenBackend;
    readonly deploy: TestAccount;
    readonly repositoryUrl: string;
    readonly trustStore: { readonly file: string; readonly password: string };
}

async function startFront(dir: string, requiresAuthForPull: boolean): Promise<Front> {
    const backend = await startMavenBackend(dir, PREFIX);
    const deploy = makeAccount("ci-deploy");
    const deployUsersFile = path.join(dir, "users-maven");
    writeFileSync(deployUsersFile, renderUsersFile("push", [deploy]), { mode: 0o600 });
    const registry = await startRealRegistry({
        caddyfileFor: (policy) =>
            renderCaddyfile({
                ...policy,
                maven: { pathPrefix: PREFIX, upstream: backend.address, deployUsersFile, requiresAuthForPull },
            }),
    });
    const trustStore = makeTrustStore(dir, registry.ca.caCertFile);
    return { registry, backend, deploy, repositoryUrl: `${registry.url}/${PREFIX}`, trustStore };
}

const app = { groupId: "com.example.dso", artifactId: "journey-app", version: "1.0.0" };
const jarPath = `${PREFIX}/com/example/dso/journey-app/1.0.0/journey-app-1.0.0.jar`;

describe("Maven through the front, anonymous downloads", () => {
    let dir: string;
    let front: Front;
    let jar: { readonly file: string; readonly marker: string };

    beforeAll(async () => {
        dir = privateDir("jn-maven");
        front = await startFront(dir, false);
        jar = makeJar(dir);
    });
    afterAll(async () => {
        await front?.registry.stop();
        await front?.backend.stop();
        removeDir(dir);
    });

    test("mvn deploy-file with the Maven account stores the jar in the backend's data directory", () => {
        const mvn = mavenClient(path.join(dir, "deployer"), front.trustStore, front.deploy);
        const result = mvn.deployFile(front.repositoryUrl, app, jar.file);
        expect(result.stdout, result.stderr).toContain("BUILD SUCCESS");
        const stored = readFileSync(path.join(front.backend.dataDir, jarPath));
        expect(stored.equals(readFileSync(jar.file))).toBe(true);
        expect(readFileSync(path.join(front.backend.dataDir, PREFIX, "com/example/dso/journey-app/maven-metadata.xml"), "utf8")).toContain(
            "<version>1.0.0</version>",
        );
    });

    test("an anonymous mvn dependency:get resolves the deployed jar", () => {
        const mvn = mavenClient(path.join(dir, "reader"), front.trustStore);
        const result = mvn.get(front.repositoryUrl, app);
        expect(result.stdout, result.stderr).toContain("BUILD SUCCESS");
        const resolved = readFileSync(path.join(result.localRepository, jarPath.slice(PREFIX.length + 1)));
        expect(resolved.equals(readFileSync(jar.file))).toBe(true);
    });

    test.each([
        ["anonymous", undefined],
        ["the registry's push account", "push"],
    ] as const)("a deploy as %s is refused with 401", (_who, account) => {
        const credentials = account === "push" ? front.registry.push : undefined;
        const mvn = mavenClient(path.join(dir, `refused-${account ?? "anonymous"}`), front.trustStore, credentials);
        const result = mvn.deployFile(front.repositoryUrl, { ...app, version: "6.6.6" }, jar.file);
        expect(result.code).not.toBe(0);
        expect(result.stdout).toMatch(/401.*Unauthorized|Unauthorized.*401/);
        expect(run("ls", [path.join(front.backend.dataDir, PREFIX, "com/example/dso/journey-app")]).stdout).not.toContain("6.6.6");
    });

    test.each(["DELETE", "MKCOL", "MOVE"])("%s with the Maven account is refused with 405", (method) => {
        const result = run(
            "curl",
            [
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--cacert",
                front.registry.ca.caCertFile,
                "-K",
                "-",
                "-X",
                method,
                `${front.registry.url}/${jarPath}`,
            ],
            { input: `user = "${front.deploy.username}:${front.deploy.password}"\n` },
        );
        expect(result.stdout).toBe("405");
    });

    test("an anonymous PUT is challenged with Basic, not the registry's Bearer realm", () => {
        const result = run("curl", [
            "-sS",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "--cacert",
            front.registry.ca.caCertFile,
            "-X",
            "PUT",
            "--data-binary",
            "x",
            `${front.registry.url}/${PREFIX}/x/y/1/y-1.pom`,
        ]);
        expect(result.stdout).toMatch(/^HTTP\/\S+ 401/m);
        expect(result.stdout).toMatch(/^www-authenticate: Basic realm="dso-registry"/im);
    });

    test("the registry's ping on the same origin still answers the Bearer challenge", () => {
        const result = run("curl", [
            "-sS",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "--cacert",
            front.registry.ca.caCertFile,
            `${front.registry.url}/v2/`,
        ]);
        expect(result.stdout).toMatch(/^www-authenticate: Bearer realm=/im);
    });
});

describe("Maven through the front, downloads need an account (mavenRegistry.requiresAuthForPull)", () => {
    let dir: string;
    let front: Front;

    beforeAll(async () => {
        dir = privateDir("jn-maven-auth");
        front = await startFront(dir, true);
        const jar = makeJar(dir);
        const deployed = mavenClient(path.join(dir, "deployer"), front.trustStore, front.deploy).deployFile(
            front.repositoryUrl,
            app,
            jar.file,
        );
        if (!deployed.stdout.includes("BUILD SUCCESS")) throw new Error(`deploy failed:\n${deployed.stdout}\n${deployed.stderr}`);
    });
    afterAll(async () => {
        await front?.registry.stop();
        await front?.backend.stop();
        removeDir(dir);
    });

    test("an anonymous mvn dependency:get is refused", () => {
        const result = mavenClient(path.join(dir, "anonymous"), front.trustStore).get(front.repositoryUrl, app);
        expect(result.code).not.toBe(0);
        expect(result.stdout).toMatch(/401.*Unauthorized|Unauthorized.*401/);
    });

    test("the registry's pull-only account resolves the jar", () => {
        const result = mavenClient(path.join(dir, "puller"), front.trustStore, front.registry.pull).get(front.repositoryUrl, app);
        expect(result.stdout, result.stderr).toContain("BUILD SUCCESS");
    });
});

/**
 * The converged case with the real software: real `mvn` deploys through real Caddy running the
 * rendered front (the access policy with its Maven route) to real nginx running the rendered Maven
 * backend config, next to real Distribution. Maven deploys with the Maven account, resolves the
 * artifact anonymously, deploys with the Maven account's previous password inside a rotation's overlap
 * (the front imports the overlap's files), and is refused an anonymous deploy and a deploy with the registry's push
 * account or a push account scoped to repository prefixes; the registry's API keeps its own rules on the same origin. Both placements render the
 * route, and both run it on the pinned Caddy. Last, the in-cluster
 * garbage-collection job of a stack that serves the repository, as synthesized, runs against the
 * registry pod's stand-in (its synthesized Deployment: real Distribution, Caddy and nginx, a stand-in
 * kubectl) with that nginx's data directory as the pod's `maven-data`: it removes the old snapshot
 * builds real mvn deployed, and the latest still resolves.
 */
import { existsSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import {
    previousUsersFile,
    renderOverlapMatchers,
    renderPreviousUsersFile,
    renderUsersFile,
} from "../../components/accessPolicy/usersFile";
import { READ_ONLY_SIGNAL } from "../../components/inCluster/readOnlySignal";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import { MAVEN_BACKEND } from "../../components/maven/nginxConfig";
import { pinnedCaddy } from "../support/caddyBinaries";
import { frontHeaders, frontStatus } from "../support/frontRequest";
import { type MavenBackend, makeJar, makeTrustStore, mavenClient, startMavenBackend } from "../support/maven";
import {
    makeAccount,
    makeOciImage,
    makePreviousAccount,
    type RealRegistry,
    skopeoCopy,
    startRealRegistry,
    type TestAccount,
} from "../support/realRegistry";
import {
    type JobRun,
    POD_START_TIMEOUT_MS,
    type RegistryPodStandIn,
    runCronJob,
    startRegistryPodStandIn,
    synthRegistryPod,
} from "../support/registryPodStandIn";
import { privateDir, removeDir, run, runOk } from "../support/serverProcess";

const PREFIX = "maven-releases";

interface Front {
    readonly registry: RealRegistry;
    readonly backend: MavenBackend;
    readonly deploy: TestAccount;
    /** The Maven account's previous password, inside a rotation's overlap (the front imports the overlap's files). */
    readonly previousDeploy: TestAccount;
    readonly repositoryUrl: string;
    readonly trustStore: { readonly file: string; readonly password: string };
}

async function startFront(dir: string, requiresAuthForPull: boolean): Promise<Front> {
    const backend = await startMavenBackend(dir, PREFIX);
    const deploy = makeAccount("ci-deploy");
    const deployUsersFile = path.join(dir, "users-maven");
    writeFileSync(deployUsersFile, renderUsersFile("push", [deploy]), { mode: 0o600 });
    const rotated = makePreviousAccount(deploy, 3600);
    const overlapFile = path.join(dir, "overlap");
    writeFileSync(overlapFile, renderOverlapMatchers([{ username: deploy.username, previous: rotated.previous }]), { mode: 0o600 });
    writeFileSync(
        previousUsersFile(deployUsersFile),
        renderPreviousUsersFile("push", [{ username: deploy.username, previous: rotated.previous }]),
        { mode: 0o600 },
    );
    const registry = await startRealRegistry({
        caddyBinary: pinnedCaddy(),
        // A push account scoped to repository prefixes: the Maven path is no repository of its, and it cannot deploy there.
        scopedPushAccounts: [{ username: "team-a-ci", prefixes: ["team-a/"] }],
        caddyfileFor: (policy) => {
            // The registry's own accounts have no previous password: their previous-passwords files hold only the comment.
            for (const [file, role] of [
                [policy.pushUsersFile, "push"],
                [policy.pullUsersFile, "pull"],
            ] as const) {
                writeFileSync(previousUsersFile(file), renderPreviousUsersFile(role, []), { mode: 0o600 });
            }
            return renderCaddyfile({
                ...policy,
                overlap: { matchersFile: overlapFile },
                // As both placements render it: the Maven deploy account is known, not checked against the decoy.
                decoy: policy.decoy && { ...policy.decoy, accounts: { ...policy.decoy.accounts, mavenDeploy: [deploy.username] } },
                maven: { pathPrefix: PREFIX, upstream: backend.address, deployUsersFile, requiresAuthForPull },
            });
        },
    });
    const trustStore = makeTrustStore(dir, registry.ca.caCertFile);
    return { registry, backend, deploy, previousDeploy: rotated.account, repositoryUrl: `${registry.url}/${PREFIX}`, trustStore };
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

    test("inside a rotation's overlap the Maven account's previous password deploys too", () => {
        expect(front.previousDeploy.password).not.toBe(front.deploy.password);
        const mvn = mavenClient(path.join(dir, "deployer-previous"), front.trustStore, front.previousDeploy);
        const result = mvn.deployFile(front.repositoryUrl, { ...app, version: "1.0.1" }, jar.file);
        expect(result.stdout, result.stderr).toContain("BUILD SUCCESS");
        expect(existsSync(path.join(front.backend.dataDir, PREFIX, "com/example/dso/journey-app/1.0.1"))).toBe(true);
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
        ["a push account scoped to repository prefixes", "scoped"],
    ] as const)("a deploy as %s is refused with 401", (_who, account) => {
        const credentials = account === "push" ? front.registry.push : account === "scoped" ? front.registry.scoped[0] : undefined;
        const mvn = mavenClient(path.join(dir, `refused-${account ?? "anonymous"}`), front.trustStore, credentials);
        const result = mvn.deployFile(front.repositoryUrl, { ...app, version: "6.6.6" }, jar.file);
        expect(result.code).not.toBe(0);
        expect(result.stdout).toMatch(/401.*Unauthorized|Unauthorized.*401/);
        expect(run("ls", [path.join(front.backend.dataDir, PREFIX, "com/example/dso/journey-app")]).stdout).not.toContain("6.6.6");
    });

    test.each(["DELETE", "MKCOL", "MOVE"])("%s with the Maven account is refused with 405", (method) => {
        const status = frontStatus({ caCertFile: front.registry.ca.caCertFile, account: front.deploy }, [
            "-X",
            method,
            `${front.registry.url}/${jarPath}`,
        ]);
        expect(status).toBe("405");
    });

    test("an anonymous PUT is challenged with Basic, not the registry's Bearer realm", () => {
        const headers = frontHeaders({ caCertFile: front.registry.ca.caCertFile }, [
            "-X",
            "PUT",
            "--data-binary",
            "x",
            `${front.registry.url}/${PREFIX}/x/y/1/y-1.pom`,
        ]);
        expect(headers).toMatch(/^HTTP\/\S+ 401/m);
        expect(headers).toMatch(/^www-authenticate: Basic realm="dso-registry"/im);
    });

    test("the registry's ping on the same origin still answers the Bearer challenge", () => {
        const headers = frontHeaders({ caCertFile: front.registry.ca.caCertFile }, [`${front.registry.url}/v2/`]);
        expect(headers).toMatch(/^www-authenticate: Bearer realm=/im);
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

describe("the in-cluster garbage-collection job and the Maven repository's old snapshot builds", () => {
    const KEEP = 2;
    const BUILDS = 4;
    const snapshot = { groupId: "com.example.dso", artifactId: "gc-app", version: "2.0-SNAPSHOT" };
    const release = { groupId: "com.example.dso", artifactId: "gc-app", version: "1.0.0" };
    const appDir = "com/example/dso/gc-app";
    let dir: string;
    let front: Front;
    let pod: RegistryPodStandIn;
    let jars: { readonly file: string; readonly marker: string }[];
    let releaseBefore: Buffer;
    let gc: JobRun;
    const builds = () =>
        [
            ...new Set(
                readdirSync(path.join(front.backend.dataDir, PREFIX, appDir, snapshot.version)).flatMap(
                    (f) => f.match(/-(\d{8}\.\d{6}-\d+)[.-]/)?.[1] ?? [],
                ),
            ),
        ].sort();

    beforeAll(async () => {
        dir = privateDir("mg-maven-gc");
        front = await startFront(dir, false);
        const deployer = mavenClient(path.join(dir, "deployer"), front.trustStore, front.deploy);
        const releaseJar = makeJar(path.join(dir, "release"));
        const r = deployer.deployFile(front.repositoryUrl, release, releaseJar.file);
        if (r.code !== 0) throw new Error(r.stdout);
        jars = [];
        for (let i = 1; i <= BUILDS; i += 1) {
            const jar = makeJar(path.join(dir, `build-${i}`));
            const d = deployer.deployFile(front.repositoryUrl, snapshot, jar.file);
            if (d.code !== 0) throw new Error(d.stdout);
            jars.push(jar);
        }
        releaseBefore = readFileSync(path.join(front.backend.dataDir, PREFIX, appDir, "1.0.0", "gc-app-1.0.0.jar"));

        // The registry pod of a stack that serves this Maven repository: Distribution has a repository
        // (garbage-collect needs one), and the nginx data directory above is its maven-data volume, as the
        // pod's nginx, which runs as the pod's user, would have written it.
        const push = makeAccount("pod-push");
        const stack = await synthRegistryPod({
            push,
            pull: makeAccount("pod-pull"),
            // On the registry's own host and port: the front serves it.
            settings: (port) => ({ mavenRegistry: { host: "localhost", port, pathPrefix: PREFIX, snapshotBuildsToKeep: KEEP } }),
        });
        pod = await startRegistryPodStandIn(stack);
        const oci = makeOciImage(path.join(dir, "oci"), 1024);
        const copied = skopeoCopy(oci.ref, `docker://${pod.authority}/team/app:1`, { certDir: pod.certDir, creds: push, scratch: dir });
        if (copied.code !== 0) throw new Error(copied.stderr);
        rmSync(`${pod.root}${MAVEN_BACKEND.dataDir}`, { recursive: true });
        symlinkSync(front.backend.dataDir, `${pod.root}${MAVEN_BACKEND.dataDir}`);
        runOk("chown", ["-R", `${IN_CLUSTER.uid}:${IN_CLUSTER.uid}`, front.backend.dataDir]);
        gc = await runCronJob(pod, stack.objects, IN_CLUSTER.gcName);
    }, POD_START_TIMEOUT_MS + 600_000);
    afterAll(async () => {
        await pod?.stop();
        await front?.registry.stop();
        await front?.backend.stop();
        removeDir(dir);
    });

    test("the job succeeds and cleans Maven inside the front's read-only window, after the registry's collection, restarting nothing", () => {
        expect(gc.code, `${gc.stdout}\n${gc.stderr}\n${pod.logs()}`).toBe(0);
        expect(gc.stdout).toMatch(/maven: removed [1-9]\d* files of snapshot builds older than the newest 2 of each version/);
        const calls = pod
            .kubectlCalls()
            .map((c) =>
                c.endsWith(`/${IN_CLUSTER.gcStepScript}`)
                    ? "collect"
                    : c.endsWith(`/${IN_CLUSTER.mavenGcScript}`)
                      ? "maven"
                      : c.endsWith(`/${IN_CLUSTER.verifyScript}`)
                        ? "verify"
                        : c,
            );
        expect(calls).toEqual(["collect", "maven", "verify"]);
        expect(pod.starts()).toBe(1);
        expect(existsSync(`${pod.root}${READ_ONLY_SIGNAL.gcMarker}`)).toBe(false);
    });

    test(`only the newest ${KEEP} snapshot builds are left, the one maven-metadata.xml names among them`, () => {
        const left = builds();
        expect(left.map((b) => Number(b.split("-")[1]))).toEqual([BUILDS - 1, BUILDS]);
        const metadata = readFileSync(path.join(front.backend.dataDir, PREFIX, appDir, snapshot.version, "maven-metadata.xml"), "utf8");
        const named = metadata.match(/<timestamp>([\d.]+)<\/timestamp>\s*<buildNumber>(\d+)<\/buildNumber>/);
        expect(left).toContain(`${named?.[1]}-${named?.[2]}`);
    });

    test("the latest snapshot still resolves with real mvn, with the last build's bytes", () => {
        const got = mavenClient(path.join(dir, "reader"), front.trustStore).get(front.repositoryUrl, snapshot);
        expect(got.code, got.stdout).toBe(0);
        const resolved = readFileSync(path.join(got.localRepository, appDir, snapshot.version, `gc-app-${snapshot.version}.jar`));
        expect(resolved.equals(readFileSync(jars[BUILDS - 1]!.file))).toBe(true);
    });

    test("the release is untouched", () => {
        expect(readFileSync(path.join(front.backend.dataDir, PREFIX, appDir, "1.0.0", "gc-app-1.0.0.jar")).equals(releaseBefore)).toBe(
            true,
        );
    });
});

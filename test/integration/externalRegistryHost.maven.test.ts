/**
 * The Maven repository on the external registry host (the converged case), with the real software: a
 * test network namespace plays the host, with OpenSSH, a private dockerd (the locally built registry
 * image and an nginx image made from Debian's nginx, as the official one is laid out), Caddy running the
 * host's rendered site, and restic writing to an SFTP target on this machine's end of the veth pair.
 * The host's scripts are rendered by the program's own functions and run over SSH, as `pulumi up` and
 * cron run them. Real `mvn` (Debian's, offline, see DESIGN §7) deploys and resolves through Caddy from
 * outside the namespace, resolving the host name through a JVM hosts file.
 *
 * The story runs in order: the Maven container starts from the rendered nginx.conf; the Maven account
 * deploys a release and four builds of a SNAPSHOT; anonymous resolve works and anonymous deploy is
 * refused; during the read-only window deploys get 503; the garbage-collection job removes leftover
 * uploads and old snapshot builds, keeps the latest (which still resolves) and the release; then a
 * backup, a wiped host, a restore, and the release resolves again with its checksum intact.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { backupKnownHosts, backupPaths, backupScript, restoreScript, verifyScript } from "../../components/externalHost/backupScripts";
import {
    hostMavenNginxConfig,
    MAVEN_CONTAINER,
    MAVEN_TMPFILES_ENTRY,
    MAVEN_UID,
    type MavenHostSpec,
    mavenContainerScript,
    mavenDataDirScript,
} from "../../components/externalHost/mavenScripts";
import { type ContainerSpec, containerScript, defaultHostLayout, gcScript, hostPaths } from "../../components/externalHost/scripts";
import { MAVEN_BACKEND } from "../../components/maven/nginxConfig";
import { placeFileScript } from "../../components/shared/hostAccess";
import { MAVEN_UPLOADS } from "../../components/upkeep/mavenCleanup";
import { DEBIAN_CADDY_STAND_IN } from "../support/caddyBinaries";
import { type DockerEngine, startDockerEngine } from "../support/dockerEngine";
import { nginxImage, registryImage } from "../support/dockerImages";
import {
    frontAccountAndTlsFiles,
    type HostFile,
    hostCaddyfile,
    registryConfigFiles,
    sftpDestination,
    startHostCaddy,
} from "../support/externalHostFront";
import { frontHeaders, frontStatus } from "../support/frontRequest";
import { type MavenClient, makeJar, makeTrustStore, mavenClient } from "../support/maven";
import { createNetns, type TestNetns } from "../support/netns";
import { makeAccount, makeTestCa, type TestAccount } from "../support/realRegistry";
import { privateDir, removeDir, type ServerProcess } from "../support/serverProcess";
import { type SftpTarget, startSftpTarget } from "../support/sftpTarget";
import { CADDY_USER, NOBODY, socketRequestAs } from "../support/socketRequest";
import { type SshServer, startSshServer } from "../support/sshServer";

const HOST = "registry.mh.test";
const PREFIX = "maven-releases";
const layout = defaultHostLayout("/srv/data/registry", "/srv/data/maven");
const paths = hostPaths(layout);
const bp = backupPaths();
const FINGERPRINT = "spec-under-test";
const MAVEN_FINGERPRINT = "maven-spec-under-test";
const KEEP = 2;
const URL = `https://${HOST}/${PREFIX}`;

const release = { groupId: "com.example.mh", artifactId: "host-app", version: "1.0.0" };
const snapshot = { groupId: "com.example.mh", artifactId: "host-app", version: "1.1-SNAPSHOT" };
const releaseDir = `${layout.mavenDataDir}/${PREFIX}/com/example/mh/host-app/1.0.0`;
const snapshotDir = `${layout.mavenDataDir}/${PREFIX}/com/example/mh/host-app/1.1-SNAPSHOT`;

const sha1 = (file: string) => createHash("sha1").update(readFileSync(file)).digest("hex");

describe("Maven on the external registry host: nginx container behind the host's Caddy, real mvn", () => {
    let ns: TestNetns;
    let engine: DockerEngine;
    let ssh: SshServer;
    let sftp: SftpTarget;
    let caddy: ServerProcess;
    let scratch: string;
    let spec: ContainerSpec;
    let mavenSpec: MavenHostSpec;
    let deployer: TestAccount;
    let pusher: TestAccount;
    let deployClient: MavenClient;
    let anonymous: MavenClient;
    let releaseJar: { file: string; marker: string };
    /** sha1 of each snapshot build's jar, in deploy order. */
    const snapshotJars: string[] = [];

    const onDisk = (p: string) => path.join(ssh.root, p);
    function runOk(script: string, stdin = ""): string {
        const result = ssh.runScript(script, stdin);
        if (result.code !== 0) throw new Error(`script failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
        return result.stdout.trim();
    }
    const place = (hostPath: string, body: string, mode = "0644") => runOk(placeFileScript({ path: hostPath, mode }, false), body);
    const placeFile = (f: HostFile) => place(f.path, f.body, f.mode.toString(8).padStart(4, "0"));
    /** A request from inside the namespace through Caddy, as `account` when given. */
    const request = (account?: TestAccount) => ({ caCertFile: path.join(scratch, "ca", "ca.crt"), account, ns });
    /** curl from inside the namespace through Caddy; prints the status code. */
    const curlStatus = (args: readonly string[], account?: TestAccount) => frontStatus(request(account), args);
    const snapshotBuilds = () =>
        [...new Set(readdirSync(onDisk(snapshotDir)).flatMap((f) => /-(\d{8}\.\d{6}-\d+)[.-]/.exec(f)?.[1] ?? []))].sort(
            (a, b) => Number(a.split("-")[1]) - Number(b.split("-")[1]),
        );

    beforeAll(async () => {
        scratch = privateDir("mh-maven-host");
        ns = await createNetns({ prefix: "mh", subnet: "198.18.192.0/20" });
        ns.writeEtcFile("hosts", `127.0.0.1 localhost\n${ns.address} ${HOST}\n`);
        engine = await startDockerEngine(ns);
        ssh = await startSshServer({ netns: ns, env: { DOCKER_HOST: engine.host, PATH: "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin" } });
        sftp = await startSftpTarget(ns.hostAddress);
        spec = { name: "dso-registry", image: registryImage(engine), layout };
        mavenSpec = { image: nginxImage(engine), pathPrefix: PREFIX, layout };

        for (const f of registryConfigFiles(layout)) placeFile(f);
        mkdirSync(onDisk(layout.dataDir), { recursive: true });
        runOk(containerScript(spec, FINGERPRINT));

        const ca = makeTestCa(path.join(scratch, "ca"), [HOST]);
        writeFileSync(path.join(scratch, "ca", "ca.crt"), ca.caCertPem);
        deployer = makeAccount("jenkins-deploy");
        pusher = makeAccount("jenkins-push");
        for (const f of frontAccountAndTlsFiles(layout, pusher, ca)) placeFile(f);
        place(paths.mavenDeployUsers, renderUsersFile("push", [deployer]), "0600");
        place(layout.caddyfile, hostCaddyfile(layout, ssh.root, HOST, { pathPrefix: PREFIX, requiresAuthForPull: false }));
        mkdirSync(onDisk(path.dirname(layout.caddyAdminSocket)), { recursive: true });

        const destination = sftpDestination(sftp);
        place(bp.passwordFile, makeAccount("restic").password, "0600");
        place(bp.sshKey, sftp.privateKey, "0600");
        place(bp.knownHosts, backupKnownHosts(destination));
        const maven = { spec: mavenSpec, fingerprint: MAVEN_FINGERPRINT };
        const cleanup = { dataDir: layout.mavenDataDir, pathPrefix: PREFIX, snapshotBuildsToKeep: KEEP };
        place(paths.gcScript, gcScript(spec, FINGERPRINT, false, cleanup), "0755");
        place(paths.verifyScript, verifyScript(spec), "0755");
        place(paths.backupScript, backupScript(spec, destination, 3, maven), "0755");
        place(paths.restoreScript, restoreScript(spec, FINGERPRINT, destination, maven), "0755");

        caddy = await startHostCaddy(ns, DEBIAN_CADDY_STAND_IN, onDisk(layout.caddyfile), path.join(scratch, "caddy"));

        // mvn runs on this machine and reaches the namespace's address under the host name.
        const hostsFile = path.join(scratch, "java-hosts");
        writeFileSync(hostsFile, `${ns.address} ${HOST}\n`);
        const trustStore = makeTrustStore(scratch, path.join(scratch, "ca", "ca.crt"));
        const javaOptions = [`-Djdk.net.hosts.file=${hostsFile}`];
        deployClient = mavenClient(path.join(scratch, "mvn-deploy"), trustStore, deployer, javaOptions);
        anonymous = mavenClient(path.join(scratch, "mvn-anonymous"), trustStore, undefined, javaOptions);
        releaseJar = makeJar(path.join(scratch, "release"));
    }, 600_000);

    afterAll(async () => {
        await caddy?.stop();
        await ssh?.stop();
        await engine?.stop();
        await sftp?.stop();
        await ns?.destroy();
        if (scratch) removeDir(scratch);
    });

    test("the Maven data directory belongs to nginx's uid and the container runs the rendered config, once", () => {
        expect(runOk(mavenDataDirScript(layout))).toBe(`changed ${onDisk(layout.mavenDataDir)}`);
        expect(runOk(mavenDataDirScript(layout))).toBe(`unchanged ${onDisk(layout.mavenDataDir)}`);
        expect(statSync(onDisk(layout.mavenDataDir)).uid).toBe(MAVEN_UID);
        place(`${paths.mavenConfigDir}/nginx.conf`, hostMavenNginxConfig(mavenSpec));
        expect(runOk(mavenContainerScript(mavenSpec, MAVEN_FINGERPRINT))).toBe("changed maven container");
        expect(runOk(mavenContainerScript(mavenSpec, MAVEN_FINGERPRINT))).toBe("unchanged maven container");
        const c = JSON.parse(engine.dockerOk(["inspect", MAVEN_CONTAINER]))[0];
        const caddyGid = ns.run("getent", ["group", "caddy"]).stdout.split(":")[2];
        expect({
            running: c.State.Running,
            user: c.Config.User,
            ports: c.HostConfig.PortBindings,
            restart: c.HostConfig.RestartPolicy.Name,
        }).toEqual({
            running: true,
            user: `${MAVEN_UID}:${MAVEN_UID}`,
            ports: {},
            restart: "unless-stopped",
        });
        // After a boot /run is empty: systemd-tmpfiles recreates the socket's directory with its owner.
        expect(readFileSync(onDisk(MAVEN_TMPFILES_ENTRY), "utf8")).toContain(
            `\nd ${layout.mavenSocketDir} 0750 ${MAVEN_UID} ${caddyGid} -\n`,
        );
    });

    test("no path around the front: the former loopback port refuses, only Caddy's group opens nginx's socket", async () => {
        expect(ns.run("curl", ["-sS", "-o", "/dev/null", "--max-time", "5", `http://127.0.0.1:${MAVEN_BACKEND.port}/`]).code).toBe(7);
        const socket = onDisk(paths.mavenSocket);
        for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100));
        // nginx makes its socket writable for everyone: the directory is the guard.
        expect(ns.run("stat", ["-c", "%A %u", socket]).stdout.trim()).toBe(`srw-rw-rw- ${MAVEN_UID}`);
        expect(ns.run("stat", ["-c", "%a %u %G", onDisk(layout.mavenSocketDir)]).stdout.trim()).toBe(`750 ${MAVEN_UID} caddy`);
        const put = ["-X", "PUT", "--data-binary", "x"];
        const asNobody = socketRequestAs(ns, NOBODY, socket, `http://localhost/${PREFIX}/com/example/around/1/around-1.pom`, put);
        expect([asNobody.code, asNobody.stdout]).toEqual([7, "000"]);
        // Caddy's user reaches nginx (here with a harmless 404 for a GET of nothing, so the story's data stays as it is).
        const asCaddy = socketRequestAs(ns, CADDY_USER, socket, `http://localhost/${PREFIX}/no-such-file`);
        expect(asCaddy.stdout).toBe("404");
    });

    test("mvn deploy with the Maven account through Caddy stores the release in the Maven data directory", () => {
        const result = deployClient.deployFile(URL, release, releaseJar.file);
        expect(result.code, result.stdout).toBe(0);
        expect(sha1(onDisk(`${releaseDir}/host-app-1.0.0.jar`))).toBe(sha1(releaseJar.file));
    });

    test("an anonymous mvn dependency:get resolves the release with the same bytes", () => {
        const got = anonymous.get(URL, release);
        expect(got.code, got.stdout).toBe(0);
        expect(sha1(path.join(got.localRepository, "com/example/mh/host-app/1.0.0/host-app-1.0.0.jar"))).toBe(sha1(releaseJar.file));
    });

    test("an anonymous deploy and a deploy with the registry's push account are refused", () => {
        const url = `${URL}/com/example/mh/host-app/9.9/host-app-9.9.pom`;
        expect([
            curlStatus(["-X", "PUT", "--data-binary", "x", url]),
            curlStatus(["-X", "PUT", "--data-binary", "x", url], pusher),
        ]).toEqual(["401", "401"]);
        const anon = anonymous.deployFile(URL, { ...release, version: "9.9" }, releaseJar.file);
        expect(anon.code).not.toBe(0);
        expect(anon.stdout).toMatch(/401|Unauthorized/);
    });

    test(`four builds of a SNAPSHOT deploy as timestamped builds`, () => {
        for (let i = 1; i <= 4; i++) {
            const jar = makeJar(path.join(scratch, `snapshot-${i}`));
            snapshotJars.push(sha1(jar.file));
            const result = deployClient.deployFile(URL, snapshot, jar.file);
            expect(result.code, result.stdout).toBe(0);
        }
        expect(snapshotBuilds().map((b) => b.split("-")[1])).toEqual(["1", "2", "3", "4"]);
    });

    test("during the read-only window a deploy gets 503 with Retry-After, reads still work", () => {
        place(paths.readOnlyMarker, "");
        try {
            const url = `${URL}/com/example/mh/host-app/2.0/host-app-2.0.pom`;
            const put = frontHeaders(request(deployer), ["-X", "PUT", "--data-binary", "x", url]);
            expect(put).toMatch(/^HTTP\/\S+ 503/);
            expect(put).toMatch(/retry-after: \d+/i);
            expect(curlStatus([`${URL}/com/example/mh/host-app/1.0.0/host-app-1.0.0.jar`])).toBe("200");
            expect(existsSync(onDisk(`${layout.mavenDataDir}/${PREFIX}/com/example/mh/host-app/2.0`))).toBe(false);
        } finally {
            runOk(`rm -f "$DSO_ROOT"${paths.readOnlyMarker}`);
        }
    });

    test("the garbage-collection job removes leftover uploads and old snapshot builds, keeps the latest builds and the release", () => {
        const uploads = onDisk(`${layout.mavenDataDir}/${MAVEN_UPLOADS}`);
        mkdirSync(uploads, { recursive: true });
        writeFileSync(path.join(uploads, "0000000001"), "left by a killed upload");
        writeFileSync(path.join(uploads, "0000000002"), "an upload under way");
        runOk(`touch -d '2 hours ago' "${path.join(uploads, "0000000001")}"`);
        const releaseBefore = readdirSync(onDisk(releaseDir)).sort();

        const out = runOk(`sh "$DSO_ROOT"${paths.gcScript}`);
        expect(out).toContain("maven: removed 1 leftover upload files");
        expect(readdirSync(uploads)).toEqual(["0000000002"]);
        expect(snapshotBuilds().map((b) => b.split("-")[1])).toEqual(["3", "4"]);
        expect(out).toMatch(/maven: removed [1-9]\d* files of snapshot builds older than the newest 2/);
        expect(readdirSync(onDisk(releaseDir)).sort()).toEqual(releaseBefore);
        expect(existsSync(onDisk(`${snapshotDir}/maven-metadata.xml`))).toBe(true);
    });

    test("the latest snapshot still resolves anonymously after the clean-up: the fourth build's jar", () => {
        const got = anonymous.get(URL, snapshot);
        expect(got.code, got.stdout).toBe(0);
        const dir = path.join(got.localRepository, "com/example/mh/host-app/1.1-SNAPSHOT");
        const jar = readdirSync(dir).find((f) => f.endsWith(".jar"));
        if (!jar) throw new Error(`no jar resolved in ${dir}`);
        expect(sha1(path.join(dir, jar))).toBe(snapshotJars[3]);
    });

    test("a backup, a wiped host and dso-registry-restore bring the release back with its checksum intact", () => {
        const out = runOk(`sh "$DSO_ROOT"${paths.backupScript}`);
        expect(out).toContain("backup done");
        engine.dockerOk(["rm", "-f", MAVEN_CONTAINER]);
        rmSync(onDisk(layout.mavenDataDir), { recursive: true, force: true });
        expect(curlStatus([`${URL}/com/example/mh/host-app/1.0.0/host-app-1.0.0.jar`])).not.toBe("200");

        const restored = runOk(`sh "$DSO_ROOT"${paths.restoreScript}`);
        expect(restored).toContain("Maven repository restored and served again");
        expect(statSync(onDisk(layout.mavenDataDir)).uid).toBe(MAVEN_UID);
        const got = anonymous.get(URL, release);
        expect(got.code, got.stdout).toBe(0);
        expect(sha1(path.join(got.localRepository, "com/example/mh/host-app/1.0.0/host-app-1.0.0.jar"))).toBe(sha1(releaseJar.file));
        // The deploy account still deploys to the restored repository (nginx writes as its uid).
        const again = deployClient.deployFile(URL, { ...release, version: "1.0.1" }, releaseJar.file);
        expect(again.code, again.stdout).toBe(0);
    });
});

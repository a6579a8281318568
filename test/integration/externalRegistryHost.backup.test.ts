/**
 * Backups, restore and the post-GC check of the external host, with the real software: a test network
 * namespace plays the registry host (a private dockerd running the locally built registry:2.8.3 image,
 * the scripts run there exactly as rendered, with $DSO_ROOT as their root), restic (Debian) writes to
 * to each destination the program offers, on this machine's end of the veth pair (the backup machine):
 * a real OpenSSH server offering SFTP, and an S3 server that verifies every request's signature
 * (versitygw, test/support/s3Server.ts; restic's uploads carry the streaming signature, which it checks
 * chunk by chunk). The docker CLI pushes and pulls; Caddy runs the host's rendered Caddyfile in front
 * of the registry (TLS, the access policy, the 503 of the read-only window) for skopeo.
 *
 * The story runs in order, once per destination: push images, back up, wipe the host (data, configs,
 * Caddy's files and certificates, restic's cache), restore, pull every image by digest after removing
 * it locally and compare its content; then garbage collection checks its own work; then skopeo pushes
 * in a loop through the front while garbage collection and a backup run, and every push either lands
 * (and pulls back intact by digest) or is refused with the window's 503; last, garbage collection
 * fails with the image's name once a blob file is removed behind the registry's back.
 * Covers: components/upkeep/backup.ts.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
    backupKnownHosts,
    backupPaths,
    backupS3EnvFile,
    backupScript,
    restoreScript,
    verifyScript,
} from "../../components/externalHost/backupScripts";
import { type ContainerSpec, containerScript, defaultHostLayout, gcScript, hostPaths } from "../../components/externalHost/scripts";
import type { BackupDestination } from "../../components/upkeep/backup";
import { pinnedCaddy } from "../support/caddyBinaries";
import { type DockerEngine, startDockerEngine } from "../support/dockerEngine";
import { payloadImage, registryImage } from "../support/dockerImages";
import { frontAccountAndTlsFiles, hostCaddyfile, registryConfigFiles, sftpDestination, startHostCaddy } from "../support/externalHostFront";
import { createNetns, type TestNetns } from "../support/netns";
import { expectLandedPullBackWhole, makePushLoop, refusalsOtherThan503 } from "../support/pushLoop";
import { makeAccount, makeTestCa, type TestAccount, writeAuthFile } from "../support/realRegistry";
import { startS3Server } from "../support/s3Server";
import type { RunResult, ServerProcess } from "../support/serverProcess";
import { privateDir, removeDir } from "../support/serverProcess";
import { startSftpTarget } from "../support/sftpTarget";

const layout = defaultHostLayout("/srv/data/registry");
const paths = hostPaths(layout);
const bp = backupPaths();
const FINGERPRINT = "spec-under-test";
const IMAGES = ["team/app-1:1", "team/app-2:1", "other/tool:2.0"];
/** The name clients use for the front, resolved inside the namespace to its own address. */
const HOST = "registry.test";
const S3_BUCKET = "backups";

/** A backup machine of one kind, running, and what the registry host needs to reach it. */
interface BackupMachine {
    readonly destination: BackupDestination;
    /** The destination's secrets as the host holds them: [path on the host, content]. */
    readonly secrets: readonly (readonly [string, string])[];
    /** Names at the top of the restic repository, as the backup machine stores them. */
    repositoryEntries(): Promise<string[]>;
    stop(): Promise<void>;
}

const DESTINATIONS: readonly { kind: BackupDestination["kind"]; start: (ns: TestNetns) => Promise<BackupMachine> }[] = [
    {
        kind: "sftp",
        async start(ns) {
            const target = await startSftpTarget(ns.hostAddress);
            const destination = sftpDestination(target);
            return {
                destination,
                secrets: [
                    [bp.sshKey, target.privateKey],
                    [bp.knownHosts, backupKnownHosts(destination)],
                ],
                repositoryEntries: async () => readdirSync(`${target.dir}/dso-registry`),
                stop: () => target.stop(),
            };
        },
    },
    {
        kind: "s3",
        async start(ns) {
            // On this machine's end of the veth pair: restic runs inside the namespace, as on the registry host.
            const s3 = await startS3Server([S3_BUCKET], ns.hostAddress);
            const destination = {
                kind: "s3" as const,
                endpoint: s3.endpoint,
                bucket: S3_BUCKET,
                prefix: "dso-registry",
                region: "us-east-1",
            };
            return {
                destination,
                secrets: [[bp.s3Env, backupS3EnvFile(s3.credentials.accessKeyId, s3.credentials.secretAccessKey, destination.region)]],
                repositoryEntries: async () =>
                    [...new Set((await s3.listKeys(S3_BUCKET, "dso-registry/")).map((k) => k.split("/")[1] ?? ""))].filter(Boolean),
                stop: () => s3.stop(),
            };
        },
    },
];

describe.each(DESTINATIONS)("external host backup and restore with restic to $kind, real Docker engine", ({ start }) => {
    let ns: TestNetns;
    let engine: DockerEngine;
    let machine: BackupMachine;
    let root: string;
    let scratch: string;
    let spec: ContainerSpec;
    let caddy: ServerProcess;
    let pusher: TestAccount;
    let certDir: string;
    /** Each image's reference by digest and the sha256 of its payload, recorded after the push. */
    const pushed: { name: string; byDigest: string; payload: string }[] = [];
    const caddyCertificate = `${layout.caddyDataDir}/certificates/acme/registry.test/registry.test.crt`;
    let caddyCertificateText: string;

    const onHost = (p: string) => path.join(root, p);
    function place(p: string, body: string, mode: number): void {
        mkdirSync(path.dirname(onHost(p)), { recursive: true });
        writeFileSync(onHost(p), body, { mode });
        chmodSync(onHost(p), mode);
    }
    /** Runs a placed script on the "registry host" (inside the namespace, next to its dockerd). */
    function onRegistryHost(script: string, args: readonly string[] = []): RunResult {
        return ns.run("sh", [onHost(script), ...args], { env: { ...engine.env, DSO_ROOT: root } });
    }
    function mustRun(script: string, args: readonly string[] = []): string {
        const r = onRegistryHost(script, args);
        if (r.code !== 0) throw new Error(`${script} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
        return r.stdout;
    }
    const registryLabel = () =>
        engine.docker(["inspect", "-f", '{{index .Config.Labels "dso-registry.spec"}}', "dso-registry"]).stdout.trim();

    beforeAll(async () => {
        root = privateDir("backup-host");
        scratch = privateDir("backup-clients");
        ns = await createNetns({ prefix: "bk", subnet: "198.18.80.0/20" });
        // The engine pushes to the front by name: its /etc (hosts, certs.d) must be in place before it starts.
        const ca = makeTestCa(path.join(scratch, "ca"), [HOST]);
        ns.writeEtcFile("hosts", `127.0.0.1 localhost\n${ns.address} ${HOST}\n`);
        ns.writeEtcFile(`docker/certs.d/${HOST}/ca.crt`, ca.caCertPem);
        engine = await startDockerEngine(ns);
        machine = await start(ns);
        spec = { name: "dso-registry", image: registryImage(engine), layout };
        for (const f of registryConfigFiles(layout)) place(f.path, f.body, f.mode);

        // The front: the host's Caddyfile as the program renders it, TLS with a test CA, the push account.
        certDir = path.join(scratch, "certs");
        mkdirSync(certDir);
        writeFileSync(path.join(certDir, "ca.crt"), ca.caCertPem);
        mkdirSync(onHost(path.dirname(layout.caddyAdminSocket)), { recursive: true });
        pusher = makeAccount("ci-push");
        for (const f of frontAccountAndTlsFiles(layout, pusher, ca)) place(f.path, f.body, f.mode);
        place(layout.caddyfile, hostCaddyfile(layout, root, HOST), 0o644);
        caddyCertificateText = `certificate ${randomBytes(16).toString("hex")}\n`;
        place(caddyCertificate, caddyCertificateText, 0o600);
        mkdirSync(onHost(layout.dataDir), { recursive: true });

        place(bp.passwordFile, randomBytes(24).toString("base64"), 0o600);
        for (const [file, body] of machine.secrets) place(file, body, file === bp.knownHosts ? 0o644 : 0o600);
        place(paths.backupScript, backupScript(spec, machine.destination, 3), 0o755);
        place(paths.restoreScript, restoreScript(spec, FINGERPRINT, machine.destination), 0o755);
        place(paths.verifyScript, verifyScript(spec), 0o755);
        place(paths.gcScript, gcScript(spec, FINGERPRINT, false), 0o755);
        place("/usr/local/sbin/start-registry", containerScript(spec, FINGERPRINT), 0o755);
        mustRun("/usr/local/sbin/start-registry");
        mkdirSync(path.join(scratch, "caddy-home"));
        // The front's Caddy (the pinned one) as a process on the rooted paths: the container's mounts are
        // proven by externalRegistryHost.scripts and the engine tier.
        caddy = await startHostCaddy(ns, pinnedCaddy(), onHost(layout.caddyfile), path.join(scratch, "caddy-home"));
    }, 300_000);

    afterAll(async () => {
        await caddy?.stop();
        await engine?.stop();
        await machine?.stop();
        await ns?.destroy();
        if (root) removeDir(root);
        if (scratch) removeDir(scratch);
    });

    test("docker pushes the images to the registry host", () => {
        const client = engine;
        // Through the front: Distribution listens on its unix socket only.
        expect(client.login(HOST, pusher).code).toBe(0);
        for (const [i, name] of IMAGES.entries()) {
            const ref = payloadImage(client, `${HOST}/${name}`, { payloadBytes: (i + 1) * 512 * 1024 });
            const payload = client.dockerOk(["run", "--rm", "--network", "none", ref, "sha256sum", "/payload"]).split(" ")[0] ?? "";
            const out = client.dockerOk(["push", ref]);
            const digest = /digest: (sha256:[0-9a-f]{64})/.exec(out)?.[1];
            expect(digest, out).toBeDefined();
            pushed.push({ name, byDigest: `${HOST}/${name.split(":")[0]}@${digest}`, payload });
        }
        expect(pushed).toHaveLength(IMAGES.length);
    });

    test("the backup copies while writable, then a read-only pass, and leaves the registry writable", async () => {
        const out = mustRun(paths.backupScript);
        expect(out).toContain("pass 1, registry writable");
        expect(out).toContain("pass 2, registry read-only");
        expect(out).toMatch(/registry writable again after \d+ s read-only/);
        expect(out).toMatch(/backup done: snapshot [0-9a-f]{8}/);
        expect(registryLabel()).toBe(FINGERPRINT);
        // Only the consistent snapshot is kept; the writable pass's is forgotten.
        const list = mustRun(paths.restoreScript, ["--list"]);
        expect(list).toMatch(/1 snapshots/);
        // The repository is on the backup machine, nothing of it on the registry host.
        expect(await machine.repositoryEntries()).toContain("config");
    });

    test("a wiped host is restored by dso-registry-restore: data, configs, Caddy's files and certificates", () => {
        engine.dockerOk(["rm", "-f", "dso-registry"]);
        for (const p of [layout.dataDir, layout.registryConfigDir, layout.caddyfile, layout.caddyDir, layout.frontDir, bp.cacheDir]) {
            rmSync(onHost(p), { recursive: true, force: true });
        }
        // The rebuilt host gets the restore command and the backup's secrets from `pulumi up`; they are still there.
        expect(existsSync(onHost(paths.registryConfig))).toBe(false);
        const out = mustRun(paths.restoreScript);
        expect(out).toContain("registry restored from snapshot latest and running writable");
        expect(out).toContain(`verified: ${IMAGES.length} tagged images`);
        expect(registryLabel()).toBe(FINGERPRINT);
        expect(readFileSync(onHost(caddyCertificate), "utf8")).toBe(caddyCertificateText);
        expect(readFileSync(onHost(layout.caddyfile), "utf8")).toContain(`reverse_proxy unix/${onHost(paths.registrySocket)}`);
        expect(existsSync(onHost(paths.pushUsers))).toBe(true);
        expect(existsSync(onHost(paths.tlsKey))).toBe(true);
        expect(existsSync(onHost(paths.registryConfigReadOnly))).toBe(true);
    });

    test("every image pulls back by digest, after being removed from the daemon, with its content intact", () => {
        for (const p of pushed) engine.dockerOk(["rmi", "-f", `${HOST}/${p.name}`]);
        for (const p of pushed) {
            expect(engine.docker(["image", "inspect", p.byDigest]).code).not.toBe(0);
            engine.dockerOk(["pull", p.byDigest]);
            const payload = engine.dockerOk(["run", "--rm", "--network", "none", p.byDigest, "sha256sum", "/payload"]).split(" ")[0] ?? "";
            expect(payload).toBe(p.payload);
        }
    });

    test("garbage collection checks every tagged image afterwards and reports success", () => {
        const out = mustRun(paths.gcScript);
        expect(out).toContain(`verified: ${IMAGES.length} tagged images`);
        expect(registryLabel()).toBe(FINGERPRINT);
    });

    test("pushes in a loop while garbage collection and a backup run: each lands whole or is refused with the window's 503", async () => {
        const loop = makePushLoop({
            work: scratch,
            prefix: HOST,
            authFile: writeAuthFile(path.join(scratch, "auth"), HOST, pusher),
            certDir,
            count: 6,
            start: (command, args) => ns.startServer(command, args),
        });
        const { result, pushes } = await loop.during("maintenance", () => ({
            gc: onRegistryHost(paths.gcScript),
            backup: onRegistryHost(paths.backupScript),
        }));
        const { gc, backup } = result;
        expect(gc.code, `${gc.stdout}\n${gc.stderr}`).toBe(0);
        expect(backup.code, `${backup.stdout}\n${backup.stderr}`).toBe(0);

        const landed = pushes.filter((p) => p.code === 0);
        const refused = pushes.filter((p) => p.code !== 0);
        expect(refusalsOtherThan503(pushes), `the front's log:\n${caddy.output().slice(-3000)}`).toEqual([]);
        // The loop ran across both windows: some pushes landed, and some met the window.
        expect(landed.length).toBeGreaterThan(0);
        expect(refused.length).toBeGreaterThan(0);

        // Every push that landed pulls back by digest, anonymously through the front, blob for blob.
        expectLandedPullBackWhole(loop, pushes, path.join(scratch, "pulled"), (src, dest) =>
            ns.run("skopeo", ["--insecure-policy", "copy", "--retry-times", "0", "--src-cert-dir", certDir, "--src-no-creds", src, dest]),
        );
        const verify = mustRun(paths.verifyScript);
        expect(verify).toContain(`verified: ${IMAGES.length + new Set(landed.map((p) => p.ref)).size} tagged images`);
    }, 600_000);

    test("garbage collection fails loudly, naming the image, when a blob file is gone behind the registry's back", () => {
        const victim = pushed[1];
        if (!victim) throw new Error("the push test did not run");
        const [repo, digest] = victim.byDigest.replace(`${HOST}/`, "").split("@");
        const fetched = ns.run("curl", [
            "-fsS",
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
            "--cacert",
            path.join(certDir, "ca.crt"),
            `https://${HOST}/v2/${repo}/manifests/${digest}`,
        ]);
        const manifest = JSON.parse(fetched.stdout) as { layers: { digest: string }[] };
        const layer = String(manifest.layers[0]?.digest).replace("sha256:", "");
        const blobDir = onHost(`${layout.dataDir}/docker/registry/v2/blobs/sha256/${layer.slice(0, 2)}/${layer}`);
        expect(existsSync(path.join(blobDir, "data"))).toBe(true);
        rmSync(blobDir, { recursive: true });
        const r = onRegistryHost(paths.gcScript);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain(`MISSING ${victim.name}: blob sha256:${layer}`);
        expect(r.stderr).toMatch(
            new RegExp(`FAILED: these tagged images are not served whole: ${victim.name.replace(/[.]/g, "\\.")}$`, "m"),
        );
        // The others are not named, and the registry is writable again.
        for (const other of pushed.filter((p) => p !== victim)) expect(r.stderr).not.toContain(other.name);
        expect(registryLabel()).toBe(FINGERPRINT);
    });
});

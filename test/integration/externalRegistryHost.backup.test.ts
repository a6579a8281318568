/**
 * Backups, restore and the post-GC check of the external host, with the real software: a test network
 * namespace plays the registry host (a private dockerd running the locally built registry:2.8.3 image,
 * the scripts run there exactly as rendered, with $DSO_ROOT as their root), restic (Debian) writes to
 * a real OpenSSH server offering SFTP on this machine's end of the veth pair (the backup machine), and
 * the docker CLI pushes and pulls.
 *
 * The story runs in order: push images, back up, wipe the host (data, configs, Caddy's files and
 * certificates, restic's cache), restore, pull every image by digest after removing it locally and
 * compare its content; then garbage collection checks its own work, passing, and failing with the
 * image's name once a blob file is removed behind the registry's back.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderRegistryConfig } from "../../components/accessPolicy/accessPolicy";
import {
    backupKnownHosts,
    backupPaths,
    backupScript,
    registryBaseUrl,
    restoreScript,
    verifyScript,
} from "../../components/externalHost/backupScripts";
import { type ContainerSpec, containerScript, defaultHostLayout, gcScript, hostPaths } from "../../components/externalHost/scripts";
import { DISTRIBUTION } from "../../components/shared/facts";
import { type DockerEngine, startDockerEngine } from "../support/dockerEngine";
import { payloadImage, registryImage } from "../support/dockerImages";
import { createNetns, type TestNetns } from "../support/netns";
import type { RunResult } from "../support/serverProcess";
import { privateDir, removeDir } from "../support/serverProcess";
import { type SftpTarget, startSftpTarget } from "../support/sftpTarget";

const layout = defaultHostLayout("/srv/data/registry");
const paths = hostPaths(layout);
const bp = backupPaths();
const FINGERPRINT = "spec-under-test";
const IMAGES = ["team/app-1:1", "team/app-2:1", "other/tool:2.0"];

let ns: TestNetns;
let engine: DockerEngine;
let target: SftpTarget;
let root: string;
let spec: ContainerSpec;
/** Each image's reference by digest and the sha256 of its payload, recorded after the push. */
const pushed: { name: string; byDigest: string; payload: string }[] = [];
const caddyCertificate = "/var/lib/caddy/.local/share/caddy/certificates/acme/registry.test/registry.test.crt";
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
const registryLabel = () => engine.docker(["inspect", "-f", '{{index .Config.Labels "dso-registry.spec"}}', "dso-registry"]).stdout.trim();

beforeAll(async () => {
    root = privateDir("backup-host");
    ns = await createNetns({ prefix: "bk", subnet: "198.18.80.0/20" });
    engine = await startDockerEngine(ns);
    target = await startSftpTarget(ns.hostAddress);
    spec = { name: "dso-registry", image: registryImage(engine), hostPort: 5000, layout };
    const config = (readOnly: boolean) =>
        renderRegistryConfig({
            addr: `:${DISTRIBUTION.containerPort}`,
            storage: { kind: "filesystem", rootDirectory: DISTRIBUTION.dataDir },
            deletesEnabled: true,
            readOnly,
        });
    place(paths.registryConfig, config(false), 0o644);
    place(paths.registryConfigReadOnly, config(true), 0o644);
    place(layout.caddyfile, "registry.test {\n\treverse_proxy 127.0.0.1:5000\n}\n", 0o644);
    place(paths.pushUsers, "ci-push $2a$10$placeholderplaceholderplaceholderplaceholderplacehold\n", 0o600);
    caddyCertificateText = `certificate ${randomBytes(16).toString("hex")}\n`;
    place(caddyCertificate, caddyCertificateText, 0o600);
    mkdirSync(onHost(layout.dataDir), { recursive: true });

    const destination = {
        kind: "sftp" as const,
        host: target.host,
        port: target.port,
        user: target.user,
        path: `${target.dir}/dso-registry`,
        hostKey: target.hostKey,
    };
    place(bp.passwordFile, randomBytes(24).toString("base64"), 0o600);
    place(bp.sshKey, target.privateKey, 0o600);
    place(bp.knownHosts, backupKnownHosts(destination), 0o644);
    place(paths.backupScript, backupScript(spec, FINGERPRINT, destination, 3), 0o755);
    place(paths.restoreScript, restoreScript(spec, FINGERPRINT, destination), 0o755);
    place(paths.verifyScript, verifyScript(registryBaseUrl(spec)), 0o755);
    place(paths.gcScript, gcScript(spec, FINGERPRINT, false), 0o755);
    place("/usr/local/sbin/start-registry", containerScript(spec, FINGERPRINT), 0o755);
    mustRun("/usr/local/sbin/start-registry");
}, 300_000);

afterAll(async () => {
    await engine?.stop();
    await target?.stop();
    await ns?.destroy();
    if (root) removeDir(root);
});

describe("external host backup and restore with restic over SFTP, real Docker engine", () => {
    test("docker pushes the images to the registry host", () => {
        const client = engine;
        // dockerd in the namespace reaches the registry on its own loopback (plain HTTP: loopback registries are insecure to dockerd).
        for (const [i, name] of IMAGES.entries()) {
            const ref = payloadImage(client, `127.0.0.1:5000/${name}`, { payloadBytes: (i + 1) * 512 * 1024 });
            const payload = client.dockerOk(["run", "--rm", "--network", "none", ref, "sha256sum", "/payload"]).split(" ")[0] ?? "";
            const out = client.dockerOk(["push", ref]);
            const digest = /digest: (sha256:[0-9a-f]{64})/.exec(out)?.[1];
            expect(digest, out).toBeDefined();
            pushed.push({ name, byDigest: `127.0.0.1:5000/${name.split(":")[0]}@${digest}`, payload });
        }
        expect(pushed).toHaveLength(IMAGES.length);
    });

    test("the backup copies while writable, then a read-only pass, and leaves the registry writable", () => {
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
        expect(readdirSync(`${target.dir}/dso-registry`)).toContain("config");
    });

    test("a wiped host is restored by dso-registry-restore: data, configs, Caddy's files and certificates", () => {
        engine.dockerOk(["rm", "-f", "dso-registry"]);
        for (const p of [layout.dataDir, layout.registryConfigDir, layout.caddyfile, layout.caddyDir, "/var/lib/caddy", bp.cacheDir]) {
            rmSync(onHost(p), { recursive: true, force: true });
        }
        // The rebuilt host gets the restore command and the backup's secrets from `pulumi up`; they are still there.
        expect(existsSync(onHost(paths.registryConfig))).toBe(false);
        const out = mustRun(paths.restoreScript);
        expect(out).toContain("registry restored from snapshot latest and running writable");
        expect(out).toContain(`verified: ${IMAGES.length} tagged images`);
        expect(registryLabel()).toBe(FINGERPRINT);
        expect(readFileSync(onHost(caddyCertificate), "utf8")).toBe(caddyCertificateText);
        expect(readFileSync(onHost(layout.caddyfile), "utf8")).toContain("reverse_proxy 127.0.0.1:5000");
        expect(existsSync(onHost(paths.pushUsers))).toBe(true);
        expect(existsSync(onHost(paths.registryConfigReadOnly))).toBe(true);
    });

    test("every image pulls back by digest, after being removed from the daemon, with its content intact", () => {
        for (const p of pushed) engine.dockerOk(["rmi", "-f", `127.0.0.1:5000/${p.name}`]);
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

    test("garbage collection fails loudly, naming the image, when a blob file is gone behind the registry's back", () => {
        const victim = pushed[1];
        if (!victim) throw new Error("the push test did not run");
        const [repo, digest] = victim.byDigest.replace("127.0.0.1:5000/", "").split("@");
        const fetched = ns.run("curl", [
            "-fsS",
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
            `http://127.0.0.1:5000/v2/${repo}/manifests/${digest}`,
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

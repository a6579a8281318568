/**
 * A client of a registry front whose disk guard is under test (registry.diskGuard, docs/runbooks.md "Disk
 * full"), run inside a test network namespace: pushes of random images with skopeo as the push account,
 * anonymous pulls, the start of a blob upload with curl, the digest of a manifest as a pull reads it, and a
 * look at the storage for blobs whose bytes do not match their digest (a half-written blob that landed);
 * and the scenario every placement's guard is held to (`fillAndFree`). Used by the tests of the in-cluster
 * pod's guard and kind's (the external host's has its own helpers).
 */
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { expect, vi } from "vitest";
import { DISK_FULL_MESSAGE } from "../../components/accessPolicy/caddyfile";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import { DISTRIBUTION } from "../../components/shared/facts";
import { deployedRegistry } from "./distributionBinaries";
import type { TestNetns } from "./netns";
import { makeOciImage, type TestAccount, writeAuthFile } from "./realRegistry";
import { type RunResult, removeDir, run } from "./serverProcess";

export interface DiskGuardClientOptions {
    /** Where the clients run: their /etc (hosts, the CA) is the namespace's. */
    readonly ns: Pick<TestNetns, "run">;
    /** `host[:port]` as images name the registry. */
    readonly authority: string;
    /** https with `certDir` (its ca.crt), or plain http. */
    readonly scheme: "https" | "http";
    /** A directory with ca.crt, for https. */
    readonly certDir?: string;
    readonly push: TestAccount;
    /** A directory of the test's for images, auth files and headers. */
    readonly scratch: string;
}

export interface DiskGuardClient {
    /**
     * Pushes an image of `payloadBytes` random bytes to `repository:tag` as the push account; skopeo's result.
     * With `configFirst`, the image's config blob is uploaded into the repository before skopeo runs, so the
     * push's only upload is its layer: skopeo uploads the config after the layers, and a layer that takes the
     * disk past the guard's threshold would otherwise race the guard's next check for the config's upload.
     */
    push(reference: string, payloadBytes: number, options?: { readonly configFirst?: boolean }): RunResult;
    /** An anonymous pull of `repository:tag` with every layer: skopeo's result. */
    pull(reference: string): RunResult;
    /** Deletes the manifest `repository:tag` as the push account: skopeo's result. */
    deleteTag(reference: string): RunResult;
    /** POST …/blobs/uploads/ as the push account: the status, body and the session's Location. */
    startUpload(repository: string): { readonly status: string; readonly body: string; readonly location: string };
    /**
     * `data` sent to an open upload session as the push account: a PATCH, or the final PUT with the data's
     * digest. The status and body.
     */
    sendToUpload(location: string, method: "PATCH" | "PUT", data: Buffer): { readonly status: string; readonly body: string };
    /** The status of an anonymous HEAD of the blob `digest` in `repository` (200 when it exists). */
    blobStatus(repository: string, digest: string): string;
    /** The digest of the manifest `repository:tag` as an anonymous pull reads it, or "" when there is none. */
    manifestDigest(reference: string): string;
}

export function diskGuardClient(o: DiskGuardClientOptions): DiskGuardClient {
    const tls = (side: "src" | "dest" | "") =>
        o.scheme === "https" ? [`--${side ? `${side}-` : ""}cert-dir`, o.certDir!] : [`--${side ? `${side}-` : ""}tls-verify=false`];
    const noAuth = path.join(o.scratch, "no-auth.json");
    writeFileSync(noAuth, "{}");
    const env = { ...process.env, REGISTRY_AUTH_FILE: noAuth };
    const auth = () => writeAuthFile(o.scratch, o.authority, o.push);
    const skopeo = (args: readonly string[]) => o.ns.run("skopeo", ["--insecure-policy", ...args], { env });
    const base = `${o.scheme}://${o.authority}`;
    const curl = (args: readonly string[], input?: string) =>
        o.ns.run("curl", ["-sS", ...(o.scheme === "https" ? ["--cacert", path.join(o.certDir!, "ca.crt")] : []), ...args], {
            ...(input !== undefined ? { input } : {}),
        });
    const userConfig = () => `user = "${o.push.username}:${o.push.password}"\n`;
    /** POST …/blobs/uploads/ then PUT the blob's bytes with its digest, as the push account; code 0 on 201. */
    const uploadBlob = (repository: string, blob: { readonly file: string; readonly digest: string }): RunResult => {
        const started = curl(
            ["-K", "-", "-o", "/dev/null", "-D", "-", "-X", "POST", `${base}/v2/${repository}/blobs/uploads/`],
            userConfig(),
        );
        const location = /^location:\s*(\S+)/im.exec(started.stdout)?.[1];
        if (!location) return { ...started, code: started.code || 1, stderr: `no upload location:\n${started.stdout}${started.stderr}` };
        const target = new URL(location, `${base}/`);
        target.searchParams.set("digest", blob.digest);
        const put = curl(
            [
                "-K",
                "-",
                "-w",
                "%{http_code}",
                "-o",
                "/dev/null",
                "-X",
                "PUT",
                "-H",
                "Content-Type: application/octet-stream",
                "--data-binary",
                `@${blob.file}`,
                target.href,
            ],
            userConfig(),
        );
        return put.stdout === "201" ? put : { ...put, code: put.code || 1, stderr: `config upload answered ${put.stdout}\n${put.stderr}` };
    };
    return {
        push(reference, payloadBytes, options) {
            const dir = path.join(o.scratch, `image-${randomBytes(4).toString("hex")}`);
            const image = makeOciImage(dir, payloadBytes);
            try {
                if (options?.configFirst) {
                    const uploaded = uploadBlob(reference.split(":")[0]!, configBlob(image.dir));
                    if (uploaded.code !== 0) return uploaded;
                }
                return skopeo([
                    "copy",
                    "--retry-times",
                    "0",
                    ...tls("dest"),
                    "--dest-authfile",
                    auth(),
                    image.ref,
                    `docker://${o.authority}/${reference}`,
                ]);
            } finally {
                removeDir(dir);
            }
        },
        pull(reference) {
            const dir = path.join(o.scratch, `pulled-${randomBytes(4).toString("hex")}`);
            try {
                return skopeo([
                    "copy",
                    "--retry-times",
                    "0",
                    ...tls("src"),
                    "--src-no-creds",
                    `docker://${o.authority}/${reference}`,
                    `oci:${dir}:pulled`,
                ]);
            } finally {
                removeDir(dir);
            }
        },
        deleteTag(reference) {
            return skopeo(["delete", ...tls(""), "--authfile", auth(), `docker://${o.authority}/${reference}`]);
        },
        startUpload(repository) {
            const r = curl(
                ["-K", "-", "-w", "\n%header{location}\n%{http_code}", "-X", "POST", `${base}/v2/${repository}/blobs/uploads/`],
                userConfig(),
            );
            const [status = "", location = "", ...body] = r.stdout.split("\n").reverse();
            return { status, location, body: body.reverse().join("\n") };
        },
        sendToUpload(location, method, data) {
            const file = path.join(o.scratch, `data-${randomBytes(4).toString("hex")}`);
            writeFileSync(file, data);
            const target = new URL(location, `${base}/`);
            if (method === "PUT") target.searchParams.set("digest", `sha256:${createHash("sha256").update(data).digest("hex")}`);
            const r = curl(
                [
                    "-K",
                    "-",
                    "-w",
                    "\n%{http_code}",
                    "-X",
                    method,
                    "-H",
                    "Content-Type: application/octet-stream",
                    "--data-binary",
                    `@${file}`,
                    target.href,
                ],
                userConfig(),
            );
            removeDir(file);
            const cut = r.stdout.lastIndexOf("\n");
            return { status: r.stdout.slice(cut + 1), body: r.stdout.slice(0, cut) };
        },
        blobStatus(repository, digest) {
            return curl(["-I", "-o", "/dev/null", "-w", "%{http_code}", `${base}/v2/${repository}/blobs/${digest}`]).stdout;
        },
        manifestDigest(reference) {
            const [name, tag] = reference.split(":");
            const r = curl([
                "-H",
                "Accept: application/vnd.oci.image.manifest.v1+json",
                "-w",
                "\n%{http_code}",
                `${base}/v2/${name}/manifests/${tag}`,
            ]);
            const cut = r.stdout.lastIndexOf("\n");
            if (r.stdout.slice(cut + 1) !== "200") return "";
            return `sha256:${createHash("sha256").update(r.stdout.slice(0, cut)).digest("hex")}`;
        },
    };
}

/** The config blob of the OCI layout's one image: its file and digest. */
function configBlob(layout: string): { readonly file: string; readonly digest: string } {
    const blob = (digest: string) => path.join(layout, "blobs", ...digest.split(":"));
    const index = JSON.parse(readFileSync(path.join(layout, "index.json"), "utf8")) as { manifests: { digest: string }[] };
    const manifest = JSON.parse(readFileSync(blob(index.manifests[0]!.digest), "utf8")) as { config: { digest: string } };
    return { file: blob(manifest.config.digest), digest: manifest.config.digest };
}

/** Distribution's garbage-collect over filesystem storage at `dataDir`, run from this machine (its config in `scratch`); fails the test when it fails. */
export function collectFilesystemGarbage(scratch: string, dataDir: string): void {
    const config = path.join(scratch, "gc.yml");
    const storage = { kind: "filesystem", rootDirectory: dataDir } as const;
    writeFileSync(config, renderRegistryConfig({ addr: "127.0.0.1:0", storage, deletesEnabled: true }));
    const gc = run(deployedRegistry().path, ["garbage-collect", config], { env: { ...process.env, ...DISTRIBUTION.environment } });
    expect(gc.code, gc.stderr).toBe(0);
}

/** Every blob in Distribution's storage under `dataDir` whose bytes do not match its digest. */
export function damagedBlobs(dataDir: string): string[] {
    const root = path.join(dataDir, "docker/registry/v2/blobs/sha256");
    return readdirSync(root).flatMap((prefix) =>
        readdirSync(path.join(root, prefix)).filter((digest) => {
            const data = readFileSync(path.join(root, prefix, digest, "data"));
            return createHash("sha256").update(data).digest("hex") !== digest;
        }),
    );
}

/** The file system that holds `dir`: its size and what is used (its size minus what is available), in bytes. */
export function diskUsage(dir: string): { readonly size: number; readonly used: number } {
    const fields = run("df", ["-P", "-B1", dir]).stdout.trim().split("\n")[1]!.split(/\s+/);
    return { size: Number(fields[1]), used: Number(fields[1]) - Number(fields[3]) };
}

/**
 * Calls `check` until it returns something other than undefined, at most `timeoutMs`; throws with `what`
 * then, and what `detail` tells (the servers' logs).
 */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => T | undefined, detail = () => ""): Promise<T> {
    const found = await vi
        .waitUntil(
            () => {
                const value = check();
                return value === undefined ? undefined : { value };
            },
            { timeout: timeoutMs, interval: 500 },
        )
        .catch((error: unknown) => {
            throw new Error(`gave up waiting: ${what}\n${detail()}`, { cause: error });
        });
    return found.value;
}

/** What differs between the placements that `fillAndFree` runs on. */
export interface FillAndFreeOptions {
    readonly client: DiskGuardClient;
    /** Distribution's storage on this machine: the small file system of its own that the pushes fill. */
    readonly dataDir: string;
    /** registry.diskGuard.refusePercent, as the placement was given it. */
    readonly refusePercent: number;
    /** What answers the uploads ("the sidecar", "the front"), as the waits name it. */
    readonly front: string;
    /** How long the guard may take to see a change: its schedule's interval and a margin. */
    readonly guardWaitMs: number;
    /** The garbage collection as the placement runs it (the runbook's step after a tag's deletion); it fails the test when the collection fails. */
    collect(): void;
    /** The servers' logs, for failure messages. */
    logs(): string;
    /** Runs while the guard refuses, after the refusal and the pull were checked (e.g. what an alert says then). */
    whileRefusing?(): Promise<void>;
    /** Runs once the guard lets uploads in again, before the refused push is tried again. */
    afterFreed?(): Promise<void>;
}

/**
 * The disk guard's scenario (docs/runbooks.md "Disk full"): real pushes fill the data file system past
 * `refusePercent`, short of full; the guard's next check has the front answer a new upload 507 with the
 * message and skopeo's push fail on it, leaving no manifest; uploads opened before get the same 507 for
 * their data (a PATCH, the final PUT) and none of it lands; a pull still works, the kept image's digest
 * unchanged, and no blob fails its hash. Then the runbook's clean-up (the tag deleted, `collect`) brings
 * the use under the threshold, the guard's next check lets uploads in (202), and the refused push lands
 * and pulls back whole.
 */
export async function fillAndFree(o: FillAndFreeOptions): Promise<void> {
    const { client, dataDir, refusePercent, front, guardWaitMs, logs } = o;
    const keep = client.push("team/keep:1", 2 ** 20);
    expect(keep.code, `${keep.stderr}\n${logs()}`).toBe(0);
    const keepDigest = client.manifestDigest("team/keep:1");
    expect(keepDigest).toMatch(/^sha256:/);
    // Uploads that pushes open before the disk fills: their data comes after the guard's check.
    const open = [client.startUpload("team/open"), client.startUpload("team/open")];
    expect(open.map((u) => u.status)).toEqual(["202", "202"]);

    // What fills it: one big image, to about 94% used, still short of full. Its config goes first, so the
    // guard's check after the layer lands cannot refuse the rest of this push.
    const { size, used } = diskUsage(dataDir);
    const filler = client.push("team/scratch:big", Math.floor(size * 0.94) - used, { configFirst: true });
    expect(filler.code, filler.stderr).toBe(0);
    expect(diskUsage(dataDir).used / size).toBeGreaterThan(refusePercent / 100);

    // The guard's next check, and the front turns new uploads away, with room still there.
    const refused = await waitFor(
        `${front}'s 507 to a new upload`,
        guardWaitMs,
        () => {
            const r = client.startUpload("team/next");
            return r.status === "507" ? r : undefined;
        },
        logs,
    );
    expect(JSON.parse(refused.body)).toEqual({ errors: [{ code: "DENIED", message: DISK_FULL_MESSAGE, detail: null }] });
    const next = client.push("team/next:1", 2 ** 20);
    expect(next.code).not.toBe(0);
    expect(next.stderr).toContain("507 Insufficient Storage");
    expect(client.manifestDigest("team/next:1")).toBe("");
    // The uploads open before get no more data, in a PATCH or the final PUT: the same 507, and nothing lands.
    const data = [randomBytes(2 ** 20), randomBytes(2 ** 20)];
    const refusedData = [
        client.sendToUpload(open[0]!.location, "PATCH", data[0]!),
        client.sendToUpload(open[1]!.location, "PUT", data[1]!),
    ];
    expect(refusedData.map((r) => r.status)).toEqual(["507", "507"]);
    for (const r of refusedData)
        expect(JSON.parse(r.body)).toEqual({ errors: [{ code: "DENIED", message: DISK_FULL_MESSAGE, detail: null }] });
    const digestOf = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
    expect(data.map((b) => client.blobStatus("team/open", digestOf(b)))).toEqual(["404", "404"]);
    // Pulls go on; nothing kept was lost; no half-written blob landed.
    const pulled = client.pull("team/keep:1");
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(client.manifestDigest("team/keep:1")).toBe(keepDigest);
    expect(damagedBlobs(dataDir)).toEqual([]);
    await o.whileRefusing?.();

    // What frees space, as the runbook does it: the tag deleted (deletes go on), then the collection.
    const deleted = client.deleteTag("team/scratch:big");
    expect(deleted.code, deleted.stderr).toBe(0);
    o.collect();
    expect(diskUsage(dataDir).used / size).toBeLessThan(refusePercent / 100);

    // The guard's next check lets pushes in again; the push that was refused lands whole.
    await waitFor(
        `${front} to take new uploads again`,
        guardWaitMs,
        () => (client.startUpload("team/next").status === "202" ? true : undefined),
        logs,
    );
    await o.afterFreed?.();
    const again = client.push("team/next:1", 2 ** 20);
    expect(again.code, again.stderr).toBe(0);
    const pulledAgain = client.pull("team/next:1");
    expect(pulledAgain.code, pulledAgain.stderr).toBe(0);
    expect(client.manifestDigest("team/keep:1")).toBe(keepDigest);
    expect(damagedBlobs(dataDir)).toEqual([]);
}
